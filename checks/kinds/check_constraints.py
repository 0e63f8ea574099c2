"""CHECK constraints: they exist, say the right thing, hold for the data, and PostgreSQL
really enforces them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from checks.catalog import Catalog
from checks.catalog.expressions import check_expression
from checks.catalog.model import Constraint
from checks.config import Common, Identifier, Settings
from checks.gather import Aggregate, Normalized
from checks.kinds.base import Facts, Kind, Need
from checks.migrations import creating
from checks.outcome import CouldNotCheck, Evidence, Outcome, accepted, failed, passed, skipped
from checks.probes import Probe, ProbeReport, plan


@dataclass(frozen=True)
class CheckConstraint(Common):
    """A CHECK constraint that must exist with this rule, hold, and be enforced."""

    table: Identifier
    name: Identifier
    expression: str
    schema: Identifier = "public"
    probe_values: dict[str, Any] = field(default_factory=dict)
    """Values for the probe row instead of derived ones."""
    violation: dict[str, Any] = field(default_factory=dict)
    """The values that break the rule, instead of searching for them."""
    allow_violating_rows: bool = False
    """Accept existing rows that break a NOT VALID constraint (they are still counted)."""
    probe_with_triggers: bool = False
    """Probe although the table has triggers or rules (they fire, and are rolled back)."""
    probe: bool = True
    """False: no enforcement probe (say why in ``description``), e.g. when every value
    that breaks this rule also breaks another that PostgreSQL checks first."""

    @property
    def id(self) -> str:
        return self.name


def _found(c: CheckConstraint, catalog: Catalog) -> tuple[Outcome | None, Constraint | None]:
    """The live constraint, or the failure that it is missing or something else."""
    where = f"{c.schema}.{c.table}"
    if catalog.table(c.schema, c.table) is None:
        return failed(f"table {where} does not exist"), None
    found = catalog.constraint(c.schema, c.table, c.name)
    if found is None:
        existing = [(k.name, k.definition) for k in catalog.of_table("constraints", c.schema,
                                                                      c.table) if k.type == "c"]
        return failed(f"constraint {c.name} does not exist on {where}",
                      Evidence(f"CHECK constraints on {where}", ("name", "definition"),
                               existing)), None
    if found.type != "c":
        return failed(f"{c.name} on {where} is not a CHECK constraint (type {found.type!r}): "
                      f"{found.definition}"), None
    if found.definition is None:
        raise CouldNotCheck(f"{where} is locked by another session: the definition of "
                            f"{c.name} was not read")
    return None, found


def _columns(c: CheckConstraint, catalog: Catalog) -> tuple[tuple[str, str, bool], ...]:
    return tuple((col.name, col.type, col.user_type)
                 for col in catalog.of_table("columns", c.schema, c.table))


def _violators(c: CheckConstraint, live: Constraint) -> Aggregate:
    return Aggregate(c.schema, c.table,
                     f"count(*) FILTER (WHERE NOT ({check_expression(live.definition or '')}))")


def _unproven(c: CheckConstraint, live: Constraint, catalog: Catalog) -> str | None:
    """Why PostgreSQL's own word does not prove that every row holds the rule, if so (then
    the rows are counted)."""
    if not live.validated:
        return "it is NOT VALID"
    if live.user_calls:
        return (f"it calls {', '.join(live.user_calls)}, and PostgreSQL re-checks no row "
                "when a function is redefined")
    if live.no_inherit and catalog.descendants(c.schema, c.table):
        return "it is NO INHERIT, and the table has children whose rows it does not check"
    return None


def untrusted(calls: Iterable[str], settings: Settings) -> list[str]:
    """The functions of ``calls`` (not built in) that the operator did not list in
    ``trusted_functions``: the suite evaluates nothing that would run them."""
    return sorted(set(calls) - set(settings.trusted_functions))


def _not_evaluated(functions: list[str]) -> str:
    return (f"calls untrusted {', '.join(functions)} (a volatility label is its author's "
            "claim; list it in [settings] trusted_functions once its body is known to "
            "write nothing elsewhere)")


def definition_needs(c: CheckConstraint, facts: Facts) -> list[Need]:
    live = _found(c, facts.catalog)[1]
    if live is None:
        return []
    columns = _columns(c, facts.catalog)
    needs: list[Need] = [Normalized(columns, c.expression),
                         Normalized(columns, check_expression(live.definition or ""))]
    if (live.enforced and _unproven(c, live, facts.catalog)
            and not untrusted(live.user_calls, facts.settings)):
        needs.append(_violators(c, live))
    return needs


def _recreate(c: CheckConstraint, facts: Facts, *, replace: bool) -> str:
    """Where the rule comes from, and how to put it back without a long lock."""
    table = f"{c.schema}.{c.table}"
    source = creating(facts.inputs.migrations, c.name)
    steps = (f"ALTER TABLE {table} DROP CONSTRAINT {c.name}; " if replace else "") + (
        f"ALTER TABLE {table} ADD CONSTRAINT {c.name} CHECK ({c.expression}) NOT VALID; "
        f"ALTER TABLE {table} VALIDATE CONSTRAINT {c.name}")
    return (f"{source.path.name} creates it; " if source else "") + f"re-create it: {steps}"


def definition(c: CheckConstraint, facts: Facts) -> Outcome:
    """Passed when the constraint exists under its name with the declared rule (both
    normalized by PostgreSQL to a fixed point), is enforced, and no row breaks it; a NOT
    VALID constraint that existing rows break fails unless ``allow_violating_rows``."""
    missing, live = _found(c, facts.catalog)
    if live is None:
        assert missing is not None
        return missing.fixed_by(_recreate(c, facts, replace=False))
    columns = _columns(c, facts.catalog)
    live_expression = check_expression(live.definition or "")
    expected = facts[Normalized(columns, c.expression)]
    actual = facts[Normalized(columns, live_expression)]
    compare = Evidence("Definition", ("", "as written", "normalized by PostgreSQL"), [
        ("expected", f"CHECK ({c.expression})", f"CHECK ({expected})"),
        ("found", live.definition, f"CHECK ({actual})"),
    ])
    if expected != actual:
        return failed(f"{c.name} exists but says something else: expected CHECK "
                      f"({c.expression}), found {live.definition}", compare
                      ).fixed_by(_recreate(c, facts, replace=True))
    if not live.enforced:
        return failed(f"{c.name} is NOT ENFORCED: PostgreSQL does not apply it", compare)
    unproven = _unproven(c, live, facts.catalog)
    if unproven is None:
        return passed(f"{c.name} matches and is validated", compare)
    if functions := untrusted(live.user_calls, facts.settings):
        # counting the rows that break it evaluates it on every row
        raise CouldNotCheck(f"{c.name} matches, but {unproven}; its rows were not "
                            f"evaluated: it {_not_evaluated(functions)}")
    count = facts[_violators(c, live)]
    rows = int(count.value)
    if rows == 0:
        return passed(f"{c.name} matches; {unproven}, and 0 existing rows violate it",
                      compare, sql=[count.sql])
    message = f"{c.name} matches, but {unproven}, and {rows} existing rows violate it"
    if c.allow_violating_rows:
        return accepted(message + "; accepted by allow_violating_rows", compare,
                        sql=[count.sql])
    return failed(message, compare, sql=[count.sql])


def _probe_block(c: CheckConstraint, facts: Facts) -> str | None:
    """Why this table is not probed, if it is not."""
    if facts.probe_block:
        return f"enforcement probe not run: {facts.probe_block}"
    if not c.probe:
        return "not probed: probe = false in the config" + (f" ({c.description})"
                                                            if c.description else "")
    catalog = facts.catalog
    # the probe's row may be routed to a partition: its triggers and checks run too
    tables = [(c.schema, c.table), *((r.schema, r.name)
                                     for r in catalog.descendants(c.schema, c.table))]
    if not c.probe_with_triggers:
        found = [f"{kind} {o.name}" + ("" if (o.schema, o.table) == tables[0]
                                       else f" (on {o.schema}.{o.table})")
                 for schema, table in tables
                 for kind, objects in (("trigger", catalog.of_table("triggers", schema, table)),
                                       ("rule", catalog.of_table("rules", schema, table)))
                 for o in objects]
        if found:
            return (f"not probed: {c.schema}.{c.table} has {', '.join(found)}, which would "
                    "run on the probe's INSERT (set probe_with_triggers = true to probe "
                    "anyway)")
    runs = untrusted({f for schema, table in tables
                      if (relation := catalog.table(schema, table))
                      for f in relation.insert_calls}, facts.settings)
    if runs:
        return (f"not probed: an INSERT into {c.schema}.{c.table} (a CHECK, a domain, a "
                "generated column, an index or the partition key; the search for values "
                f"too) {_not_evaluated(runs)}")
    volatile = sorted({f for schema, table in tables
                       for kind in ("constraints", "columns")
                       for o in catalog.of_table(kind, schema, table) for f in o.volatile_calls})
    if volatile:
        return (f"not probed: a CHECK on {c.schema}.{c.table} (or on a domain of its columns)"
                f" calls non-immutable {', '.join(volatile)}, which the probe would run")
    return None


def _probe(c: CheckConstraint, facts: Facts) -> Probe:
    return plan(facts.catalog, c.schema, c.table, c.name, c.probe_values, c.violation)


def enforced_needs(c: CheckConstraint, facts: Facts) -> list[Need]:
    if facts.probe_block:
        return []
    live = _found(c, facts.catalog)[1]
    if live is None or _probe_block(c, facts):
        return []
    return [_probe(c, facts)]


def enforced(c: CheckConstraint, facts: Facts) -> Outcome:
    """Passed only when an INSERT that breaks just this rule is rejected with SQLSTATE
    23514 naming it; the probe is always rolled back and leaves no trace."""
    if facts.probe_block:
        return skipped(f"enforcement probe not run: {facts.probe_block}")
    missing, live = _found(c, facts.catalog)
    if live is None:
        assert missing is not None
        return failed(missing.message + ": nothing enforces the rule", *missing.evidence)
    if reason := _probe_block(c, facts):
        return skipped(reason)
    report: ProbeReport = facts[_probe(c, facts)]
    tried, result = [report.insert], report.result
    if report.advanced_sequences:
        raise CouldNotCheck(f"the probe advanced {', '.join(report.advanced_sequences)}: a "
                            "trace the rollback cannot undo", sql=tried)
    if not result.rejected:
        return failed(f"PostgreSQL accepted a row that breaks {c.name}: the rule is not "
                      "enforced (the probe was rolled back)", sql=tried)
    if result.sqlstate == "23514" and result.constraint == c.name:
        return passed(f"a row breaking {c.name} was rejected by it (SQLSTATE 23514); rolled "
                      "back", sql=tried)
    other = f" by {result.constraint}" if result.constraint else ""
    raise CouldNotCheck(f"inconclusive probe: the row was rejected{other} (SQLSTATE "
                        f"{result.sqlstate}: {result.message}), not by {c.name}; set "
                        f"probe_values for {c.name} in the config", sql=tried)


DEFINITION = Kind("check_constraint_definition", "constraints", definition, definition_needs,
                  section="check_constraints", spec=CheckConstraint)
ENFORCED = Kind("check_constraint_enforced", "constraints", enforced, enforced_needs,
                section="check_constraints", spec=CheckConstraint)
