"""The one small interface every target offers: read-only queries, rolled-back probes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from psycopg import sql

from checks.config import Settings, duration_ms
from checks.outcome import CouldNotCheck

Statement = str | sql.Composable
Params = Sequence[Any] | Mapping[str, Any] | None

LOCK_TIMEOUT = "55P03"
"""lock_not_available: ``lock_timeout`` ran out (or NOWAIT found the lock taken)."""
STATEMENT_TIMEOUT = "57014"
RLS_WOULD_APPLY = "42501"
"""insufficient_privilege: also what ``row_security = off`` raises when a policy applies."""


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

    def one(self) -> dict[str, Any]:
        """The only row, as a dict; any other number of rows is a could-not-check."""
        return dict(zip(self.columns, self.single(), strict=True))

    def single(self) -> tuple[Any, ...]:
        """The only row; any other number of rows (an answer cut short) is a could-not-check."""
        if len(self.rows) != 1:
            raise CouldNotCheck(f"expected one row, got {len(self.rows)}")
        return self.rows[0]


@dataclass(frozen=True)
class ProbeResult:
    """How PostgreSQL answered one write probe (always rolled back)."""

    rejected: bool
    sqlstate: str | None = None
    constraint: str | None = None
    message: str = ""


@dataclass(frozen=True)
class ProbeBatch:
    """The probes of one table, run in one transaction that is rolled back."""

    results: list[ProbeResult]
    advanced_sequences: list[str] = field(default_factory=list)
    """Sequences the probes moved (a trace a rollback cannot undo): any is an error."""


class Target(Protocol):
    """A database the checks read from."""

    kind: str
    """``dsn``, ``lambda`` or ``ephemeral`` (as in summary.json)."""
    name: str
    """Display name without secrets: ``host:port/db`` or a function name."""
    probe_block: str | None
    """None when write probes may run, else why they may not (reported as the skip reason)."""
    concurrency: int
    """How many queries may run at once."""

    def query(self, statement: Statement, params: Params = None) -> Rows:
        """Run one read-only statement in its own transaction (thread-safe)."""
        ...

    def probe(self, inserts: Sequence[tuple[Statement, Params]],
              sequences: Sequence[tuple[str, str]], watch_all: bool = False) -> ProbeBatch:
        """Run each write in a savepoint of one transaction that is always rolled back, and
        say which of ``sequences`` (with ``watch_all``, of any sequence) the session
        advanced."""
        ...

    def render(self, statement: Statement, params: Params = None) -> str:
        """The statement as SQL text, for the report (values inlined, no secrets)."""
        ...

    def cancel(self) -> None:
        """The run was interrupted: cancel the statements running now and send no more
        (thread-safe; an interrupted run must not wait for its longest query)."""
        ...

    def close(self) -> None:
        ...


def session_pins(settings: Settings) -> dict[str, str]:
    """The settings every transaction on a target runs with, whatever the role, database
    or a previous statement set: timeouts, a fixed search_path (pg_catalog first, pg_temp
    last), the time zone, ISO dates, no row-level security (a policy that would hide
    rows raises instead), no JIT (a statement compiling cannot be cancelled until its
    code is emitted: up to 300 ms on 2 cores, while a migration waited on its locks; the
    suite's scans gain nothing measurable from it), and ``[settings] parallel_workers``
    (default none)."""
    path = ", ".join(["pg_catalog", *(sql.Identifier(s).as_string(None)
                                      for s in settings.search_path), "pg_temp"])
    return {
        "statement_timeout": str(duration_ms(settings.statement_timeout)),
        "lock_timeout": str(duration_ms(settings.lock_timeout)),
        "idle_in_transaction_session_timeout": str(2 * duration_ms(settings.statement_timeout)),
        "search_path": path,
        "TimeZone": settings.timezone,
        "DateStyle": "ISO, YMD",
        "IntervalStyle": "postgres",
        "row_security": "off",
        "jit": "off",
        "max_parallel_workers_per_gather": str(settings.parallel_workers),
    }


def pins_statement(settings: Settings, *, local: bool, read_only: bool = False
                   ) -> sql.Composed:
    """``SELECT set_config(...)`` for every pin (``local``: for this transaction only;
    ``read_only``: also make this transaction read-only)."""
    pins = session_pins(settings)
    if read_only:
        pins = {"transaction_read_only": "on", **pins}
    return sql.SQL("SELECT {}").format(sql.SQL(", ").join(
        sql.SQL("pg_catalog.set_config({}, {}, {})").format(
            sql.Literal(name), sql.Literal(value), sql.Literal(local))
        for name, value in pins.items()))
