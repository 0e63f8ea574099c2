"""checks.adopt: the rebuild follows the two migration tools' rules, read from a checkout;
a checkout whose tools work otherwise is refused; DDL from a snapshot builds that schema.

The checkout here is a small one of our own, shaped like frotofraggins/inbound_aigen's
(its Lambda's MIGRATIONS dict and handler, its ECS migrator, the image's /migrations).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from checks import adopt
from checks.catalog import Catalog, capture, save_file
from checks.catalog.compare import objects
from checks.catalog.model import Trigger
from checks.config import Settings
from checks.infra.cluster import Cluster
from checks.targets.postgres import PostgresTarget
from tests.conftest import ROOT, started

LEDGER = ("CREATE TABLE IF NOT EXISTS schema_migrations "
          "(version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())")


def _migration(version: str, body: str = "") -> str:
    """A migration that logs itself being applied and records its own ledger row."""
    return (f"{body}\nINSERT INTO applied_log (version) VALUES ('{version}');\n"
            f"INSERT INTO schema_migrations (version) VALUES ('{version}') "
            "ON CONFLICT (version) DO NOTHING;")


def checkout(root: Path, migrations: dict[str, str], files: dict[str, str],
             handler_loop: str = "sorted(MIGRATIONS.keys())") -> Path:
    """A checkout with a migration Lambda of ``migrations`` and db/migrations ``files``."""
    lambda_py = root / "services" / "db_migration_lambda" / "lambda_function.py"
    migrator = root / "services" / "db_migrator"
    lambda_py.parent.mkdir(parents=True)
    (root / "db" / "migrations").mkdir(parents=True)
    migrator.mkdir(parents=True)
    lambda_py.write_text(f"MIGRATIONS = {migrations!r}\n\n" + textwrap.dedent(f'''
        def lambda_handler(event, context):
            conn = connect()
            with conn.cursor() as cursor:
                cursor.execute("""{LEDGER}""")
                conn.commit()
                cursor.execute("SELECT version FROM schema_migrations")
                applied = {{row[0] for row in cursor.fetchall()}}
            for version in {handler_loop}:
                if version in applied:
                    continue
                with conn.cursor() as cursor:
                    cursor.execute(MIGRATIONS[version])
                    conn.commit()
        '''))
    (migrator / "migrate.py").write_text(textwrap.dedent(f'''
        def ensure_migration_table(conn):
            with conn.cursor() as cursor:
                cursor.execute("""{LEDGER}""")
                conn.commit()

        def get_applied_migrations(conn):
            with conn.cursor() as cursor:
                cursor.execute("SELECT version FROM schema_migrations ORDER BY version")
                return {{row[0] for row in cursor.fetchall()}}

        def apply_migration(conn, path):
            with conn.cursor() as cursor:
                cursor.execute(path.read_text())
                cursor.execute("INSERT INTO schema_migrations (version) VALUES (%s)",
                               (path.stem,))
                conn.commit()

        def run_migrations(directory="/migrations"):
            conn = connect()
            applied = get_applied_migrations(conn)
            for path in sorted(Path(directory).glob('*.sql')):
                if path.stem not in applied:
                    apply_migration(conn, path)
        '''))
    (migrator / "Dockerfile").write_text("FROM python:3.12-slim\nCOPY db/migrations /migrations\n")
    for name, text in files.items():
        (root / "db" / "migrations" / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def server() -> Iterator[Cluster]:
    with started() as c:
        yield c


@pytest.fixture
def empty(server: Cluster) -> Iterator[str]:
    """A new, empty database."""
    name = f"adopt_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield server.conninfo(name)
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _rebuild(conninfo: str, tools: adopt.Tools) -> list[adopt.Run]:
    return adopt.rebuild(conninfo, tools, say=lambda _: None)


def _tools(tmp_path: Path, migrations: dict[str, str], files: dict[str, str] | None = None
           ) -> adopt.Tools:
    log = {"000_log": "CREATE TABLE applied_log (n serial, version text);"
                      "INSERT INTO schema_migrations (version) VALUES ('000_log');"}
    return adopt.read_tools(checkout(tmp_path / "upstream", {**log, **migrations}, files or {}))


def _rows(conninfo: str, query: str) -> list[tuple]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(query).fetchall()


def test_the_lambda_applies_in_text_order_and_is_invoked_until_nothing_changes(tmp_path, empty):
    tools = _tools(tmp_path, {
        "001_init": _migration("001_init", "CREATE TABLE t (id int);"),
        "002_log": _migration("002_log"),
        "003_forget": _migration("003_forget",
                                 "DELETE FROM schema_migrations WHERE version = '002_log';"),
        "999_last": _migration("999_last"),
        "1000_after": _migration("1000_after"),
    })
    runs = _rebuild(empty, tools)
    assert [(r.tool, r.applied, r.failed) for r in runs] == [
        ("migration Lambda", ["000_log", "001_init", "002_log", "003_forget", "1000_after",
                              "999_last"], None),
        ("migration Lambda", ["002_log"], None),
        ("migration Lambda", [], None),
        ("ECS db-migrator", [], None)]
    assert _rows(empty, "SELECT version FROM applied_log ORDER BY n") == [
        (v,) for v in ("001_init", "002_log", "003_forget", "1000_after", "999_last",
                       "002_log")]
    assert len(_rows(empty, "SELECT * FROM schema_migrations")) == 6


def test_a_failing_migration_ends_the_invocation_and_leaves_nothing(tmp_path, empty):
    tools = _tools(tmp_path, {
        "001_init": _migration("001_init"),
        "002_bad": _migration("002_bad", "CREATE TABLE half (id int); SELECT 1 / 0;"),
        "003_never": _migration("003_never"),
    })
    runs = _rebuild(empty, tools)
    assert [(r.applied, r.failed) for r in runs] == [
        (["000_log", "001_init"], "002_bad"), ([], "002_bad"), ([], None)]
    assert "division by zero (22012)" in (runs[0].error or "")
    assert _rows(empty, "SELECT to_regclass('half')") == [(None,)]
    assert _rows(empty, "SELECT version FROM schema_migrations ORDER BY 1") == [
        ("000_log",), ("001_init",)]


def test_the_migrator_applies_each_unrecorded_file_with_its_row_and_stops_at_a_failure(
        tmp_path, empty):
    tools = _tools(tmp_path, {"001_init": _migration("001_init")}, files={
        "001_init.sql": "SELECT 1 / 0;",  # recorded by the Lambda: never run
        "002_new.sql": "CREATE TABLE new_one (id int);",
        "003_bad.sql": "CREATE TABLE partial (id int); SELECT 1 / 0;",
        "004_later.sql": "CREATE TABLE later (id int);",
    })
    runs = _rebuild(empty, tools)
    assert (runs[-1].tool, runs[-1].applied, runs[-1].failed) == \
        ("ECS db-migrator", ["002_new"], "003_bad")
    assert _rows(empty, "SELECT to_regclass('new_one') IS NOT NULL, to_regclass('partial'), "
                        "to_regclass('later')") == [(True, None, None)]
    assert _rows(empty, "SELECT version FROM schema_migrations ORDER BY 1") == [
        ("000_log",), ("001_init",), ("002_new",)]


def test_a_checkout_whose_tools_work_otherwise_is_refused(tmp_path):
    with pytest.raises(adopt.AdoptError, match="no longer applies sorted"):
        adopt.read_tools(checkout(tmp_path / "a", {"001": "SELECT 1"}, {},
                                  handler_loop="MIGRATIONS.keys()"))
    with pytest.raises(adopt.AdoptError, match=r"lambda_function\.py not found"):
        adopt.read_tools(tmp_path / "nothing")


def test_the_migrations_are_read_not_run(tmp_path, empty):
    """The dict is read as literals: code in the checkout never runs."""
    root = checkout(tmp_path / "upstream", {"001": "SELECT 1"}, {})
    lambda_py = root / "services" / "db_migration_lambda" / "lambda_function.py"
    marker = tmp_path / "ran"
    lambda_py.write_text(f"open({str(marker)!r}, 'w').close()\n" + lambda_py.read_text())
    assert adopt.read_tools(root).lambda_migrations == {"001": "SELECT 1"}
    assert not marker.exists()


def test_a_database_that_is_not_empty_is_refused(tmp_path, empty):
    with psycopg.connect(empty, autocommit=True) as conn:
        conn.execute("CREATE TABLE precious (id int)")
    with pytest.raises(adopt.AdoptError, match="not empty"):
        _rebuild(empty, _tools(tmp_path, {}))


def test_the_command_line_says_what_is_wrong_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "checks.adopt", "rebuild",
                           str(tmp_path / "missing"), "dbname=nowhere"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 4
    assert done.stderr.count("\n") == 1 and "not found" in done.stderr


def test_ddl_builds_the_schema_a_snapshot_holds(server, empty, tmp_path):
    """Through PostgreSQL's own printing: a VARCHAR IN-list CHECK, a partial unique index,
    a serial, foreign keys (one on a unique index, not a constraint) and views (one reading
    another) read back exactly as captured."""
    source = empty  # the original
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE parent (id serial PRIMARY KEY, side varchar(10) NOT NULL DEFAULT 'long',
                                 CONSTRAINT side_ok CHECK (side IN ('long', 'short')) NOT VALID);
            CREATE TABLE child (parent_id int REFERENCES parent (id), code varchar(5));
            CREATE UNIQUE INDEX child_code ON child (code) WHERE code IN ('a', 'b');
            CREATE VIEW longs AS SELECT id FROM parent WHERE side = 'long' ORDER BY id;
            CREATE VIEW a_longs_first AS SELECT id AS longs_id FROM longs;
            CREATE TABLE codes (code text);
            CREATE UNIQUE INDEX codes_code ON codes (code);
            CREATE TABLE uses (code text REFERENCES codes (code));
        """)
    snapshot = tmp_path / "snapshot.json"
    save_file(_capture(source), snapshot, "test")
    copy = f"ddl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(copy)))
    done = subprocess.run([sys.executable, "-m", "checks.adopt", "ddl", str(snapshot)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    with psycopg.connect(server.conninfo(copy), autocommit=True) as conn:
        conn.execute(done.stdout)
    assert objects(_capture(server.conninfo(copy))) == objects(_capture(source))


def test_ddl_refuses_what_it_cannot_create():
    trigger = Trigger("public", "t", "audit", "CREATE TRIGGER audit ...", "O", "f")
    with pytest.raises(adopt.AdoptError, match=r"triggers \(1\)"):
        adopt.ddl(Catalog(None, triggers=(trigger,)))


def _capture(conninfo: str) -> Catalog:
    target = PostgresTarget(conninfo, Settings())
    try:
        return capture(target)
    finally:
        target.close()
