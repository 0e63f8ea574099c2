"""Custom invariants: a SELECT that must return no rows (like a dbt singular test).

With ``severity = "info"`` the rows are the figures to show (counts, backlog), no verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlparse

from checks.config import Common, ConfigError, Identifier
from checks.gather import SelectRows
from checks.kinds.base import Context, Found, Kind, Needs
from checks.outcome import Evidence, Outcome, failed, passed

_SELECT = re.compile(r"\s*(select|with)\b", re.IGNORECASE)


@dataclass(frozen=True)
class CustomSql(Common):
    """A SELECT that must return no rows; the rows it returns are the evidence."""

    name: Identifier
    sql: str

    def __post_init__(self) -> None:
        text = sqlparse.format(self.sql, strip_comments=True)
        if not _SELECT.match(text) or len(sqlparse.split(text)) != 1:
            raise ConfigError("sql: must be one SELECT (or WITH ... SELECT) that returns the "
                              "offending rows")

    @property
    def id(self) -> str:
        return self.name


def needs(c: CustomSql, ctx: Context) -> Needs:
    return {"rows": SelectRows(c.sql, ctx.settings.sample_rows)}


def no_rows(c: CustomSql, ctx: Context, gathered: Found) -> Outcome:
    """Failed with the returned rows (capped, with the exact total) as evidence."""
    found = gathered["rows"]
    shown = [c.sql.strip()]
    about = f" ({c.description})" if c.description else ""
    evidence = Evidence(f"Rows returned by {c.name}", found["columns"], found["rows"],
                        total=found["total"])
    if c.severity == "info":
        outcome = passed(f"{c.name}: {found['total']} row(s){about}", evidence, sql=shown)
    elif not found["total"]:
        outcome = passed(f"{c.name}: no rows{about}", sql=shown)
    else:
        outcome = failed(f"{c.name}: {found['total']} row(s) returned{about}", evidence,
                         sql=shown)
    return outcome.with_figures(rows=found["total"])


CUSTOM_SQL = Kind("custom_sql", "data integrity", no_rows, needs, section="custom_sql",
                  spec=CustomSql, reads=frozenset({"target"}),
                  doc="The custom query returns no rows.")
