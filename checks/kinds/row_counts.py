"""Row counts: a table's rows (those matching ``where``) lie within bounds, e.g. no more
open positions than the dispatcher's risk gate allows.

The count is one aggregate of the table's shared scan (:class:`checks.gather.Aggregate`):
with a CHECK's violating rows on the same table, both come from one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from checks.config import Common, ConfigError, Identifier, Range
from checks.gather import Aggregate, user_sql
from checks.kinds.base import Context, Found, Kind, Needs
from checks.outcome import Outcome, failed, passed


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
    scope = f" FILTER (WHERE ({user_sql(r.where).as_string(None)}))" if r.where else ""
    return {"count": Aggregate(r.schema, r.table, f"count(*){scope}")}


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


ROW_COUNTS = Kind("row_counts", "data integrity", within_bounds, needs, section="row_counts",
                  spec=RowCount, doc="The table's rows in scope are within their bounds.")
