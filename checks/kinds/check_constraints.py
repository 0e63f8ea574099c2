"""CHECK constraints: they exist, say the right thing, hold for the data, and PostgreSQL
really enforces them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from psycopg import sql

from checks.catalog import Catalog
from checks.catalog.expressions import check_expression
from checks.catalog.model import Constraint
from checks.config import Common, Identifier, Settings
from checks.gather import Aggregate, Normalized
from checks.kinds.base import Facts, Kind, Need
from checks.migrations import creating
from checks.outcome import CouldNotCheck, Evidence, Outcome, accepted, failed, passed, skipped
from checks.probes import Probe, ProbeReport, plan
from checks.proofs import CACHED, SCANNED, Violators
from checks.selftest import faults as f
from checks.watermarks import entry_key


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


def _violators(c: CheckConstraint, live: Constraint, catalog: Catalog) -> Aggregate | Violators:
    """The count of rows that break it: an earlier run's 0 may still prove it when the only
    reason to count is NOT VALID (``checks.proofs``); a rule that calls a user function, or
    a table with children, can gain violators, so is counted every time."""
    expression = f"count(*) FILTER (WHERE NOT ({check_expression(live.definition or '')}))"
    if live.user_calls or catalog.descendants(c.schema, c.table):
        return Aggregate(c.schema, c.table, expression)
    return Violators(c.schema, c.table, c.name, expression,
                     entry_key("not_valid_violators", c.schema, c.table, c.name))


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
        needs.append(_violators(c, live, facts.catalog))
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
    count = facts[_violators(c, live, facts.catalog)]
    rows = int(count.value)
    method = getattr(count, "method", SCANNED)
    if rows == 0 and method == CACHED:
        return passed(f"{c.name} matches; {unproven}: its violators were counted "
                      f"{count.counted_at} for this definition: 0; new rows are checked by "
                      "PostgreSQL (nothing about it changed since: not recounted)",
                      compare, sql=[count.sql]).by(method)
    why = getattr(count, "reason", None)
    counted = f" (counted: {why})" if why else ""
    if rows == 0:
        return passed(f"{c.name} matches; {unproven}, and 0 existing rows violate it{counted}",
                      compare, sql=[count.sql]).by(method)
    message = f"{c.name} matches, but {unproven}, and {rows} existing rows violate it"
    if c.allow_violating_rows:
        return accepted(message + "; accepted by allow_violating_rows", compare,
                        sql=[count.sql]).by(method)
    return failed(message, compare, sql=[count.sql]).by(method)


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


# ---------------------------------------------------------------- self-test faults
NOT_ENFORCED_SINCE = 180000
"""PostgreSQL 18 keeps a CHECK that is NOT ENFORCED."""


def _table_ident(c: CheckConstraint) -> sql.Identifier:
    return sql.Identifier(c.schema, c.table)


def _drop(c: CheckConstraint, copy: f.DatabaseCopy) -> None:
    copy.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
        _table_ident(c), sql.Identifier(c.name)))


def _rule(c: CheckConstraint, copy: f.DatabaseCopy) -> str:
    live = copy.catalog.constraint(c.schema, c.table, c.name)
    assert live is not None
    return check_expression(live.definition or "")


def _replace(c: CheckConstraint, expression: sql.Composable, suffix: str,
             copy: f.DatabaseCopy) -> None:
    copy.execute(sql.SQL("ALTER TABLE {t} DROP CONSTRAINT {n}, ADD CONSTRAINT {n} CHECK ({e}){s}"
                         ).format(t=_table_ident(c), n=sql.Identifier(c.name), e=expression,
                                  s=sql.SQL(suffix)))


def _weaker(c: CheckConstraint, copy: f.DatabaseCopy) -> None:
    """The rule, or the values that break it: what a migration that widened a list does."""
    _, _, broken = f.violating_row(copy, c.schema, c.table, c.name, c.probe_values,
                                   c.violation)
    terms = []
    for name, value in sorted(broken.items()):
        column = copy.catalog.column(c.schema, c.table, name)
        assert column is not None
        terms.append(sql.SQL("{} IS NULL").format(sql.Identifier(name)) if value is None else
                     sql.SQL("{} = {}::{}").format(sql.Identifier(name),
                                                   sql.Literal(str(value)), sql.SQL(column.type)))
    _replace(c, sql.SQL("({}) OR ({})").format(sql.SQL(_rule(c, copy)),
                                               sql.SQL(" AND ").join(terms)), "", copy)


def _violating_row(c: CheckConstraint, copy: f.DatabaseCopy) -> None:
    """A row that breaks the rule, written while it was off, and the rule back NOT VALID
    (which checks no existing row). The table's other CHECKs are dropped on this copy so
    that the row can be written; this check reads none of them."""
    rule = _rule(c, copy)
    statement, params, _ = f.violating_row(copy, c.schema, c.table, c.name, c.probe_values,
                                           c.violation)
    for other in copy.catalog.of_table("constraints", c.schema, c.table):
        if other.type == "c":
            copy.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                _table_ident(c), sql.Identifier(other.name)))
    copy.execute(statement, params, triggers=False)
    copy.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({}) NOT VALID").format(
        _table_ident(c), sql.Identifier(c.name), sql.SQL(rule)))


def _not_enforced(c: CheckConstraint, copy: f.DatabaseCopy) -> None:
    _replace(c, sql.SQL(_rule(c, copy)), " NOT ENFORCED", copy)


def _present(c: CheckConstraint, base: f.Base) -> str | None:
    live = base.catalog.constraint(c.schema, c.table, c.name)
    if live is None or live.type != "c" or not live.definition:
        return f"{c.name} is not a CHECK of {c.schema}.{c.table} in the expected database"
    return None


def _drop_fault(c: CheckConstraint, *names: str) -> f.Fault:
    return f.Fault(f"drop the CHECK {c.name}", partial(_drop, c), names=(c.name, *names),
                   key=("drop check", c.schema, c.table, c.name))


def _not_enforced_fault(c: CheckConstraint, base: f.Base, *names: str) -> list[f.Fault]:
    if base.server_version_num < NOT_ENFORCED_SINCE:
        return []
    return [f.Fault(f"make {c.name} NOT ENFORCED", partial(_not_enforced, c),
                    names=(c.name, *names), key=("check not enforced", c.schema, c.table,
                                                 c.name))]


def _definition_faults(c: CheckConstraint, base: f.Base) -> f.Faults:
    if problem := _present(c, base):
        return f.already_broken(problem, c.name)
    found = [_drop_fault(c, "does not exist"),
             f.Fault(f"replace {c.name} with a weaker rule (it also admits a value that breaks "
                     "it)", partial(_weaker, c), names=(c.name, "says something else")),
             *_not_enforced_fault(c, base, "NOT ENFORCED")]
    if not c.allow_violating_rows:  # else rows that break it are accepted on purpose
        found.append(f.Fault(f"write a row that breaks {c.name}, then add it back NOT VALID",
                             partial(_violating_row, c), names=(c.name, "NOT VALID", "violate")))
    return f.of(*found)


def _enforced_faults(c: CheckConstraint, base: f.Base) -> f.Faults:
    if not c.probe:
        return f.not_applicable("not probed: probe = false in the config")
    if problem := _present(c, base):
        return f.already_broken(problem, c.name)
    return f.of(_drop_fault(c, "nothing enforces"),
                *_not_enforced_fault(c, base, "not enforced"))


DEFINITION = Kind("check_constraint_definition", "constraints", definition, definition_needs,
                  section="check_constraints", spec=CheckConstraint, faults=_definition_faults)
ENFORCED = Kind("check_constraint_enforced", "constraints", enforced, enforced_needs,
                section="check_constraints", spec=CheckConstraint, faults=_enforced_faults)
