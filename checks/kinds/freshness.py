"""Freshness: the newest timestamp (e.g. the trade-stream heartbeat) is recent enough."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from psycopg import sql

from checks.config import Common, Duration, Identifier, duration_ms
from checks.gather import Newest
from checks.kinds.base import Facts, Kind, Need
from checks.outcome import Evidence, Outcome, Status, failed, human, passed
from checks.replica import Replica
from checks.selftest import faults as f

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
        stale = f"newest {subject} is {human(age)} old (max {f.max_age})"
        behind = _who_is_behind(age, duration_ms(f.max_age) / 1000, facts.replica)
        if behind is None:
            outcome = Outcome(
                Status.ERROR, f"{stale} as the standby shows it, and the standby may be "
                f"{human(facts.replica.lag_s if facts.replica else None)} behind its primary: "
                "the replica, not necessarily the service, is behind", (evidence,),
                tuple(shown)).fixed_by("check the heartbeat on the primary, or re-run when "
                                       "the standby caught up")
        else:
            outcome = failed(f"{stale}{behind}", evidence, sql=shown).fixed_by(
                f"the writer of {f.table} stopped or cannot write: check that its service "
                "runs (ECS running tasks, its CloudWatch logs for errors) and that it reaches "
                "the database")
        return outcome.with_figures(age_s=age, max_age_s=duration_ms(f.max_age) / 1000)
    return passed(f"newest {subject} is {human(max(age, 0))} old (max {f.max_age})", evidence,
                  sql=shown).with_figures(age_s=age, max_age_s=duration_ms(f.max_age) / 1000
                                          ).moved_to(row["newest"])


def _who_is_behind(age: float, limit: float, replica: Replica | None) -> str | None:
    """On a standby, whether the replica's lag could explain a stale value: None when it
    could (then nobody can say the service is behind), else the words that blame the
    service ("" on a primary)."""
    if replica is None or not replica.standby or replica.lag_s is None:
        return ""
    if age - replica.lag_s <= limit:
        return None
    if replica.lag_s == 0:
        return ("; the standby has replayed all it received: the service is behind, not the "
                "replica")
    return (f"; even allowing for the standby's lag of {human(replica.lag_s)}, the service is "
            "behind, not the replica")


# ---------------------------------------------------------------- self-test faults
def _age(x: Freshness, copy: f.DatabaseCopy) -> None:
    """Every timestamp in scope moved back by one amount, so that the newest is ``max_age``
    and a day old: the writer stopped a day ago, and the rows keep their order (and keys).
    Triggers are off (one that stamps the row would undo it)."""
    f.scope_rows(copy, x.schema, x.table, x.where)
    table, column = sql.Identifier(x.schema, x.table), sql.Identifier(x.column)
    scope = sql.SQL(" WHERE ({})").format(sql.SQL(x.where.strip().rstrip(";") + "\n")) \
        if x.where else sql.SQL("")
    stale = sql.SQL("pg_catalog.now() - {}::interval").format(
        sql.Literal(f"{duration_ms(x.max_age) // 1000 + 86_400} seconds"))
    copy.execute(sql.SQL("UPDATE {t} SET {c} = {c} - ((SELECT max(n.{c}) FROM {t} AS n{scope}) "
                         "- ({stale})){scope}").format(t=table, c=column, stale=stale,
                                                       scope=scope), triggers=False)


def _faults(x: Freshness, base: f.Base) -> f.Faults:
    scope = f" where {x.where}" if x.where else ""
    return f.of(f.Fault(f"age the newest {x.table}.{x.column}{scope} to {x.max_age} and a day",
                        partial(_age, x), names=(f"{x.table}.{x.column}", f"max {x.max_age}")))


FRESHNESS = Kind("fresh", "heartbeat", fresh, needs, section="freshness", spec=Freshness,
                 converging=True, faults=_faults)
