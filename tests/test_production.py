"""The example config for the real system, on a database equal to its rebuilt production.

The database is made from what was captured from production rebuilt the way its tools built
it (``python -m checks.adopt rebuild``, from a checkout of frotofraggins/inbound_aigen): the
schema of the shipped snapshot (``checks.adopt.ddl``), the 38-row ledger and healthy rows
(tests/data/production). No checkout is needed; ``OPS_PIPELINE_CHECKOUT`` names one for the
test that rebuilds from it (marker upstream: deselected unless `-m upstream`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from checks import adopt
from checks.catalog import capture, load_file
from checks.catalog.compare import KINDS, compare, objects
from checks.config import Settings
from checks.infra.cluster import Cluster
from checks.targets.postgres import PostgresTarget
from tests.conftest import ROOT, log_heartbeat

DATA = Path(__file__).parent / "data" / "production"
MIGRATIONS = DATA / "migrations"  # upstream's file names only: the ledger checks read names
ROWS = ROOT / "examples" / "ops-pipeline-production.fixtures" / "rows.sql"
LEDGER = DATA / "ledger.csv"
EXAMPLE = ROOT / "examples" / "ops-pipeline-production.toml"
SNAPSHOT = ROOT / "examples" / "ops-pipeline-production.schema.json"
ARBITER = "test_upsert_has_arbiter[trade_stream_position_per_order]"
BASELINE = {ARBITER: "failed"}
"""What the example reports on a healthy production: its one real defect, no unique arbiter
behind trade-stream's ON CONFLICT (alpaca_order_id)."""


def build(conninfo: str) -> None:
    """The snapshot's schema, the ledger as production has it, and the sample rows."""
    catalog, _ = load_file(SNAPSHOT)
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
        conn.execute(adopt.ddl(catalog))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                            adopt.read_ledger(LEDGER))
        conn.execute(ROWS.read_text(encoding="utf-8"))


def _create(server: Cluster, name: str, template: str = "template0") -> str:
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)))
    return server.conninfo(name)


@pytest.fixture(scope="module")
def production(cluster15: Cluster) -> Iterator[Cluster]:
    """PostgreSQL 15 (the session's server) with the production-like database as a
    template."""
    build(_create(cluster15, "ops_pipeline_template"))
    yield cluster15
    with psycopg.connect(cluster15.conninfo(), autocommit=True) as conn:
        conn.execute("DROP DATABASE ops_pipeline_template WITH (FORCE)")


@pytest.fixture
def prod(production: Cluster) -> Iterator[str]:
    """A fresh copy of production; its conninfo. The rows are written again, so their times
    are as fresh as the copy (the pipeline runs all along)."""
    name = f"ops_pipeline_{uuid.uuid4().hex[:8]}"
    conninfo = _create(production, name, "ops_pipeline_template")
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
        conn.execute(ROWS.read_text(encoding="utf-8"))
    yield conninfo
    with psycopg.connect(production.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def example(tmp_path: Path):
    """The example config, runnable from a temp folder, with its market-hours windows
    removed (so the freshness checks run whenever the tests do) unless ``windows``."""
    def write(*, windows: bool = False) -> Path:
        lines = EXAMPLE.read_text().splitlines()
        lines = [line for line in lines if windows or not line.startswith("active = ")]
        text = "\n".join(lines).replace('snapshot = "ops-pipeline-production.schema.json"',
                                        f'snapshot = "{SNAPSHOT}"').replace(
            'fixtures_dir = "ops-pipeline-production.fixtures"',
            f'fixtures_dir = "{ROWS.parent}"')
        path = tmp_path / f"example-{uuid.uuid4().hex[:6]}.toml"
        path.write_text(text)
        return path
    return write


def _run(verify, dsn: str, config: Path, *args: str):
    return verify("--dsn", dsn, "--config", str(config), "--migrations-dir", str(MIGRATIONS),
                  *args)


def _differences(conninfo: str) -> dict[str, object]:
    """What drift compares, live against the snapshot: objects on one side only, and the
    attributes that differ."""
    target = PostgresTarget(conninfo, Settings())
    try:
        live = objects(capture(target))
    finally:
        target.close()
    expected = objects(load_file(SNAPSHOT)[0])
    found: dict[str, object] = {i: "missing" for i in expected.keys() - live.keys()}
    found |= {i: "unexpected" for i in live.keys() - expected.keys()}
    found |= {i: diffs for i in expected.keys() & live.keys()
              if (diffs := compare(i, expected[i], live[i]))}
    return found


def test_the_fixture_is_the_snapshot_with_production_s_ledger(prod):
    assert _differences(prod) == {}
    with psycopg.connect(prod) as conn:
        ledger = [v for (v,) in conn.execute(
            "SELECT version FROM schema_migrations ORDER BY applied_at")]
        shape = conn.execute(
            "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'),"
            " (SELECT count(*) FROM pg_views WHERE schemaname = 'public')").fetchone()
    assert ledger == [v for v, _ in adopt.read_ledger(LEDGER)]
    assert (len(ledger), shape) == (38, (24, 12))


def test_the_drift_check_finds_the_fixture_equal_to_the_snapshot(verify, prod, example):
    run = _run(verify, prod, example(), "-k", "schema_object or no_unexpected_objects")
    assert run.returncode == 0, run.output
    outcomes = run.outcomes()
    assert set(outcomes.values()) == {"passed"}
    assert len(outcomes) == len(objects(load_file(SNAPSHOT)[0])) + len(KINDS)  # one per kind


def _table_rows(run) -> list[str]:
    """summary.md's table rows (what did not pass, failures first), as the ticket shows."""
    return [line for line in (run.reports_dir / "summary.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith(("| result", "| ---"))]


def test_the_example_finds_the_one_real_defect_and_nothing_else(verify, prod, example):
    """On production as its tools built it: the missing arbiter fails, named first on the
    ticket; the known history is accepted; everything else passes or is skipped with its
    reason (AWS checks off here, replays under a snapshot, a rule no probe can break)."""
    run = _run(verify, prod, example())
    assert run.returncode == 1, run.output
    assert run.summary["outcome"] == "failed"
    outcomes = run.outcomes()
    assert {k: v for k, v in outcomes.items() if v in ("failed", "error", "warned")} == BASELINE
    assert "there is no unique or exclusion constraint matching the ON CONFLICT " \
        "specification" in run.message(ARBITER)
    first = _table_rows(run)[0]
    assert first.startswith(f"| FAIL | `{ARBITER}` |")
    assert {k: v for k, v in outcomes.items() if v == "accepted"} == {
        "test_ledger_has_no_unknown_versions[schema_migrations]": "accepted",
        "test_ledger_in_order[schema_migrations]": "accepted",
        "test_migration_versions_distinct[migrations]": "accepted"}
    skipped = {c["message"].split(":")[0].split(" (")[0] for c in run.summary["checks"]
               if c["outcome"] == "skipped"}
    assert skipped == {"AWS checks are off", "not probed",
                       "the expected schema comes from a snapshot; migrations are not "
                       "replayed"}, skipped
    assert {v for k, v in outcomes.items() if k.startswith("test_check_constraint_def")} == \
        {"passed"}
    assert {v for k, v in outcomes.items() if k.startswith(("test_fresh", "test_custom_sql",
                                                              "test_upsert"))} - {"info"} \
        == {"passed", "failed"}
    assert "9 version(s) in schema_migrations have no file, all accepted" in run.message(
        "unknown_versions[schema_migrations]")
    assert "16 version(s) applied out of numeric order" in run.message(
        "in_order[schema_migrations]")


@pytest.mark.parametrize(("fault", "expected"), [
    pytest.param(
        "INSERT INTO active_positions (ticker, instrument_type, strategy_type, side, quantity, "
        "entry_price, entry_time, status, alpaca_order_id) SELECT ticker, instrument_type, "
        "strategy_type, side, quantity, entry_price, entry_time, 'open', alpaca_order_id "
        "FROM active_positions WHERE alpaca_order_id IS NOT NULL LIMIT 1",
        {"test_no_duplicates[active_positions.alpaca_order_id]": "failed"},
        id="duplicate-order-id"),
    pytest.param(
        "DROP INDEX idx_active_positions_alpaca_order_id; "
        "INSERT INTO active_positions (ticker, instrument_type, strategy_type, side, quantity, "
        "entry_price, entry_time, status, alpaca_order_id) SELECT ticker, instrument_type, "
        "strategy_type, side, quantity, entry_price, entry_time, 'open', alpaca_order_id "
        "FROM active_positions WHERE alpaca_order_id IS NOT NULL LIMIT 1",
        {"test_no_duplicates[active_positions.alpaca_order_id]": "failed",
         "test_index_present[idx_active_positions_alpaca_order_id]": "failed",
         "test_schema_object[index:public.idx_active_positions_alpaca_order_id]": "failed"},
        id="dropped-index-and-duplicate"),
    pytest.param(
        # recorded in the ledger (2026_02_02_0003_add_constraints_no_do) but absent
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_side; "
        "ALTER TABLE position_history DROP CONSTRAINT chk_position_history_side",
        {"test_check_constraint_definition[chk_active_positions_side]": "failed",
         "test_check_constraint_enforced[chk_active_positions_side]": "failed",
         "test_schema_object[constraint:public.active_positions.chk_active_positions_side]":
             "failed",
         "test_check_constraint_definition[chk_position_history_side]": "failed",
         "test_check_constraint_enforced[chk_position_history_side]": "failed",
         "test_schema_object[constraint:public.position_history.chk_position_history_side]":
             "failed"},
        id="recorded-checks-absent"),
    pytest.param(
        "DELETE FROM schema_migrations WHERE version = '1039_close_phantom_positions'",
        {"test_migration_recorded[1039_close_phantom_positions]": "failed"},
        id="deleted-ledger-row"),
    pytest.param(
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_strategy_type; "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type "
        "CHECK (strategy_type IS NULL OR strategy_type IN ('day_trade', 'swing_trade', "
        "'stock')) NOT VALID",
        {"test_check_constraint_definition[chk_active_positions_strategy_type]": "failed",
         "test_schema_object[constraint:public.active_positions."
         "chk_active_positions_strategy_type]": "failed"},
        id="weakened-check"),
    pytest.param(
        "UPDATE pg_index SET indisvalid = false "
        "WHERE indexrelid = 'idx_active_positions_alpaca_order_id'::regclass",
        {"test_index_present[idx_active_positions_alpaca_order_id]": "failed",
         "test_indexes_valid[active_positions]": "failed",
         "test_schema_object[index:public.idx_active_positions_alpaca_order_id]": "failed"},
        id="invalid-index"),
    pytest.param(
        "UPDATE lane_telemetry SET ts = ts - interval '2 hours'",
        {"test_fresh[telemetry_bars]": "failed"},
        id="stopped-pipeline"),
])
def test_each_injected_fault_fails_its_own_item(verify, prod, example, fault, expected):
    """Each fault fails exactly its items, and the ticket names them in its first lines
    (failures first: with the arbiter, at most a screenful)."""
    with psycopg.connect(prod, autocommit=True) as conn:
        conn.execute(fault)
    run = _run(verify, prod, example())
    assert run.returncode == 1, run.output
    found = {k: v for k, v in run.outcomes().items()
             if v not in ("passed", "skipped", "accepted", "info")}
    assert found == {**BASELINE, **expected}, run.output
    rows = _table_rows(run)[:len(found)]
    assert {row.split("`")[1] for row in rows} == set(found)


def test_an_object_outside_the_snapshot_fails_as_not_in_the_snapshot(verify, prod, example):
    with psycopg.connect(prod, autocommit=True) as conn:
        conn.execute("CREATE TABLE hotfix_positions (id int)")
    run = _run(verify, prod, example())
    found = {k: v for k, v in run.outcomes().items()
             if v not in ("passed", "skipped", "accepted", "info")}
    assert found == {**BASELINE, **{f"test_no_unexpected_objects[{kind}]": "failed"
                                    for kind in ("table", "column")}}, run.output
    assert run.message("test_no_unexpected_objects[table]") == \
        "1 table(s) not in the snapshot: public.hotfix_positions"
    assert run.message("test_no_unexpected_objects[column]") == \
        "1 column(s) not in the snapshot: public.hotfix_positions.id"


def test_the_declared_rules_pass_on_varchar_columns_of_postgresql_18_too(verify, example,
                                                                        extra_server):
    conninfo = _create(extra_server(), "ops_pipeline")
    build(conninfo)
    run = _run(verify, conninfo, example(), "-k", "check_constraint")
    assert run.returncode == 0, run.output
    assert {v for k, v in run.outcomes().items() if "definition" in k} == {"passed"}


@pytest.mark.parametrize("window", ["closed", "open"])
def test_the_pipeline_checks_follow_their_market_hours_window(verify, prod, example, window):
    """The example's windows (weekdays 09:45-16:00 New York), with the hours moved relative
    to now: twelve hours away, the pipeline checks are skipped naming their window; a
    window that is always open runs them."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    market = 'days = ["mon", "tue", "wed", "thu", "fri"], hours = "09:45-16:00"'
    later = (datetime.now(UTC) + timedelta(hours=12)).astimezone(ZoneInfo("America/New_York"))
    hours = f"{later.hour:02d}:00-{later.hour:02d}:59"
    moved = (f'days = ["mon", "tue", "wed", "thu", "fri"], hours = "{hours}"'
             if window == "closed" else 'hours = "00:00-24:00"')
    config = example(windows=True)
    text = config.read_text()
    assert text.count(market) == 5  # the example's five freshness checks
    config.write_text(text.replace(market, moved))
    run = _run(verify, prod, config, "-k", "fresh")
    assert set(run.outcomes().values()) == {"skipped" if window == "closed" else "passed"}
    if window == "closed":
        assert f"mon,tue,wed,thu,fri {hours} America/New_York" in run.message(
            "[telemetry_bars]")


CHECKOUT = os.environ.get("OPS_PIPELINE_CHECKOUT")


@pytest.mark.upstream
def test_the_rebuild_from_a_checkout_is_what_the_snapshot_and_ledger_hold(production):
    """The shipped snapshot and ledger are what the rebuild from upstream gives: rebuild,
    then compare (the ledger by version and order; its times are the rebuild's own).
    Deselected unless ``-m upstream`` (tests reach no GitHub); then it needs a checkout."""
    if not CHECKOUT:
        pytest.fail("-m upstream needs OPS_PIPELINE_CHECKOUT: a checkout of "
                    "frotofraggins/inbound_aigen", pytrace=False)
    conninfo = _create(production, f"rebuild_{uuid.uuid4().hex[:8]}")
    runs = adopt.rebuild(conninfo, adopt.read_tools(Path(CHECKOUT)), say=lambda _: None)
    assert [r.failed for r in runs] == [None] * len(runs)
    assert adopt.shape(conninfo) == {"ledger rows": 38, "tables": 24, "views": 12}
    assert _differences(conninfo) == {}
    assert [v for v, _ in adopt.ledger_rows(conninfo)] == \
        [v for v, _ in adopt.read_ledger(LEDGER)]


# ---------------------------------------------------------------- the pipeline on AWS
SERVICES = ("trade-stream", "dispatcher-service", "dispatcher-tiny-service",
            "position-manager-service", "position-manager-tiny-service", "telemetry-service")
SCHEDULES = ("ops-pipeline-signal-engine-1m", "ops-pipeline-feature-computer-1m",
             "ops-pipeline-watchlist-engine-5m", "ops-pipeline-healthcheck-5m",
             "ops-pipeline-dispatcher", "ops-pipeline-dispatcher-tiny", "position-manager-1min",
             "ticker-discovery-6h", "trade-alert-checker")
RULES = ("ops-ticker-discovery-6h", "ops-opportunity-analyzer-daily")
ALARMS = ("ops-pipeline-telemetry-lag", "ops-pipeline-feature-lag",
          "ops-pipeline-dispatcher-stalled", "ops-pipeline-duplicate-executions")
LOG_GROUPS = ("/ecs/ops-pipeline/dispatcher", "/ecs/ops-pipeline/position-manager-service",
              "/ecs/ops-pipeline/telemetry-service", "/ecs/ops-pipeline/db-migrator")
LAMBDAS = ("ops-pipeline-db-query", "ops-pipeline-db-migration", "ops-pipeline-healthcheck",
           "trade-alert-checker")
PIPELINE = ("verify/test_heartbeat.py", "verify/test_pipeline.py")


@pytest.fixture
def pipeline(moto_server):
    """The ops-pipeline on AWS by the example's real names, healthy: every service running,
    every schedule and rule enabled (dispatcher-tiny's off, as upstream's notes advise),
    alarms OK, quiet logs, trade-stream polling, the healthcheck Lambda running."""
    from tests.aws_world import create_function, put_lambda_metric, put_log_lines

    ecs = moto_server.client("ecs")
    ecs.create_cluster(clusterName="ops-pipeline-cluster")
    for service in SERVICES:
        ecs.register_task_definition(family=service, containerDefinitions=[
            {"name": service, "image": f"{service}:latest", "memory": 256}])
        ecs.create_service(cluster="ops-pipeline-cluster", serviceName=service,
                           taskDefinition=service, desiredCount=1)
    target = {"Arn": "arn:aws:ecs:us-west-2:123456789012:cluster/ops-pipeline-cluster",
              "RoleArn": "arn:aws:iam::123456789012:role/ops-pipeline-eventbridge-ecs-role"}
    scheduler = moto_server.client("scheduler")
    for name in SCHEDULES:
        scheduler.create_schedule(
            Name=name, ScheduleExpression="rate(1 minute)", FlexibleTimeWindow={"Mode": "OFF"},
            Target=target, State="DISABLED" if name == "ops-pipeline-dispatcher-tiny"
            else "ENABLED")
    events = moto_server.client("events")
    for rule in RULES:
        events.put_rule(Name=rule, ScheduleExpression="rate(6 hours)", State="ENABLED")
        events.put_targets(Rule=rule, Targets=[{"Id": "1", "Arn": target["Arn"]}])
    cloudwatch = moto_server.client("cloudwatch")
    for name in ALARMS:
        cloudwatch.put_metric_alarm(
            AlarmName=name, MetricName=name, Namespace="OPsPipeline", Statistic="Maximum",
            Period=300, EvaluationPeriods=2, Threshold=180,
            ComparisonOperator="GreaterThanThreshold")
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="healthy")
    log_heartbeat(moto_server, seconds_ago=60)
    logs = moto_server.client("logs")
    for group in LOG_GROUPS:
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="task-1")
    put_log_lines(moto_server, "/ecs/ops-pipeline/dispatcher", ["INFO - run_complete"])
    for function in LAMBDAS:
        create_function(moto_server, function)
    put_lambda_metric(moto_server, "ops-pipeline-healthcheck", "Invocations", [1.0] * 6)
    return moto_server


def _aws_run(verify, prod, example, aws):
    return verify("--dsn", prod, "--aws", "--config", str(example()), "--migrations-dir",
                  str(MIGRATIONS), env=aws.env, paths=PIPELINE)


def test_the_whole_pipeline_passes_on_aws_by_its_real_names(verify, prod, example, pipeline):
    run = _aws_run(verify, prod, example, pipeline)
    assert run.returncode == 0, run.output
    outcomes = run.outcomes()
    assert {f"test_ecs_service_stable[{s}]" for s in SERVICES} <= set(outcomes)
    assert set(outcomes.values()) == {"passed"}, outcomes
    assert "ops-pipeline-dispatcher-tiny" in run.message("[pipeline_schedules]")


def _stop(aws):
    aws.client("ecs").update_service(cluster="ops-pipeline-cluster",
                                     service="position-manager-service", desiredCount=0)


def _disable(aws):
    aws.client("scheduler").update_schedule(
        Name="ops-pipeline-watchlist-engine-5m", ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"}, State="DISABLED",
        Target={"Arn": "arn:aws:ecs:us-west-2:123456789012:cluster/ops-pipeline-cluster",
                "RoleArn": "arn:aws:iam::123456789012:role/ops-pipeline-eventbridge-ecs-role"})


def _alarm(aws):
    aws.client("cloudwatch").set_alarm_state(AlarmName="ops-pipeline-dispatcher-stalled",
                                             StateValue="ALARM", StateReason="no runs")


def _errors(aws):
    from tests.aws_world import put_log_lines

    put_log_lines(aws, "/ecs/ops-pipeline/telemetry-service",
                  [f"ERROR - bar fetch failed for SPY ({i})" for i in range(8)])


def _lambda_errors(aws):
    from tests.aws_world import put_lambda_metric

    put_lambda_metric(aws, "ops-pipeline-db-query", "Errors", [1.0, 2.0])


@pytest.mark.parametrize(("fault", "failing"), [
    pytest.param(_stop, "test_ecs_service_stable[position-manager-service]", id="stopped"),
    pytest.param(_disable, "test_schedule_enabled[pipeline_schedules]", id="schedule-off"),
    pytest.param(_alarm, "test_alarm_not_firing[pipeline_alarms]", id="alarm"),
    pytest.param(_errors, "test_log_errors[telemetry_errors]", id="error-burst"),
    pytest.param(_lambda_errors, "test_lambda_errors[ops-pipeline-db-query]",
                 id="lambda-errors"),
])
def test_each_pipeline_fault_fails_its_own_item(verify, prod, example, pipeline, fault,
                                                failing):
    fault(pipeline)
    run = _aws_run(verify, prod, example, pipeline)
    assert run.returncode == 1, run.output
    assert {k: v for k, v in run.outcomes().items() if v != "passed"} == {failing: "failed"}
