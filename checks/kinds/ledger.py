"""The migration ledger: every file recorded, no version without a file, applied in order.

All three read the ledger once (one query), after the catalog says it exists. Known
history the config accepts (a baseline, accepted unknown or out-of-order versions) is
shown as accepted, not passed, and never hides anything it does not name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks.gather import LedgerRows
from checks.kinds.base import Context, Found, Inputs, Kind, Needs
from checks.migrations import History, MigrationFile, order_key
from checks.outcome import Evidence, Outcome, accepted, failed, passed, skipped


@dataclass(frozen=True)
class LedgerTable:
    """The ledger as one check item (its table name is the id)."""

    id: str


def ledger_needs(spec: Any, ctx: Context) -> Needs:
    """The ledger's rows (one read, shared by every check of the ledger), once the catalog
    shows it is there."""
    ledger = ctx.inputs.config.ledger
    if ledger_missing(ctx) is not None:
        return {}
    return {"ledger": LedgerRows(ledger.schema, ledger.table, ledger.version_column,
                                 ledger.applied_at_column
                                 if _has_column(ctx, ledger.applied_at_column) else None)}


def ledger_missing(ctx: Context) -> Outcome | None:
    """A failure naming what is missing when the ledger table or its column is absent."""
    ledger = ctx.inputs.config.ledger
    where = f"{ledger.schema}.{ledger.table}"
    if ctx.catalog.table(ledger.schema, ledger.table) is None:
        return failed(f"the ledger table {where} does not exist")
    if not _has_column(ctx, ledger.version_column):
        return failed(f"the ledger table {where} has no column {ledger.version_column!r}")
    return None


def _has_column(ctx: Context, column: str | None) -> bool:
    ledger = ctx.inputs.config.ledger
    return column is not None and ctx.catalog.column(ledger.schema, ledger.table,
                                                       column) is not None


def ledger_rows(gathered: Found) -> tuple[list[tuple[str, str | None]], list[str]]:
    """The ledger's (version, applied at) rows, and the SQL that read them."""
    found = gathered["ledger"]
    return found["rows"], [found["sql"]]


def recorded(m: MigrationFile, ctx: Context, gathered: Found) -> Outcome:
    """Passed when the ledger has a row for the file's version."""
    if missing := ledger_missing(ctx):
        return missing
    rows, shown = ledger_rows(gathered)
    table = ctx.inputs.config.ledger.table
    if m.version in {v for v, _ in rows}:
        return passed(f"{m.version} is recorded in {table}", sql=shown)
    if History(ctx.inputs.config.ledger).before_baseline(m.version):
        return accepted(f"{m.path.name} has no row in {table}; it comes before the baseline "
                        f"{ctx.inputs.config.ledger.baseline}, so it is not required", sql=shown)
    column = ctx.inputs.config.ledger.version_column
    return failed(f"{m.path.name} has no row in {table}: the file was never applied, or it "
                  "did not record itself", sql=shown).fixed_by(
        f"apply {m.path.name} with the migration tool; if it was applied by hand, record it: "
        f"INSERT INTO {table} ({column}) VALUES ('{m.version}')")


def no_unknown_versions(spec: LedgerTable, ctx: Context, gathered: Found) -> Outcome:
    """Failed with the ledger rows that no migration file accounts for (run by hand?)."""
    if missing := ledger_missing(ctx):
        return missing
    rows, shown = ledger_rows(gathered)
    ledger = ctx.inputs.config.ledger
    history = History(ledger)
    files = {m.version for m in ctx.inputs.migrations}
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


def in_order(spec: LedgerTable, ctx: Context, gathered: Found) -> Outcome:
    """Failed when a version was applied after a later one (in the configured order)."""
    if missing := ledger_missing(ctx):
        return missing
    ledger = ctx.inputs.config.ledger
    if ledger.order == "applied":
        return skipped("the configured order is as applied: no order to compare against")
    if not ledger.applied_at_column:
        return skipped("no applied_at_column configured for the ledger")
    if not _has_column(ctx, ledger.applied_at_column):
        return skipped(f"the ledger has no column {ledger.applied_at_column!r}: the order of "
                       "application is not recorded")
    rows, shown = ledger_rows(gathered)
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


RECORDED = Kind("migration_recorded", "migrations", recorded, ledger_needs,
                items=lambda inputs: list(inputs.migrations),
                doc="Each migration file has its row in the ledger.")
UNKNOWN = Kind("ledger_has_no_unknown_versions", "migrations", no_unknown_versions, ledger_needs,
               items=_ledger_items,
               doc="Each ledger row names a migration file (no hotfix run by hand and forgotten).")
IN_ORDER = Kind("ledger_in_order", "migrations", in_order, ledger_needs, items=_ledger_items,
                doc="No version was applied after a later one.")
