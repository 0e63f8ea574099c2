"""Indexes: the declared ones exist with the right shape, and every index is usable.
Both judge from the captured catalog alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from checks.catalog import Catalog
from checks.catalog.model import Index
from checks.config import Common, ConfigError, Identifier, check_identifier, typed
from checks.config.fields import reject_unknown
from checks.kinds.base import Facts, Kind
from checks.migrations import creating
from checks.outcome import Evidence, Outcome, failed, passed
from checks.selftest import faults as f

_SHOWN = ("name", "columns", "unique", "primary", "partial", "valid", "ready", "definition")


@dataclass(frozen=True)
class IndexSpec(Common):
    """An index that must exist on a table, optionally unique, primary or on columns."""

    table: Identifier
    name: Identifier | None = None
    columns: list[Identifier] = field(default_factory=list)
    unique: bool | None = None
    primary_key: bool = False
    schema: Identifier = "public"

    def __post_init__(self) -> None:
        if not (self.name or self.columns or self.primary_key):
            raise ConfigError("name the index, its columns, or primary_key = true")

    @property
    def id(self) -> str:
        if self.name:
            return self.name
        kind = "primary_key" if self.primary_key else "index"
        return f"{self.table}.{kind}({'+'.join(self.columns)})"


@dataclass(frozen=True)
class TableIndexes:
    """Every index on ``table`` must be valid, ready and live (a failed CREATE INDEX
    CONCURRENTLY leaves one that is not)."""

    table: str
    schema: str = "public"

    @property
    def id(self) -> str:
        return self.table


def _table_missing(catalog: Catalog, schema: str, table: str) -> Outcome | None:
    return None if catalog.table(schema, table) else failed(f"table {schema}.{table} does not "
                                                            "exist")


def present(ix: IndexSpec, facts: Facts) -> Outcome:
    """Passed when the declared index exists with the declared columns, uniqueness and
    primary-key status, and is valid and ready."""
    catalog = facts.catalog
    if missing := _table_missing(catalog, ix.schema, ix.table):
        return missing
    indexes = catalog.of_table("indexes", ix.schema, ix.table)
    match = [i for i in indexes if _matches(i, ix)]
    if not match:
        # only indexes that could be meant (same columns, or the primary key asked for):
        # the table's other indexes say nothing about this one
        near = [i for i in indexes if (ix.primary_key and i.primary)
                or (ix.columns and set(ix.columns) & {c for c in i.columns if c})]
        others = ", ".join(i.name for i in indexes if i not in near) or "none"
        return failed(f"no index {ix.id} on {ix.schema}.{ix.table} (its other indexes: "
                      f"{others})", *([_evidence("Indexes on the same columns", near)]
                                      if near else [])).fixed_by(_create(ix, facts))
    found = match[0]
    problems = []
    if ix.columns and list(found.columns) != list(ix.columns):
        problems.append(f"columns are {list(found.columns)}, expected {ix.columns}")
    if ix.unique is not None and found.unique != ix.unique:
        problems.append("not unique" if ix.unique else "unique, expected not unique")
    if ix.primary_key and not found.primary:
        problems.append("not the primary key")
    problems += found.health_problems
    shown = _evidence("Index found", [found])
    if problems:
        return failed(f"{found.name}: " + "; ".join(problems), shown)
    return passed(f"{found.name}: {found.definition}", shown)


def _create(ix: IndexSpec, facts: Facts) -> str | None:
    """Where the index comes from, and how to build it without blocking writers."""
    source = creating(facts.inputs.migrations, ix.name) if ix.name else None
    where = f"{source.path.name} creates it; " if source else ""
    if ix.primary_key or not ix.columns:
        return where or None
    unique = "UNIQUE " if ix.unique else ""
    return (f"{where}build it without blocking writers: CREATE {unique}INDEX CONCURRENTLY "
            f"{ix.name or ''}{' ' if ix.name else ''}ON {ix.schema}.{ix.table} "
            f"({', '.join(ix.columns)})")


def healthy(t: TableIndexes, facts: Facts) -> Outcome:
    """Failed with the indexes that are invalid, not ready or not live."""
    catalog = facts.catalog
    if missing := _table_missing(catalog, t.schema, t.table):
        return missing
    indexes = catalog.of_table("indexes", t.schema, t.table)
    broken = [i for i in indexes if i.health_problems]
    if broken:
        names = ", ".join(f"{i.name} ({'; '.join(i.health_problems)})" for i in broken)
        return failed(f"{len(broken)} unusable index(es) on {t.table}: {names}",
                      _evidence("Unusable indexes", broken)).fixed_by(
            "drop each with DROP INDEX CONCURRENTLY and build it again with CREATE INDEX "
            "CONCURRENTLY (its definition is in the evidence); a failed CONCURRENTLY build "
            "leaves such an index behind")
    if not indexes:
        return failed(f"{t.table} has no index at all")
    return passed(f"all {len(indexes)} indexes on {t.table} are valid and ready",
                  _evidence(f"Indexes on {t.table}", indexes))


def _matches(found: Index, ix: IndexSpec) -> bool:
    if ix.name:
        return found.name == ix.name
    if ix.primary_key:
        return found.primary
    return list(found.columns) == list(ix.columns)


def _evidence(title: str, indexes: list[Index]) -> Evidence:
    return Evidence(title, _SHOWN, [
        (i.name, ", ".join(c or "(expression)" for c in i.columns), i.unique, i.primary,
         i.partial, i.valid, i.ready, i.definition) for i in indexes])


def _parse_health(raw: Any, where: str) -> list[TableIndexes]:
    """``[index_health] tables = [...]``."""
    section = typed(raw if raw is not None else {}, dict, where)
    reject_unknown(section, {"tables"}, where)
    tables = typed(section.get("tables", []), list, f"{where}.tables")
    return [TableIndexes(check_identifier(t, f"{where}.tables")) for t in tables]


# ---------------------------------------------------------------- self-test faults
def _drop(index: Index, copy: f.DatabaseCopy) -> None:
    copy.execute(f.drop_index(copy.catalog, index))


def _invalidate(index: Index, copy: f.DatabaseCopy) -> None:
    f.invalidate_index(copy, index.schema, index.name)


def _invalid(index: Index, *names: str) -> f.Fault:
    return f.Fault(f"mark {index.name} INVALID (as a failed CREATE INDEX CONCURRENTLY leaves "
                   "it)", partial(_invalidate, index), names=(index.name, "INVALID", *names),
                   key=("invalidate index", index.schema, index.name))


def _present_faults(ix: IndexSpec, base: f.Base) -> f.Faults:
    found = [i for i in base.catalog.of_table("indexes", ix.schema, ix.table) if _matches(i, ix)]
    if not found:
        return f.already_broken(f"the expected database has no index {ix.id} on {ix.schema}."
                                f"{ix.table}", ix.id)
    return f.of(f.Fault(f"drop {found[0].name}", partial(_drop, found[0]),
                        names=(ix.id, "no index")),
                _invalid(found[0]))


def _health_faults(t: TableIndexes, base: f.Base) -> f.Faults:
    indexes = base.catalog.of_table("indexes", t.schema, t.table)
    if not indexes:
        return f.already_broken(f"{t.schema}.{t.table} has no index in the expected database",
                                t.table)
    return f.of(_invalid(indexes[0], "unusable"))


PRESENT = Kind("index_present", "data integrity", present, section="indexes", spec=IndexSpec,
               reads=frozenset({"catalog"}), faults=_present_faults)
HEALTH = Kind("indexes_valid", "data integrity", healthy, section="index_health",
              parse_section=_parse_health, reads=frozenset({"catalog"}), faults=_health_faults)
