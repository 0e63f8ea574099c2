"""Apply migration files to a database, each in its own transaction, and say how each went."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from checks.migrations import MigrationFile


@dataclass(frozen=True)
class Applied:
    """How one file went: ``error`` is None when it committed."""

    version: str
    error: str | None = None
    sqlstate: str | None = None
    line: int | None = None
    statement: str | None = None


def apply_files(conninfo: str, files: Iterable[MigrationFile]) -> list[Applied]:
    """Apply ``files`` in order; a failed file is rolled back and the rest still run."""
    results = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for f in files:
            text = f.sql()
            try:
                with conn.transaction():
                    conn.execute(text)  # no parameters: simple protocol, many statements
            except psycopg.Error as exc:
                line, statement = _locate(conn, text)
                results.append(Applied(f.version, (exc.diag.message_primary or str(exc)).strip(),
                                       exc.sqlstate, line, statement))
            else:
                results.append(Applied(f.version))
    return results


def apply_script(conninfo: str, path: Path) -> None:
    """Run one SQL script (sample data) in a transaction; errors propagate."""
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
        conn.execute(path.read_text(encoding="utf-8"))


def _locate(conn: psycopg.Connection, text: str) -> tuple[int | None, str | None]:
    """Line and text of the statement that fails, found by running the file's statements
    one by one in a transaction that is rolled back (only ever on a throwaway database)."""
    import sqlparse  # only when a migration failed: a run that replays none never loads it

    offset = 0
    try:
        with conn.transaction(force_rollback=True):
            for statement in sqlparse.split(text):
                start = text.find(statement, offset)
                offset = start + len(statement)
                try:
                    with conn.transaction():
                        conn.execute(statement)
                except psycopg.Error:
                    shown = sqlparse.format(statement, strip_comments=True).strip()
                    first = text.find(shown.splitlines()[0], start) if shown else start
                    return text.count("\n", 0, first) + 1, " ".join(shown.split())
    except psycopg.Error:
        pass
    return None, None
