"""The migration ledger: every migration file recorded, no recorded version without a file."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from checks import catalog
from checks.config import ConfigError, Ledger
from checks.context import Context
from checks.migrations import MigrationFile, version_key
from checks.outcome import Evidence, Outcome, failed, passed, skipped
from checks.targets.base import Target


@dataclass(frozen=True)
class Recorded:
    """Migration file ``migration`` must have its row in the ledger."""

    ledger: Ledger
    migration: MigrationFile

    @property
    def id(self) -> str:
        return self.migration.version


@dataclass(frozen=True)
class NoUnknownVersions:
    """Every ledger row must name a migration file (a row without one was run by hand)."""

    ledger: Ledger
    migrations: tuple[MigrationFile, ...]

    @property
    def id(self) -> str:
        return self.ledger.table


def in_order(ctx: Context, inv: NoUnknownVersions) -> Outcome:
    """Failed when a version was applied after a numerically later one (out of order)."""
    target, ledger = ctx.target, inv.ledger
    if missing := _ledger_missing(target, ledger):
        return missing
    if not ledger.applied_at_column:
        return skipped("no applied_at_column configured for the ledger")
    if missing := _ledger_missing(target, ledger, ledger.applied_at_column):
        return skipped(f"{missing.message}: the order of application is not recorded")
    statement = sql.SQL("SELECT {v}::text, {a}::text FROM {t} ORDER BY {a}, {v}").format(
        v=sql.Identifier(ledger.version_column), a=sql.Identifier(ledger.applied_at_column),
        t=sql.Identifier(ledger.schema, ledger.table))
    rows = target.query(statement).rows
    shown = [target.render(statement)]
    late, newest = [], None
    for version, applied_at in rows:
        try:
            key = version_key(version)
        except ConfigError:
            continue  # not a numbered version: reported by the unknown-versions check
        if newest is not None and key < newest[0]:
            late.append((version, applied_at, newest[1]))
        if newest is None or key > newest[0]:
            newest = (key, version)
    if not late:
        return passed(f"{len(rows)} versions applied in numeric order", sql=shown)
    return failed(f"{len(late)} version(s) applied out of order, after a later version: "
                  + ", ".join(v for v, _, _ in late[:5]),
                  Evidence("Applied out of order", ("version", "applied at", "after"), late),
                  sql=shown)


def recorded(ctx: Context, inv: Recorded) -> Outcome:
    """Passed when the ledger has a row for the file's version."""
    target = ctx.target
    ledger = inv.ledger
    if missing := _ledger_missing(target, ledger):
        return missing
    statement = sql.SQL("SELECT count(*) FROM {} WHERE {} = %(version)s").format(
        sql.Identifier(ledger.schema, ledger.table), sql.Identifier(ledger.version_column))
    params = {"version": inv.migration.version}
    shown = [target.render(statement, params)]
    count = int(target.query(statement, params).scalar())  # a proxy may send "0"
    if count > 0:
        return passed(f"{inv.migration.version} is recorded in {ledger.table}", sql=shown)
    return failed(f"{inv.migration.path.name} has no row in {ledger.table}: the file was "
                  "never applied, or it did not record itself", sql=shown)


def no_unknown_versions(ctx: Context, inv: NoUnknownVersions) -> Outcome:
    """Failed with the ledger rows that no migration file accounts for."""
    target = ctx.target
    ledger = inv.ledger
    if missing := _ledger_missing(target, ledger):
        return missing
    statement = sql.SQL(
        "SELECT {col}::text AS version FROM {table} "
        "WHERE NOT ({col}::text = ANY(%(known)s)) ORDER BY 1"
    ).format(col=sql.Identifier(ledger.version_column),
             table=sql.Identifier(ledger.schema, ledger.table))
    params = {"known": [m.version for m in inv.migrations]}
    rows = target.query(statement, params).rows
    shown = [target.render(statement, params)]
    if not rows:
        return passed(f"every row of {ledger.table} has its migration file", sql=shown)
    return failed(
        f"{len(rows)} version(s) in {ledger.table} have no migration file: "
        + ", ".join(r[0] for r in rows[:5]) + (" ..." if len(rows) > 5 else ""),
        Evidence("Recorded versions without a file", ("version",), rows),
        sql=shown,
    )


def _ledger_missing(target: Target, ledger: Ledger, column: str | None = None
                    ) -> Outcome | None:
    """A failure naming what is missing when the ledger table or its column is absent."""
    column = column or ledger.version_column
    params = {"schema": ledger.schema, "table": ledger.table, "column": column}
    table_exists, column_exists = target.query(catalog.load("table_column"), params).rows[0]
    if not table_exists:
        return failed(f"the ledger table {ledger.schema}.{ledger.table} does not exist")
    if not column_exists:
        return failed(f"the ledger table {ledger.schema}.{ledger.table} has no column "
                      f"{column!r}")
    return None
