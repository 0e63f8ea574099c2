"""Faults: the ways to break what a check guards, declared by each kind (``Kind.faults``).

A kind's ``faults(spec, base)`` plans, from the unfaulted expected database (``base``),
the faults its check exists to catch. The self-test applies each one to a fresh copy (of
the database, of the migration files, or an AWS account of the local stand-in), runs the
check there through the ordinary run path, and counts it proven only when the check
failed and its message or evidence names what was injected (``Fault.names``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from psycopg import sql

from checks.outcome import CouldNotCheck
from checks.targets.base import first_line, pins_statement

if TYPE_CHECKING:
    from checks.catalog import Catalog
    from checks.catalog.model import Index
    from checks.clients.aws import AwsClients
    from checks.config import Config, Settings
    from checks.kinds.base import Inputs
    from checks.targets.postgres import PostgresTarget

INJECTED = "ops_verify_self_test"
"""How the names of what the self-test injects begin (an object, a version, a file)."""


class NotProven(Exception):
    """A fault that cannot be applied here (a scope with no row, a value that cannot be
    written): the item is not proven, with this reason."""


@dataclass(frozen=True)
class Fault:
    """One way to break what a check guards."""

    what: str
    """What it does, in words (``drop the CHECK chk_x on public.t``)."""
    apply: Callable[[Any], Iterable[str] | None]
    """Breaks a :class:`DatabaseCopy`, :class:`FilesCopy` or :class:`AwsAccount` (``on``);
    returns what else the failure must name, known only once it is done (the duplicated
    key's value); raises :class:`NotProven` when it cannot."""
    names: tuple[str, ...] = ()
    """What the check's failure must name (case aside): the injected key, object, file."""
    on: Literal["database", "files", "aws"] = "database"
    key: Hashable | None = None
    """Faults of equal keys are the same change: applied once, for every check naming it."""
    family: str | None = None
    """Faults of one family change nothing that another one's check reads (each drops or
    adds its own object, deletes its own ledger row): they share one copy."""
    clean_base: bool = False
    """The check must pass on the unfaulted database: its failure cannot name what was
    injected (a configured query's rows), so a failure there already proves nothing."""


@dataclass(frozen=True)
class Faults:
    """What a kind declares for one of its checks."""

    faults: tuple[Fault, ...] = ()
    healthy: Callable[[AwsAccount], None] | None = None
    """AWS kinds: the healthy state of what the check reads, built in an empty account
    (each fault builds it too, then breaks it)."""
    not_applicable: str | None = None
    """Nothing to prove: the check cannot fail by design of the config (the item is
    skipped with this reason)."""
    unproven: str | None = None
    """Why it cannot be proven (an error), e.g. a custom SQL without ``violating``."""
    accepted: bool = False
    """``unproven`` is accepted by the config (``allow_unproven``)."""
    broken: Fault | None = None
    """What the fault would break is broken on the expected database itself (the arbiter
    a warned upsert lacks): the check's failure there, naming ``broken.names``, proves it."""


def of(*faults: Fault, healthy: Callable[[AwsAccount], None] | None = None) -> Faults:
    return Faults(tuple(faults), healthy=healthy)


def not_applicable(reason: str) -> Faults:
    return Faults(not_applicable=reason)


def unproven(reason: str, *, accepted: bool = False) -> Faults:
    return Faults(unproven=reason, accepted=accepted)


def already_broken(what: str, *names: str) -> Faults:
    """Nothing to break: the expected database lacks it already (``what``), and the check
    must fail there naming ``names``."""
    return Faults(broken=Fault(what, lambda _: None, names=names))


@dataclass
class Base:
    """The unfaulted expected database the faults are planned from: its catalog, the
    run's inputs, its server's version."""

    inputs: Inputs
    found: Catalog | CouldNotCheck | None = None
    server_version_num: int = 0

    @property
    def catalog(self) -> Catalog:
        if isinstance(self.found, CouldNotCheck):
            raise NotProven(f"the expected database is not there: {self.found}")
        if self.found is None:
            raise NotProven("the expected database was not built")
        return self.found

    @property
    def config(self) -> Config:
        return self.inputs.config

    @property
    def settings(self) -> Settings:
        return self.inputs.config.settings


class DatabaseCopy:
    """A fresh copy of the expected database, changed by faults as its owner (superuser)
    in sessions with the checks' own settings (search_path, TimeZone, timeouts)."""

    def __init__(self, conninfo: str, catalog: Catalog, settings: Settings) -> None:
        self.conninfo = conninfo
        self.catalog = catalog
        """The catalog of the expected database (the copy's, before any fault)."""
        self.settings = settings
        self.statements: list[str] = []
        """What the faults ran, shown with the item."""
        self._conn: psycopg.Connection | None = None
        self._targets: list[PostgresTarget] = []

    def execute(self, statement: str | sql.Composable, params: Sequence[Any] | None = None,
                *, triggers: bool = True) -> list[tuple[Any, ...]]:
        """Run one statement; ``triggers=False``: with triggers (and foreign-key checks)
        off, so that what the fault writes is what lands. A refusal is :class:`NotProven`."""
        conn = self._connection()
        shown = psycopg.ClientCursor(conn).mogrify(statement, params)
        self.statements.append(shown if triggers else f"{shown}  -- triggers off")
        try:
            with conn.cursor() as cur:
                if not triggers:
                    cur.execute("SET session_replication_role = replica")
                try:
                    cur.execute(statement, params)
                    return cur.fetchall() if cur.description else []
                finally:
                    if not triggers:
                        cur.execute("RESET session_replication_role")
        except psycopg.Error as exc:
            raise NotProven(f"{first_line(exc)} (in: {' '.join(shown.split())[:200]})") from None

    def target(self) -> PostgresTarget:
        """A read-only target on the copy (for searches such as a probe's row)."""
        from checks.targets.postgres import PostgresTarget

        found = PostgresTarget(self.conninfo, self.settings, kind="ephemeral", name="self-test")
        self._targets.append(found)
        return found

    def _connection(self) -> psycopg.Connection:
        if self._conn is None:
            try:
                self._conn = psycopg.connect(self.conninfo, autocommit=True)
                self._conn.execute(pins_statement(self.settings, local=False))
            except psycopg.Error as exc:
                raise NotProven(f"the copy cannot be reached: {first_line(exc)}") from None
        return self._conn

    def close(self) -> None:
        for target in self._targets:
            target.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass
class FilesCopy:
    """A copy of the migration files, in a folder of the same name."""

    migrations_dir: Path
    statements: list[str] = field(default_factory=list)


@dataclass
class AwsAccount:
    """An empty account of the local AWS stand-in, of this invariant's own."""

    aws: AwsClients
    region: str
    account_id: str
    now: datetime
    statements: list[str] = field(default_factory=list)
    """What was done in it (the calls), shown with the item."""

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def call(self, service: str, operation: str, /, **params: Any) -> Any:
        """One call, recorded (shown with the item)."""
        import json

        shown = json.dumps({k: v for k, v in params.items() if k != "Code"}, default=str)
        self.statements.append(f"{service} {operation} {shown[:300]}")
        return getattr(self.client(service), operation)(**params)


# ---------------------------------------------------------------- helpers for kinds
def ident(*names: str) -> sql.Identifier:
    return sql.Identifier(*names)


def scope_rows(copy: DatabaseCopy, schema: str, table: str, where: str | None,
               extra: str = "") -> int:
    """How many rows of the table are in scope (``where``, and ``extra``); none is
    :class:`NotProven` naming the scope: nothing there can be broken."""
    from checks.gather import user_sql

    terms = [sql.SQL("({})").format(user_sql(t)) for t in (where, extra) if t]
    condition = sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(terms)) if terms else sql.SQL("")
    count = copy.execute(sql.SQL("SELECT count(*) FROM {}{}").format(ident(schema, table),
                                                                     condition))[0][0]
    if not count:
        scope = f"the scope `{where}`" if where else "the table"
        raise NotProven(f"{scope} matches no row of {schema}.{table} on the expected "
                        "database (migrations and fixtures), so nothing there can be broken: "
                        + ("is the where right? " if where else "")
                        + "add rows in scope to the fixtures")
    return int(count)


def drop_index(catalog: Catalog, index: Index) -> sql.Composable:
    """DROP of an index, or of the constraint it backs (a primary key, unique or
    exclusion constraint of that name), with whatever depends on it."""
    backed = next((k for k in catalog.of_table("constraints", index.schema, index.table)
                   if k.name == index.name and k.type in ("p", "u", "x")), None)
    if backed is not None:
        return sql.SQL("ALTER TABLE IF EXISTS {} DROP CONSTRAINT IF EXISTS {} CASCADE").format(
            ident(index.schema, index.table), ident(index.name))
    return sql.SQL("DROP INDEX IF EXISTS {} CASCADE").format(ident(index.schema, index.name))


def invalidate_index(copy: DatabaseCopy, schema: str, name: str) -> None:
    """Mark an index INVALID, as a CREATE INDEX CONCURRENTLY that failed leaves it."""
    found = copy.execute(sql.SQL("UPDATE pg_catalog.pg_index SET indisvalid = false "
                                 "WHERE indexrelid = {}::pg_catalog.regclass RETURNING 1"
                                 ).format(sql.Literal(ident(schema, name).as_string(None))))
    if not found:
        raise NotProven(f"index {schema}.{name} is not on the expected database")


def violating_row(copy: DatabaseCopy, schema: str, table: str, constraint: str,
                  values: dict[str, Any], violation: dict[str, Any]
                  ) -> tuple[sql.Composable, list[Any], dict[str, Any]]:
    """A row that breaks ``constraint`` (the enforcement probe's: an existing row with
    fresh keys and values that break the rule, searched for on the copy), as an INSERT
    and its values, and the values that break the rule. Only this rule is considered:
    the fault drops the table's other CHECKs before writing it."""
    from dataclasses import replace

    from checks.need import Env
    from checks.probes import plan, violating_insert

    probe = plan(copy.catalog, schema, table, constraint, values, violation)
    probe = replace(probe, rules=tuple(r for r in probe.rules if r.name == constraint))
    try:
        statement, _, params, broken = violating_insert(
            probe, Env(copy.settings, target=copy.target(), catalog=copy.catalog))
    except CouldNotCheck as exc:
        raise NotProven(f"no row that breaks {constraint} was found: {exc}") from None
    return statement, params, broken
