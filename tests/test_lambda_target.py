"""--via-lambda: the database through the real db-query handler (a faithful stand-in behind a
local Invoke API over real HTTP), ECS and CloudWatch Logs on moto's server."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import trade_stream
from tests.lambda_server import lambda_server

SECRET = "wJalrXUtnFEMI-test-secret-key"
FUNCTION = "ops-pipeline-db-query"
PROBES = "test_check_constraint_enforced"
AWS_CHECKS = ("test_ecs_service_stable", "test_log_heartbeat")


@pytest.fixture
def aws_env(aws_world):
    """ECS and CloudWatch Logs are moto's server; Lambda is the local Invoke stand-in."""
    def env(endpoint: str) -> dict[str, str]:
        return {**aws_world.env, "AWS_ENDPOINT_URL_LAMBDA": endpoint,
                "AWS_SECRET_ACCESS_KEY": SECRET}
    return env


def _database_checks(run) -> dict[str, str]:
    return {k: v for k, v in run.target_checks().items() if not k.startswith(AWS_CHECKS)}


def test_healthy_stand_in_gives_the_direct_outcomes_check_by_check(verify, database, aws_env):
    with lambda_server(database.dsn) as server:
        through = verify("--via-lambda", FUNCTION, env=aws_env(server.endpoint))
    direct = verify("--dsn", database.dsn, "--aws", env=aws_env(server.endpoint))
    assert through.returncode == 0, through.output
    assert direct.returncode == 0, direct.output
    assert through.summary["target"] == {"kind": "lambda", "name": FUNCTION, "role": "primary"}
    expected = {k: v for k, v in direct.outcomes().items() if not k.startswith(PROBES)}
    assert {k: v for k, v in through.outcomes().items() if not k.startswith(PROBES)} == expected
    probes = {k: v for k, v in through.outcomes().items() if k.startswith(PROBES)}
    assert probes and set(probes.values()) == {"skipped"}
    assert "db-query Lambda is read-only" in through.message("enforced[chk_active_positions_side]")
    writes = re.compile(r"\b(INSERT|UPDATE|DELETE|ALTER|CREATE|DROP|TRUNCATE)\b", re.I)
    literals = re.compile(r"'(?:[^']|'')*'")  # e.g. a publication's 'insert' action
    assert server.calls and not [q for q in server.calls if writes.search(literals.sub("", q))]
    assert len(server.calls) <= 15
    assert SECRET not in through.all_output()


def test_every_statement_the_suite_sends_passes_the_select_filter(verify, database, aws_env,
                                                                   config_file):
    config = config_file(
        '[[custom_sql]]\nname = "with_cte"\n'
        'sql = """WITH open AS (SELECT * FROM active_positions WHERE status = \'open\')\n'
        '-- a comment, then the query\nSELECT id FROM open WHERE quantity <= 0"""\n'
        '[[custom_sql]]\nname = "commented"\nsql = """-- leading comment\n  SELECT 1 AS x '
        'WHERE false"""\n'
        '[[unique]]\ntable = "active_positions"\ncolumns = ["alpaca_order_id"]\n'
        'where = "status = \'open\'"\n'
        '[[freshness]]\nname = "beat"\ntable = "service_heartbeats"\ncolumn = "last_beat_at"\n'
        'where = "service = \'trade-stream\'"\n'
        '[[check_constraints]]\ntable = "active_positions"\nname = "chk_active_positions_side"\n'
        "expression = \"side IN ('long', 'short', 'call', 'put')\"\n"
        '[index_health]\ntables = ["active_positions"]\n'
        '[[indexes]]\ntable = "active_positions"\nname = "idx_active_positions_alpaca_order_id"\n')
    database.execute("ALTER TABLE position_history DROP CONSTRAINT chk_position_history_side; "
                     "ALTER TABLE position_history ADD CONSTRAINT chk_position_history_side "
                     "CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID")
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", FUNCTION, "--config", str(config),
                     env=aws_env(server.endpoint))
    assert run.returncode == 0, run.output
    assert server.calls
    for text in server.calls:
        assert text.strip().upper().startswith("SELECT"), text[:80]
        statement = text.split(";\n", 1)[1]  # after the pins of the transaction
        assert statement.strip().upper().startswith("SELECT"), statement[:80]


@pytest.mark.parametrize(("function", "words"), [
    ("crashing", "the function failed (Unhandled): RuntimeError: boom"),
    ("http-500", "the handler answered statusCode 500: could not connect"),
    ("no-success", "the handler answered statusCode 200: no error given"),
    ("malformed", "the answer is not JSON"),
    ("no-rows", "rows are not a list of objects"),
    ("no-count", "the answer says no count of rows but holds 0"),
    ("no-such-function", "the Invoke API answered HTTP 404 ResourceNotFoundException"),
])
def test_proxy_faults_are_errors_never_passes(verify, database, aws_env, function, words):
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", function, env=aws_env(server.endpoint))
    assert run.returncode == 1
    assert run.summary["outcome"] == "error"
    assert set(_database_checks(run).values()) == {"error"}
    assert words in run.message("test_migration_recorded[001_init]")
    aws = {k: v for k, v in run.outcomes().items() if k.startswith(AWS_CHECKS)}
    assert set(aws.values()) == {"passed"}  # AWS checks do not depend on the function


def test_throttling_is_retried_then_passes(verify, database, aws_env):
    """A 429 reached no function: every request, throttled once, is sent again, and each
    then runs once."""
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", "throttled", env=aws_env(server.endpoint))
    assert run.returncode == 0, run.output
    sent = Counter(server.requests)
    assert sent and set(sent.values()) == {2}, sent.values()  # throttled, then retried
    assert len(server.calls) == len(sent) == len(set(server.calls))


@pytest.mark.parametrize(("function", "said"), [
    ("server-error", "the Invoke API answered HTTP 500 ServiceException"),
    ("bad-gateway", "the Invoke API answered HTTP 502 ResourceNotReadyException"),
])
def test_a_server_error_is_never_retried(verify, database, aws_env, function, said):
    """A 5xx comes after the function may have run the query: sending it again could run
    it twice, so each request is sent once and its checks error."""
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", function, env=aws_env(server.endpoint))
    assert run.returncode == 1
    assert set(_database_checks(run).values()) == {"error"}
    assert said in run.message("test_migration_recorded[001_init]")
    sent = Counter(server.requests)
    assert sent and set(sent.values()) == {1}, sent.values()  # none sent twice
    assert len(server.calls) == len(sent)  # and each one reached the function


PINS = {"statement_timeout": "5000", "lock_timeout": "1000",
        "search_path": 'pg_catalog, "public", pg_temp', "TimeZone": "UTC",
        "row_security": "off", "transaction_read_only": "on"}
"""What every transaction through the function runs with (README, "Through the db-query
Lambda"): the default [settings] (statement_timeout 5s, lock_timeout 1s, search_path
public, timezone UTC), no row-level security, read-only."""


def test_every_request_pins_its_transaction_and_the_database_runs_with_the_pins(
        verify, database, aws_env, config_file):
    """The function sets no timeout and the database's own defaults differ from every pin
    here: each request's text pins them first, and the database really ran each
    statement with them (read back by the stand-in in the statement's transaction). The
    settings and the schema are drift, allowed here: the run passes only through the pins."""
    config = config_file('[drift]\nallow = ["setting:*", "schema:shadow"]\n')
    database.execute("CREATE SCHEMA shadow")
    for setting in ("statement_timeout = '1h'", "lock_timeout = '1h'",
                    "search_path = shadow, public", "timezone = 'Pacific/Kiritimati'",
                    "row_security = on", "default_transaction_read_only = off"):
        database.execute(f"ALTER DATABASE {database.name} SET {setting}")
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", FUNCTION, "--config", str(config),
                     env=aws_env(server.endpoint))
    assert run.returncode == 0, run.output
    allowed = {c["id"] for c in run.summary["checks"] if "allow" in (c["message"] or "")}
    assert any("[setting]" in name for name in allowed), allowed  # drift saw them
    assert server.calls and len(server.observed) == len(server.calls)
    for text in server.calls:
        pins = text.split(";\n", 1)[0]
        for name, value in PINS.items():
            assert f"pg_catalog.set_config('{name}', '{value}', true)" in pins, (name, pins)
    for seen in server.observed:
        assert seen == PINS


@pytest.mark.slow
def test_a_hung_function_ends_the_run_fast_with_every_database_check_an_error(
        verify, database, aws_env, config_file):
    config = config_file('[settings]\nproxy_timeout = "2s"\nconcurrency = 4\n')
    with lambda_server(database.dsn) as server:
        server.hang = 300  # longer than any sequence of timeouts the run could wait out
        run = verify("--via-lambda", "hung", "--config", str(config),
                     env=aws_env(server.endpoint), timeout=240)
        calls = len(server.calls)
    assert run.returncode == 1
    assert set(_database_checks(run).values()) == {"error"}
    assert "no answer within 2s" in run.message("test_migration_recorded[001_init]")
    assert calls <= 4  # not retried, not one timeout after another


@pytest.mark.parametrize(("query", "said"), [
    ("SELECT write_now() AS wrote", "cannot execute INSERT in a read-only transaction"),
    ("SELECT write_anyway() AS wrote", "read-write mode must be set before any query"),
], ids=["writing-function", "function-turning-read-only-off"])
def test_custom_sql_that_writes_is_refused_through_the_function(verify, database, aws_env,
                                                                config_file, query, said):
    """The function commits nothing, but a sequence moved by its transaction stays moved:
    the pinned read-only mode refuses the write, and the check is an error."""
    database.execute((Path(__file__).parent / "data" / "writers.sql").read_text())
    before = database.fingerprint()
    config = config_file(f'[[custom_sql]]\nname = "writes"\nsql = "{query}"\n')
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", FUNCTION, "--config", str(config), "-k", "custom_sql",
                     env=aws_env(server.endpoint))
    assert run.outcomes() == {"test_custom_sql[writes]": "error"}, run.output
    assert said in run.message("[writes]")
    assert database.fingerprint() == before


@pytest.mark.parametrize("selection", [(), ("-k", "custom_sql")], ids=["all", "no-catalog"])
def test_a_function_that_answers_for_another_database_is_an_error(verify, database, cluster,
                                                                  aws_env, config_file,
                                                                  selection):
    """Also when no selected check reads the catalog (whose capture names the database)."""
    config = config_file(f'[environments.prod]\nlambda_function = "wrong-db"\n'
                         f'database = "{database.name}"\n[[custom_sql]]\nname = "positive"\n'
                         'sql = "SELECT id FROM active_positions WHERE quantity <= 0"\n')
    with lambda_server(database.dsn, other_dsn=cluster.conninfo("postgres")) as server:
        run = verify("--env", "prod", "--config", str(config), *selection,
                     env=aws_env(server.endpoint))
    checked = "test_custom_sql[positive]" if selection else "test_migration_recorded[001_init]"
    assert run.outcomes()[checked] == "error"
    assert set(_database_checks(run).values()) <= {"error"}
    assert run.returncode == 1
    assert f"answers for database 'postgres', but the environment expects " \
           f"'{database.name}'" in run.message(checked)


def test_a_cache_in_front_of_the_function_cannot_answer_a_later_run(verify, database,
                                                                   aws_env):
    """Every request's text is its own, so a cache keyed on it never answers from an
    earlier run: the faults seeded after the first run are seen by the second."""
    with lambda_server(database.dsn) as server:
        assert verify("--via-lambda", "cached", env=aws_env(server.endpoint)).returncode == 0
        database.execute("UPDATE service_heartbeats SET last_beat_at = now() - interval '3h'")
        run = verify("--via-lambda", "cached", env=aws_env(server.endpoint))
    assert run.outcomes()["test_fresh[trade_stream_heartbeat]"] == "failed"


def test_an_answer_that_is_not_from_now_is_an_error(verify, database, aws_env, config_file):
    """The function's now() is checked against this machine's clock (here: its
    transaction began 2 s before the query, over a 1 s allowance)."""
    config = config_file('[settings]\nproxy_clock_skew = "1s"\n')
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", "stale-answer", "--config", str(config),
                     env=aws_env(server.endpoint))
    assert set(_database_checks(run).values()) == {"error"}
    assert "from this machine's clock: a cached or replayed answer" in run.message(
        "test_migration_recorded[001_init]")


def test_unreachable_proxy_is_an_error(verify, aws_env):
    run = verify("--via-lambda", FUNCTION, env=aws_env("http://127.0.0.1:9"))
    assert run.returncode == 1
    assert set(_database_checks(run).values()) == {"error"}
    assert "cannot reach the Lambda endpoint" in run.message("recorded[001_init]")


@pytest.mark.parametrize("fault", [
    "INSERT INTO active_positions (ticker, instrument_type, side, quantity, entry_price, "
    "alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, 'ord-1001')",
    "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_strategy_type; "
    "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type "
    "CHECK (strategy_type IN ('day_trade', 'swing_trade', 'stock')) NOT VALID",
    "UPDATE service_heartbeats SET last_beat_at = now() - interval '3 hours'",
], ids=["duplicate-order-id", "old-allowed-list", "stale-heartbeat"])
def test_faults_fail_their_items_through_the_proxy(verify, database, aws_env, fault):
    database.execute(fault)
    with lambda_server(database.dsn) as server:
        through = verify("--via-lambda", FUNCTION, env=aws_env(server.endpoint))
    direct = verify("--dsn", database.dsn, "--read-only", env=aws_env(server.endpoint))
    assert through.returncode == 1
    failed = {k for k, v in through.outcomes().items() if v == "failed"}
    assert failed and failed == {k for k, v in direct.outcomes().items() if v == "failed"}


def test_a_missing_log_group_fails_its_own_item(verify, database, aws_world, aws_env):
    aws_world.client("logs").delete_log_group(logGroupName="/ecs/ops-pipeline/trade-stream")
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", FUNCTION, env=aws_env(server.endpoint))
    assert run.not_passed() == {"test_log_heartbeat[trade_stream_logs]": "failed",
                                **{k: "skipped" for k in run.outcomes() if k.startswith(PROBES)}}
    assert "log group /ecs/ops-pipeline/trade-stream does not exist" in run.message(
        "[trade_stream_logs]")


def test_a_stopped_service_fails_its_own_item_with_its_events(verify, database, moto_server,
                                                              monkeypatch):
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "0")  # read by the in-process server
    trade_stream(moto_server)
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", FUNCTION, env={**moto_server.env,
                                                    "AWS_ENDPOINT_URL_LAMBDA": server.endpoint})
    assert run.not_passed() == {"test_ecs_service_stable[trade-stream]": "failed",
                                **{k: "skipped" for k in run.outcomes() if k.startswith(PROBES)}}
    assert "running 0 of 1" in run.message("test_ecs_service_stable[trade-stream]")


@pytest.mark.parametrize("proxy", ["truncating", "emptying", "trimming-arrays",
                                   "trimming-catalog"])
def test_an_answer_cut_short_with_its_count_rewritten_is_an_error(verify, database, aws_env,
                                                                 config_file, proxy):
    """The handler's count only catches a proxy that cuts rows and leaves the count: one that
    rewrites both is caught by the total each statement computes for itself (the ledger,
    the duplicates sample and its row ids, a configured SELECT, every kind of the catalog)."""
    database.execute("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
                     "entry_price, alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, "
                     "'ord-1001')")
    config = config_file('[[unique]]\nname = "orders"\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\n'
                         '[[custom_sql]]\nname = "two_rows"\n'
                         'sql = "SELECT 1 AS x UNION ALL SELECT 2"\n')
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", proxy, "--config", str(config), "-k",
                     "recorded or ledger or no_duplicates or custom_sql",
                     env=aws_env(server.endpoint))
    cut = {"truncating": ("recorded", "ledger", "custom_sql", "no_duplicates"),
           "emptying": ("recorded", "ledger", "custom_sql", "no_duplicates"),
           "trimming-arrays": ("no_duplicates",),
           "trimming-catalog": ("",)}[proxy]
    outcomes = run.outcomes()
    assert run.summary["outcome"] == "error", run.output
    caught = {k: v for k, v in outcomes.items() if any(part in k for part in cut)}
    assert caught and set(caught.values()) == {"error"}, run.output
    assert all("cut short" in run.message(k) for k in caught)
