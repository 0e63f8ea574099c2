"""Waiting for a real condition instead of sleeping for a guessed time."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

PATIENCE_S = 120.0
"""Only a bound for a condition that never comes (the test then fails saying so); no test
expects anything to take less than this."""


def poll(condition: Callable[[], object], *, until: subprocess.Popen[str] | None = None
         ) -> bool:
    """Whether ``condition`` came true (checked every 50 ms); False once the process
    ``until`` has ended without it, or after :data:`PATIENCE_S`."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        if condition():
            return True
        if until is not None and until.poll() is not None:
            return bool(condition())
        time.sleep(0.05)
    return False


def query_running(folder: Path, text: str) -> bool:
    """Whether a throwaway server in ``folder`` (its sockets' folders: ``ops-verify-pg-*``)
    runs a statement containing ``text`` in another session."""
    for server in folder.glob("ops-verify-pg-*"):
        if (server / "data" / "postmaster.pid").exists() and _running(
                f"host={server} port=5432 user=postgres dbname=postgres connect_timeout=5",
                text):
            return True
    return False


def _running(conninfo: str, text: str) -> bool:
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            found = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND state = 'active' AND strpos(query, %s) > 0", (text,)).fetchone()
    except psycopg.Error:
        return False  # starting, stopping, or not a server of ours
    return bool(found and found[0])


def statement_running(conninfo: str, text: str) -> bool:
    """Whether the server of ``conninfo`` runs a statement containing ``text`` in another
    session."""
    return _running(conninfo, text)


def sigint_default() -> None:
    """In a child about to be sent Ctrl-C: SIGINT as a terminal delivers it, even when the
    tests were started in the background (a shell's ``&`` makes SIGINT ignored, and
    children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
