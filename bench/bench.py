"""Benchmark: start-up cost and run time of the suite (not a test; run by hand).

    .venv/bin/python bench/bench.py [--rows 200000]

Measures, on this machine: a cold and a cached throwaway-server start, the embedded default
end to end, and a full run against a database with many positions (and duplicates).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks.targets.cluster import Cluster  # noqa: E402

from checks.migrations import discover  # noqa: E402
from checks.targets.ephemeral import build_database  # noqa: E402


def timed(action: Callable[[], object], repeat: int = 3) -> tuple[float, float]:
    """Median and best wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def verify(*args: str) -> None:
    with tempfile.TemporaryDirectory() as reports:
        subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "verify"), "-q",
                        "--reports-dir", reports, *args], cwd=ROOT, check=False,
                       capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000,
                        help="positions in the large database")
    args = parser.parse_args()
    rows = []

    def cold_start() -> None:
        with tempfile.TemporaryDirectory() as cache:
            Cluster(cache_dir=Path(cache)).start().remove()

    rows.append(("throwaway server, cold (initdb + start + remove)", *timed(cold_start)))
    rows.append(("throwaway server, cached initdb (start + remove)",
                 *timed(lambda: Cluster().start().remove())))
    rows.append(("import the suite (python -c 'import plugin.items')", *timed(
        lambda: subprocess.run([sys.executable, "-c", "import plugin.items"], cwd=ROOT,
                               check=True))))
    rows.append(("pytest verify/ on the embedded default (101 checks)", *timed(verify)))

    with Cluster() as cluster:
        build_database(cluster, "big", discover(ROOT / "db" / "migrations"),
                       sorted((ROOT / "db" / "fixtures").glob("*.sql")))
        dsn = cluster.conninfo("big")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
                "entry_price, alpaca_order_id) SELECT 'T' || (g %% 500), 'stock', 'long', 1, 1, "
                "'ord-' || (g %% (%s - 5000)) FROM generate_series(1, %s) g",
                (args.rows, args.rows))
            conn.execute("ANALYZE")
        label = f"pytest verify/ --dsn, {args.rows:,} positions with duplicates"
        rows.append((label, *timed(lambda: verify("--dsn", dsn))))
        rows.append((label + ", -k no_duplicates",
                     *timed(lambda: verify("--dsn", dsn, "-k", "no_duplicates"))))

    print(f"machine: {os.cpu_count()} cores; {sys.version.split()[0]}")
    print(tabulate([(n, f"{m:.3f}", f"{b:.3f}") for n, m, b in rows],
                   headers=("what", "median s", "best s")))


if __name__ == "__main__":
    main()
