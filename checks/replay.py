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
                results.append(_failure(f.version, text, exc))
            else:
                results.append(Applied(f.version))
    return results


def apply_script(conninfo: str, path: Path) -> None:
    """Run one SQL script (sample data) in a transaction; errors propagate."""
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
        conn.execute(path.read_text(encoding="utf-8"))


def _failure(version: str, text: str, exc: psycopg.Error) -> Applied:
    message = (exc.diag.message_primary or str(exc)).strip()
    position = exc.diag.statement_position
    line = statement = None
    if position and position.isdigit():
        offset = int(position) - 1
        line = text.count("\n", 0, offset) + 1
        statement = _statement_around(text, offset)
    return Applied(version, message, exc.sqlstate, line, statement)


def _statement_around(text: str, offset: int) -> str:
    """The ``;``-separated statement containing ``offset`` (good enough for a report line)."""
    start = text.rfind(";", 0, offset) + 1
    end = text.find(";", offset)
    return " ".join(text[start: end if end != -1 else len(text)].split())
