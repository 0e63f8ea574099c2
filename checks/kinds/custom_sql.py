"""Custom invariants: a SELECT that must return no rows (like a dbt singular test).

With ``severity = "info"`` the rows are the figures to show (counts, backlog), no verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

from checks.config import Common, ConfigError, Identifier
from checks.gather import SelectRows
from checks.kinds.base import Context, Found, Kind, Needs
from checks.outcome import Evidence, Outcome, failed, passed
from checks.selftest import faults as f

_SELECT = re.compile(r"\s*(select|with)\b", re.IGNORECASE)
_WRITE = re.compile(r"\s*(insert|update|delete)\b", re.IGNORECASE)


def _plainly(text: str, first: re.Pattern[str]) -> bool:
    """Whether ``text`` is, without parsing it, one statement starting with ``first``: no
    semicolon but a last one, no comment. (sqlparse costs a run ~40 ms; the texts of
    a config are nearly always this plain. Anything else is parsed.)"""
    body = text.strip().removesuffix(";")
    return ";" not in body and "--" not in body and "/*" not in body \
        and first.match(body) is not None


def _one_select(text: str) -> bool:
    if _plainly(text, _SELECT):
        return True
    import sqlparse

    text = sqlparse.format(text, strip_comments=True)
    return bool(_SELECT.match(text)) and len(sqlparse.split(text)) == 1


def _one_write(text: str) -> bool:
    if _plainly(text, _WRITE):
        return True
    import sqlparse

    written = [s for s in sqlparse.parse(sqlparse.format(text, strip_comments=True))
               if s.value.strip()]
    return len(written) == 1 and written[0].get_type() in ("INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class CustomSql(Common):
    """A SELECT that must return no rows; the rows it returns are the evidence."""

    name: Identifier
    sql: str
    violating: str | None = None
    """``--self-test``: one INSERT, UPDATE or DELETE that makes ``sql`` return rows (run on
    a copy of the expected database), proving the query can fail."""
    allow_unproven: bool = False
    """``--self-test`` without ``violating``: not proven, accepted rather than an error."""

    def __post_init__(self) -> None:
        if not _one_select(self.sql):
            raise ConfigError("sql: must be one SELECT (or WITH ... SELECT) that returns the "
                              "offending rows")
        if self.violating is not None and not _one_write(self.violating):
            raise ConfigError("violating: must be one INSERT, UPDATE or DELETE that makes "
                              "the query return rows")

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


# ---------------------------------------------------------------- self-test faults
def _violate(c: CustomSql, copy: f.DatabaseCopy) -> None:
    assert c.violating is not None
    copy.execute(c.violating.strip().rstrip(";"))


def _faults(c: CustomSql, base: f.Base) -> f.Faults:
    if c.violating is None:
        return f.unproven("give `violating`: an INSERT or UPDATE that makes the query return "
                          "rows", accepted=c.allow_unproven)
    # Its rows are the evidence, and nothing in them says what was written: the query must
    # return none without the write, and some with it.
    return f.of(f.Fault(f"run its violating statement: {' '.join(c.violating.split())[:120]}",
                        partial(_violate, c), names=(c.name,), clean_base=True))


CUSTOM_SQL = Kind("custom_sql", "data integrity", no_rows, needs, section="custom_sql",
                  spec=CustomSql, reads=frozenset({"target"}), faults=_faults,
                  doc="The custom query returns no rows.")
