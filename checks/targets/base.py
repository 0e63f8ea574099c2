"""The one small interface every target offers: run a read-only query, get rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg import sql

from checks.outcome import CouldNotCheck

Statement = str | sql.Composable
Params = Sequence[Any] | Mapping[str, Any] | None


class QueryError(CouldNotCheck):
    """A query the target could not answer; ``sqlstate`` when PostgreSQL gave one."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass(frozen=True)
class Rows:
    """A query result: column names and row tuples."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        """The first column of the only row; a missing row is a could-not-check."""
        if len(self.rows) != 1:
            raise CouldNotCheck(f"expected one row, got {len(self.rows)}")
        return self.rows[0][0]


@dataclass(frozen=True)
class ProbeResult:
    """How PostgreSQL answered a write probe (always rolled back)."""

    rejected: bool
    sqlstate: str | None = None
    constraint: str | None = None
    message: str = ""


class Target(Protocol):
    """A database the checks read from."""

    kind: str
    """``dsn``, ``lambda`` or ``ephemeral`` (as in summary.json)."""
    name: str
    """Display name without secrets: ``host:port/db`` or a function name."""
    probe_block: str | None
    """None when write probes may run, else why they may not (reported as the skip reason)."""

    def query(self, statement: Statement, params: Params = None) -> Rows:
        """Run one read-only statement in its own rolled-back transaction."""
        ...

    def probe(self, statement: Statement, params: Params = None) -> ProbeResult:
        """Run one write in a transaction that is always rolled back."""
        ...

    def render(self, statement: Statement, params: Params = None) -> str:
        """The statement as SQL text, for the report (values inlined, no secrets)."""
        ...

    def server_version(self) -> str:
        ...

    def close(self) -> None:
        ...
