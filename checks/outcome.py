"""The result of one check: what was found, and why it passed, failed or could not be checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """The four outcomes of the public interface."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


class CouldNotCheck(Exception):
    """The invariant could not be checked (unreachable, timeout, permission, proxy error...).

    Never a pass: the pytest plugin reports it as an error. ``sql`` is what was tried.
    """

    def __init__(self, message: str, *, sql: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.sql = tuple(sql)


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "message": self.message,
            "evidence": [e.to_dict() for e in self.evidence],
            "sql": list(self.sql),
        }


def passed(message: str, *evidence: Evidence, sql: Sequence[str] = ()) -> Outcome:
    return Outcome(Status.PASSED, message, tuple(evidence), tuple(sql))


def failed(message: str, *evidence: Evidence, sql: Sequence[str] = ()) -> Outcome:
    return Outcome(Status.FAILED, message, tuple(evidence), tuple(sql))


def skipped(message: str) -> Outcome:
    return Outcome(Status.SKIPPED, message)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
