"""Row counts: a table's rows (those matching ``where``) lie within bounds, e.g. no more
open positions than the dispatcher's risk gate allows.

The count is one aggregate of the table's shared scan (:class:`checks.gather.Aggregate`):
with a CHECK's violating rows on the same table, both come from one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated

from psycopg import sql

from checks.config import Common, ConfigError, Identifier, Range
from checks.gather import Aggregate, user_sql
from checks.kinds.base import Context, Found, Kind, Needs
from checks.outcome import Outcome, failed, passed
from checks.selftest import faults as f


@dataclass(frozen=True)
class RowCount(Common):
    """The rows of ``table`` (matching ``where``) number at least ``min`` and at most
    ``max``."""

    name: Identifier
    table: Identifier
    min: Annotated[int, Range(0, None)] | None = None
    max: Annotated[int, Range(0, None)] | None = None
    where: str | None = None
    schema: Identifier = "public"

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise ConfigError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ConfigError(f"min {self.min} is above max {self.max}")

    @property
    def id(self) -> str:
        return self.name

    @property
    def bounds(self) -> str:
        if self.min == self.max:
            return f"exactly {self.min}"
        return " and ".join([*([f"at least {self.min}"] if self.min is not None else []),
                             *([f"at most {self.max}"] if self.max is not None else [])])


def needs(r: RowCount, ctx: Context) -> Needs:
    if ctx.catalog.table(r.schema, r.table) is None:
        return {}
    if not r.where:
        return {"count": Aggregate(r.schema, r.table, "count(*)")}
    scope = f"({user_sql(r.where).as_string(None)})"
    return {"count": Aggregate(r.schema, r.table, f"count(*) FILTER (WHERE {scope})", scope)}


def within_bounds(r: RowCount, ctx: Context, gathered: Found) -> Outcome:
    """Passed when the count lies within the bounds; the count is the figure."""
    if ctx.catalog.table(r.schema, r.table) is None:
        return failed(f"table {r.schema}.{r.table} does not exist")
    count = gathered["count"]
    rows = int(count.value)
    subject = f"{rows} row(s) in {r.table}" + (f" where {r.where}" if r.where else "")
    shown = [count.sql]
    if (r.min is not None and rows < r.min) or (r.max is not None and rows > r.max):
        return failed(f"{subject}: expected {r.bounds}" + (f" ({r.description})"
                                                           if r.description else ""),
                      sql=shown).with_figures(rows=rows)
    return passed(f"{subject}, {r.bounds}", sql=shown).with_figures(rows=rows)


# ---------------------------------------------------------------- self-test faults
MAX_WRITTEN = 1_000_000
"""Above this ``max``, the self-test would write too many rows to go past it."""


def _scope(r: RowCount) -> sql.Composable:
    return sql.SQL(" WHERE ({})").format(user_sql(r.where)) if r.where else sql.SQL("")


def _overfill(r: RowCount, copy: f.DatabaseCopy) -> None:
    """Rows in scope copied until there are ``max`` + 1: the table's unique indexes and
    constraints are dropped first (a copy repeats its keys), triggers are off."""
    assert r.max is not None
    count = f.scope_rows(copy, r.schema, r.table, r.where)
    for index in copy.catalog.of_table("indexes", r.schema, r.table):
        if index.unique or index.exclusion:
            copy.execute(f.drop_index(copy.catalog, index))
    columns = [c for c in copy.catalog.of_table("columns", r.schema, r.table) if not c.generated]
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    overriding = "OVERRIDING SYSTEM VALUE " if any(c.identity == "a" for c in columns) else ""
    while count <= r.max:
        copy.execute(sql.SQL("INSERT INTO {t} ({n}) {o}SELECT {n} FROM {t}{s} LIMIT {k}").format(
            t=f.ident(r.schema, r.table), n=names, o=sql.SQL(overriding), s=_scope(r),
            k=sql.Literal(r.max + 1 - count)), triggers=False)
        before, count = count, f.scope_rows(copy, r.schema, r.table, r.where)
        if count <= before:
            raise f.NotProven(f"copies of the rows of {r.table} in scope fall outside it")


def _empty(r: RowCount, copy: f.DatabaseCopy) -> None:
    """Every row in scope deleted (triggers and foreign keys off)."""
    f.scope_rows(copy, r.schema, r.table, r.where)
    copy.execute(sql.SQL("DELETE FROM {}{}").format(f.ident(r.schema, r.table), _scope(r)),
                 triggers=False)


def _faults(r: RowCount, base: f.Base) -> f.Faults:
    if base.catalog.table(r.schema, r.table) is None:
        return f.already_broken(f"the expected database has no {r.schema}.{r.table}",
                                r.table)
    scope = f" where {r.where}" if r.where else ""
    found = []
    if r.max is not None:
        if r.max >= MAX_WRITTEN:
            return f.unproven(f"max {r.max}: the self-test would write that many rows")
        found.append(f.Fault(f"copy rows of {r.table}{scope} until there are {r.max + 1}",
                             partial(_overfill, r), names=(r.table, f"{r.max + 1} row(s)")))
    if r.min:
        found.append(f.Fault(f"delete every row of {r.table}{scope}", partial(_empty, r),
                             names=(r.table, "0 row(s)")))
    return f.of(*found)


ROW_COUNTS = Kind("row_counts", "data integrity", within_bounds, needs, section="row_counts",
                  spec=RowCount, faults=_faults,
                  doc="The table's rows in scope are within their bounds.")
