"""Ctrl-C (SIGINT), like SIGTERM: mid-run and during the --settle window the run ends
interrupted (exit 2), every report is written and lists the checks not run, and the
throwaway server is removed. The signal is sent once the run is seen doing what it is
interrupted in (a query running, a settle sample arriving), never after a guessed time."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT, _clean_env
from tests.loopback import on_query
from tests.polling import sigint_default

SLOW = "pg_sleep(3600)"
PROBE = "sigint-probe"


def _pytest(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", str(ROOT / "verify"), "-p", "no:randomly", *args],
        cwd=ROOT, env={**_clean_env(), **(env or {})}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, preexec_fn=sigint_default)


def _interrupt_when(proc: subprocess.Popen[str], seen: threading.Event) -> str:
    """SIGINT once ``seen`` is set (the run got there); the output once it has ended."""
    try:
        while not seen.wait(0.05):
            assert proc.poll() is None, "the run ended before it got there: " + \
                proc.communicate()[0]
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=300)[0]
    finally:
        proc.kill()


def _running(folder: Path, seen: threading.Event) -> None:
    """Sets ``seen`` once a throwaway server in ``folder`` runs the slow query."""
    while not seen.is_set():
        for server in folder.glob("ops-verify-pg-*"):
            try:
                with psycopg.connect(host=str(server), port=5432, user="postgres",
                                     dbname="postgres", connect_timeout=5) as conn:
                    if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE state = "
                                    "'active' AND strpos(query, %s) > 0", (SLOW,)
                                    ).fetchone()[0]:
                        seen.set()
            except psycopg.Error:
                continue  # starting, or stopping
        seen.wait(0.05)


def _assert_interrupted(reports: Path, output: str, not_run: str) -> None:
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["outcome"] == "interrupted", output
    assert summary["verdict"].startswith("INTERRUPTED"), summary["verdict"]
    assert any(not_run in c for c in summary["not_run"]), summary["not_run"]
    assert "INTERRUPTED" in (reports / "summary.md").read_text().splitlines()[0]
    html = (reports / "report.html").read_text()
    assert "INTERRUPTED" in html and "Not run (" in html
    assert "not_run" in (reports / "junit.xml").read_text()
    assert 'ops_verify_run_outcome{outcome="interrupted"} 1.0' in \
        (reports / "metrics.prom").read_text()


def test_sigint_mid_run_reports_interrupted_and_removes_the_server(tmp_path, private_tmp,
                                                                   config_file):
    config = config_file('[settings]\nstatement_timeout = "30s"\n[[custom_sql]]\n'
                         f'name = "slow"\nsql = "SELECT 1 FROM {SLOW} WHERE random() < 0"\n')
    reports = tmp_path / "reports"
    proc = _pytest("--config", str(config), "--reports-dir", str(reports),
                   env={"TMPDIR": str(private_tmp), "VERIFY_RUNTIME_DIR": str(private_tmp)})
    seen = threading.Event()
    watcher = threading.Thread(target=_running, args=(private_tmp, seen), daemon=True)
    watcher.start()
    try:
        output = _interrupt_when(proc, seen)
    finally:
        seen.set()
    assert proc.returncode == 2, output
    _assert_interrupted(reports, output, "test_custom_sql[slow]")
    assert not list(private_tmp.iterdir()), output  # the server and its folder are gone
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(private_tmp) not in ps


@pytest.mark.slow
def test_sigint_during_the_settle_window_still_writes_the_reports(tmp_path, database,
                                                                  config_file):
    """The heartbeat never moves on, so the window (an hour) keeps sampling it: SIGINT
    as its second sample reaches the server."""
    database.execute("INSERT INTO service_heartbeats (service, last_beat_at) "
                     "VALUES (%s, now())", (PROBE,))
    config = config_file('[[freshness]]\nname = "probe"\ntable = "service_heartbeats"\n'
                         f'column = "last_beat_at"\nwhere = "service = \'{PROBE}\'"\n')
    seen = threading.Event()
    host = database.dsn.split("host=")[1].split()[0]
    reports = tmp_path / "reports"
    with on_query(f"{host}/.s.PGSQL.5432", PROBE.encode(),
                  lambda sample: sample >= 2 and seen.set()) as port:
        proc = _pytest("--dsn", f"host=127.0.0.1 port={port} dbname={database.name} "
                       "user=postgres sslmode=disable gssencmode=disable", "--config",
                       str(config), "--settle", "1h", "-k", "fresh", "--reports-dir",
                       str(reports))
        output = _interrupt_when(proc, seen)
    assert proc.returncode == 2, output
    _assert_interrupted(reports, output, "test_fresh[probe]")
