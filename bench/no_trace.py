"""Probes leave no trace, and the suite does not slow the pipeline down (measured, not tested).

    .venv/bin/python bench/no_trace.py [--runs 200] [--seconds 20]

1. A database with an audit trigger (AFTER INSERT OR UPDATE OR DELETE, writing to a table
   with a bigserial key) on every verified table. ``--runs`` full runs with probes
   (``probe_with_triggers = true``, so the probes really run on those tables): every
   table's row count, every sequence, and the locks left behind are compared with the
   state before.
2. A writer inserting positions one transaction at a time: its latency without the suite,
   then while the suite runs in a loop.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks.infra.cluster import Cluster  # noqa: E402
from checks.migrations import discover  # noqa: E402
from checks.targets.ephemeral import build_database  # noqa: E402

TABLES = ("schema_migrations", "active_positions", "position_history", "alpaca_event_dedupe",
          "service_heartbeats")
AUDIT = """
CREATE TABLE audit_log (id bigserial PRIMARY KEY, tbl text, op text, at timestamptz DEFAULT now());
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_log (tbl, op) VALUES (TG_TABLE_NAME, TG_OP); RETURN NULL; END $$;
"""
RULES = "\n".join(
    f"[[check_constraints]]\ntable = \"{t}\"\nname = \"chk_{t}_{c}\"\n"
    f"expression = \"{e}\"\nprobe_with_triggers = true\n"
    for t, c, e in (
        ("active_positions", "side", "side IN ('long', 'short', 'call', 'put')"),
        ("active_positions", "strategy_type", "strategy_type IN ('day_trade', 'swing_trade', "
                                              "'conservative') OR strategy_type IS NULL"),
        ("position_history", "side", "side IN ('long', 'short', 'call', 'put')"),
        ("position_history", "strategy_type", "strategy_type IN ('day_trade', 'swing_trade', "
                                              "'conservative') OR strategy_type IS NULL")))


def fingerprint(dsn: str) -> dict[str, object]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables")]
        sequences = [r[0] for r in conn.execute(
            "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences")]
        found: dict[str, object] = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        found.update({s: conn.execute(f"SELECT last_value, is_called FROM {s}").fetchone()
                      for s in sequences})
        found["locks held by ops-verify"] = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE a.application_name = 'ops-verify'").fetchone()[0]
    return found


def run_suite(dsn: str, config: Path, reports: Path) -> int:
    return subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "verify"), "-q",
                           "--dsn", dsn, "--config", str(config), "--reports-dir", str(reports),
                           "-p", "no:randomly"], cwd=ROOT, capture_output=True).returncode


def writer(dsn: str, stop: threading.Event, latencies: list[float]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        n = 0
        while not stop.is_set():
            n += 1
            start = time.perf_counter()
            conn.execute("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
                         "entry_price, alpaca_order_id) VALUES ('SPY', 'option', 'call', 1, 1, "
                         "%s)", (f"bench-{time.time_ns()}-{n}",))
            latencies.append(time.perf_counter() - start)


def summarize(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[int(len(ms) * 0.99) - 1]
    return (f"{len(ms)} inserts, median {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms, "
            f"worst {ms[-1]:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with Cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        build_database(cluster, "bench", discover(ROOT / "db" / "migrations"),
                       sorted((ROOT / "db" / "fixtures").glob("*.sql")))
        dsn = cluster.conninfo("bench")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(AUDIT)
            for table in TABLES:
                conn.execute(f"CREATE TRIGGER audit_{table} AFTER INSERT OR UPDATE OR DELETE ON "
                             f"{table} FOR EACH ROW EXECUTE FUNCTION audit()")
        config = Path(tmp) / "invariants.toml"
        allowed = ["table:public.audit_log", "column:public.audit_log.*",
                   "constraint:public.audit_log.*", "index:public.audit_log*",
                   "sequence:public.audit_log*", "function:public.audit()", "trigger:*.audit_*"]
        config.write_text(f'migrations_dir = "{ROOT / "db" / "migrations"}"\n'
                          f'fixtures_dir = "{ROOT / "db" / "fixtures"}"\n'
                          f"[drift]\nallow = {json.dumps(allowed)}\n{RULES}")
        before = fingerprint(dsn)
        outcomes: dict[int, int] = {}
        started = time.perf_counter()
        for _ in range(args.runs):
            code = run_suite(dsn, config, Path(tmp) / "reports")
            outcomes[code] = outcomes.get(code, 0) + 1
        elapsed = time.perf_counter() - started
        after = fingerprint(dsn)
        changed = {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                   if before.get(k) != after.get(k)}
        print(f"{args.runs} full runs with probes in {elapsed:.0f} s (exit codes {outcomes})")
        print(f"tables and sequences compared: {len(before) - 1}; changed: {changed or 'none'}")

        quiet: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=writer, args=(dsn, stop, quiet))
        thread.start()
        time.sleep(args.seconds)
        stop.set()
        thread.join()
        busy: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=writer, args=(dsn, stop, busy))
        thread.start()
        deadline = time.monotonic() + args.seconds
        runs = 0
        while time.monotonic() < deadline:
            run_suite(dsn, config, Path(tmp) / "reports")
            runs += 1
        stop.set()
        thread.join()
        print(f"writer alone:            {summarize(quiet)}")
        print(f"writer with the suite:   {summarize(busy)} ({runs} suite runs meanwhile)")


if __name__ == "__main__":
    main()
