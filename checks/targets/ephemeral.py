"""The embedded default: a throwaway PostgreSQL built from the migrations and sample data."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from checks.config import Settings
from checks.infra.cluster import Cluster
from checks.infra.replay import apply_files, apply_script
from checks.infra.scratch import Scratch
from checks.migrations import MigrationFile
from checks.outcome import CouldNotCheck
from checks.targets.postgres import PostgresTarget

DATABASE = "ops_verify"


def build_database(cluster: Cluster, dbname: str, migrations: list[MigrationFile],
                   fixtures: list[Path]) -> None:
    """Create ``dbname`` on ``cluster`` from the migrations and fixture scripts.

    A migration that fails makes the build a could-not-check naming that version; its
    replay check is the root cause.
    """
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    conninfo = cluster.conninfo(dbname)
    for applied in apply_files(conninfo, migrations):
        if applied.error:
            raise CouldNotCheck(f"the embedded database could not be built: migration "
                                f"{applied.version} failed: {applied.error}",
                                blocked_by=f"test_migration_replays[{applied.version}]")
    for script in fixtures:
        try:
            apply_script(conninfo, script)
        except psycopg.Error as exc:
            raise CouldNotCheck(f"sample data {script.name} failed: "
                                f"{str(exc).splitlines()[0]}") from None


def start(migrations: list[MigrationFile], fixtures: list[Path], settings: Settings,
          scratch: Scratch, *, probe_block: str | None = None) -> PostgresTarget:
    """Build the reference database on the run's scratch server and return its target.

    One server serves the run: the scratch owner stops it and deletes its folder.
    """
    cluster = scratch.cluster
    build_database(cluster, DATABASE, migrations, fixtures)
    return PostgresTarget(cluster.conninfo(DATABASE), settings, kind="ephemeral",
                          name=f"throwaway PostgreSQL {cluster.version}",
                          probe_block=probe_block)
