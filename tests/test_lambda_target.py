"""--via-lambda: the database through the db-query proxy, over a real HTTP endpoint."""

from __future__ import annotations

import re

import pytest

from tests.lambda_server import lambda_server

SECRET = "wJalrXUtnFEMI-test-secret-key"


@pytest.fixture
def aws_env(aws_world):
    """--via-lambda turns the AWS checks on: ECS and CloudWatch Logs are moto's server, the
    Lambda endpoint is the local db-query stand-in."""
    def env(endpoint: str) -> dict[str, str]:
        return {**aws_world.env, "AWS_ENDPOINT_URL_LAMBDA": endpoint,
                "AWS_SECRET_ACCESS_KEY": SECRET}
    return env


def test_healthy_database_through_the_proxy(verify, database, aws_env):
    with lambda_server(database.dsn) as (endpoint, calls):
        run = verify("--via-lambda", "ops-pipeline-db-query", env=aws_env(endpoint))
    assert run.returncode == 0, run.output
    assert run.summary["target"] == {"kind": "lambda", "name": "ops-pipeline-db-query"}
    skipped = {k for k, v in run.outcomes().items() if v == "skipped"}
    assert skipped and all(k.startswith("test_check_constraint_enforced") for k in skipped)
    assert "read-only" in run.message("enforced[chk_active_positions_side]")
    assert {k for k, v in run.outcomes().items() if v == "passed"} == \
        set(run.outcomes()) - skipped
    writes = re.compile(r"\b(INSERT|UPDATE|DELETE|ALTER|CREATE|DROP|TRUNCATE)\b", re.I)
    assert calls and not [q for q in calls if writes.search(q)]
    assert SECRET not in run.all_output()


@pytest.mark.parametrize("fault", [
    "INSERT INTO active_positions (ticker, instrument_type, side, quantity, entry_price, "
    "alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, 'ord-1001')",
    "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_strategy_type; "
    "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type "
    "CHECK (strategy_type IN ('day_trade', 'swing_trade', 'stock')) NOT VALID",
], ids=["duplicate-order-id", "old-allowed-list"])
def test_faults_are_found_through_the_proxy(verify, database, aws_env, fault):
    database.execute(fault)
    with lambda_server(database.dsn) as (endpoint, _):
        run = verify("--via-lambda", "ops-pipeline-db-query", env=aws_env(endpoint))
    assert run.returncode == 1
    assert set(run.not_passed().values()) <= {"failed", "skipped"}
    assert "failed" in run.not_passed().values()


@pytest.mark.parametrize(("function", "words"), [
    ("crashing", "raised Unhandled"),
    ("http-500", "HTTP 500"),
    ("no-rows", "no 'rows' list"),
])
def test_proxy_failures_are_errors_never_passes(verify, database, aws_env, function, words):
    with lambda_server(database.dsn) as (endpoint, _):
        run = verify("--via-lambda", function, env=aws_env(endpoint))
    assert run.returncode != 0
    assert run.summary["outcome"] == "error"
    assert set(run.target_checks().values()) == {"error"}
    assert words in run.message("test_migration_recorded[001_init]")


def test_unreachable_proxy_is_an_error(verify, aws_env):
    run = verify("--via-lambda", "ops-pipeline-db-query", env=aws_env("http://127.0.0.1:9"))
    assert run.returncode != 0
    assert set(run.target_checks().values()) == {"error"}
    assert "invoking ops-pipeline-db-query failed" in run.message("recorded[001_init]")
