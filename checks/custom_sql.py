"""Custom invariants: a SELECT that must return no rows (like a dbt singular test)."""

from __future__ import annotations

from psycopg import sql

from checks.config import CustomSql
from checks.context import Context
from checks.outcome import Evidence, Outcome, failed, passed

_TOTAL = "__ops_verify_total"


def no_rows(ctx: Context, c: CustomSql) -> Outcome:
    """Failed with the returned rows (capped, with the exact total) as evidence."""
    statement = sql.SQL("SELECT q.*, count(*) OVER () AS {} FROM ({}) AS q LIMIT {}").format(
        sql.Identifier(_TOTAL), sql.SQL(c.sql.strip().rstrip(";")),
        sql.Literal(ctx.settings.sample_rows))
    result = ctx.target.query(statement)
    shown = [c.sql.strip()]
    about = f" ({c.description})" if c.description else ""
    if not result.rows:
        return passed(f"{c.name}: no rows{about}", sql=shown)
    total = result.rows[0][-1]
    return failed(f"{c.name}: {total} row(s) returned{about}",
                  Evidence(f"Rows returned by {c.name}", result.columns[:-1],
                           [r[:-1] for r in result.rows], total=total),
                  sql=shown)
