"""How long each fault of the fault matrix takes to end the run (measured, not tested).

    .venv/bin/python bench/faults.py

Every scenario runs ``pytest verify/`` against a real server with the fault seeded, with
the default settings (connect_timeout 5s, statement_timeout 5s, lock_timeout 1s), and
prints the wall time and the cause the run gave. tests/test_faults.py proves the
outcomes; this measures the bounds the README states.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks.infra.cluster import Cluster  # noqa: E402
from checks.migrations import discover  # noqa: E402
from checks.targets.ephemeral import build_database  # noqa: E402

ENV = {"AWS_EC2_METADATA_DISABLED": "true", "PATH": "/usr/bin:/bin"}


def verify(*args: str, env: dict[str, str] | None = None, reports_in: str | None = None
           ) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory(dir=reports_in) as reports:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "verify"), "-q",
                               "--reports-dir", reports, *args], cwd=ROOT, capture_output=True,
                              text=True, env={**ENV, **(env or {})})
        elapsed = time.perf_counter() - start
        summary = Path(reports) / "summary.json"
        cause = ""
        if summary.exists():
            found = json.loads(summary.read_text())
            bad = [c for c in found["checks"] if c["outcome"] in ("error", "failed")]
            cause = bad[0]["message"] if bad else (found.get("usage_error")
                                                   or found.get("reports_error", ""))
        else:
            cause = (done.stdout + done.stderr).strip().splitlines()[-1:][0] if done.stdout else ""
        return elapsed, done.returncode, cause[:90]


def main() -> None:
    rows = []
    with Cluster() as cluster:
        build_database(cluster, "tmpl", discover(ROOT / "db" / "migrations"),
                       sorted((ROOT / "db" / "fixtures").glob("*.sql")))

        def copy() -> str:
            name = f"f_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name} TEMPLATE tmpl")
            dsn = cluster.conninfo(name)
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("UPDATE service_heartbeats SET last_beat_at = now()")
            return dsn

        def seeded(sql: str) -> str:
            dsn = copy()
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(sql)
            return dsn

        scenarios: list[tuple[str, Callable[[], tuple[float, int, str]]]] = [
            ("healthy (for comparison)", lambda: verify("--dsn", copy())),
            ("connection refused", lambda: verify("--dsn", "host=127.0.0.1 port=9 dbname=x")),
            ("unknown host", lambda: verify("--dsn", "host=no-such-db.invalid dbname=x")),
            ("missing database", lambda: verify("--dsn", cluster.conninfo("no_such_db"))),
            ("verified table missing",
             lambda: verify("--dsn", seeded("DROP TABLE alpaca_event_dedupe"))),
            ("empty ledger", lambda: verify("--dsn", seeded("DELETE FROM schema_migrations"))),
            ("config error", lambda: verify("--config", "/nonexistent.toml")),
            ("AWS credentials missing",
             lambda: verify("--dsn", copy(), "--aws", env={"AWS_REGION": "us-west-2",
                                                           "AWS_CONFIG_FILE": "/dev/null",
                                                           "AWS_SHARED_CREDENTIALS_FILE":
                                                               "/dev/null"})),
            ("table locked ACCESS EXCLUSIVE", lambda: _locked(copy())),
            ("probe waits on a SHARE lock", lambda: _locked(copy(), "SHARE", "-k", "enforced")),
            ("reports folder full (64 KiB tmpfs)", lambda: _full_disk(copy())),
            ("server stops answering", lambda: _silent(cluster, copy())),
        ]
        for name, scenario in scenarios:
            elapsed, code, cause = scenario()
            rows.append((name, f"{elapsed:.1f}", code, cause))
    print(tabulate(rows, headers=("fault", "seconds", "exit", "first cause")))


def _full_disk(dsn: str) -> tuple[float, int, str]:
    """The reports folder on a 64 KiB tmpfs (needs root)."""
    with tempfile.TemporaryDirectory() as mount:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount], check=True)
        try:
            return verify("--dsn", dsn, reports_in=mount)
        finally:
            subprocess.run(["umount", mount], check=False)


def _locked(dsn: str, mode: str = "ACCESS EXCLUSIVE", *args: str) -> tuple[float, int, str]:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(dsn) as conn:
            conn.execute(f"LOCK TABLE active_positions IN {mode} MODE")
            holding.set()
            release.wait(300)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(30)
    try:
        return verify("--dsn", dsn, *args)
    finally:
        release.set()
        thread.join()


def _silent(cluster: Cluster, dsn: str) -> tuple[float, int, str]:
    """Through a proxy that passes the session's setup, then swallows every query."""
    from tests.loopback import silent_after

    dbname = dict(p.split("=", 1) for p in dsn.split() if "=" in p)["dbname"]
    with silent_after(f"{cluster.folder}/.s.PGSQL.5432", chunks=3) as port:
        return verify("--dsn", f"host=127.0.0.1 port={port} user=postgres dbname={dbname} "
                      "sslmode=disable gssencmode=disable")


if __name__ == "__main__":
    main()
