"""Prove instead of scan (issue 20): each shortcut's premise, and the fallback to reading
the rows when it fails; the growth scenario at test size (methods asserted, never time)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from checks.proofs import (
    WINDOW_ROWS,
    count_still_holds,
    judge_guards,
    not_before,
    predicate_implied,
    window_too_large,
)
from checks.watermarks import Store, store_file

ORDERS = "test_no_duplicates[orders]"
EXECUTIONS = "test_no_duplicates[executions]"
SIDE = "test_check_constraint_definition[chk_position_history_side]"
SELECT = ("-k", "no_duplicates or check_constraint_definition", "--read-only")
CONFIG = """
[[unique]]
name = "orders"
table = "active_positions"
columns = ["alpaca_order_id"]

[[unique]]
name = "executions"
table = "active_positions"
columns = ["execution_uuid"]

[[check_constraints]]
table = "position_history"
name = "chk_position_history_side"
expression = "side IN ('long', 'short', 'call', 'put')"
"""
POSITION = ("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
            "entry_price, alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 1, 1, %s)")


def _methods(run) -> dict[str, tuple[str, str | None]]:
    return {c["id"].split("::", 1)[1]: (c["outcome"], c.get("method"))
            for c in run.summary["checks"]}


@pytest.fixture
def smoke(verify, database, config_file, tmp_path):
    """The smoke job against ``database``: one reports folder kept from run to run."""
    config = config_file(CONFIG)
    reports = tmp_path / "kept-reports"

    def run(*args: str, folder: Path | None = None):
        return verify("--dsn", database.dsn, "--config", str(config), *SELECT, *args,
                      reports=folder or reports)
    run.reports = reports
    return run


def _store(reports: Path) -> Path:
    return next(reports.glob(".proofs-*"))


# ---------------------------------------------------------------- the growth scenario
@pytest.mark.slow
def test_growth_scenario_proves_then_reads_only_new_rows(smoke, database):
    first = smoke()
    assert _methods(first) == {ORDERS: ("passed", "scanned"),
                               EXECUTIONS: ("passed", "proven"),
                               SIDE: ("passed", "scanned")}, first.output
    assert "guarded by unique index idx_active_positions_execution_uuid_unique" in \
        first.message(EXECUTIONS)
    assert "no earlier run" in first.message(ORDERS)

    again = smoke()
    assert _methods(again) == {ORDERS: ("passed", "incremental"),
                               EXECUTIONS: ("passed", "proven"), SIDE: ("passed", "cached")}
    assert "violators were counted" in again.message(SIDE)
    assert "new rows are checked by PostgreSQL" in again.message(SIDE)
    said = ("rows read: 1 proven by a unique guard, 1 NOT VALID counts kept (the rule "
            "unchanged), 1 incremental (only rows added since the last run)")
    assert said in again.output
    assert "- R" + said[1:] in (again.reports_dir / "summary.md").read_text()
    assert again.summary["methods"] == {"proven": 1, "cached": 1, "incremental": 1}

    # the table grows 4x (the fixture holds 4 positions): only the new rows are read
    for i in range(12):
        database.execute(POSITION, (f"ord-grown-{i}",))
    grown = smoke()
    assert _methods(grown) == _methods(again)
    assert "among 12 rows added since id" in grown.message(ORDERS)
    assert "keys changed by UPDATE" in grown.message(ORDERS)
    summary = {c["id"].split("::")[1]: c for c in grown.summary["checks"]}
    assert summary[ORDERS]["method"] == "incremental"

    # a new row repeats an old key: found through the index, against the whole table
    database.execute(POSITION, ("ord-1001",))
    caught = smoke()
    assert _methods(caught)[ORDERS] == ("failed", "incremental")
    assert "1 duplicated alpaca_order_id" in caught.message(ORDERS)
    assert "ord-1001" in json.dumps(caught.detail(ORDERS)["evidence"])
    # a failure never moves the watermark: the next run finds it again
    assert _methods(smoke())[ORDERS] == ("failed", "incremental")

    deep = smoke("--deep")
    assert _methods(deep) == {ORDERS: ("failed", "scanned"), EXECUTIONS: ("passed", "scanned"),
                              SIDE: ("passed", "scanned")}
    assert "--deep" in deep.message(SIDE)
    assert "rows read: 3 scanned in full" in deep.output


# ---------------------------------------------------------------- unique guards
def test_a_dropped_guard_is_read_again(smoke, database):
    database.execute("CREATE UNIQUE INDEX orders_key ON active_positions (alpaca_order_id)")
    assert _methods(smoke())[ORDERS] == ("passed", "proven")
    database.execute("DROP INDEX orders_key")
    database.execute(POSITION, ("ord-1001",))
    run = smoke()
    assert _methods(run)[ORDERS][0] == "failed"
    assert _methods(run)[ORDERS][1] in ("scanned", "incremental")


def test_an_invalid_guard_proves_nothing(smoke, database):
    """A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an INVALID index behind."""
    database.execute(POSITION, ("ord-1001",))
    with pytest.raises(psycopg.errors.UniqueViolation):
        database.execute("CREATE UNIQUE INDEX CONCURRENTLY orders_key "
                         "ON active_positions (alpaca_order_id)")
    run = smoke()
    assert _methods(run)[ORDERS] == ("failed", "scanned")
    assert "orders_key: INVALID" in run.message(ORDERS) or "orders_key" in run.output


def test_a_deferrable_guard_proves_nothing(smoke, database):
    database.execute("ALTER TABLE active_positions ADD CONSTRAINT orders_unique "
                     "UNIQUE (alpaca_order_id) DEFERRABLE INITIALLY DEFERRED")
    run = smoke()
    assert _methods(run)[ORDERS] == ("passed", "scanned")
    assert "DEFERRABLE" in run.message(ORDERS)


def test_a_collation_whose_version_changed_proves_nothing(smoke, database):
    """The index was built under another version of its collation: it may lie."""
    database.execute("CREATE TABLE keyed (id serial PRIMARY KEY, "
                     "k text COLLATE pg_catalog.pg_c_utf8 NOT NULL UNIQUE)")
    database.execute("INSERT INTO keyed (k) VALUES ('a'), ('b')")
    config = CONFIG + '\n[[unique]]\nname = "keyed"\ntable = "keyed"\ncolumns = ["k"]\n'
    key = "test_no_duplicates[keyed]"
    run = smoke("--config", _config(smoke, config))
    assert _methods(run)[key] == ("passed", "proven")
    database.execute("UPDATE pg_catalog.pg_collation SET collversion = '0' "
                     "WHERE collname = 'pg_c_utf8'")
    run = smoke("--config", _config(smoke, config))
    assert _methods(run)[key] == ("passed", "scanned")
    assert "collation pg_c_utf8: recorded version 0, actual 1" in run.message(key)


def test_a_database_default_collation_whose_version_changed_proves_nothing(
        verify, cluster, config_file, tmp_path):
    name = "collated_default"
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 LOCALE_PROVIDER builtin "
                             "BUILTIN_LOCALE 'C.UTF-8' LOCALE 'C'").format(sql.Identifier(name)))
    try:
        with psycopg.connect(cluster.conninfo(name), autocommit=True) as conn:
            conn.execute("CREATE TABLE keyed (id serial PRIMARY KEY, k text NOT NULL UNIQUE)")
            conn.execute("INSERT INTO keyed (k) VALUES ('a'), ('b')")
        config = config_file('[[unique]]\nname = "keyed"\ntable = "keyed"\ncolumns = ["k"]\n')
        key = "test_no_duplicates[keyed]"
        args = ("--dsn", cluster.conninfo(name), "--config", str(config), "-k", "keyed",
                "--read-only")
        assert _methods(verify(*args))[key] == ("passed", "proven")
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute("UPDATE pg_catalog.pg_database SET datcollversion = '0' "
                         "WHERE datname = %s", (name,))
        run = verify(*args)
        assert _methods(run)[key] == ("passed", "scanned")
        assert "the database default collation" in run.message(key)
    finally:
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _config(smoke, body: str) -> str:
    path = smoke.reports.parent / "invariants-more.toml"
    from tests.conftest import MIGRATIONS
    path.write_text(f'migrations_dir = "{MIGRATIONS}"\n'
                    f'fixtures_dir = "{MIGRATIONS.parent / "fixtures"}"\n{body}')
    return str(path)


def test_guards_judged_from_plain_rows():
    ok = {"name": "k", "oid": "1", "xmin": "7", "unique": True, "immediate": True,
          "valid": True, "ready": True, "live": True, "method": "btree", "predicate": None,
          "constraint": None, "enforced": None, "columns": ["a"], "problems": None}
    assert judge_guards([ok], ["a"], None)[0] is not None
    for change, why in [({"valid": False}, "INVALID"), ({"ready": False}, "not ready"),
                        ({"live": False}, "being dropped"), ({"immediate": False}, "DEFERRABLE"),
                        ({"unique": False}, "not unique"), ({"method": "hash"}, "hash"),
                        ({"enforced": "false"}, "NOT ENFORCED"),
                        ({"columns": ["a", "b"]}, "not exactly"),
                        ({"columns": [None]}, "not exactly"),
                        ({"problems": ["collation x: recorded version 1, actual 2"]}, "collation"),
                        ({"predicate": "(status = 'open'::text)"}, "partial")]:
        guard, why_not = judge_guards([{**ok, **change}], ["a"], None)
        assert guard is None and why in why_not[0], change
    assert predicate_implied("(a IS NOT NULL)", ["a"], None)
    assert predicate_implied("((a IS NOT NULL) AND (b = 1))", ["a"], "b = 1")
    assert not predicate_implied("(b = 1)", ["a"], "b = 2")
    assert not predicate_implied("((a IS NOT NULL) OR (b = 1))", ["a"], None)


# ---------------------------------------------------------------- NOT VALID counts
def test_a_recreated_constraint_is_counted_again(smoke, database):
    assert _methods(smoke())[SIDE] == ("passed", "scanned")
    assert _methods(smoke())[SIDE] == ("passed", "cached")
    database.execute(
        "BEGIN; ALTER TABLE position_history DROP CONSTRAINT chk_position_history_side; "
        "UPDATE position_history SET side = 'sideways' WHERE id = (SELECT min(id) FROM "
        "position_history); ALTER TABLE position_history ADD CONSTRAINT "
        "chk_position_history_side CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID; "
        "COMMIT")
    run = smoke()
    assert _methods(run)[SIDE] == ("failed", "scanned")
    assert "the constraint was re-created" in run.message(SIDE) or "1 existing rows" in \
        run.message(SIDE)
    # a count above 0 is never kept as good
    assert _methods(smoke())[SIDE] == ("failed", "scanned")


def test_a_catalog_edit_of_the_constraint_is_counted_again(smoke, database):
    """A superuser's UPDATE of the catalog row changes its xmin, whatever it changed."""
    smoke()
    database.execute("UPDATE pg_catalog.pg_constraint SET conname = conname "
                     "WHERE conname = 'chk_position_history_side'")
    run = smoke()
    assert _methods(run)[SIDE] == ("passed", "scanned")
    assert "its catalog row was changed" in run.message(SIDE)


def test_a_kept_count_is_judged_from_plain_rows(tmp_path):
    store = Store(tmp_path / "x", "t", deep_every_s=3600)
    now = {"oid": "1", "definition": "CHECK (a > 0) NOT VALID", "xmin": "5", "enforced": None,
           "children": False}
    identity = {"system": "42", "database_oid": "5", "database": "db"}
    from checks.proofs import _now
    entry = {**now, "identity": identity, "next_xid": "100", "counted_at": _now()}
    assert count_still_holds(entry, now, identity, "120", store) is None
    for change, why in [({"oid": "2"}, "re-created"), ({"xmin": "6"}, "catalog row"),
                        ({"definition": "CHECK (a > 1) NOT VALID"}, "definition"),
                        ({"enforced": "false"}, "NOT ENFORCED"), ({"children": True}, "children")]:
        assert why in count_still_holds(entry, {**now, **change}, identity, "120", store)
    assert "another database" in count_still_holds(entry, now, {**identity, "system": "43"},
                                                   "120", store)
    assert "restored to an earlier point" in count_still_holds(entry, now, identity, "99", store)
    assert "deep_every" in count_still_holds({**entry, "counted_at": "2020-01-01T00:00:00+00:00"},
                                             now, identity, "120", store)
    assert not_before("100", "100") is None


def test_a_window_of_new_rows_larger_than_a_quarter_of_the_table_is_read_with_it():
    assert window_too_large("100", str(100 + WINDOW_ROWS), 0) is None
    assert "up to 10,001 rows added" in window_too_large("100", str(101 + WINDOW_ROWS), -1)
    assert window_too_large("0", "200000", 1_000_000.0) is None  # a fifth of the table
    assert "more than a quarter" in window_too_large("0", "300000", 1_000_000.0)
    assert "more than a quarter" in window_too_large("0", "300000", "1e+06")  # as JSON says
    # a watermark that is not an integer counts no rows; nothing known: read the rows alone
    assert window_too_large("2026-12-03 10:00:00+00", "2026-12-03 11:00:00+00", 0) is None
    assert window_too_large("1", None, 0) is None


@pytest.mark.slow
def test_a_burst_of_inserts_is_read_in_full_once_then_incrementally_again(smoke, database):
    """A run after a burst (or a stretch without runs) reads the table once instead of
    looking each new row up, which may not finish within statement_timeout where one
    pass does; the run after it is incremental again."""
    smoke()
    assert _methods(smoke())[ORDERS] == ("passed", "incremental")
    database.execute("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
                     "entry_price, alpaca_order_id) SELECT 'AAPL', 'stock', 'long', 1, 1, "
                     "'ord-burst-' || g FROM pg_catalog.generate_series(1, %s) AS g",
                     (WINDOW_ROWS + 1,))
    burst = smoke()
    assert _methods(burst)[ORDERS] == ("passed", "scanned"), burst.message(ORDERS)
    assert f"up to {WINDOW_ROWS + 1:,} rows added since the last run" in burst.message(ORDERS)
    assert _methods(smoke())[ORDERS] == ("passed", "incremental")


def test_a_configured_watermarks_values_are_not_taken_for_a_row_count(smoke, database):
    """epoch milliseconds, a timestamp, an id set by hand: a jump in a configured column's
    values says nothing of how many rows were added (the rows are looked up as before)."""
    config = _config(smoke, CONFIG.replace('name = "orders"', 'name = "orders"\nwatermark = "id"'))
    smoke("--config", config)
    database.execute(POSITION.replace("(ticker,", "(id, ticker,").replace(
        "VALUES (", f"VALUES ({10 * WINDOW_ROWS}, "), ("ord-jump",))
    run = smoke("--config", config)
    assert _methods(run)[ORDERS] == ("passed", "incremental"), run.message(ORDERS)


# ---------------------------------------------------------------- the store of earlier runs
@pytest.mark.parametrize("damage", ["corrupt", "foreign", "other-database", "missing",
                                    "expired"])
def test_a_damaged_or_foreign_store_falls_back_to_reading_rows(smoke, damage):
    smoke()
    assert _methods(smoke())[ORDERS] == ("passed", "incremental")
    path = _store(smoke.reports)
    data = json.loads(path.read_text())
    if damage == "corrupt":
        path.write_text(path.read_text()[:40])
    elif damage == "foreign":
        data["target"] = "dsn some-other-host/ops_pipeline"
        path.write_text(json.dumps(data))
    elif damage == "other-database":
        for entry in data["entries"].values():
            entry["identity"]["database_oid"] = "1"
        path.write_text(json.dumps(data))
    elif damage == "missing":  # a runner without the cached reports/ folder
        for p in smoke.reports.iterdir():
            p.unlink() if p.is_file() else None
        __import__("shutil").rmtree(smoke.reports / "history", ignore_errors=True)
    else:
        for entry in data["entries"].values():
            for field in ("deep_at", "counted_at"):
                if field in entry:
                    entry[field] = "2020-01-01T00:00:00+00:00"
        path.write_text(json.dumps(data))
    run = smoke()
    assert _methods(run) == {ORDERS: ("passed", "scanned"), EXECUTIONS: ("passed", "proven"),
                             SIDE: ("passed", "scanned")}, damage
    # and the full read records what the next run may rely on again
    assert _methods(smoke())[ORDERS] == ("passed", "incremental")


def test_a_watermark_that_went_down_is_read_again(smoke, database):
    """Rows deleted past the watermark (or a key reset): the largest key is below it."""
    for i in range(3):
        database.execute(POSITION, (f"ord-new-{i}",))
    smoke()
    database.execute("DELETE FROM active_positions WHERE alpaca_order_id LIKE 'ord-new-%'")
    run = smoke()
    assert _methods(run)[ORDERS] == ("passed", "scanned")
    assert "below the watermark" in run.message(ORDERS)


def _windows(reports: Path) -> list[tuple[str, str]]:
    """(previous, high) of every watermark in the store: the next run reads past previous."""
    entries = json.loads(_store(reports).read_text())["entries"].values()
    return [(e["previous"], e["high"]) for e in entries if "high" in e]


@pytest.mark.slow
def test_a_deep_run_with_no_writer_in_progress_leaves_only_later_rows(smoke, database):
    """After a day of growth, the nightly --deep run: when no transaction held an id as it
    read the watermark, the next smoke run starts from the deep run's own watermark (not
    the run before it, which would re-read the whole day); with a writer in progress, from
    the run before (one run of overlap), as after any run."""
    smoke()
    for i in range(5):
        database.execute(POSITION, (f"ord-day-{i}",))
    smoke("--deep")
    assert all(previous == high for previous, high in _windows(smoke.reports))
    assert "among 0 rows added since id" in smoke().message(ORDERS)

    for i in range(5):
        database.execute(POSITION, (f"ord-night-{i}",))
    high_before = {high for _, high in _windows(smoke.reports)}
    with psycopg.connect(database.dsn) as writer:  # a transaction in progress that wrote
        writer.execute("CREATE TEMP TABLE in_progress (x int)")
        writer.execute("INSERT INTO in_progress VALUES (1)")
        smoke("--deep")
        writer.rollback()
    windows = _windows(smoke.reports)
    assert all(previous != high for previous, high in windows), windows
    assert {previous for previous, _ in windows} <= high_before
    assert "among 5 rows added since id" in smoke().message(ORDERS)


@pytest.mark.slow
def test_what_a_watermark_cannot_see_is_said_and_found_by_deep(smoke, database):
    """A key changed by UPDATE on an old row (or a row given an explicit id below the
    watermark) is not past the watermark: the incremental run says so in its evidence, and
    the full scan (--deep, or deep_every) finds it."""
    smoke()
    database.execute("UPDATE active_positions SET alpaca_order_id = 'ord-1001' "
                     "WHERE alpaca_order_id = 'ord-1002'")
    run = smoke()
    assert _methods(run)[ORDERS] == ("passed", "incremental")
    assert "keys changed by UPDATE" in run.message(ORDERS)
    assert _methods(smoke("--deep"))[ORDERS] == ("failed", "scanned")
    database.execute("UPDATE active_positions SET alpaca_order_id = 'ord-1002' "
                     "WHERE id = (SELECT max(id) FROM active_positions "
                     "WHERE alpaca_order_id = 'ord-1001')")
    smoke("--deep")
    smoke()
    # an explicit id below the watermark (not monotonic): said, and found by the full scan
    database.execute("INSERT INTO active_positions (id, ticker, instrument_type, side, "
                     "quantity, entry_price, alpaca_order_id) VALUES (-1, 'AAPL', 'stock', "
                     "'long', 1, 1, 'ord-1003')")
    run = smoke()
    assert _methods(run)[ORDERS] == ("passed", "incremental")
    assert "given a lower id" in run.message(ORDERS)
    assert _methods(smoke("--deep"))[ORDERS] == ("failed", "scanned")


def test_the_store_is_per_target(tmp_path):
    a, b = store_file(tmp_path, "dsn host/a"), store_file(tmp_path, "dsn host/b")
    assert a != b and a.name.startswith(".proofs-dsn-host-a-")
    store = Store(a, "dsn host/a")
    store.record("k", {"high": "1"})
    store.save()
    assert Store.load(a, "dsn host/a").get("k") == {"high": "1"}
    assert Store.load(a, "dsn host/b").problem == "the proofs file belongs to another target"
    assert Store.load(a, "dsn host/a", deep=True).get("k") is None


# ---------------------------------------------------------------- the Lambda path, PostgreSQL 15
def test_the_lambda_path_proves_and_reads_new_rows_the_same_way(verify, database, config_file,
                                                                 aws_world, tmp_path):
    """Every premise statement is one SELECT: the db-query Lambda answers it as well."""
    from tests.lambda_server import lambda_server

    config = config_file(CONFIG)
    reports = tmp_path / "lambda-reports"
    with lambda_server(database.dsn) as server:
        env = {**aws_world.env, "AWS_ENDPOINT_URL_LAMBDA": server.endpoint}
        args = ("--via-lambda", "ops-pipeline-db-query", "--config", str(config), *SELECT)
        first = _methods(verify(*args, env=env, reports=reports))  # the folder is reused
        database.execute(POSITION, ("ord-through-lambda",))
        again = verify(*args, env=env, reports=reports)
    assert first == {ORDERS: ("passed", "scanned"), EXECUTIONS: ("passed", "proven"),
                     SIDE: ("passed", "scanned")}
    assert _methods(again) == {ORDERS: ("passed", "incremental"),
                               EXECUTIONS: ("passed", "proven"), SIDE: ("passed", "cached")}
    assert "among 1 rows added since id" in again.message(ORDERS)


@pytest.mark.pg15
def test_postgresql_15_reads_the_same_premises(verify, extra_server, config_file, tmp_path):
    """Production's major: datcollversion and pg_database_collation_actual_version exist
    since 15; an index under a libc collation proves nothing once its version is off (one
    that records no version proves nothing either: nothing says it did not change)."""
    server = extra_server("15")
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        # an ICU collation: versioned by ICU (this machine's glibc has no versioned locale)
        conn.execute("CREATE COLLATION c_utf8 (provider = icu, locale = 'und')")
        conn.execute("CREATE TABLE keyed (id serial PRIMARY KEY, k text NOT NULL UNIQUE, "
                     "c text COLLATE c_utf8 UNIQUE)")
        conn.execute("INSERT INTO keyed (k, c) VALUES ('a', 'a'), ('b', 'b')")
        versioned = conn.execute("SELECT collversion IS NOT NULL FROM pg_collation "
                                 "WHERE collname = 'c_utf8'").fetchone()[0]
    config = config_file('[[unique]]\nname = "keyed"\ntable = "keyed"\ncolumns = ["k"]\n'
                         '[[unique]]\nname = "collated"\ntable = "keyed"\ncolumns = ["c"]\n')
    args = ("--dsn", server.conninfo(), "--config", str(config), "-k", "no_duplicates",
            "--read-only")
    run = verify(*args, reports=tmp_path / "r15")
    assert _methods(run)["test_no_duplicates[keyed]"] == ("passed", "proven"), run.output
    assert _methods(run)["test_no_duplicates[collated]"] == (
        "passed", "proven" if versioned else "scanned")
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute("UPDATE pg_catalog.pg_collation SET collversion = '0' "
                     "WHERE collname = 'c_utf8'")
    run = verify(*args, reports=tmp_path / "r15")
    assert _methods(run)["test_no_duplicates[keyed]"] == ("passed", "proven")
    assert _methods(run)["test_no_duplicates[collated]"] == ("passed", "scanned"), \
        run.message("[collated]")
    assert "collation c_utf8: recorded version 0" in run.message("[collated]")


def test_a_guard_on_a_parent_proves_nothing_for_its_children(smoke, database):
    """A plain table's unique index guards none of its inheritance children's rows."""
    database.execute("CREATE UNIQUE INDEX orders_key ON active_positions (alpaca_order_id)")
    assert _methods(smoke())[ORDERS] == ("passed", "proven")
    database.execute("CREATE TABLE more_positions () INHERITS (active_positions)")
    database.execute(POSITION.replace("INTO active_positions", "INTO more_positions"),
                     ("ord-1001",))
    run = smoke()
    assert _methods(run)[ORDERS] == ("failed", "scanned")


def test_a_configured_watermark_that_cannot_serve_is_said(smoke, database):
    config = _config(smoke, CONFIG.replace('name = "orders"',
                                           'name = "orders"\nwatermark = "entry_time"'))
    first = _methods(smoke("--config", config))
    run = smoke("--config", config)
    assert first[ORDERS] == _methods(run)[ORDERS] == ("passed", "scanned")
    assert "watermark entry_time is not a NOT NULL column that a valid btree index" in \
        run.message(ORDERS)
    # with an index leading with it, the configured column serves
    database.execute("CREATE INDEX ON active_positions (entry_time)")
    smoke("--config", config)
    database.execute(POSITION, ("ord-timed",))
    run = smoke("--config", config)
    assert _methods(run)[ORDERS] == ("passed", "incremental")
    assert "among 1 rows added since entry_time" in run.message(ORDERS)
