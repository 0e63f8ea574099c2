"""The result of one check: what was found, and why it passed, failed or could not be checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Every outcome a check can end in.

    The first four are the public interface's; ``accepted`` is a difference or history the
    config accepts, ``warned`` a violated ``severity = "warn"`` invariant, ``info`` an
    informational check's figures. None of those three fails a run.
    """

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    ACCEPTED = "accepted"
    WARNED = "warned"
    INFO = "info"


class CouldNotCheck(Exception):
    """The invariant could not be checked (unreachable, timeout, permission, proxy error...).

    Never a pass: the pytest plugin reports it as an error. ``sql`` is what was tried;
    ``blocked_by`` names the check whose failure made this one impossible.
    """

    def __init__(self, message: str, *, sql: Sequence[str] = (),
                 blocked_by: str | None = None) -> None:
        super().__init__(message)
        self.sql = tuple(sql)
        self.blocked_by = blocked_by


@dataclass(frozen=True)
class Evidence:
    """A table of what the check found: capped rows with the exact total beside them."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    total: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[_jsonable(v) for v in row] for row in self.rows],
            "total": self.total if self.total is not None else len(self.rows),
        }


@dataclass(frozen=True)
class Outcome:
    """What a check concluded, with the evidence and the SQL that reproduces it."""

    status: Status
    message: str
    evidence: tuple[Evidence, ...] = ()
    sql: tuple[str, ...] = field(default=())
    blocked_by: str | None = None
    """For an error caused by another check's failure: that check (root cause first)."""
    attempts: int = 1
    """How many times a converging check was tried (``--settle``)."""
    first_passed_s: float | None = None
    """Seconds into the settle window when it first passed."""
    figures: tuple[tuple[str, float], ...] = ()
    """Numbers for metrics and charts (a heartbeat's age, duplicated values, ...)."""
    progress: str | None = None
    """What a live thing last showed (the newest heartbeat): ``--settle`` confirms a pass
    only when a later sample shows it moved."""
    fix: str | None = None
    """What an operator can do about a failure (the migration that creates what is
    missing, the statement that guards a key), shown under its cause."""
    method: str | None = None
    """How a data check reached its verdict: ``proven`` (a premise PostgreSQL guarantees,
    no row read), ``cached`` (an earlier run's count that still holds), ``incremental``
    (rows past a watermark) or ``scanned`` (every row)."""

    def to_dict(self) -> dict[str, Any]:
        found = {
            "status": str(self.status),
            "message": self.message,
            "evidence": [e.to_dict() for e in self.evidence],
            "sql": list(self.sql),
            "figures": dict(self.figures),
        }
        if self.blocked_by:
            found["blocked_by"] = self.blocked_by
        if self.fix:
            found["fix"] = self.fix
        if self.method:
            found["method"] = self.method
        if self.attempts > 1 or self.first_passed_s is not None:
            found["attempts"] = self.attempts
            found["first_passed_s"] = self.first_passed_s
        return found

    def fixed_by(self, fix: str | None) -> Outcome:
        return replace(self, fix=fix)

    def by(self, method: str | None) -> Outcome:
        return replace(self, method=method)

    def moved_to(self, progress: str | None) -> Outcome:
        return replace(self, progress=progress)

    def with_figures(self, **figures: float) -> Outcome:
        return replace(self, figures=(*self.figures, *((k, float(v)) for k, v in figures.items()
                                                       if v is not None)))

    def with_severity(self, severity: str) -> Outcome:
        """A ``warn`` check's failure is a warning; an ``info`` check shows its figures."""
        if severity == "warn" and self.status is Status.FAILED:
            return replace(self, status=Status.WARNED)
        if severity == "info" and self.status in (Status.PASSED, Status.FAILED):
            return replace(self, status=Status.INFO)
        return self


def passed(message: str, *evidence: Evidence, sql: Sequence[str] = ()) -> Outcome:
    return Outcome(Status.PASSED, message, tuple(evidence), tuple(sql))


def failed(message: str, *evidence: Evidence, sql: Sequence[str] = ()) -> Outcome:
    return Outcome(Status.FAILED, message, tuple(evidence), tuple(sql))


def accepted(message: str, *evidence: Evidence, sql: Sequence[str] = ()) -> Outcome:
    return Outcome(Status.ACCEPTED, message, tuple(evidence), tuple(sql))


def skipped(message: str) -> Outcome:
    return Outcome(Status.SKIPPED, message)


def error(exc: CouldNotCheck) -> Outcome:
    return Outcome(Status.ERROR, str(exc), sql=exc.sql, blocked_by=exc.blocked_by)


def human(seconds: float | None) -> str:
    """A duration for a message: ``42s``, ``4m 12s``, ``3h 5m``, ``2d 4h``."""
    if seconds is None:
        return "n/a"
    s = int(abs(seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m {s % 60}s"
    if s < 172800:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
