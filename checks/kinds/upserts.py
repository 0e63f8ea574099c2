"""Upsert guards: a service's ``INSERT ... ON CONFLICT (columns) DO NOTHING`` has an arbiter.

Without a unique index or constraint that PostgreSQL infers for the conflict target,
every such INSERT fails ("there is no unique or exclusion constraint matching the ON
CONFLICT specification"), and a service that retries or skips it opens duplicates or
loses rows. Directly, PostgreSQL itself is asked (the statement is EXPLAINed, never run);
through the db-query Lambda, which runs only SELECT, the captured catalog answers by the
same rules (``checks.catalog.arbiters``), and everywhere the two are compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from checks.catalog import Catalog
from checks.catalog.arbiters import (
    Candidate,
    Implied,
    candidates,
    column_types,
    conjuncts,
    create_statement,
    implied_by,
    rules_refusing_on_conflict,
    to_normalize,
)
from checks.catalog.model import Index
from checks.config import Common, ConfigError, Identifier
from checks.gather import ArbiterPlan, Normalized
from checks.kinds.base import Facts, Kind, Need
from checks.outcome import CouldNotCheck, Evidence, Outcome, failed, passed
from checks.selftest import faults as f

_UNPROVEN = "not among the AND terms of the upsert's WHERE (the catalog judge's rule)"
NO_ARBITER = ("there is no unique or exclusion constraint matching the ON CONFLICT "
              "specification")


@dataclass(frozen=True)
class Upsert(Common):
    """A service's ``INSERT INTO table ... ON CONFLICT (columns) [WHERE where] DO
    NOTHING``: it must have an arbiter."""

    table: Identifier
    columns: list[Identifier]
    where: str | None = None
    """The conflict target's predicate, as the service writes it (``ON CONFLICT (...)
    WHERE ...``), to infer a partial unique index."""
    schema: Identifier = "public"
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.columns:
            raise ConfigError("columns: name at least one column")
        twice = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if twice:
            raise ConfigError(f"columns: {', '.join(twice)} named twice")
        if self.where is not None and not self.where.strip().rstrip(";").strip():
            raise ConfigError("where: empty (leave it out when the ON CONFLICT has no WHERE)")

    @property
    def id(self) -> str:
        return self.name or f"{self.table}.{'+'.join(self.columns)}"

    @property
    def target(self) -> str:
        scope = f" WHERE {self.where.strip()}" if self.where else ""
        return f"ON CONFLICT ({', '.join(self.columns)}){scope} DO NOTHING"


def _missing(u: Upsert, catalog: Catalog) -> Outcome | None:
    """A missing table fails (the service's INSERT fails too); a missing column is a
    could-not-check naming it (most often the config's typo)."""
    where = f"{u.schema}.{u.table}"
    relation = catalog.relation(u.schema, u.table)
    if relation is None or not relation.is_table:
        kind = {"v": "a view", "m": "a materialized view", "S": "a sequence"}.get(
            relation.kind if relation else "", "")
        return failed(f"table {where} does not exist" + (f" ({where} is {kind}: name the table "
                                                          "the service writes)" if kind else ""))
    if relation.locked:
        raise CouldNotCheck(f"{where} is locked by another session: its definition was not "
                            "read (the capture does not wait for a lock)")
    absent = [c for c in u.columns if catalog.column(u.schema, u.table, c) is None]
    if absent:
        raise CouldNotCheck(f"{where} has no column {', '.join(absent)}: {u.target} cannot be "
                            "planned (fix the config, or the schema the service expects)")
    return None


def _plan(u: Upsert, catalog: Catalog) -> ArbiterPlan:
    values = tuple((c.name, c.type) for c in catalog.of_table("columns", u.schema, u.table)
                   if not c.generated)
    return ArbiterPlan(u.schema, u.table, tuple(u.columns), u.where, values)


def _normalized(u: Upsert, catalog: Catalog) -> list[Normalized]:
    if not u.where:
        return []
    partial = to_normalize(catalog, u.schema, u.table, u.columns)
    types = column_types(catalog, u.schema, u.table)
    return [Normalized(types, text) for text in
            ([u.where.strip().rstrip(";")] if partial else [])
            + [i.predicate or "" for i in partial]]


def needs(u: Upsert, facts: Facts) -> list[Need]:
    if _missing(u, facts.catalog):
        return []
    return [_plan(u, facts.catalog), *_normalized(u, facts.catalog)]


def implied_by_where(u: Upsert, facts: Facts) -> Implied:
    """The predicate judge of ``[[upserts]]``: the index's predicate must be implied by the
    conflict target's WHERE alone (no WHERE implies no predicate)."""
    types = column_types(facts.catalog, u.schema, u.table)

    def implied(index: Index) -> str | None:
        if not u.where:
            return f"partial (WHERE {index.predicate}), and the upsert gives no WHERE"
        where = facts[Normalized(types, u.where.strip().rstrip(";"))]
        if implied_by(facts[Normalized(types, index.predicate or "")], conjuncts(where)):
            return None
        return f"partial (WHERE {index.predicate}): {_UNPROVEN}"

    return implied


def has_arbiter(u: Upsert, facts: Facts) -> Outcome:
    """Passed when PostgreSQL infers an arbiter for the upsert (directly: its own plan;
    otherwise the catalog, by the same rules) and none of the arbiters is deferrable;
    failed with what exists on the columns, why none qualifies, and the index to create."""
    catalog = facts.catalog
    if missing := _missing(u, catalog):
        return missing
    found = candidates(catalog, u.schema, u.table, u.columns, implied_by_where(u, facts))
    rules = rules_refusing_on_conflict(catalog, u.schema, u.table)
    plan = facts[_plan(u, catalog)]
    shown = [plan["sql"]]
    evidence = _evidence(u, found)
    seen = "; ".join(f"{c.index.name}: {c.verdict}" for c in found) or (
        f"no index involves {', '.join(u.columns)}")
    judged = [c.index.name for c in found if c.qualifies]
    if plan["arbiters"] is not None:  # PostgreSQL planned it: its arbiters are the answer
        note = "" if sorted(judged) == sorted(plan["arbiters"]) else (
            f"; the catalog judge {'named ' + ', '.join(judged) if judged else 'proved none'}"
            " (its predicate rule is simpler than PostgreSQL's)")
        return _arbiters(u, catalog, plan["arbiters"], "PostgreSQL's plan infers", note,
                         evidence, shown)
    if plan["refusal"] is not None:
        note = (f"; the catalog judge named {', '.join(judged)}, PostgreSQL's answer counts"
                if judged and not rules else "")
        return failed(f"{u.target} on {u.schema}.{u.table} fails: PostgreSQL says "
                      f"{plan['refusal']}{note}; {seen}", evidence,
                      sql=shown).fixed_by(_fix(u, found, rules))
    how = f"judged from the catalog ({plan['not_asked']})"
    if rules:
        return failed(f"{u.target} on {u.schema}.{u.table} fails: INSERT with ON CONFLICT "
                      f"cannot be used with table that has INSERT or UPDATE rules; {how}",
                      evidence, sql=shown).fixed_by(_fix(u, found, rules))
    if not judged:
        unproven = u.where and any(len(c.problems) == 1 and c.problems[0].endswith(_UNPROVEN)
                                   for c in found)
        answer = ("the catalog proves none (PostgreSQL proves implication more generally: a "
                  "direct connection asks it)" if unproven else
                  f"PostgreSQL would say \"{NO_ARBITER}\"")
        return failed(f"{u.target} on {u.schema}.{u.table} has no arbiter: {answer}; {how}; "
                      f"{seen}", evidence, sql=shown).fixed_by(_fix(u, found, rules))
    return _arbiters(u, catalog, judged, "the catalog shows", f"; {how}", evidence, shown)


def _arbiters(u: Upsert, catalog: Catalog, names: list[str], source: str, note: str,
              evidence: Evidence, shown: list[str]) -> Outcome:
    indexes = {i.name: i for i in catalog.of_table("indexes", u.schema, u.table)}
    unknown = [n for n in names if n not in indexes]
    if unknown:
        raise CouldNotCheck(f"the arbiter {', '.join(unknown)} is not in the catalog captured "
                            "before (created since?): run again", sql=shown)
    deferrable = [n for n in names if not indexes[n].immediate]
    if deferrable:
        return failed(
            f"{u.target} on {u.schema}.{u.table} fails at execution: {source} "
            f"{', '.join(names)}, and {', '.join(deferrable)} is DEFERRABLE (PostgreSQL: ON "
            "CONFLICT does not support deferrable unique constraints/exclusion constraints as "
            "arbiters, SQLSTATE 55000, also beside an immediate one)", evidence,
            sql=shown).fixed_by(f"replace {', '.join(deferrable)} with a NOT DEFERRABLE unique "
                                "constraint (a second, immediate index beside it does not help)")
    first = indexes[names[0]]
    return passed(f"{source} {', '.join(names)} as the arbiter of {u.target} on "
                  f"{u.schema}.{u.table}: {first.definition}{note}", evidence, sql=shown)


def _fix(u: Upsert, found: list[Candidate], rules: list[Any]) -> str:
    if rules:
        return (f"drop or rewrite the rule(s) {', '.join(r.name for r in rules)}, or stop "
                "using ON CONFLICT on this table")
    broken = [c.index.name for c in found if c.index.unique and c.index.health_problems]
    repair = (f"rebuild {', '.join(broken)} (REINDEX INDEX CONCURRENTLY), or create: "
              if broken else "the service needs (remove duplicate values first): ")
    partial = [c.index for c in found if len(c.problems) == 1 and c.index.partial
               and c.problems[0].startswith("partial")]
    other = "".join(f"; or the service writes ON CONFLICT ({', '.join(u.columns)}) WHERE "
                    f"{i.predicate} to use {i.name}" for i in partial[:1])
    return repair + create_statement(u.schema, u.table, u.columns, u.where) + other


def _evidence(u: Upsert, found: list[Candidate]) -> Evidence:
    return Evidence(f"Indexes on {u.schema}.{u.table} involving {', '.join(u.columns)}",
                    ("index", "definition", "verdict"),
                    [(c.index.name, c.index.definition, c.verdict) for c in found])


# ---------------------------------------------------------------- self-test faults
def _arbiters_of(u: Upsert, catalog: Catalog) -> list[Index]:
    """Every unique index that could be the arbiter: on exactly the conflict target's
    columns (in any order), no expression among them."""
    return [i for i in catalog.of_table("indexes", u.schema, u.table)
            if i.unique and all(i.columns) and set(i.columns) == set(u.columns)]


def _remove_arbiters(u: Upsert, copy: f.DatabaseCopy) -> None:
    for index in _arbiters_of(u, copy.catalog):
        copy.execute(f.drop_index(copy.catalog, index))


def _faults(u: Upsert, base: f.Base) -> f.Faults:
    arbiters = _arbiters_of(u, base.catalog)
    if not arbiters:
        return f.already_broken(f"the expected database has no unique index on {u.schema}."
                                f"{u.table} ({', '.join(u.columns)})", u.target)
    names = ", ".join(i.name for i in arbiters)
    return f.of(f.Fault(f"remove the arbiter {names} (with what depends on it)",
                        partial(_remove_arbiters, u), names=(u.target, NO_ARBITER)))


UPSERTS = Kind("upsert_has_arbiter", "data integrity", has_arbiter, needs, section="upserts",
               spec=Upsert, faults=_faults)
