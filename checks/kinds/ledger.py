"""The migration ledger: every file recorded, no version without a file, applied in order.

All three read the ledger once (one query), after the catalog says it exists. Known
history the config accepts (a baseline, accepted unknown or out-of-order versions) is
shown as accepted, not passed, and never hides anything it does not name.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

from psycopg import sql

from checks.config import Ledger
from checks.gather import LedgerRows
from checks.kinds.base import Facts, Inputs, Kind
from checks.migrations import History, MigrationFile, order_key
from checks.outcome import Evidence, Outcome, accepted, failed, passed, skipped
from checks.selftest import faults as f


@dataclass(frozen=True)
class LedgerTable:
    """The ledger as one check item (its table name is the id)."""

    id: str


def ledger_need(facts: Facts) -> LedgerRows | None:
    ledger = facts.inputs.config.ledger
    if ledger_missing(facts) is not None:
        return None
    return LedgerRows(ledger.schema, ledger.table, ledger.version_column, ledger.applied_at_column
                      if _has_column(facts, ledger.applied_at_column) else None)


def _needs(spec: Any, facts: Facts) -> list[LedgerRows]:
    need = ledger_need(facts)
    return [need] if need else []


def ledger_missing(facts: Facts) -> Outcome | None:
    """A failure naming what is missing when the ledger table or its column is absent."""
    ledger = facts.inputs.config.ledger
    where = f"{ledger.schema}.{ledger.table}"
    if facts.catalog.table(ledger.schema, ledger.table) is None:
        return failed(f"the ledger table {where} does not exist")
    if not _has_column(facts, ledger.version_column):
        return failed(f"the ledger table {where} has no column {ledger.version_column!r}")
    return None


def _has_column(facts: Facts, column: str | None) -> bool:
    ledger = facts.inputs.config.ledger
    return column is not None and facts.catalog.column(ledger.schema, ledger.table,
                                                       column) is not None


def _rows(facts: Facts) -> tuple[list[tuple[str, str | None]], list[str]]:
    need = ledger_need(facts)
    assert need is not None
    found = facts[need]
    return found["rows"], [found["sql"]]


def recorded(m: MigrationFile, facts: Facts) -> Outcome:
    """Passed when the ledger has a row for the file's version."""
    if missing := ledger_missing(facts):
        return missing
    rows, shown = _rows(facts)
    table = facts.inputs.config.ledger.table
    if m.version in {v for v, _ in rows}:
        return passed(f"{m.version} is recorded in {table}", sql=shown)
    if History(facts.inputs.config.ledger).before_baseline(m.version):
        return accepted(f"{m.path.name} has no row in {table}; it comes before the baseline "
                        f"{facts.inputs.config.ledger.baseline}, so it is not required", sql=shown)
    column = facts.inputs.config.ledger.version_column
    return failed(f"{m.path.name} has no row in {table}: the file was never applied, or it "
                  "did not record itself", sql=shown).fixed_by(
        f"apply {m.path.name} with the migration tool; if it was applied by hand, record it: "
        f"INSERT INTO {table} ({column}) VALUES ('{m.version}')")


def no_unknown_versions(spec: LedgerTable, facts: Facts) -> Outcome:
    """Failed with the ledger rows that no migration file accounts for (run by hand?)."""
    if missing := ledger_missing(facts):
        return missing
    rows, shown = _rows(facts)
    ledger = facts.inputs.config.ledger
    history = History(ledger)
    files = {m.version for m in facts.inputs.migrations}
    unknown = sorted({v for v, _ in rows if v not in files})
    known = [v for v in unknown if history.accepted(v, ledger.accept_unknown)
             or history.before_baseline(v)]
    problems = [v for v in unknown if v not in known]
    evidence = Evidence("Recorded versions without a file", ("version", "status"),
                        [(v, "accepted" if v in known else "unknown") for v in unknown])
    if problems:
        return failed(f"{len(problems)} version(s) in {ledger.table} have no migration file: "
                      + ", ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
                      + (f" ({len(known)} more accepted)" if known else ""), evidence,
                      sql=shown).fixed_by("commit the migration file that was run, or, if the "
                                          "version is known history, list it in [ledger] "
                                          "accept_unknown")
    if known:
        return accepted(f"{len(known)} version(s) in {ledger.table} have no file, all "
                        f"accepted by the config: {', '.join(known[:5])}"
                        + (" ..." if len(known) > 5 else ""), evidence, sql=shown)
    return passed(f"every row of {ledger.table} has its migration file", sql=shown)


def in_order(spec: LedgerTable, facts: Facts) -> Outcome:
    """Failed when a version was applied after a later one (in the configured order)."""
    if missing := ledger_missing(facts):
        return missing
    ledger = facts.inputs.config.ledger
    if ledger.order == "applied":
        return skipped("the configured order is as applied: no order to compare against")
    if not ledger.applied_at_column:
        return skipped("no applied_at_column configured for the ledger")
    if not _has_column(facts, ledger.applied_at_column):
        return skipped(f"the ledger has no column {ledger.applied_at_column!r}: the order of "
                       "application is not recorded")
    rows, shown = _rows(facts)
    history = History(ledger)
    key = order_key(ledger.order)
    late, newest = [], None
    numbered = []
    for version, applied_at in rows:
        try:
            numbered.append((key(version), version, applied_at))
        except ValueError:
            continue  # not a numbered version: reported by the unknown-versions check
    # rows applied in one transaction share applied_at: no order among them to judge
    ranks = {at: i for i, at in enumerate(dict.fromkeys(at for _, _, at in numbered))}
    for this, version, applied_at in sorted(numbered, key=lambda r: (ranks[r[2]], r[0])):
        if newest is not None and this < newest[0]:
            known = (history.accepted(version, ledger.accept_out_of_order)
                     or history.before_baseline(version))
            late.append((version, applied_at, newest[1], "accepted" if known else "out of order"))
        if newest is None or this > newest[0]:
            newest = (this, version)
    problems = [v for v, _, _, status in late if status != "accepted"]
    evidence = Evidence("Applied out of order", ("version", "applied at", "after", "status"),
                        late)
    if problems:
        return failed(f"{len(problems)} version(s) applied out of {ledger.order} order, after a "
                      "later version: " + ", ".join(problems[:5])
                      + (" ..." if len(problems) > 5 else ""), evidence, sql=shown)
    if late:
        return accepted(f"{len(late)} version(s) applied out of {ledger.order} order, all "
                        "accepted by the config", evidence, sql=shown)
    return passed(f"{len(rows)} versions applied in {ledger.order} order", sql=shown)


def _ledger_items(inputs: Inputs) -> list[LedgerTable]:
    return [LedgerTable(inputs.config.ledger.table)]


# ---------------------------------------------------------------- self-test faults
def _table(ledger: Ledger) -> sql.Identifier:
    return sql.Identifier(ledger.schema, ledger.table)


def _delete_row(ledger: Ledger, version: str, copy: f.DatabaseCopy) -> None:
    if not copy.execute(sql.SQL("DELETE FROM {} WHERE {}::text = %s RETURNING 1").format(
            _table(ledger), sql.Identifier(ledger.version_column)), (version,)):
        raise f.NotProven(f"{version} has no row in the expected database's ledger to delete")


def _record(ledger: Ledger, version: str, copy: f.DatabaseCopy) -> None:
    """A row for ``version``: a copy of the newest row (so that whatever else the ledger
    requires is there), applied last."""
    table, column = _table(ledger), sql.Identifier(ledger.version_column)
    names = [r[0] for r in copy.execute(
        "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s::pg_catalog.regclass "
        "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' AND attidentity = '' "
        "ORDER BY attnum", (table.as_string(None),))]
    applied = ledger.applied_at_column if ledger.applied_at_column in names else None
    values = [sql.Literal(version) if n == ledger.version_column else
              sql.SQL("(SELECT max(l.{c}) FROM {t} AS l) + interval '1 minute'").format(
                  c=sql.Identifier(n), t=table) if n == applied else sql.Identifier(n)
              for n in names]
    order = sql.SQL(" ORDER BY {} DESC NULLS LAST").format(sql.Identifier(applied)) \
        if applied else sql.SQL("")
    if not copy.execute(sql.SQL("INSERT INTO {t} ({names}) SELECT {values} FROM {t}{order} "
                                "LIMIT 1 RETURNING 1").format(
            t=table, names=sql.SQL(", ").join(map(sql.Identifier, names)),
            values=sql.SQL(", ").join(values), order=order), triggers=False):
        copy.execute(sql.SQL("INSERT INTO {} ({}) VALUES (%s)").format(table, column), (version,))


def _recorded_faults(m: MigrationFile, base: f.Base) -> f.Faults:
    ledger = base.config.ledger
    if History(ledger).before_baseline(m.version):
        return f.not_applicable(f"{m.version} comes before the baseline {ledger.baseline}: "
                                "its row is not required")
    return f.of(f.Fault(f"delete the ledger row of {m.version}",
                        partial(_delete_row, ledger, m.version), names=(m.path.name,),
                        family="ledger rows"))


def _unknown_version(base: f.Base) -> str:
    """A version no file has, that nothing the config accepts matches."""
    ledger = base.config.ledger
    history = History(ledger)
    files = {m.version for m in base.inputs.migrations}
    for number in (99999, 999999999, 2**31 - 1):
        version = f"{number}_{f.INJECTED}"
        if version not in files and not history.before_baseline(version) \
                and not any(fnmatchcase(version, p) for p in ledger.accept_unknown):
            return version
    return f"99999_{f.INJECTED}"  # accepted whatever it is: the self-test says so


def _unknown_faults(spec: LedgerTable, base: f.Base) -> f.Faults:
    version = _unknown_version(base)
    return f.of(f.Fault(f"record the version {version}, which no file has",
                        partial(_record, base.config.ledger, version), names=(version,)))


def _late(ledger: Ledger, version: str, copy: f.DatabaseCopy) -> None:
    assert ledger.applied_at_column
    if not copy.execute(sql.SQL("UPDATE {t} SET {a} = (SELECT max(l.{a}) FROM {t} AS l) + "
                                "interval '1 minute' WHERE {v}::text = %s RETURNING 1").format(
            t=_table(ledger), a=sql.Identifier(ledger.applied_at_column),
            v=sql.Identifier(ledger.version_column)), (version,), triggers=False):
        raise f.NotProven(f"{version} has no row in the expected database's ledger")


def _in_order_faults(spec: LedgerTable, base: f.Base) -> f.Faults:
    """The earliest version the config does not accept out of order, applied last."""
    ledger = base.config.ledger
    if ledger.order == "applied" or not ledger.applied_at_column:
        return f.not_applicable("the ledger's order is as applied: there is none to break")
    history = History(ledger)
    key = order_key(ledger.order)
    versions = sorted((m.version for m in base.inputs.migrations), key=key)
    early = next((v for v in versions[:-1] if not history.before_baseline(v)
                  and not history.accepted(v, ledger.accept_out_of_order)), None)
    if early is None:
        return f.unproven("every version but the last is accepted out of order or before the "
                          "baseline: none can be applied late without being accepted")
    return f.of(f.Fault(f"apply {early} again after every later version (its applied_at "
                        "moved past the newest)", partial(_late, ledger, early),
                        names=(early,)))


RECORDED = Kind("migration_recorded", "migrations", recorded, _needs,
                items=lambda inputs: list(inputs.migrations), faults=_recorded_faults)
UNKNOWN = Kind("ledger_has_no_unknown_versions", "migrations", no_unknown_versions, _needs,
               items=_ledger_items, faults=_unknown_faults)
IN_ORDER = Kind("ledger_in_order", "migrations", in_order, _needs, items=_ledger_items,
                faults=_in_order_faults)
