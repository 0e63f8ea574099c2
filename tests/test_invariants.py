"""Each invariant kind: its seeded fault makes exactly its item fail; nothing persists."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import MIGRATIONS, REFERENCE, locked, seeded_runs

STRATEGY = "test_check_constraint_definition[chk_active_positions_strategy_type]"


SEEDED = [
    pytest.param(
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_side",
        {"test_check_constraint_definition[chk_active_positions_side]": "failed",
         "test_check_constraint_enforced[chk_active_positions_side]": "failed"},
        id="dropped-constraint"),
    pytest.param(
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_strategy_type; "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type "
        "CHECK (strategy_type IN ('day_trade', 'swing_trade', 'stock')) NOT VALID",
        {STRATEGY: "failed"},
        id="old-allowed-list-same-name"),
    pytest.param(
        "INSERT INTO active_positions (ticker, instrument_type, side, quantity, entry_price, "
        "alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, 'ord-1001')",
        {"test_no_duplicates[active_positions.alpaca_order_id]": "failed"},
        id="duplicate-alpaca-order-id"),
    pytest.param(
        "ALTER TABLE alpaca_event_dedupe DROP CONSTRAINT alpaca_event_dedupe_pkey",
        {"test_index_present[alpaca_event_dedupe.primary_key(event_id)]": "failed",
         # trade-stream's ON CONFLICT (event_id) lost its arbiter with it
         "test_upsert_has_arbiter[alpaca_event_dedupe.event_id]": "failed"},
        id="dedupe-primary-key-dropped"),
    pytest.param(
        "DROP INDEX idx_active_positions_execution_uuid_unique",
        {"test_index_present[idx_active_positions_execution_uuid_unique]": "failed"},
        id="execution-uuid-unique-index-dropped"),
    pytest.param(
        "UPDATE pg_index SET indisvalid = false "
        "WHERE indexrelid = 'idx_alpaca_dedupe_order_id'::regclass",
        {"test_index_present[idx_alpaca_dedupe_order_id]": "failed",
         "test_indexes_valid[alpaca_event_dedupe]": "failed"},
        id="invalid-index"),
    pytest.param(
        "UPDATE service_heartbeats SET last_beat_at = now() - interval '3 hours'",
        {"test_fresh[trade_stream_heartbeat]": "failed"},
        id="stale-heartbeat"),
    pytest.param(
        "DELETE FROM service_heartbeats",
        {"test_fresh[trade_stream_heartbeat]": "failed"},
        id="no-heartbeat-row"),
    pytest.param(
        "UPDATE active_positions SET quantity = 0 WHERE ticker = 'AAPL'",
        {"test_custom_sql[open_positions_have_positive_quantity]": "failed"},
        id="custom-sql-rows"),
]


@pytest.fixture(scope="module")
def seeded(cluster, tmp_path_factory):
    """Every fault of SEEDED in a database of its own, verified in one run."""
    return seeded_runs(cluster, REFERENCE, {p.id: p.values[0] for p in SEEDED},
                       tmp_path_factory.mktemp("seeded"))


@pytest.mark.xdist_group("seeded-invariants")
@pytest.mark.parametrize(("fault", "expected"), SEEDED)
def test_seeded_fault_fails_exactly_its_items(seeded, request, fault, expected):
    run = seeded[request.node.callspec.id]
    assert run.returncode == 1, run.output
    # Schema changes also show as drift of that object: tests/test_drift.py covers those.
    assert run.not_passed(drift=False) == expected


def test_failures_say_how_to_fix_them(verify, database):
    """A missing index names the migration that creates it and a statement that does not
    block writers; a duplicate says how to guard the key; a stale heartbeat where to look;
    a missing CHECK how to add it back without a long lock. The evidence of a missing
    index lists only indexes that could have been meant."""
    database.execute(
        "DROP INDEX idx_active_positions_execution_uuid_unique; "
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_side; "
        "INSERT INTO active_positions (ticker, instrument_type, side, quantity, entry_price, "
        "alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, 'ord-1001'); "
        "UPDATE service_heartbeats SET last_beat_at = now() - interval '3 hours'")
    run = verify("--dsn", database.dsn, "-k", "index_present or duplicates or fresh or "
                 "definition")
    assert run.returncode == 1
    fixes = {c["id"].split("::")[1]: c.get("fix", "") for c in run.summary["checks"]
             if c["outcome"] == "failed"}
    index = fixes["test_index_present[idx_active_positions_execution_uuid_unique]"]
    assert index.startswith("2026_02_02_0002_websocket_idempotency.sql creates it; ")
    assert "CREATE UNIQUE INDEX CONCURRENTLY idx_active_positions_execution_uuid_unique ON " \
        "public.active_positions (execution_uuid)" in index
    assert 'CREATE UNIQUE INDEX CONCURRENTLY "active_positions_alpaca_order_id_key" ON ' \
        '"public"."active_positions" ("alpaca_order_id")' \
        in fixes["test_no_duplicates[active_positions.alpaca_order_id]"]
    assert "check that its service runs" in fixes["test_fresh[trade_stream_heartbeat]"]
    side = fixes["test_check_constraint_definition[chk_active_positions_side]"]
    assert "ADD CONSTRAINT chk_active_positions_side CHECK (side IN" in side
    assert side.endswith("VALIDATE CONSTRAINT chk_active_positions_side")
    assert "fix: 2026_02_02_0002_websocket_idempotency.sql creates it" in run.output
    # no index on execution_uuid is left: nothing related to show as evidence
    assert not [d for d in run.summary["details"]
                if "idx_active_positions_execution_uuid" in d["id"] and d["evidence"]]
    assert "its other indexes: " in run.message("[idx_active_positions_execution_uuid_unique]")


def test_old_allowed_list_shows_expected_and_found(verify, database):
    database.execute(
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_strategy_type; "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type "
        "CHECK (strategy_type IN ('day_trade', 'swing_trade', 'stock')) NOT VALID")
    run = verify("--dsn", database.dsn, "-k", "chk_active_positions_strategy_type")
    message = run.message(STRATEGY.split("test_check_constraint_definition")[1])
    assert "says something else" in message and "'stock'" in message
    html = (run.reports_dir / "report.html").read_text()
    assert "normalized by PostgreSQL" in html


def test_same_rule_written_differently_passes(verify, database):
    database.execute(
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_side; "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_side "
        "CHECK (side = ANY (ARRAY['long', 'short', 'call', 'put'])) NOT VALID")
    run = verify("--dsn", database.dsn, "-k", "chk_active_positions_side")
    assert run.returncode == 0, run.output
    assert set(run.outcomes().values()) == {"passed"}


def test_not_valid_constraint_with_violating_rows_fails(verify, database, config_file):
    database.execute("ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_side")
    database.execute("UPDATE active_positions SET side = 'sideways' WHERE ticker = 'AAPL'")
    database.execute("ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_side "
                     "CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID")
    run = verify("--dsn", database.dsn, "-k", "test_check_constraint_definition")
    check = "test_check_constraint_definition[chk_active_positions_side]"
    assert run.outcomes()[check] == "failed"
    assert "it is NOT VALID, and 1 existing rows violate it" in run.message(
        "[chk_active_positions_side]")
    config = config_file(
        '[[check_constraints]]\ntable = "active_positions"\nname = "chk_active_positions_side"\n'
        "expression = \"side IN ('long', 'short', 'call', 'put')\"\n"
        "allow_violating_rows = true\n")
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "definition")
    assert run.outcomes() == {check: "accepted"}
    assert "accepted by allow_violating_rows" in run.message("[chk_active_positions_side]")


def test_validated_constraint_says_so(verify, database):
    database.execute("ALTER TABLE position_history VALIDATE CONSTRAINT chk_position_history_side")
    run = verify("--dsn", database.dsn, "-k", "chk_position_history_side")
    assert "matches and is validated" in run.message("definition[chk_position_history_side]")


def test_duplicates_evidence_has_counts_row_ids_and_guard(verify, database):
    for _ in range(2):
        database.execute(
            "INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
            "entry_price, alpaca_order_id) VALUES ('SPY', 'option', 'call', 1, 4, 'ord-1002')")
    run = verify("--dsn", database.dsn, "-k", "test_no_duplicates")
    message = run.message("[active_positions.alpaca_order_id]")
    assert "1 duplicated alpaca_order_id value(s) across 3 rows" in message
    assert "no database-level unique guard" in message
    detail = run.detail("test_no_duplicates")
    assert detail["evidence"][0]["rows"][0][:2] == ["ord-1002", 3]
    assert "GROUP BY" in detail["sql"][0]


def test_probes_leave_no_trace(verify, database):
    before = database.fingerprint()
    assert len(before) >= 7  # five tables, two sequences
    run = verify("--dsn", database.dsn)
    assert run.returncode == 0, run.output
    probes = {k: v for k, v in run.outcomes().items() if "enforced" in k}
    assert len(probes) == 4 and set(probes.values()) == {"passed"}
    assert database.fingerprint() == before


TABLES = ("schema_migrations", "active_positions", "position_history", "alpaca_event_dedupe",
          "service_heartbeats")
AUDITED = (  # as bench/no_trace.py: every write to a verified table is logged elsewhere
    "CREATE TABLE audit_log (id bigserial PRIMARY KEY, tbl text, op text); "
    "CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO audit_log (tbl, op) VALUES (TG_TABLE_NAME, TG_OP); RETURN NULL; END $$; "
    + " ".join(f"CREATE TRIGGER trg_audit AFTER INSERT OR UPDATE OR DELETE ON {t} "
               "FOR EACH ROW EXECUTE FUNCTION audit();" for t in TABLES))
PROBED_WITH_TRIGGERS = "".join(
    f'[[check_constraints]]\ntable = "{table}"\nname = "chk_{table}_{column}"\n'
    f'expression = "{rule}"\nprobe_with_triggers = true\n'
    for table in ("active_positions", "position_history")
    for column, rule in (("side", "side IN ('long', 'short', 'call', 'put')"),
                         ("strategy_type", "strategy_type IN ('day_trade', 'swing_trade', "
                                           "'conservative') OR strategy_type IS NULL")))


def test_probes_leave_no_trace_on_tables_with_triggers(verify, database, config_file,
                                                      tmp_path):
    """An audit trigger writing to a table with a sequence on every verified table (a
    migration of the release), and the probes told to run there anyway: a full run
    writes nothing and moves no sequence (the audit table's included), and the probes
    did run and conclude."""
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations)
    audit = (migrations / "2026_03_01_0001_audit_log.sql")
    audit.write_text(f"{AUDITED}\nINSERT INTO schema_migrations (version) "
                     "VALUES ('2026_03_01_0001_audit_log');\n")
    database.execute(audit.read_text())
    before = database.fingerprint()
    assert {"public.audit_log", "public.audit_log_id_seq"} <= {name for name, _ in before}
    run = verify("--dsn", database.dsn, "--config", str(config_file(PROBED_WITH_TRIGGERS)),
                 "--migrations-dir", str(migrations))
    assert database.fingerprint() == before
    probes = {k: v for k, v in run.outcomes().items() if "enforced" in k}
    assert len(probes) == 4 and set(probes.values()) == {"passed"}, run.output
    assert run.returncode == 0, run.output


def test_not_enforced_constraint_fails(verify, database):
    database.execute(
        "ALTER TABLE position_history DROP CONSTRAINT chk_position_history_side; "
        "ALTER TABLE position_history ADD CONSTRAINT chk_position_history_side "
        "CHECK (side IN ('long', 'short', 'call', 'put')) NOT ENFORCED")
    run = verify("--dsn", database.dsn)
    assert run.not_passed(drift=False) == {
        "test_check_constraint_definition[chk_position_history_side]": "failed",
        "test_check_constraint_enforced[chk_position_history_side]": "failed"}
    assert "NOT ENFORCED" in run.message("definition[chk_position_history_side]")
    drift = "test_schema_object[constraint:public.position_history.chk_position_history_side]"
    assert run.outcomes()[drift] == "failed"
    assert "enforced is False" in run.message(drift.split("test_schema_object")[1])


def test_empty_uniqueness_scope_is_not_a_pass(verify, database, config_file):
    database.execute("DELETE FROM active_positions")
    run = verify("--dsn", database.dsn, "-k", "no_duplicates")
    assert run.outcomes() == {"test_no_duplicates[active_positions.alpaca_order_id]": "failed"}
    assert "nothing was checked" in run.message("[active_positions.alpaca_order_id]")
    config = config_file('[[unique]]\nname = "ok"\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\nallow_empty = true\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    assert run.outcomes() == {"test_no_duplicates[ok]": "accepted"}


def test_uniqueness_scope_where(verify, database, config_file):
    database.execute(
        "INSERT INTO active_positions (ticker, instrument_type, side, quantity, entry_price, "
        "alpaca_order_id, status) VALUES ('AAPL', 'stock', 'long', 1, 1, 'ord-1001', 'closed')")
    config = config_file('[[unique]]\nname = "open_orders"\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\nwhere = "status = \'open\'"\n'
                         '[[unique]]\nname = "all_orders"\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    assert run.outcomes() == {"test_no_duplicates[open_orders]": "passed",
                              "test_no_duplicates[all_orders]": "failed"}


_SPELLINGS = ("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
              "entry_price, alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, "
              "'ORD-1001'), ('AAPL', 'stock', 'long', 10, 189.5, 'ord-1001 ')")


@pytest.mark.parametrize(("normalize", "found"), [
    (None, None),
    ("lower", ["'ORD-1001'", "'ord-1001'"]),
    ("trim", ["'ord-1001'", "'ord-1001 '"]),
    ("lower_trim", ["'ORD-1001'", "'ord-1001'", "'ord-1001 '"]),
])
def test_a_normalized_key_finds_one_order_spelled_three_ways(verify, database, config_file,
                                                           normalize, found):
    """Alpaca order ids are UUIDs: ORD-1001, ord-1001 and 'ord-1001 ' are one order opened
    three times. The duplicates are shown as stored, each beside its row id."""
    database.execute(_SPELLINGS)
    ids = dict(database.execute("SELECT alpaca_order_id, id::text FROM active_positions "
                                "WHERE lower(trim(alpaca_order_id)) = 'ord-1001'"))
    config = config_file('[[unique]]\nname = "orders"\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\n'
                         + (f'normalize = "{normalize}"\n' if normalize else ""))
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    if found is None:
        assert run.outcomes() == {"test_no_duplicates[orders]": "passed"}, run.output
        return
    assert run.outcomes() == {"test_no_duplicates[orders]": "failed"}, run.output
    assert (f"1 duplicated alpaca_order_id ({normalize}) value(s) across {len(found)} rows"
            in run.message("[orders]"))
    evidence = run.detail("test_no_duplicates")["evidence"][0]
    assert evidence["columns"][-1] == "row ids and values as stored (first 10)"
    (row,) = evidence["rows"]
    by_id = sorted((ids[v.strip("'")], v) for v in found)
    assert row[1:] == [len(found), ", ".join(f"{i}: {v}" for i, v in by_id)]


def test_a_unique_index_on_the_stored_values_does_not_guard_a_normalized_key(
        verify, database, config_file):
    database.execute("CREATE UNIQUE INDEX orders_once ON active_positions (alpaca_order_id)")
    entry = ('[[unique]]\nname = "orders"\ntable = "active_positions"\n'
             'columns = ["alpaca_order_id"]\nrequire_guard = true\n')
    run = verify("--dsn", database.dsn, "--config", str(config_file(entry)), "-k",
                 "no_duplicates")
    assert run.outcomes() == {"test_no_duplicates[orders]": "passed"}, run.output
    config = config_file(entry + 'normalize = "lower_trim"\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    assert run.outcomes() == {"test_no_duplicates[orders]": "failed"}, run.output
    assert "no database-level unique guard of the key lower_trim-normalized" in \
        run.message("[orders]")


@pytest.mark.parametrize(("entry", "message"), [
    ('columns = ["alpaca_order_id"]\nnormalize = "upper"\n',
     "normalize: 'upper' is not one of 'lower', 'trim', 'lower_trim'"),
    ('columns = ["quantity"]\nnormalize = "lower"\n',
     "normalize = 'lower' compares text, but public.active_positions has quantity (numeric"),
])
def test_normalize_is_validated(verify, database, config_file, entry, message):
    config = config_file(f'[[unique]]\nname = "orders"\ntable = "active_positions"\n{entry}')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    assert message in run.output, run.output


def test_read_only_skips_probes_with_reason(verify, database):
    run = verify("--dsn", database.dsn, "--read-only")
    assert run.returncode == 0, run.output
    assert run.not_passed() == {k: "skipped" for k in run.outcomes()
                                if k.startswith("test_check_constraint_enf")}
    assert "--read-only" in run.message("enforced[chk_active_positions_side]")


def test_probe_blocked_by_lock_is_an_error_not_a_wait(verify, database):
    with locked(database.dsn, "position_history"):
        run = verify("--dsn", database.dsn, "-k", "enforced[chk_position_history_side]")
    assert run.returncode == 1
    assert run.not_passed() == {
        "test_check_constraint_enforced[chk_position_history_side]": "error"}
    assert "lock" in run.message("enforced[chk_position_history_side]").lower()


def test_probe_row_satisfies_the_other_rules(verify, database):
    """Another CHECK and a NOT NULL on columns the probe does not break: the probe row,
    taken from an existing row, satisfies them, so the probe concludes."""
    database.execute("ALTER TABLE position_history ADD CONSTRAINT a_ticker_upper "
                     "CHECK (ticker IS NULL OR ticker = upper(ticker)) NOT VALID")
    database.execute("ALTER TABLE position_history ALTER COLUMN ticker SET NOT NULL")
    run = verify("--dsn", database.dsn, "-k", "enforced[chk_position_history_side]")
    assert run.outcomes() == {
        "test_check_constraint_enforced[chk_position_history_side]": "passed"}


def test_probe_that_cannot_break_only_its_rule_is_an_error(verify, database, config_file):
    """Configured probe values that break another rule: no row breaks only this one, so
    the check cannot conclude: an error that says why, never a pass."""
    database.execute("ALTER TABLE position_history ADD CONSTRAINT a_quantity_positive "
                     "CHECK (quantity > 0) NOT VALID")
    config = config_file(
        '[[check_constraints]]\ntable = "position_history"\nname = "chk_position_history_side"\n'
        "expression = \"side IN ('long', 'short', 'call', 'put')\"\n"
        "probe_values = { quantity = -1 }\n")
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "enforced")
    assert run.not_passed() == {
        "test_check_constraint_enforced[chk_position_history_side]": "error"}
    assert "inconclusive" in run.message("enforced[chk_position_history_side]")


def test_query_error_in_a_check_is_one_line_error(verify, database, config_file):
    config = config_file('[[custom_sql]]\nname = "divides"\nsql = "SELECT 1 / 0 AS x"\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "custom_sql")
    assert run.outcomes() == {"test_custom_sql[divides]": "error"}
    assert run.message("[divides]") == "division by zero"
    assert "ERROR test_custom_sql[divides]\n      division by zero" in run.output


def test_config_sql_ending_in_a_line_comment_still_runs(verify, database, config_file):
    """The suite wraps the config's SQL in its own; a trailing ``--`` comment (a TOML
    multi-line string loses its last line end) must not swallow the wrapper."""
    database.execute("UPDATE active_positions SET quantity = -1 WHERE ticker = 'AAPL'")
    config = config_file(
        '[[custom_sql]]\nname = "negative"\n'
        'sql = """SELECT id FROM active_positions WHERE quantity < 0 -- open or not"""\n'
        '[[unique]]\nname = "orders"\ntable = "active_positions"\n'
        'columns = ["alpaca_order_id"]\nwhere = "status = \'open\' -- live ones"\n'
        '[[freshness]]\nname = "beat"\ntable = "service_heartbeats"\n'
        'column = "last_beat_at"\nwhere = "service = \'trade-stream\' -- ours"\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k",
                 "custom_sql or no_duplicates or fresh")
    assert run.outcomes() == {"test_custom_sql[negative]": "failed",
                              "test_no_duplicates[orders]": "passed",
                              "test_fresh[beat]": "passed"}, run.output


WRITERS = Path(__file__).parent / "data" / "writers.sql"
WRITING_SQL = [
    pytest.param("WITH d AS (DELETE FROM active_positions WHERE ticker = 'AAPL' RETURNING id) "
                 "SELECT id FROM d", "data-modifying statement", id="writing-cte"),
    pytest.param("SELECT write_now() AS wrote", "cannot execute INSERT in a read-only "
                 "transaction", id="writing-function"),
    pytest.param("SELECT write_anyway() AS wrote", "transaction read-write mode must be set "
                 "before any query", id="function-turning-read-only-off"),
]


@pytest.mark.parametrize(("query", "said"), WRITING_SQL)
def test_custom_sql_that_writes_is_refused_and_writes_nothing(verify, database, config_file,
                                                              query, said):
    """Custom SQL runs in a read-only transaction: a SELECT that would write (through a
    CTE, a function, or a function that first turns read-only off) is an error naming
    why, and the database is as it was: the row is there, no sequence moved."""
    database.execute(WRITERS.read_text())
    before = database.fingerprint()
    config = config_file(f'[[custom_sql]]\nname = "writes"\nsql = """{query}"""\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "custom_sql")
    assert run.outcomes() == {"test_custom_sql[writes]": "error"}, run.output
    assert said in run.message("[writes]")
    assert run.returncode == 1
    assert database.fingerprint() == before
    assert database.execute("SELECT count(*) FROM active_positions WHERE ticker = 'AAPL'") \
        == [(1,)]


def test_duplicates_of_a_composite_key_are_counted_exactly_and_sampled(verify, database,
                                                                       config_file):
    """Column names that are also the statement's own names (n, scanned, g, d) change
    nothing; counts stay exact when the evidence is capped; a key duplicated in one of
    its columns only is no duplicate."""
    database.execute(
        'CREATE TABLE public.fills (account text, "n" text, scanned int, g int, d text, '
        "PRIMARY KEY (account, g)); "
        "INSERT INTO public.fills SELECT 'acct', 'ord-' || (i % 4), 1, i, 'x' "
        "FROM generate_series(1, 10) AS i; "
        "INSERT INTO public.fills VALUES ('acct', 'ord-9', 2, 11, 'x'), "
        "('acct', NULL, 1, 12, 'x'), ('acct', NULL, 1, 13, 'x')")
    config = config_file('[settings]\nsample_rows = 2\n'
                         '[[unique]]\nname = "fills"\ntable = "fills"\n'
                         'columns = ["n", "scanned"]\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    assert run.outcomes() == {"test_no_duplicates[fills]": "failed"}
    assert ("4 duplicated n, scanned value(s) across 10 rows (of 11 in scope)"
            in run.message("[fills]"))
    evidence = run.detail("test_no_duplicates")["evidence"][0]
    assert evidence["rows"] == [["ord-1", "1", 3, "acct,1, acct,5, acct,9"],
                                ["ord-2", "1", 3, "acct,10, acct,2, acct,6"]]
    assert evidence["total"] == 4


_QUANTITY = ('[[check_constraints]]\ntable = "{table}"\nname = "chk_quantity"\n'
             'expression = "{expression}"\n')
_QUANTITY_MIGRATION = (  # the rule as a migration brought it: q >= 0 was the rule then
    "CREATE FUNCTION valid_quantity(q numeric) RETURNS boolean LANGUAGE sql IMMUTABLE "
    "AS 'SELECT q >= 0'; ALTER TABLE active_positions ADD CONSTRAINT chk_quantity "
    "CHECK (valid_quantity(quantity)); INSERT INTO schema_migrations (version) "
    "VALUES ('2026_03_01_0001_quantity')")


@pytest.mark.parametrize(("seed", "table", "expression", "said"), [
    pytest.param(
        "UPDATE active_positions SET quantity = 0 WHERE ticker = 'AAPL'; CREATE OR REPLACE "
        "FUNCTION valid_quantity(q numeric) RETURNS boolean LANGUAGE sql IMMUTABLE AS "
        "'SELECT q > 0'",
        "active_positions", "valid_quantity(quantity)",
        "it calls public.valid_quantity(numeric), and PostgreSQL re-checks no row when a function "
        "is redefined, and 1 existing rows violate it", id="function-redefined"),
    pytest.param(
        "CREATE TABLE position_history_archive () INHERITS (position_history); "
        "ALTER TABLE position_history ADD CONSTRAINT chk_quantity CHECK (quantity > 0) "
        "NO INHERIT; INSERT INTO position_history_archive (execution_uuid, ticker, side, "
        "quantity, entry_price, exit_price, exit_time) VALUES (gen_random_uuid(), 'X', "
        "'long', -3, 1, 1, now())",
        "position_history", "quantity > 0",
        "it is NO INHERIT, and the table has children whose rows it does not check, and 1 "
        "existing rows violate it", id="no-inherit-child"),
])
def test_a_validated_rule_that_rows_break_all_the_same_fails(verify, database, tmp_path,
                                                            config_file, seed, table,
                                                            expression, said):
    """Validated proves the rows only while the rule cannot change under them: a
    redefined function, or NO INHERIT over child tables, and the rows are counted."""
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations)
    (migrations / "2026_03_01_0001_quantity.sql").write_text(_QUANTITY_MIGRATION + ";\n")
    database.execute(_QUANTITY_MIGRATION)
    database.execute(seed)
    config = config_file('[settings]\ntrusted_functions = ["public.valid_quantity(numeric)"]\n'
                         + _QUANTITY.format(table=table, expression=expression))
    run = verify("--dsn", database.dsn, "--config", str(config), "--migrations-dir",
                 str(migrations), "-k", "definition")
    assert run.outcomes() == {"test_check_constraint_definition[chk_quantity]": "failed"}, \
        run.output
    assert said in run.message("[chk_quantity]")


@pytest.mark.parametrize(("seed", "said"), [
    pytest.param(
        "CREATE TABLE fills (id bigint NOT NULL, filled_at timestamptz NOT NULL, quantity "
        "numeric NOT NULL, CONSTRAINT chk_quantity CHECK (quantity > 0)) PARTITION BY RANGE "
        "(filled_at); CREATE TABLE fills_2026 PARTITION OF fills FOR VALUES FROM "
        "('2026-01-01') TO ('2027-01-01'); CREATE SEQUENCE fill_no; CREATE FUNCTION "
        "bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM setval('fill_no', 7); "
        "RETURN NEW; END $$; CREATE TRIGGER trg_bump BEFORE INSERT ON fills_2026 FOR EACH "
        "ROW EXECUTE FUNCTION bump()",
        "has trigger trg_bump (on public.fills_2026)"),
    pytest.param(
        "CREATE FUNCTION audited(q numeric) RETURNS boolean LANGUAGE sql VOLATILE AS "
        "'SELECT q > 0'; CREATE DOMAIN audited_quantity AS numeric CHECK (audited(VALUE)); "
        "CREATE TABLE fills (id bigint PRIMARY KEY, size audited_quantity NOT NULL, "
        "quantity numeric NOT NULL CONSTRAINT chk_quantity CHECK (quantity > 0))",
        "calls untrusted public.audited(numeric)"),
], ids=["partition-trigger", "domain-calls-volatile"])
def test_a_probe_that_would_run_code_elsewhere_is_not_run(verify, database, config_file,
                                                         seed, said):
    """The probe's row is routed to a partition, and a domain's CHECK runs on its values:
    their triggers and functions would run too (a sequence set, a row written elsewhere)."""
    database.execute(seed)
    config = config_file(_QUANTITY.format(table="fills", expression="quantity > 0"))
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "enforced")
    assert run.outcomes() == {"test_check_constraint_enforced[chk_quantity]": "skipped"}
    assert said in run.message("[chk_quantity]")
    if "fill_no" in seed:
        assert database.execute("SELECT is_called FROM fill_no") == [(False,)]
