"""Migrations really took effect: replay, ledger order and prefixes, and schema drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid

import psycopg
import pytest

from tests.conftest import EXTENDED, MIGRATIONS, REFERENCE, ROOT, seeded_runs

SCHEMA_OBJECT = "test_schema_object[{}]"


def _drift_only(run) -> dict[str, str]:
    return {k: v for k, v in run.not_passed().items()
            if k.startswith(("test_schema_object", "test_no_unexpected_objects"))}


SEEDED = [
    pytest.param(
        "DROP INDEX idx_alpaca_dedupe_processed_at",
        {SCHEMA_OBJECT.format("index:public.idx_alpaca_dedupe_processed_at"): "failed"},
        id="dropped-index"),
    pytest.param(
        "ALTER TABLE active_positions ALTER COLUMN status SET DEFAULT 'closed'",
        {SCHEMA_OBJECT.format("column:public.active_positions.status"): "failed"},
        id="changed-default"),
    pytest.param(
        "ALTER TABLE active_positions ALTER COLUMN ticker TYPE varchar(12)",
        {SCHEMA_OBJECT.format("column:public.active_positions.ticker"): "failed"},
        id="changed-type"),
    pytest.param(
        "ALTER TABLE position_history ALTER COLUMN created_at DROP NOT NULL",
        {SCHEMA_OBJECT.format("column:public.position_history.created_at"): "failed"},
        id="dropped-not-null"),
    pytest.param(
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_strategy_type; "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type "
        "CHECK (strategy_type IN ('day_trade', 'swing_trade', 'stock')) NOT VALID",
        {SCHEMA_OBJECT.format(
            "constraint:public.active_positions.chk_active_positions_strategy_type"): "failed"},
        id="old-check-same-name"),
    pytest.param(
        "UPDATE pg_index SET indisvalid = false "
        "WHERE indexrelid = 'idx_active_positions_execution_uuid_unique'::regclass",
        {SCHEMA_OBJECT.format("index:public.idx_active_positions_execution_uuid_unique"):
         "failed"},
        id="invalid-unique-index"),
    pytest.param(
        "DROP TABLE service_heartbeats",
        {SCHEMA_OBJECT.format(o): "failed" for o in (
            "table:public.service_heartbeats", "column:public.service_heartbeats.service",
            "column:public.service_heartbeats.last_beat_at",
            "column:public.service_heartbeats.details",
            "constraint:public.service_heartbeats.service_heartbeats_pkey",
            "index:public.service_heartbeats_pkey")},
        id="table-never-created"),
    pytest.param(
        "CREATE TABLE hotfix_scratch (id int PRIMARY KEY)",
        {f"test_no_unexpected_objects[{k}]": "failed"
         for k in ("table", "column", "constraint", "index")},
        id="extra-table"),
    pytest.param(
        "ALTER SEQUENCE active_positions_id_seq INCREMENT BY 10",
        {SCHEMA_OBJECT.format("sequence:public.active_positions_id_seq"): "failed"},
        id="sequence-changed"),
]


@pytest.fixture(scope="module")
def seeded(cluster, tmp_path_factory):
    """Every fault of SEEDED in a database of its own, verified in one run."""
    return _runs(cluster, REFERENCE, SEEDED, tmp_path_factory)


def _runs(cluster, template, params, tmp_path_factory, *args):
    return seeded_runs(cluster, template, {p.id: p.values[0] for p in params},
                       tmp_path_factory.mktemp("seeded"), *args)


@pytest.mark.xdist_group("seeded-drift")
@pytest.mark.parametrize(("fault", "expected"), SEEDED)
def test_seeded_drift_fails_exactly_that_object(seeded, request, fault, expected):
    run = seeded[request.node.callspec.id]
    assert run.returncode == 1
    assert _drift_only(run) == expected


EXTENDED_FAULTS = [
    pytest.param("ALTER TABLE position_history DISABLE TRIGGER trg_position_history_exit_time",
                 "trigger:public.position_history.trg_position_history_exit_time",
                 id="trigger-disabled"),
    pytest.param("CREATE OR REPLACE VIEW open_positions AS SELECT id, ticker, side, quantity "
                 "FROM active_positions",
                 "view:public.open_positions", id="view-changed"),
    pytest.param("CREATE OR REPLACE FUNCTION touch_exit_time() RETURNS trigger "
                 "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
                 "function:public.touch_exit_time()", id="function-changed"),
    pytest.param("ALTER TABLE position_history DROP CONSTRAINT chk_position_history_quantity; "
                 "ALTER TABLE position_history ADD CONSTRAINT chk_position_history_quantity "
                 "CHECK (quantity IS NULL OR quantity > 0) NOT VALID",
                 "constraint:public.position_history.chk_position_history_quantity",
                 id="not-valid-live-validated-in-migrations"),
]


@pytest.fixture(scope="module")
def extended_faults(cluster, extended_migrations, tmp_path_factory):
    return _runs(cluster, EXTENDED, EXTENDED_FAULTS, tmp_path_factory, "--migrations-dir",
                 str(extended_migrations))


@pytest.mark.xdist_group("extended-drift")
@pytest.mark.parametrize(("fault", "object_id"), EXTENDED_FAULTS)
def test_drift_in_triggers_views_functions_validation(extended_faults, request, fault,
                                                      object_id):
    run = extended_faults[request.node.callspec.id]
    assert _drift_only(run) == {SCHEMA_OBJECT.format(object_id): "failed"}


ACCEPTED_OR_SHOWN = [
    pytest.param("ALTER TABLE active_positions ENABLE ROW LEVEL SECURITY",
                 {SCHEMA_OBJECT.format("table:public.active_positions"): "failed"},
                 id="rls-enabled"),
    pytest.param("ALTER TABLE alpaca_event_dedupe SET UNLOGGED",
                 {SCHEMA_OBJECT.format("table:public.alpaca_event_dedupe"): "failed"},
                 id="unlogged"),
    pytest.param("ALTER TABLE active_positions ALTER COLUMN status TYPE text COLLATE \"C\"",
                 {SCHEMA_OBJECT.format("column:public.active_positions.status"): "failed"},
                 id="collation"),
    pytest.param("CREATE POLICY everyone ON position_history USING (true)",
                 {"test_no_unexpected_objects[policy]": "failed"}, id="policy-added"),
    pytest.param("CREATE RULE swallow AS ON INSERT TO position_history DO INSTEAD NOTHING",
                 {"test_no_unexpected_objects[rule]": "failed"}, id="rule-added"),
    pytest.param("CREATE TYPE mood AS ENUM ('up', 'down')",
                 {"test_no_unexpected_objects[type]": "failed"}, id="enum-added"),
    pytest.param("CREATE DOMAIN qty AS numeric CHECK (VALUE > 0)",
                 {"test_no_unexpected_objects[type]": "failed"}, id="domain-added"),
    pytest.param("CREATE EXTENSION dblink",
                 {"test_no_unexpected_objects[extension]": "failed"}, id="extension-added"),
    pytest.param("CREATE TABLE information_schema.hidden_fix (id int)",
                 {"test_no_unexpected_objects[table]": "failed",
                  "test_no_unexpected_objects[column]": "failed"},
                 id="hidden-in-information-schema"),
    pytest.param("CREATE SCHEMA ops_service; CREATE TABLE ops_service.active_positions "
                 "(id bigint)",
                 {"test_no_unexpected_objects[table]": "failed",
                  "test_no_unexpected_objects[column]": "failed"},
                 id="shadowing-schema"),
    pytest.param("CREATE TABLE hb_archive () INHERITS (service_heartbeats); "
                 "CREATE FUNCTION now_fixed() RETURNS int LANGUAGE sql AS 'SELECT 1'; "
                 "ALTER EXTENSION plpgsql ADD TABLE hb_archive; "
                 "ALTER EXTENSION plpgsql ADD FUNCTION now_fixed()",
                 {"test_no_unexpected_objects[table]": "failed",
                  "test_no_unexpected_objects[column]": "failed",
                  "test_no_unexpected_objects[function]": "failed"},
                 id="hidden-in-plpgsql"),
    pytest.param("CREATE PUBLICATION open_only FOR TABLE active_positions "
                 "WHERE (status = 'open')",  # the service's UPDATE of status is refused
                 {SCHEMA_OBJECT.format("table:public.active_positions"): "failed"},
                 id="publication-row-filter"),
    pytest.param("ALTER TABLE service_heartbeats REPLICA IDENTITY NOTHING",
                 {SCHEMA_OBJECT.format("table:public.service_heartbeats"): "failed"},
                 id="replica-identity-nothing"),
    pytest.param("ALTER TABLE active_positions ALTER COLUMN created_at DROP NOT NULL; "
                 "ALTER TABLE active_positions ADD CONSTRAINT created_at_nn NOT NULL created_at "
                 "NOT VALID",  # PostgreSQL 18 (the embedded default): a NULL may stay
                 {SCHEMA_OBJECT.format("column:public.active_positions.created_at"): "failed"},
                 id="not-null-not-valid"),
    pytest.param("CREATE FUNCTION pg_toast.vc_ne(varchar, varchar) RETURNS bool LANGUAGE sql "
                 "IMMUTABLE AS 'SELECT $1::text <> $2::text'",
                 {"test_no_unexpected_objects[function]": "failed"}, id="function-in-pg-toast"),
    pytest.param("SET allow_system_table_mods = on; CREATE SCHEMA pg_temp_ops; "
                 "RESET allow_system_table_mods; CREATE TYPE pg_temp_ops.t AS ENUM ('a')",
                 {"test_no_unexpected_objects[type]": "failed"}, id="schema-named-like-temp"),
    pytest.param("ALTER TABLE position_history ADD CONSTRAINT fk_position FOREIGN KEY (id) "
                 "REFERENCES active_positions (id) ON DELETE CASCADE NOT VALID",
                 {"test_no_unexpected_objects[constraint]": "failed"}, id="foreign-key-added"),
]


@pytest.fixture(scope="module")
def accepted_or_shown(cluster, tmp_path_factory):
    return _runs(cluster, REFERENCE, ACCEPTED_OR_SHOWN, tmp_path_factory, "-k",
                 "test_schema_object or test_no_unexpected")


@pytest.mark.xdist_group("accepted-or-shown")
@pytest.mark.parametrize(("fault", "expected"), ACCEPTED_OR_SHOWN)
def test_drift_in_what_the_database_accepts_keeps_or_shows(accepted_or_shown, request, fault,
                                                           expected):
    assert _drift_only(accepted_or_shown[request.node.callspec.id]) == expected


SETTINGS_FAULTS = [
    pytest.param("ALTER VIEW open_positions SET (check_option = local)",
                 "view:public.open_positions", id="view-check-option"),
    pytest.param("ALTER FUNCTION touch_exit_time() SECURITY DEFINER",
                 "function:public.touch_exit_time()", id="function-security-definer"),
    pytest.param("ALTER FUNCTION touch_exit_time() SET search_path = pg_temp",
                 "function:public.touch_exit_time()", id="function-search-path"),
    pytest.param("ALTER TABLE position_history ENABLE ALWAYS TRIGGER "
                 "trg_position_history_exit_time",
                 "trigger:public.position_history.trg_position_history_exit_time",
                 id="trigger-always"),
]


@pytest.fixture(scope="module")
def settings_faults(cluster, extended_migrations, tmp_path_factory):
    return _runs(cluster, EXTENDED, SETTINGS_FAULTS, tmp_path_factory, "--migrations-dir",
                 str(extended_migrations), "-k", "test_schema_object or test_no_unexpected")


@pytest.mark.xdist_group("settings-drift")
@pytest.mark.parametrize(("fault", "object_id"), SETTINGS_FAULTS)
def test_drift_in_views_functions_and_triggers_settings(settings_faults, request, fault,
                                                        object_id):
    run = settings_faults[request.node.callspec.id]
    assert _drift_only(run) == {SCHEMA_OBJECT.format(object_id): "failed"}


_TEXT_EQ = ("CREATE FUNCTION text_eq_ci(a text, b text) RETURNS boolean LANGUAGE sql "
            "IMMUTABLE AS 'SELECT lower(a) OPERATOR(pg_catalog.=) lower(b)'; "
            "CREATE OPERATOR public.= (leftarg = text, rightarg = text, function = text_eq_ci); ")


@pytest.mark.parametrize(("fault", "expected", "named"), [
    pytest.param("ALTER DATABASE {db} SET default_transaction_read_only = on",
                 {"test_no_unexpected_objects[setting]": "failed"},
                 "database:default_transaction_read_only", id="database-read-only"),
    pytest.param("ALTER DATABASE {db} SET session_replication_role = replica",
                 {"test_no_unexpected_objects[setting]": "failed"},
                 "database:session_replication_role", id="database-replica-role"),
    pytest.param("ALTER ROLE {role} IN DATABASE {db} SET session_replication_role = replica",
                 {"test_no_unexpected_objects[setting]": "failed"},
                 "role {role} in database:session_replication_role", id="role-replica-role"),
    pytest.param(_TEXT_EQ + "ALTER DATABASE {db} SET search_path = public, pg_catalog",
                 {"test_no_unexpected_objects[operator]": "failed",
                  "test_no_unexpected_objects[function]": "failed",
                  "test_no_unexpected_objects[setting]": "failed"},
                 "public.=(text, text)", id="operator-shadows-text-equality"),
    pytest.param("CREATE TYPE side_kind AS ENUM ('long', 'short'); CREATE FUNCTION "
                 "side_text(s side_kind) RETURNS text LANGUAGE sql IMMUTABLE AS "
                 "$$ SELECT 'x' $$; CREATE CAST (side_kind AS text) WITH FUNCTION "
                 "side_text(side_kind)",
                 {"test_no_unexpected_objects[cast]": "failed",
                  "test_no_unexpected_objects[type]": "failed",
                  "test_no_unexpected_objects[function]": "failed"},
                 "side_kind AS text", id="cast-added"),
])
def test_drift_in_settings_operators_and_casts(verify, database, fault, expected, named):
    """Behaviour changed without touching the tables: a database whose sessions cannot
    write, foreign keys and triggers off for every session, an = that ignores case for
    queries that write it unqualified, a cast that decides what x::text says."""
    role = f"ops_service_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database.cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role}")
        try:
            database.execute(fault.format(db=database.name, role=role))
            run = verify("--dsn", database.dsn, "-k", "test_schema_object or test_no_unexpected")
        finally:
            conn.execute(f"DROP ROLE {role}")  # a session of another database: not read-only
    assert _drift_only(run) == expected, run.output
    kind = next(k for k in expected if k.endswith(("[setting]", "[operator]", "[cast]")))
    assert named.format(role=role) in run.message(kind.removeprefix("test_no_unexpected_objects"))


def test_an_allowed_setting_is_shown_with_its_pattern(verify, database, config_file):
    role = f"ops_verify_{uuid.uuid4().hex[:8]}"
    database.execute(f"CREATE ROLE {role}; ALTER ROLE {role} IN DATABASE {database.name} "
                     "SET statement_timeout = '3s'")
    try:
        config = config_file('[drift]\nallow = ["setting:role ops_verify*:statement_timeout"]\n')
        run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_unexpected")
    finally:
        database.execute(f"DROP ROLE {role}")
    assert run.returncode == 0, run.output
    assert run.outcomes()["test_no_unexpected_objects[setting]"] == "skipped"
    message = run.message("test_no_unexpected_objects[setting]")
    assert (f"role {role} in database:statement_timeout "
            "('setting:role ops_verify*:statement_timeout')") in message


def test_extended_schema_without_drift_passes(verify, extended_database, extended_migrations):
    run = verify("--dsn", extended_database.dsn, "--migrations-dir", str(extended_migrations))
    assert run.returncode == 0, run.output
    assert "test_schema_object[trigger:public.position_history.trg_position_history_exit_time]" \
        in run.outcomes()


def test_validated_live_but_not_valid_in_migrations_is_shown_not_failed(verify, database):
    database.execute("ALTER TABLE active_positions VALIDATE CONSTRAINT chk_active_positions_side")
    run = verify("--dsn", database.dsn, "-k", "test_schema_object")
    assert run.returncode == 0, run.output
    message = run.message("constraint:public.active_positions.chk_active_positions_side]")
    assert "differs in validated True (expected False)" in message


def test_allow_list_accepts_an_intended_difference(verify, database, config_file):
    database.execute("DROP INDEX idx_alpaca_dedupe_processed_at; "
                     "CREATE INDEX idx_manual_tuning ON active_positions (ticker)")
    config = config_file('[drift]\nallow = ["index:public.idx_alpaca_dedupe_processed_at", '
                         '"index:*manual*"]\n')
    run = verify("--dsn", database.dsn, "--config", str(config))
    assert run.returncode == 0, run.output
    assert run.outcomes()[SCHEMA_OBJECT.format("index:public.idx_alpaca_dedupe_processed_at")] \
        == "skipped"
    assert "allowed by [drift] allow" in run.message("index:public.idx_alpaca_dedupe_processed_at]")
    assert run.outcomes()["test_no_unexpected_objects[index]"] == "skipped"


def test_failing_migration_is_reported_with_version_statement_and_message(verify, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    (folder / "2026_03_02_0001_broken.sql").write_text(
        "CREATE TABLE IF NOT EXISTS ok_before (id int);\n"
        "ALTER TABLE no_such_table ADD COLUMN x int;\n")
    (folder / "2026_03_02_0002_after.sql").write_text(
        "CREATE TABLE IF NOT EXISTS after_broken (id int);\n")
    run = verify("--migrations-dir", str(folder), "-k", "test_migration_replays")
    outcomes = run.outcomes()
    assert outcomes["test_migration_replays[2026_03_02_0001_broken]"] == "failed"
    assert outcomes["test_migration_replays[2026_03_02_0002_after]"] == "passed"
    message = run.message("replays[2026_03_02_0001_broken]")
    assert "line 2" in message and "ALTER TABLE no_such_table" in message
    assert 'relation "no_such_table" does not exist' in message


def test_shared_version_prefix_is_reported(verify, database, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    for name in ("1002_add_a.sql", "1002_add_b.sql"):
        (folder / name).write_text("SELECT 1;\n")
    run = verify("--dsn", database.dsn, "--migrations-dir", str(folder),
                 "-k", "versions_distinct")
    assert run.outcomes() == {"test_migration_versions_distinct[migrations]": "failed"}
    assert "1002: 1002_add_a.sql, 1002_add_b.sql" in run.message("distinct[migrations]")


def test_version_applied_out_of_order_is_reported(verify, database):
    database.execute("UPDATE schema_migrations SET applied_at = now() + interval '1 hour' "
                     "WHERE version = '009_add_position_tracking'")
    run = verify("--dsn", database.dsn, "-k", "test_ledger_in_order")
    assert run.outcomes() == {"test_ledger_in_order[schema_migrations]": "failed"}


@pytest.mark.parametrize("switch", [
    "ALTER TABLE position_history DISABLE TRIGGER ALL",
    "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tgname FROM pg_trigger WHERE tgrelid = "
    "'position_history'::regclass AND tgisinternal LOOP EXECUTE format('ALTER TABLE "
    "position_history ENABLE REPLICA TRIGGER %I', t); END LOOP; END $$",
], ids=["disabled", "replica-only"])
def test_a_foreign_key_whose_own_triggers_are_off_is_drift(verify, database, tmp_path, switch):
    """A foreign key is enforced by internal triggers; with them off (or replica-only) it
    still looks valid, and orphan rows are accepted."""
    migration = ("ALTER TABLE position_history ADD COLUMN active_id bigint "
                 "CONSTRAINT fk_history_active REFERENCES active_positions (id); "
                 "INSERT INTO schema_migrations (version) VALUES ('2026_03_01_0001_fk')")
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations)
    (migrations / "2026_03_01_0001_fk.sql").write_text(migration + ";\n")
    database.execute(migration)
    args = ("--dsn", database.dsn, "--migrations-dir", str(migrations), "-k",
            "test_schema_object or test_no_unexpected")
    assert verify(*args).returncode == 0
    database.execute(switch)
    run = verify(*args)
    assert _drift_only(run) == {SCHEMA_OBJECT.format(
        "constraint:public.position_history.fk_history_active"): "failed"}
    assert "enforced" in run.message("fk_history_active]")


def test_versions_applied_in_one_transaction_are_not_out_of_order(verify, database):
    """They share applied_at (now() is the transaction's start): no order among them."""
    database.execute("BEGIN; INSERT INTO schema_migrations (version, applied_at) VALUES "
                     "('3000_9_x', now() + interval '1 day'), "
                     "('3000_10_y', now() + interval '1 day'); COMMIT")
    run = verify("--dsn", database.dsn, "-k", "test_ledger_in_order")
    assert run.outcomes() == {"test_ledger_in_order[schema_migrations]": "passed"}


def test_ledger_with_the_old_column_name_fails_clearly(verify, database, config_file):
    config = config_file('[ledger]\nversion_column = "migration_name"\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "recorded[001_init]")
    assert run.outcomes() == {"test_migration_recorded[001_init]": "failed"}
    assert "has no column 'migration_name'" in run.message("recorded[001_init]")


@pytest.mark.slow
def test_snapshot_replaces_replay(verify, database, tmp_path, config_file):
    snapshot = tmp_path / "expected_schema.json"
    done = subprocess.run([sys.executable, "-m", "checks.snapshot", "--dsn", database.dsn,
                           "--out", str(snapshot)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    config = config_file(f'[drift]\nsnapshot = "{snapshot}"\n')
    run = verify("--dsn", database.dsn, "--config", str(config))
    assert run.returncode == 0, run.output
    assert {v for k, v in run.outcomes().items() if "replays" in k} == {"skipped"}
    database.execute("ALTER TABLE active_positions ALTER COLUMN status SET DEFAULT 'x'")
    run = verify("--dsn", database.dsn, "--config", str(config))
    assert _drift_only(run) == {
        SCHEMA_OBJECT.format("column:public.active_positions.status"): "failed"}


def test_an_object_beyond_the_expected_schema_is_named_by_where_it_was_expected(
        verify, database, tmp_path, config_file):
    """Against a snapshot, an extra object is "not in the snapshot"; against the replay, it
    is "not created by the migrations" (a snapshot is what a database held)."""
    snapshot = tmp_path / "expected_schema.json"
    done = subprocess.run([sys.executable, "-m", "checks.snapshot", "--dsn", database.dsn,
                           "--out", str(snapshot)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    database.execute("CREATE TABLE hotfix_scratch (id int)")
    item = "test_no_unexpected_objects[table]"
    against_snapshot = verify("--dsn", database.dsn, "--config",
                              str(config_file(f'[drift]\nsnapshot = "{snapshot}"\n')), "-k", item)
    against_replay = verify("--dsn", database.dsn, "--config", str(config_file("")), "-k", item)
    assert against_snapshot.outcomes() == against_replay.outcomes() == {item: "failed"}
    assert against_snapshot.message(item) == "1 table(s) not in the snapshot: public.hotfix_scratch"
    assert against_replay.message(item) == \
        "1 table(s) not created by the migrations: public.hotfix_scratch"
    database.execute("DROP TABLE hotfix_scratch")
    passed = verify("--dsn", database.dsn, "--config",
                    str(config_file(f'[drift]\nsnapshot = "{snapshot}"\n')), "-k", item)
    assert passed.message(item) == "no table beyond what the snapshot holds"


@pytest.mark.slow
def test_postgresql_15_target_has_no_version_drift_and_drift_is_caught(verify, database15):
    run = verify("--dsn", database15.dsn)
    assert run.returncode == 0, run.output
    assert run.summary["environment"]["Server version"].startswith("15.")
    database15.execute("DROP INDEX idx_alpaca_dedupe_order_id")
    run = verify("--dsn", database15.dsn)
    assert _drift_only(run) == {
        SCHEMA_OBJECT.format("index:public.idx_alpaca_dedupe_order_id"): "failed"}
