"""The expected database the self-test breaks copies of, on the suite's throwaway server.

Its schema is what the migrations build (replayed, as the embedded default does) or, for a
config with ``[drift] snapshot``, the snapshot's (``checks.adopt.ddl``, on the snapshot's
major when its binaries are here); then the fixtures; then the ledger as the config expects
it: every migration file recorded, in order, and every version ``accept_unknown`` names.
It is a template: each fault gets a fresh copy (``CREATE DATABASE ... TEMPLATE``).
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from checks.catalog import capture
from checks.config import Settings
from checks.infra.cluster import Engine, find_engine
from checks.infra.replay import apply_script
from checks.infra.scratch import Scratch, Servers
from checks.kinds.base import Inputs
from checks.outcome import CouldNotCheck
from checks.selftest.faults import Base, DatabaseCopy
from checks.targets.base import first_line
from checks.targets.postgres import PostgresTarget

TEMPLATE = "ops_verify_self_test_base"
COPY = "ops_verify_self_test_copy_"


class BaseDatabase:
    """The base database (built on first use, once) and its copies."""

    def __init__(self, inputs: Inputs, servers: Servers, pg_bin: Engine | None = None) -> None:
        self.inputs = inputs
        self._servers = servers
        self._pg_bin = pg_bin
        self._lock = threading.Lock()
        self._base: Base | None = None
        self._scratch: Scratch | None = None
        self._template = TEMPLATE
        self._numbers = itertools.count(1)
        self.notes: list[str] = []
        """What the build did not do as asked (shown with the run's facts)."""

    @property
    def settings(self) -> Settings:
        return self.inputs.config.settings

    def base(self) -> Base:
        """The base, built now if it is not yet; a failure is every database fault's cause."""
        with self._lock:
            if self._base is None:
                try:
                    self._base = self._build()
                except CouldNotCheck as exc:
                    self._base = Base(self.inputs, CouldNotCheck(
                        f"the expected database could not be built: {exc}"))
            return self._base

    def copy(self) -> DatabaseCopy:
        """A fresh copy of the base (the caller drops it with :meth:`drop`)."""
        base = self.base()
        catalog = base.catalog  # NotProven when there is no base
        assert self._scratch is not None
        name = f"{COPY}{next(self._numbers)}"
        try:
            with psycopg.connect(self._scratch.conninfo(), autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    sql.Identifier(name), sql.Identifier(self._template)))
                # a template's own settings (ALTER DATABASE ... SET) are not copied with it
                conn.execute(
                    "INSERT INTO pg_catalog.pg_db_role_setting (setdatabase, setrole, setconfig) "
                    "SELECT c.oid, s.setrole, s.setconfig FROM pg_catalog.pg_db_role_setting s "
                    "JOIN pg_catalog.pg_database t ON t.oid = s.setdatabase AND t.datname = %s "
                    "JOIN pg_catalog.pg_database c ON c.datname = %s", (self._template, name))
        except psycopg.Error as exc:
            raise CouldNotCheck(f"a copy of the expected database could not be made: "
                                f"{first_line(exc)}") from None
        return DatabaseCopy(self._scratch.conninfo(name), catalog, self.settings)

    def drop(self, copy: DatabaseCopy) -> None:
        copy.close()
        assert self._scratch is not None
        name = psycopg.conninfo.conninfo_to_dict(copy.conninfo)["dbname"]
        with psycopg.connect(self._scratch.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(str(name))))

    # ---------------------------------------------------------------- building
    def _build(self) -> Base:
        config = self.inputs.config
        expected = self.inputs.expected
        default = self._servers.default_engine
        if expected.snapshot is not None:
            snapshot = expected.catalog()  # CouldNotCheck when unusable
            major = snapshot.session.major if snapshot.session else 0
            engine = default
            if major and major != default.major and config.drift.match_target_version:
                engine = find_engine(major, prefer=self._pg_bin) or default
            self._scratch = self._servers.get(engine)
            conninfo = self._scratch.create_database(TEMPLATE)
            from checks.adopt import AdoptError, ddl

            try:
                statements = ddl(snapshot)
            except AdoptError as exc:
                raise CouldNotCheck(f"the snapshot's schema cannot be built: {exc}") from None
            self._run(conninfo, statements, "the snapshot's schema")
        else:
            from checks.targets.ephemeral import DATABASE, _prepared, build_database

            self._scratch = self._servers.get()
            if self._scratch.start(_prepared(self.inputs.migrations)):
                self._template = DATABASE  # the migrated database the cache brought
            else:
                build_database(self._scratch.cluster, TEMPLATE, self.inputs.migrations, [])
            conninfo = self._scratch.conninfo(self._template)
        for script in fixtures_of(config.fixtures_dir):
            try:
                apply_script(conninfo, script)
            except psycopg.Error as exc:
                raise CouldNotCheck(f"the fixture {script.name} failed: "
                                    f"{first_line(exc)}") from None
        self._fill_ledger(conninfo)
        target = PostgresTarget(conninfo, self.settings, kind="ephemeral", name="self-test base")
        try:
            catalog = capture(target)
        finally:
            target.close()
        return Base(self.inputs, catalog,
                    catalog.session.server_version_num if catalog.session else 0)

    def _run(self, conninfo: str, text: str, what: str) -> None:
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
                conn.execute(text)
        except psycopg.Error as exc:
            raise CouldNotCheck(f"{what} failed: {first_line(exc)}") from None

    def _fill_ledger(self, conninfo: str) -> None:
        """Every migration file recorded, in order, then every version ``accept_unknown``
        names literally; times one second apart after the newest already there. A ledger
        table the migrations do not create is created (a migration tool keeps its own)."""
        ledger = self.inputs.config.ledger
        table = sql.Identifier(ledger.schema, ledger.table)
        wanted = [m.version for m in self.inputs.migrations]
        wanted += [v for v in ledger.accept_unknown if not set(v) & set("*?[")]
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
                if conn.execute("SELECT pg_catalog.to_regclass(%s)",
                                (table.as_string(conn),)).fetchone()[0] is None:
                    self.notes.append(f"the ledger {ledger.schema}.{ledger.table} is not in the "
                                      "expected schema: created for the self-test")
                    conn.execute(sql.SQL("CREATE TABLE {} ({} text PRIMARY KEY{})").format(
                        table, sql.Identifier(ledger.version_column),
                        sql.SQL(", {} timestamptz NOT NULL DEFAULT now()").format(
                            sql.Identifier(ledger.applied_at_column))
                        if ledger.applied_at_column else sql.SQL("")))
                columns = {r[0] for r in conn.execute(
                    "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = "
                    "%s::pg_catalog.regclass AND attnum > 0 AND NOT attisdropped",
                    (table.as_string(conn),))}
                applied = ledger.applied_at_column if ledger.applied_at_column in columns \
                    else None
                present = {r[0] for r in conn.execute(sql.SQL("SELECT {}::text FROM {}").format(
                    sql.Identifier(ledger.version_column), table))}
                newest = conn.execute(sql.SQL("SELECT max({})::timestamptz FROM {}").format(
                    sql.Identifier(applied), table)).fetchone()[0] if applied else None
                start = newest or datetime.now(UTC) - timedelta(days=1)
                for i, version in enumerate(v for v in dict.fromkeys(wanted) if v not in present):
                    if applied:
                        conn.execute(sql.SQL("INSERT INTO {} ({}, {}) VALUES (%s, %s)").format(
                            table, sql.Identifier(ledger.version_column),
                            sql.Identifier(applied)), (version, start + timedelta(seconds=i + 1)))
                    else:
                        conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES (%s)").format(
                            table, sql.Identifier(ledger.version_column)), (version,))
        except psycopg.Error as exc:
            self.notes.append(f"the ledger {ledger.schema}.{ledger.table} could not be filled: "
                              f"{first_line(exc)}")


def fixtures_of(fixtures_dir: Path) -> list[Path]:
    """The fixture scripts, in name order (as the embedded default runs them)."""
    return sorted(fixtures_dir.glob("*.sql")) if fixtures_dir.is_dir() else []
