"""Indexes: the declared ones exist with the right shape, and every index is valid and ready."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks import catalog
from checks.config import Index
from checks.context import Context
from checks.outcome import Evidence, Outcome, failed, passed

_COLUMNS = ("name", "columns", "is_unique", "is_primary", "is_valid", "is_ready", "definition")


@dataclass(frozen=True)
class TableIndexes:
    """Every index on ``table`` must be valid, ready and live (a failed CREATE INDEX
    CONCURRENTLY leaves one that is not)."""

    table: str
    schema: str = "public"

    @property
    def id(self) -> str:
        return self.table


def list_indexes(ctx: Context, schema: str, table: str) -> tuple[list[dict[str, Any]], str]:
    """The indexes of a table and the SQL that lists them; a missing table is a CouldNotCheck
    only if the query itself fails (callers check existence first)."""
    params = {"schema": schema, "table": table}
    query = catalog.load("indexes")
    return ctx.target.query(query, params).dicts(), ctx.target.render(query, params)


def present(ctx: Context, ix: Index) -> Outcome:
    """Passed when the declared index exists with the declared columns, uniqueness and
    primary-key status, and is valid and ready."""
    if missing := _table_missing(ctx, ix.schema, ix.table):
        return missing
    indexes, shown = list_indexes(ctx, ix.schema, ix.table)
    everything = _evidence(f"Indexes on {ix.schema}.{ix.table}", indexes)
    match = [i for i in indexes if _matches(i, ix)]
    if not match:
        return failed(f"no index {ix.id} on {ix.schema}.{ix.table}", everything, sql=[shown])
    found = match[0]
    problems = []
    if ix.columns and list(found["columns"]) != list(ix.columns):
        problems.append(f"columns are {found['columns']}, expected {ix.columns}")
    if ix.unique is not None and found["is_unique"] != ix.unique:
        problems.append("not unique" if ix.unique else "unique, expected not unique")
    if ix.primary_key and not found["is_primary"]:
        problems.append("not the primary key")
    problems += _health_problems(found)
    if problems:
        return failed(f"{found['name']}: " + "; ".join(problems),
                      _evidence("Index found", [found]), sql=[shown])
    return passed(f"{found['name']}: {found['definition']}", _evidence("Index found", [found]),
                  sql=[shown])


def healthy(ctx: Context, t: TableIndexes) -> Outcome:
    """Failed with the indexes that are invalid, not ready or not live."""
    if missing := _table_missing(ctx, t.schema, t.table):
        return missing
    indexes, shown = list_indexes(ctx, t.schema, t.table)
    broken = [i for i in indexes if _health_problems(i)]
    if broken:
        names = ", ".join(f"{i['name']} ({'; '.join(_health_problems(i))})" for i in broken)
        return failed(f"{len(broken)} unusable index(es) on {t.table}: {names}",
                      _evidence("Unusable indexes", broken), sql=[shown])
    if not indexes:
        return failed(f"{t.table} has no index at all", sql=[shown])
    return passed(f"all {len(indexes)} indexes on {t.table} are valid and ready",
                  _evidence(f"Indexes on {t.table}", indexes), sql=[shown])


def unique_guards(ctx: Context, schema: str, table: str, columns: list[str]) -> list[str]:
    """Valid unique indexes whose key is exactly ``columns`` (in any order)."""
    indexes, _ = list_indexes(ctx, schema, table)
    return [i["name"] for i in indexes
            if i["is_unique"] and i["is_valid"] and sorted(i["columns"]) == sorted(columns)]


def _table_missing(ctx: Context, schema: str, table: str) -> Outcome | None:
    exists = ctx.target.query(catalog.load("table_exists"),
                              {"schema": schema, "table": table}).scalar()
    return None if exists else failed(f"table {schema}.{table} does not exist")


def _matches(found: dict[str, Any], ix: Index) -> bool:
    if ix.name:
        return found["name"] == ix.name
    if ix.primary_key:
        return bool(found["is_primary"])
    return list(found["columns"]) == list(ix.columns)


def _health_problems(found: dict[str, Any]) -> list[str]:
    return [text for flag, text in (("is_valid", "INVALID"), ("is_ready", "not ready"),
                                    ("is_live", "being dropped")) if not found[flag]]


def _evidence(title: str, indexes: list[dict[str, Any]]) -> Evidence:
    return Evidence(title, _COLUMNS, [tuple(i[c] for c in _COLUMNS) for i in indexes])
