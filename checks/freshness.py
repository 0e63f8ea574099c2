"""Freshness: the newest timestamp (e.g. the trade-stream heartbeat) is recent enough."""

from __future__ import annotations

from psycopg import sql

from checks.config import Freshness, duration_ms
from checks.context import Context
from checks.outcome import Evidence, Outcome, failed, passed

_FUTURE_TOLERANCE_S = 60


def fresh(ctx: Context, f: Freshness) -> Outcome:
    """Passed when the newest value in scope is younger than ``max_age``; no row in scope
    (or only NULLs) is a failure that says so, never a pass."""
    scope = sql.SQL(" WHERE {}").format(sql.SQL(f.where)) if f.where else sql.SQL("")
    statement = sql.SQL(
        "SELECT count(*) AS rows, max({col})::text AS newest, now()::text AS checked_at, "
        "extract(epoch FROM now() - max({col}))::float8 AS age_s FROM {table}{scope}"
    ).format(col=sql.Identifier(f.column), table=sql.Identifier(f.schema, f.table), scope=scope)
    row = ctx.target.query(statement).dicts()[0]
    shown = [ctx.target.render(statement)]
    evidence = Evidence("Newest value", ("rows in scope", "newest", "checked at", "age"),
                        [(row["rows"], row["newest"], row["checked_at"],
                          _human(row["age_s"]))])
    subject = f"{f.table}.{f.column}" + (f" where {f.where}" if f.where else "")
    limit_s = duration_ms(f.max_age) / 1000
    if row["rows"] == 0:
        return failed(f"no row in {subject}: nothing has ever been recorded", evidence, sql=shown)
    if row["age_s"] is None:
        return failed(f"{subject} has {row['rows']} rows but no timestamp (all NULL)",
                      evidence, sql=shown)
    age = row["age_s"]
    if age < -_FUTURE_TOLERANCE_S:
        return failed(f"newest {subject} is {_human(-age)} in the future: clock problem",
                      evidence, sql=shown)
    if age > limit_s:
        return failed(f"newest {subject} is {_human(age)} old (max {f.max_age})", evidence,
                      sql=shown)
    return passed(f"newest {subject} is {_human(max(age, 0))} old (max {f.max_age})",
                  evidence, sql=shown)


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    s = int(abs(seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m {s % 60}s"
    return f"{s // 3600}h {s % 3600 // 60}m"
