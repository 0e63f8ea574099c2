"""Freshness: the newest timestamp (e.g. the trade-stream heartbeat) is recent enough."""

from __future__ import annotations

from dataclasses import dataclass

from checks.config import Common, Duration, Identifier, duration_ms
from checks.gather import Newest
from checks.kinds.base import Facts, Kind, Need
from checks.outcome import Evidence, Outcome, failed, passed

FUTURE_TOLERANCE_S = 60


@dataclass(frozen=True)
class Freshness(Common):
    """The newest value of a timestamp column must be younger than ``max_age``."""

    name: Identifier
    table: Identifier
    column: Identifier
    max_age: Duration = "5m"
    where: str | None = None
    schema: Identifier = "public"

    @property
    def id(self) -> str:
        return self.name


def _missing(f: Freshness, facts: Facts) -> Outcome | None:
    catalog = facts.catalog
    if catalog.table(f.schema, f.table) is None:
        return failed(f"table {f.schema}.{f.table} does not exist")
    column = catalog.column(f.schema, f.table, f.column)
    if column is None:
        return failed(f"{f.schema}.{f.table} has no column {f.column}")
    if column.category != "D":
        return failed(f"{f.table}.{f.column} is {column.type}, not a date or timestamp")
    return None


def _need(f: Freshness) -> Newest:
    return Newest(f.schema, f.table, f.column, f.where)


def needs(f: Freshness, facts: Facts) -> list[Need]:
    return [] if _missing(f, facts) else [_need(f)]


def fresh(f: Freshness, facts: Facts) -> Outcome:
    """Passed when the newest value in scope is younger than ``max_age``; no row in scope
    (or only NULLs) is a failure that says so, never a pass; so is a value in the future."""
    if missing := _missing(f, facts):
        return missing
    row = facts[_need(f)]
    shown = [row["sql"]]
    age = row["age_s"]
    evidence = Evidence("Newest value", ("newest", "checked at", "age", "max age"),
                        [(row["newest"], row["checked_at"], human(age), f.max_age)])
    subject = f"{f.table}.{f.column}" + (f" where {f.where}" if f.where else "")
    if not row["any_row"]:
        return failed(f"no row in {subject}: nothing has ever been recorded", evidence,
                      sql=shown)
    if age is None:
        return failed(f"{subject} has rows but no timestamp (all NULL)", evidence, sql=shown)
    if age < -FUTURE_TOLERANCE_S:
        return failed(f"newest {subject} is {human(-age)} in the future: clock or time zone "
                      "problem", evidence, sql=shown)
    if age > duration_ms(f.max_age) / 1000:
        return failed(f"newest {subject} is {human(age)} old (max {f.max_age})", evidence,
                      sql=shown).with_figures(age_s=age, max_age_s=duration_ms(f.max_age) / 1000
                                              ).fixed_by(
            f"the writer of {f.table} stopped or cannot write: check that its service runs "
            "(ECS running tasks, its CloudWatch logs for errors) and that it reaches the "
            "database")
    return passed(f"newest {subject} is {human(max(age, 0))} old (max {f.max_age})", evidence,
                  sql=shown).with_figures(age_s=age, max_age_s=duration_ms(f.max_age) / 1000
                                          ).moved_to(row["newest"])


def human(seconds: float | None) -> str:
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


FRESHNESS = Kind("fresh", "heartbeat", fresh, needs, section="freshness", spec=Freshness,
                 converging=True)
