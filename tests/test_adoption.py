"""Adopting the suite on a real production: rules compared by meaning, known history
accepted, root causes first, probes that conclude, schedules, severities."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from checks.catalog.expressions import check_expression
from checks.catalog.reprint import reprint
from checks.infra.cluster import Cluster
from checks.infra.normalize import Normalizer
from tests.conftest import MIGRATIONS, started

# ---------------------------------------------------------------- CHECK rules by meaning
COLUMNS = ("side varchar(10), ticker text, code char(4), quantity numeric(12,4), "
           "mood mood, instrument_type text, strike_price numeric(10,2)")
RULES = [
    pytest.param("side IN ('long', 'short')", "side IN ('long','short')", id="varchar-in"),
    pytest.param("side IN ('long', 'short')",
                 "((side)::text = ANY ((ARRAY['long'::character varying, "
                 "'short'::character varying])::text[]))", id="varchar-printed-form"),
    pytest.param("side = ANY (ARRAY['long', 'short'])", "side IN ('long', 'short')",
                 id="varchar-any-vs-in"),
    pytest.param("ticker IN ('SPY', 'QQQ') OR ticker IS NULL",
                 "(ticker = ANY (ARRAY['SPY'::text, 'QQQ'::text])) OR (ticker IS NULL)",
                 id="text"),
    pytest.param("code IN ('ab', 'cd')", "code = ANY (ARRAY['ab'::bpchar, 'cd'::bpchar])",
                 id="char"),
    pytest.param("quantity > 0", "(quantity > (0)::numeric)", id="numeric"),
    pytest.param("mood IN ('up', 'down')", "mood = ANY (ARRAY['up'::mood, 'down'::mood])",
                 id="enum"),
    pytest.param("(instrument_type = 'STOCK') OR (instrument_type IN ('CALL', 'PUT') AND "
                 "strike_price IS NOT NULL)",
                 "instrument_type = 'STOCK' OR instrument_type = ANY (ARRAY['CALL', 'PUT']) "
                 "AND strike_price IS NOT NULL", id="multi-column"),
]
DIFFERENT = [
    pytest.param("side IN ('long', 'short')", "side IN ('long', 'short', 'call')",
                 id="another-list"),
    pytest.param("quantity > 0", "quantity >= 0", id="another-bound"),
    pytest.param("(instrument_type = 'STOCK') OR (strike_price IS NOT NULL)",
                 "(instrument_type = 'STOCK') AND (strike_price IS NOT NULL)", id="or-vs-and"),
]


@pytest.fixture(scope="module", params=["18", pytest.param("15", marks=pytest.mark.pg15)])
def engines(request, tmp_path_factory):
    """A server of each major (PostgreSQL 15 is production's), with the rule table."""
    with started(request.param) as server:
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE TYPE mood AS ENUM ('up', 'down', 'flat')")
            conn.execute(f"CREATE TABLE rules ({COLUMNS})")
        cache = tmp_path_factory.mktemp("normalized") / "cache.json"
        normalizer = Normalizer(lambda user_types: server.conninfo(), cache, "rules")
        yield server, normalizer
        normalizer.close()


def _printed(server: Cluster, written: str) -> str:
    """How this server prints a rule written one way (as production's catalog would)."""
    with psycopg.connect(server.conninfo(), autocommit=True) as conn, \
            conn.transaction(force_rollback=True):
        conn.execute(f"ALTER TABLE rules ADD CONSTRAINT r CHECK ({written}) NOT VALID")
        row = conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                           "WHERE conname = 'r'").fetchone()
    return check_expression(row[0])


def _columns(server: Cluster) -> tuple[tuple[str, str, bool], ...]:
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        return tuple((n, t, u) for n, t, u in conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod), atttypid >= 16384 FROM "
            "pg_attribute WHERE attrelid = 'rules'::regclass AND attnum > 0 ORDER BY attnum"))


@pytest.mark.parametrize(("declared", "live"), RULES)
def test_the_same_rule_written_any_way_compares_equal(engines, declared, live):
    server, normalizer = engines
    columns = _columns(server)
    printed = _printed(server, live)
    assert normalizer.check(columns, declared) == normalizer.check(columns, printed)


@pytest.mark.parametrize(("declared", "live"), DIFFERENT)
def test_another_rule_compares_different(engines, declared, live):
    server, normalizer = engines
    columns = _columns(server)
    assert normalizer.check(columns, declared) != normalizer.check(columns,
                                                                   _printed(server, live))


def test_declared_rules_pass_on_varchar_columns_of_a_postgresql_15_target(verify, database15):
    """The reference rules, declared as written, on VARCHAR columns printed by 15."""
    database15.execute(
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_side, "
        "DROP CONSTRAINT chk_active_positions_strategy_type; "
        "ALTER TABLE active_positions ALTER COLUMN side TYPE varchar(10), "
        "ALTER COLUMN strategy_type TYPE varchar(20); "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_side "
        "CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID; "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type "
        "CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative') "
        "OR strategy_type IS NULL) NOT VALID")
    run = verify("--dsn", database15.dsn, "-k", "check_constraint")
    assert run.returncode == 0, run.output
    assert set(run.outcomes().values()) == {"passed"}


# ---------------------------------------------------------------- version-aware drift
@pytest.mark.slow
@pytest.mark.parametrize("match", [True, False], ids=["replayed-on-15", "reprinted-on-18"])
def test_a_postgresql_15_target_has_no_version_drift(verify, extended_migrations, config_file,
                                                      extended_database15, match):
    """Views print differently on 15 and 18: the replay runs on 15 when its binaries are
    here; otherwise the live view is reprinted by 18. Either way no false drift, and a
    real change of the view is still caught."""
    config = config_file(f"[drift]\nmatch_target_version = {str(match).lower()}\n")
    args = ("--dsn", extended_database15.dsn, "--migrations-dir", str(extended_migrations),
            "--config", str(config), "-k", "test_schema_object or test_no_unexpected")
    run = verify(*args)
    assert run.returncode == 0, run.output
    view = "test_schema_object[view:public.open_positions]"
    assert run.outcomes()[view] == "passed"
    extended_database15.execute("CREATE OR REPLACE VIEW open_positions AS SELECT id, ticker, "
                                "side, quantity FROM active_positions WHERE status = 'closed'")
    changed = verify(*args)
    assert {k: v for k, v in changed.outcomes().items() if v != "passed"} == {view: "failed"}


_REPRINTED_FAULTS = {
    "index:public.idx_active_positions_execution_uuid_unique":  # guards the opposite rows
        "DROP INDEX idx_active_positions_execution_uuid_unique; CREATE UNIQUE INDEX "
        "idx_active_positions_execution_uuid_unique ON active_positions (execution_uuid) "
        "WHERE execution_uuid IS NULL",
    "index:public.idx_alpaca_dedupe_order_id":
        "DROP INDEX idx_alpaca_dedupe_order_id; CREATE INDEX idx_alpaca_dedupe_order_id ON "
        "alpaca_event_dedupe USING hash (order_id)",
    "column:public.active_positions.status":
        "ALTER TABLE active_positions ALTER COLUMN status SET DEFAULT 'closed'",
    "constraint:public.position_history.chk_position_history_quantity":
        "ALTER TABLE position_history DROP CONSTRAINT chk_position_history_quantity, "
        "ADD CONSTRAINT chk_position_history_quantity CHECK (quantity IS NULL OR quantity >= 0)",
    "trigger:public.position_history.trg_position_history_exit_time":
        "CREATE OR REPLACE TRIGGER trg_position_history_exit_time BEFORE UPDATE ON "
        "position_history FOR EACH ROW EXECUTE FUNCTION touch_exit_time()",
    "function:public.touch_exit_time()":
        "CREATE OR REPLACE FUNCTION touch_exit_time() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN -- the exit time is now kept as sent\n    RETURN NEW;\nEND\n$$",
}


@pytest.mark.slow
def test_printed_definitions_reprinted_by_another_major_still_show_real_drift(
        verify, extended_migrations, config_file, extended_database15):
    """Without the live major's binaries the expected schema is built on 18: every printed
    definition that differs is reprinted there, so each real change still fails its item
    (they used to be skipped as "printed differently", and the run passed). One run over
    all the changes (each on another object): each fails its own item, nothing else."""
    config = config_file("[drift]\nmatch_target_version = false\n")
    for fault in _REPRINTED_FAULTS.values():
        extended_database15.execute(fault)
    run = verify("--dsn", extended_database15.dsn, "--migrations-dir",
                 str(extended_migrations), "--config", str(config), "-k",
                 "test_schema_object or test_no_unexpected")
    assert {k: v for k, v in run.outcomes().items() if v != "passed"} == {
        f"test_schema_object[{object_id}]": "failed" for object_id in _REPRINTED_FAULTS
    }, run.output
    assert run.returncode == 1


# ---------------------------------------------------------------- known history
def test_a_baseline_accepts_missing_history_before_it(verify, database, config_file):
    database.execute("DELETE FROM schema_migrations WHERE version IN "
                     "('001_init', '009_add_position_tracking')")
    config = config_file('[ledger]\nbaseline = "2026_02_02_0001"\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "recorded")
    assert run.returncode == 0, run.output
    assert run.outcomes()["test_migration_recorded[001_init]"] == "accepted"
    assert run.outcomes()["test_migration_recorded[2026_02_02_0001_position_telemetry]"] == \
        "passed"
    assert "before the baseline" in run.message("recorded[001_init]")


def test_known_unknown_and_out_of_order_versions_are_accepted_not_passed(verify, database,
                                                                         config_file):
    database.execute("INSERT INTO schema_migrations (version) VALUES ('1002_hotfix_by_hand'), "
                     "('1003_another_by_hand')")
    run = verify("--dsn", database.dsn, "-k", "ledger")
    assert set(run.outcomes().values()) == {"failed"}
    config = config_file('[ledger]\naccept_unknown = ["1002_hotfix_by_hand", "1003_*"]\n'
                         'accept_out_of_order = ["100?_*"]\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "ledger")
    assert run.returncode == 0, run.output
    assert run.outcomes() == {"test_ledger_has_no_unknown_versions[schema_migrations]": "accepted",
                              "test_ledger_in_order[schema_migrations]": "accepted"}
    evidence = run.detail("unknown_versions")["evidence"][0]
    assert [r[1] for r in evidence["rows"]] == ["accepted", "accepted"]


def test_an_unaccepted_version_still_fails_beside_accepted_ones(verify, database, config_file):
    database.execute("INSERT INTO schema_migrations (version) VALUES ('1002_known'), "
                     "('1004_surprise')")
    config = config_file('[ledger]\naccept_unknown = ["1002_known"]\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "unknown")
    assert run.outcomes() == {"test_ledger_has_no_unknown_versions[schema_migrations]": "failed"}
    assert "1004_surprise" in run.message("[schema_migrations]")
    assert "1002_known" not in run.message("[schema_migrations]").split("(")[0]


def test_accepted_shared_prefixes(verify, database, tmp_path, config_file):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    for name in ("1002_add_a.sql", "1002_add_b.sql"):
        (folder / name).write_text("SELECT 1;\n")
    config = config_file('[ledger]\naccept_shared_prefixes = ["1002"]\n')
    run = verify("--dsn", database.dsn, "--migrations-dir", str(folder), "--config",
                 str(config), "-k", "versions_distinct")
    assert run.outcomes() == {"test_migration_versions_distinct[migrations]": "accepted"}


@pytest.mark.parametrize(("order", "outcome"), [("numeric", "failed"), ("text", "passed"),
                                                ("applied", "skipped")])
def test_the_version_order_is_configurable(verify, database, config_file, order, outcome):
    database.execute("INSERT INTO schema_migrations (version, applied_at) VALUES "
                     "('2027_1_x', now() + interval '1 hour'), ('900_y', now() + "
                     "interval '2 hours')")
    config = config_file(f'[ledger]\norder = "{order}"\naccept_unknown = ["*"]\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "in_order")
    assert run.outcomes() == {"test_ledger_in_order[schema_migrations]": outcome}


# ---------------------------------------------------------------- root cause first
def test_a_migration_that_does_not_replay_is_shown_as_the_root_cause_first(verify, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    long_statement = "ALTER TABLE no_such_table ADD COLUMN " + ", ADD COLUMN ".join(
        f"c{i} int" for i in range(60))
    (folder / "2026_03_02_0001_broken.sql").write_text(f"{long_statement};\n")
    run = verify("--migrations-dir", str(folder))
    assert run.returncode == 1
    replay = "test_migration_replays[2026_03_02_0001_broken]"
    assert run.outcomes()[replay] == "failed"
    message = run.message("replays[2026_03_02_0001_broken]")
    assert message.index('relation "no_such_table" does not exist') < message.index("ALTER")
    drift = {k: v for k, v in run.outcomes().items() if k.startswith("test_schema_object")}
    assert drift == {"test_schema_object[expected-schema]": "error"}
    blocked = [c for c in run.summary["checks"] if c.get("blocked_by")]
    assert blocked and {c["blocked_by"] for c in blocked} == {replay}
    ours = run.output.split("post-deploy verification")[-1]
    first = next(line for line in ours.splitlines() if line.startswith(("FAIL", "ERROR")))
    assert first.split()[1] == replay
    assert "more with this cause" in ours
    summary_md = (run.reports_dir / "summary.md").read_text()
    rows = [line for line in summary_md.splitlines() if line.startswith("| FAIL")
            or line.startswith("| ERROR")]
    assert replay in rows[0] and len(rows) <= 5
    html = (run.reports_dir / "report.html").read_text()
    problems = html[html.index("What did not pass"):]
    assert problems.index(replay) < problems.index("ERROR")


# ---------------------------------------------------------------- probes that conclude
def test_probes_conclude_on_varchar_numeric_multi_column_and_empty_tables(verify, database,
                                                                          config_file):
    database.execute(
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_side; "
        "ALTER TABLE active_positions ALTER COLUMN side TYPE varchar(10); "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_side "
        "CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID; "
        "ALTER TABLE position_history ADD CONSTRAINT chk_exit_priced "
        "CHECK (exit_price IS NULL OR exit_time IS NOT NULL); "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_quantity CHECK (quantity > 0); "
        "CREATE TABLE fills (id bigserial PRIMARY KEY, position_id bigint NOT NULL "
        "REFERENCES active_positions (id), side varchar(4) NOT NULL "
        "CHECK (side IN ('buy', 'sell')), qty numeric(8,2) NOT NULL "
        "CONSTRAINT chk_fill_qty CHECK (qty > 0))")
    config = config_file(
        '[[check_constraints]]\ntable = "active_positions"\nname = "chk_active_positions_side"\n'
        "expression = \"side IN ('long', 'short', 'call', 'put')\"\n"
        '[[check_constraints]]\ntable = "position_history"\nname = "chk_exit_priced"\n'
        'expression = "exit_price IS NULL OR exit_time IS NOT NULL"\n'
        '[[check_constraints]]\ntable = "active_positions"\nname = "chk_quantity"\n'
        'expression = "quantity > 0"\n'
        '[[check_constraints]]\ntable = "fills"\nname = "fills_side_check"\n'
        "expression = \"side IN ('buy', 'sell')\"\n"
        '[[check_constraints]]\ntable = "fills"\nname = "chk_fill_qty"\nexpression = "qty > 0"\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "enforced")
    assert set(run.outcomes().values()) == {"passed"}, run.output
    inserts = " ".join(s for c in run.summary["details"] for s in c["sql"])
    assert "__ops_verify_probe__" not in inserts.split("side")[1][:40]  # fits varchar(10)
    assert database.execute("SELECT count(*) FROM fills") == [(0,)]


# ---------------------------------------------------------------- schedules and severities
def test_a_check_outside_its_active_window_is_skipped_with_that_reason(verify, database,
                                                                       config_file):
    later = datetime.now(UTC) + timedelta(hours=12)
    hours = f"{later.hour:02d}:00-{later.hour:02d}:59"
    database.execute("UPDATE service_heartbeats SET last_beat_at = now() - interval '3 days'")
    config = config_file(
        '[[freshness]]\nname = "market_hours"\ntable = "service_heartbeats"\n'
        f'column = "last_beat_at"\nactive = {{ hours = "{hours}", timezone = "UTC" }}\n'
        '[[freshness]]\nname = "always"\ntable = "service_heartbeats"\ncolumn = "last_beat_at"\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "fresh")
    assert run.outcomes() == {"test_fresh[market_hours]": "skipped",
                              "test_fresh[always]": "failed"}
    assert re.search(rf"outside its active window \(every day {hours} UTC\)",
                     run.message("[market_hours]"))


def test_warn_and_info_severities_do_not_fail_the_run(verify, database, config_file):
    database.execute("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
                     "entry_price, alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, "
                     "'ord-1001')")
    config = config_file(
        '[[unique]]\nname = "orders"\ntable = "active_positions"\ncolumns = ["alpaca_order_id"]\n'
        'severity = "warn"\n'
        '[[custom_sql]]\nname = "open_by_side"\nseverity = "info"\n'
        'sql = "SELECT side, count(*) AS positions FROM active_positions GROUP BY side"\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k",
                 "no_duplicates or custom_sql or recorded")
    assert run.returncode == 0, run.output
    assert run.summary["outcome"] == "passed"
    assert run.outcomes()["test_no_duplicates[orders]"] == "warned"
    assert run.outcomes()["test_custom_sql[open_by_side]"] == "info"
    rows = run.detail("open_by_side")["evidence"][0]["rows"]
    assert ["long", 2] in rows
    assert "WARN" in run.output.split("post-deploy verification")[-1]


_PRINTED = [  # kind of definition: its printing on this engine (the statement made it)
    ("view:public.open_positions", "definition",
     "SELECT pg_catalog.pg_get_viewdef('open_positions'::regclass, true)"),
    ("index:public.idx_active_positions_execution_uuid_unique", "definition",
     "SELECT pg_catalog.pg_get_indexdef('idx_active_positions_execution_uuid_unique'::regclass)"),
    ("constraint:public.active_positions.chk_active_positions_side", "definition",
     "SELECT pg_catalog.pg_get_constraintdef(oid) FROM pg_constraint "
     "WHERE conname = 'chk_active_positions_side'"),
    ("constraint:public.active_positions.active_positions_pkey", "definition",
     "SELECT pg_catalog.pg_get_constraintdef(oid) FROM pg_constraint "
     "WHERE conname = 'active_positions_pkey'"),
    ("trigger:public.position_history.trg_position_history_exit_time", "definition",
     "SELECT pg_catalog.pg_get_triggerdef(oid) FROM pg_trigger "
     "WHERE tgname = 'trg_position_history_exit_time'"),
    ("rule:public.position_history.keep", "definition",
     "SELECT pg_catalog.pg_get_ruledef(oid) FROM pg_rewrite WHERE rulename = 'keep'"),
    ("policy:public.position_history.mine", "using",
     "SELECT pg_catalog.pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polname = 'mine'"),
    ("policy:public.position_history.mine", "check",
     "SELECT pg_catalog.pg_get_expr(polwithcheck, polrelid) FROM pg_policy "
     "WHERE polname = 'mine'"),
    ("function:public.touch_exit_time()", "definition",
     "SELECT pg_catalog.pg_get_functiondef('touch_exit_time'::regproc)"),
    ("column:public.active_positions.status", "default",
     "SELECT pg_catalog.pg_get_expr(adbin, adrelid) FROM pg_attrdef JOIN pg_attribute ON "
     "attrelid = adrelid AND attnum = adnum WHERE adrelid = 'active_positions'::regclass "
     "AND attname = 'status'"),
    ("table:public.fills_2026_01", "partition_bound",
     "SELECT pg_catalog.pg_get_expr(relpartbound, oid) FROM pg_class "
     "WHERE relname = 'fills_2026_01'"),
]


@pytest.mark.parametrize(("object_id", "attribute", "printed"), _PRINTED,
                         ids=[f"{o.split(':')[0]}-{a}" for o, a, _ in _PRINTED])
def test_a_reprint_by_the_same_engine_is_the_same_text(extended_database, object_id,
                                                       attribute, printed):
    """Every printed kind of definition can be created from its text and printed again:
    on one engine the text is a fixed point (with a comment in a function body, a quoted
    odd name and a multi-line rule)."""
    extended_database.execute(
        "CREATE RULE keep AS ON DELETE TO position_history DO INSTEAD NOTHING; "
        "CREATE POLICY mine ON position_history USING (ticker = current_user) "
        "WITH CHECK (quantity > 0); "
        "CREATE TABLE fills (d date) PARTITION BY RANGE (d); CREATE TABLE fills_2026_01 "
        "PARTITION OF fills FOR VALUES FROM ('2026-01-01') TO ('2026-02-01'); "
        "CREATE OR REPLACE FUNCTION touch_exit_time() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN -- keep the exit time as sent\n  RETURN NEW;\nEND $$")
    with psycopg.connect(extended_database.dsn, autocommit=True) as conn:
        text = conn.execute(printed).fetchone()[0]
        assert text
        with conn.transaction(force_rollback=True):
            again = reprint(conn, object_id, attribute, text, ("public.fills",))
    assert again == text
