"""Benchmark: the floor under ``--deep`` (issue 20; not a test; run by hand, niced).

    nice .venv/bin/python bench/deep_floor.py [--positions 1000000] [--repeats 7]

One throwaway PostgreSQL 15 server with production's indexes and healthy size-N data (as
``bench/growth.py --production-indexes``). One logged ``--deep`` run names the statements
that scan the big tables (those that take more than 50 ms alone). Then, alternating, each
``--repeats`` times (medians printed, as Markdown):

- the start every run pays: ``import pytest``, and ``pytest verify/ --collect-only --dsn``;
- bench/handwritten.sql serially on one session (2 parallel workers, the server default);
- ``--deep``'s scans side by side, a session each, with 2 and with 0 parallel workers, and
  serially on one session.

A ``--deep`` run cannot take less than its start plus its scans side by side.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generate import generate  # noqa: E402
from growth import deep_config, production_migrations  # noqa: E402
from run import (  # noqa: E402
    DATABASE,
    SUITE,
    Server,
    base_env,
    bench_server,
    handwritten_statements,
    logged_run,
    refresh_heartbeat,
    with_params,
)

from checks.migrations import discover  # noqa: E402
from checks.targets.ephemeral import build_database  # noqa: E402

BIG_TABLES = ("active_positions", "position_history", "alpaca_event_dedupe")
SCAN_S = 0.05


def scans(server: Server, dsn: str, work: Path, migrations: Path) -> list[str]:
    """The statements a ``--deep`` run sends that read a big table for more than 50 ms."""
    refresh_heartbeat(dsn, server)
    _, logged = logged_run(server, DATABASE, ["-p", "no:randomly", "--deep", "--config",
                                              str(deep_config(work, 2)), "--dsn", dsn,
                                              "--migrations-dir", str(migrations)])
    found = []
    for item in logged:
        text = with_params(item)
        if text.lstrip().upper().startswith("SELECT") and any(t in text for t in BIG_TABLES):
            with psycopg.connect(dsn, autocommit=True) as conn:
                started = time.perf_counter()
                try:
                    conn.execute(text).fetchall()
                except psycopg.Error:
                    continue  # a statement that needs its transaction's settings
                if time.perf_counter() - started > SCAN_S:
                    found.append(text)
    return list(dict.fromkeys(found))


def _session(dsn: str, workers: int) -> psycopg.Connection:
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute(f"SET max_parallel_workers_per_gather = {int(workers)}")
    return conn


def side_by_side(dsn: str, statements: list[str], workers: int) -> float:
    sessions = [_session(dsn, workers) for _ in statements]
    try:
        threads = [threading.Thread(target=lambda c=c, s=s: c.execute(s).fetchall())
                   for c, s in zip(sessions, statements, strict=True)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started
    finally:
        for conn in sessions:
            conn.close()


def serially(dsn: str, statements: list[str], workers: int) -> float:
    with _session(dsn, workers) as conn:
        started = time.perf_counter()
        for statement in statements:
            conn.execute(statement).fetchall()
        return time.perf_counter() - started


def command(*args: str) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        subprocess.run(args, cwd=ROOT, env=base_env(), capture_output=True, check=True)
        return time.perf_counter() - started
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with bench_server() as cluster, tempfile.TemporaryDirectory(prefix="ops-floor-") as tmp:
        work = Path(tmp)
        migrations = production_migrations(work)
        build_database(cluster, DATABASE, discover(migrations), [])
        dsn = cluster.conninfo(DATABASE)
        generate(dsn, args.positions)
        server = Server(cluster)
        deep = scans(server, dsn, work, migrations)
        hand = handwritten_statements()
        parts: dict[str, Callable[[], float]] = {
            "`python -c 'import pytest'`": command(sys.executable, "-c", "import pytest"),
            "`pytest verify/ --collect-only --dsn` (start, plugins, config, plan; no read)":
                command(*SUITE, "--collect-only", "--dsn", dsn, "--migrations-dir",
                        str(migrations)),
            "hand-written statements, serially on one session, 2 parallel workers":
                lambda: serially(dsn, hand, 2),
            f"`--deep`'s {len(deep)} scans side by side, a session each, 2 parallel workers":
                lambda: side_by_side(dsn, deep, 2),
            "the same, no parallel workers (the config's default)":
                lambda: side_by_side(dsn, deep, 0),
            "the same scans serially on one session, 2 parallel workers":
                lambda: serially(dsn, deep, 2),
        }
        times: dict[str, list[float]] = {name: [] for name in parts}
        for _ in range(args.repeats + 1):  # the first round warms up, uncounted
            for name, part in parts.items():
                times[name].append(part())
        rows = [(name, f"{statistics.median(t[1:]):.2f}", f"{min(t[1:]):.2f}-{max(t[1:]):.2f}")
                for name, t in times.items()]
        print(f"N = {args.positions:,} positions; medians of {args.repeats}\n")
        print(tabulate(rows, headers=["part", "s", "min-max"], tablefmt="github"))
        start = statistics.median(times[list(parts)[1]][1:])
        side = statistics.median(times[list(parts)[3]][1:])
        hand_s = statistics.median(times[list(parts)[2]][1:])
        print(f"\nfloor under --deep: {start:.2f} + {side:.2f} = {start + side:.2f} s, "
              f"{(start + side) / hand_s:.2f}x the hand-written SQL")


if __name__ == "__main__":
    main()
