"""The whole pipeline seen from AWS, against moto's real server: several ECS services, the
EventBridge schedules and rules, the CloudWatch alarms, error lines in a log group and a
Lambda function's Errors metric; each entry its own item, each fault failing its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.aws_world import create_function, put_lambda_metric, put_log_lines
from tests.conftest import MotoServer, log_heartbeat
from tests.standins import aws_front

CLUSTER = "ops-pipeline-cluster"
SERVICES = ("dispatcher-service", "dispatcher-tiny-service", "position-manager-service",
            "position-manager-tiny-service", "telemetry-service", "trade-stream")
SCHEDULES = ("ops-pipeline-signal-engine-1m", "ops-pipeline-feature-computer-1m",
             "ops-pipeline-watchlist-engine-5m", "ops-pipeline-healthcheck-5m")
RULE = "ops-ticker-discovery-6h"
ALARMS = ("ops-pipeline-telemetry-lag", "ops-pipeline-feature-lag",
          "ops-pipeline-dispatcher-stalled", "ops-pipeline-duplicate-executions")
DISPATCHER_LOGS = "/ecs/ops-pipeline/dispatcher"
HEALTHCHECK = "ops-pipeline-healthcheck"
TARGET = {"Arn": f"arn:aws:ecs:us-west-2:123456789012:cluster/{CLUSTER}",
          "RoleArn": "arn:aws:iam::123456789012:role/ops-pipeline-eventbridge-ecs-role"}

CONFIG = "".join(
    f'[[ecs_services]]\nname = "{s}"\ncluster = "{CLUSTER}"\n' for s in SERVICES) + f'''
[[log_heartbeats]]
name = "trade_stream_poll"
log_group = "/ecs/ops-pipeline/trade-stream"
pattern = '"Account activities: fetched="'
max_age = "6m"

[[schedules]]
name = "ops-pipeline-schedules"
schedule_prefix = "ops-pipeline-"

[[schedules]]
name = "healthcheck-5m"
schedule = "ops-pipeline-healthcheck-5m"

[[schedules]]
name = "ticker-discovery"
rule = "{RULE}"

[[alarms]]
name = "ops-pipeline-alarms"
prefix = "ops-pipeline-"

[[alarms]]
name = "duplicate-executions"
alarm = "ops-pipeline-duplicate-executions"

[[log_errors]]
name = "dispatcher"
log_group = "{DISPATCHER_LOGS}"
pattern = "ERROR"     # moto treats ?-alternatives as "every line"; AWS understands them
window = "1h"

[[lambda_errors]]
name = "{HEALTHCHECK}"
window = "1h"
min_invocations = 1
'''
ITEMS = {
    **{f"test_ecs_service_stable[{s}]": "passed" for s in SERVICES},
    "test_log_heartbeat[trade_stream_poll]": "passed",
    "test_schedule_enabled[ops-pipeline-schedules]": "passed",
    "test_schedule_enabled[healthcheck-5m]": "passed",
    "test_schedule_enabled[ticker-discovery]": "passed",
    "test_alarm_not_firing[ops-pipeline-alarms]": "passed",
    "test_alarm_not_firing[duplicate-executions]": "passed",
    "test_log_errors[dispatcher]": "passed",
    f"test_lambda_errors[{HEALTHCHECK}]": "passed",
}
PATHS = ("verify/test_heartbeat.py", "verify/test_pipeline.py")


@pytest.fixture
def pipeline(moto_server: MotoServer) -> MotoServer:
    """The ops-pipeline as its operators expect it: every service running, every schedule
    enabled, every alarm OK, a quiet dispatcher log, a healthcheck Lambda that ran."""
    ecs = moto_server.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    for service in SERVICES:
        ecs.register_task_definition(family=service, containerDefinitions=[
            {"name": service, "image": f"{service}:latest", "memory": 256}])
        ecs.create_service(cluster=CLUSTER, serviceName=service, taskDefinition=service,
                           desiredCount=1)
    scheduler = moto_server.client("scheduler")
    for name in SCHEDULES:
        scheduler.create_schedule(Name=name, ScheduleExpression="rate(1 minute)",
                                  FlexibleTimeWindow={"Mode": "OFF"}, Target=TARGET)
    events = moto_server.client("events")
    events.put_rule(Name=RULE, ScheduleExpression="rate(6 hours)", State="ENABLED")
    events.put_targets(Rule=RULE, Targets=[{"Id": "1", "Arn": TARGET["Arn"]}])
    cloudwatch = moto_server.client("cloudwatch")
    for name in ALARMS:
        cloudwatch.put_metric_alarm(
            AlarmName=name, MetricName=name, Namespace="OPsPipeline", Statistic="Maximum",
            Period=300, EvaluationPeriods=2, Threshold=180,
            ComparisonOperator="GreaterThanThreshold")
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="healthy")
    log_heartbeat(moto_server, seconds_ago=30)
    put_log_lines(moto_server, DISPATCHER_LOGS, ["INFO - run_complete pulled=3 simulated=1"] * 3)
    create_function(moto_server, HEALTHCHECK)
    put_lambda_metric(moto_server, HEALTHCHECK, "Invocations", [1.0] * 6)
    return moto_server


def _run(verify, config_file, aws_env: dict[str, str], *args: str, config: str = CONFIG):
    return verify("--aws", "--config", str(config_file(config)), *args, env=aws_env,
                  paths=PATHS)


def test_the_healthy_pipeline_passes_item_by_item(verify, config_file, pipeline):
    run = _run(verify, config_file, pipeline.env)
    assert run.outcomes() == ITEMS, run.output
    assert run.returncode == 0, run.output
    figures = {c["id"].split("::", 1)[1]: c.get("figures", {}) for c in run.summary["checks"]}
    assert figures["test_alarm_not_firing[ops-pipeline-alarms]"]["ok"] == 4
    assert figures["test_schedule_enabled[ops-pipeline-schedules]"]["schedules"] == 4
    assert figures[f"test_lambda_errors[{HEALTHCHECK}]"] == {
        "errors": 0.0, "invocations": 6.0, "throttles": 0.0}
    assert figures["test_log_errors[dispatcher]"]["errors"] == 0
    assert "4 of 4 schedules enabled" in run.message("[ops-pipeline-schedules]")
    assert {c["area"] for c in run.summary["checks"] if "pipeline" in c["id"]} == {"pipeline"}
    metrics = (run.reports_dir / "metrics.prom").read_text()
    assert 'ops_verify_check_figure{check="test_lambda_errors[ops-pipeline-healthcheck]",' \
           'figure="invocations"} 6.0' in metrics


def _stop(aws: MotoServer) -> None:
    aws.client("ecs").update_service(cluster=CLUSTER, service="telemetry-service",
                                     desiredCount=0)


def _short(aws: MotoServer) -> None:
    """Recreated wanting two tasks: moto runs MOTO_ECS_SERVICE_RUNNING (one) at creation."""
    ecs = aws.client("ecs")
    name = "position-manager-tiny-service"
    ecs.delete_service(cluster=CLUSTER, service=name, force=True)
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=name, desiredCount=2)


def _disable_schedule(aws: MotoServer) -> None:
    aws.client("scheduler").update_schedule(
        Name="ops-pipeline-signal-engine-1m", ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"}, Target=TARGET, State="DISABLED")


def _end_schedule(aws: MotoServer) -> None:
    aws.client("scheduler").update_schedule(
        Name="ops-pipeline-healthcheck-5m", ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"}, Target=TARGET, State="ENABLED",
        EndDate=datetime(2026, 1, 1, tzinfo=UTC))


def _disable_rule(aws: MotoServer) -> None:
    aws.client("events").disable_rule(Name=RULE)


def _untarget_rule(aws: MotoServer) -> None:
    aws.client("events").remove_targets(Rule=RULE, Ids=["1"])


def _alarm(aws: MotoServer) -> None:
    aws.client("cloudwatch").set_alarm_state(AlarmName="ops-pipeline-feature-lag",
                                             StateValue="ALARM", StateReason="FeatureLag > 600")


def _silent_alarm(aws: MotoServer) -> None:
    aws.client("cloudwatch").set_alarm_state(
        AlarmName="ops-pipeline-telemetry-lag", StateValue="INSUFFICIENT_DATA",
        StateReason="the healthcheck Lambda stopped publishing")


def _delete_alarm(aws: MotoServer) -> None:
    aws.client("cloudwatch").delete_alarms(AlarmNames=["ops-pipeline-duplicate-executions"])


def _error_burst(aws: MotoServer) -> None:
    put_log_lines(aws, DISPATCHER_LOGS, ["ERROR - Alpaca order failed: insufficient buying power",
                                "ERROR - gate evaluation failed"])


def _no_log_group(aws: MotoServer) -> None:
    aws.client("logs").delete_log_group(logGroupName=DISPATCHER_LOGS)


def _lambda_errors(aws: MotoServer) -> None:
    put_lambda_metric(aws, HEALTHCHECK, "Errors", [0.0, 1.0, 1.0])


def _no_function(aws: MotoServer) -> None:
    aws.client("lambda").delete_function(FunctionName=HEALTHCHECK)


def _silent_trade_stream(aws: MotoServer) -> None:
    logs = aws.client("logs")
    logs.delete_log_group(logGroupName="/ecs/ops-pipeline/trade-stream")
    log_heartbeat(aws, seconds_ago=15 * 60)  # the last poll line 15 minutes ago


@pytest.mark.parametrize(("fault", "item", "says"), [
    pytest.param(_stop, "test_ecs_service_stable[telemetry-service]", "scaled to zero",
                 id="service-stopped"),
    pytest.param(_short, "test_ecs_service_stable[position-manager-tiny-service]",
                 "running 1 of 2", id="service-running-fewer-than-desired"),
    pytest.param(_disable_schedule, "test_schedule_enabled[ops-pipeline-schedules]",
                 "ops-pipeline-signal-engine-1m is DISABLED", id="schedule-disabled"),
    pytest.param(_disable_rule, "test_schedule_enabled[ticker-discovery]",
                 f"{RULE} is DISABLED", id="rule-disabled"),
    pytest.param(_untarget_rule, "test_schedule_enabled[ticker-discovery]",
                 "has no target", id="rule-without-target"),
    pytest.param(_alarm, "test_alarm_not_firing[ops-pipeline-alarms]",
                 "ops-pipeline-feature-lag (ALARM)", id="alarm-in-alarm"),
    pytest.param(_silent_alarm, "test_alarm_not_firing[ops-pipeline-alarms]",
                 "ops-pipeline-telemetry-lag (INSUFFICIENT_DATA)", id="alarm-without-data"),
    pytest.param(_error_burst, "test_log_errors[dispatcher]", "2 line(s) matching 'ERROR'",
                 id="error-burst"),
    pytest.param(_no_log_group, "test_log_errors[dispatcher]", "does not exist",
                 id="log-group-missing"),
    pytest.param(_lambda_errors, f"test_lambda_errors[{HEALTHCHECK}]", "2 error(s)",
                 id="lambda-errors"),
    pytest.param(_no_function, f"test_lambda_errors[{HEALTHCHECK}]", "does not exist",
                 id="lambda-missing"),
    pytest.param(_silent_trade_stream, "test_log_heartbeat[trade_stream_poll]",
                 "no event matching", id="trade-stream-poll-silent"),
])
def test_each_fault_fails_its_own_item_only(verify, config_file, pipeline, fault, item, says):
    fault(pipeline)
    run = _run(verify, config_file, pipeline.env)
    assert run.outcomes() == {**ITEMS, item: "failed"}, run.output
    assert says in run.message(item), run.message(item)
    assert run.returncode == 1
    pipeline_kind = item.startswith(("test_schedule", "test_alarm", "test_log_errors",
                                     "test_lambda"))
    if pipeline_kind and "does not exist" not in says:
        record = next(c for c in run.summary["checks"] if c["id"].endswith(item))
        assert record.get("fix"), record  # the failure says what to do about it


@pytest.mark.parametrize(("fault", "items"), [
    pytest.param(_end_schedule, ["test_schedule_enabled[ops-pipeline-schedules]",
                                 "test_schedule_enabled[healthcheck-5m]"], id="schedule-ended"),
    pytest.param(_delete_alarm, ["test_alarm_not_firing[ops-pipeline-alarms]",
                                 "test_alarm_not_firing[duplicate-executions]"],
                 id="named-alarm-deleted"),
])
def test_a_fault_fails_every_entry_that_covers_it(verify, config_file, pipeline, fault, items):
    fault(pipeline)
    run = _run(verify, config_file, pipeline.env)
    expected = {**ITEMS, **dict.fromkeys(items, "failed")}
    if fault is _delete_alarm:  # the prefix entry no longer sees it: 3 alarms, all OK
        expected["test_alarm_not_firing[ops-pipeline-alarms]"] = "passed"
    assert run.outcomes() == expected, run.output
    if fault is _delete_alarm:
        assert "CloudWatch alarm ops-pipeline-duplicate-executions does not exist" in \
            run.message("[duplicate-executions]")
    else:
        assert "ended at 2026-01-01" in run.message("[healthcheck-5m]")


EMPTY = '''
[[schedules]]
name = "no-schedules"
schedule_prefix = "ops-pipeline-staging-"

[[schedules]]
name = "no-rules"
rule_prefix = "ops-pipeline-staging-"

[[schedules]]
name = "no-schedule"
schedule = "ops-pipeline-dispatcher"

[[alarms]]
name = "no-alarms"
prefix = "ops-pipeline-staging-"

[[log_errors]]
name = "no-group"
log_group = "/ecs/ops-pipeline/nothing-here"

[[lambda_errors]]
name = "no-function"
function = "ops-pipeline-gone"
'''


def test_an_empty_match_is_a_failure_never_a_pass(verify, config_file, pipeline):
    run = _run(verify, config_file, pipeline.env, config=EMPTY)
    assert set(run.outcomes().values()) == {"failed"}, run.output
    assert len(run.outcomes()) == 6
    assert "the prefix matches nothing" in run.message("[no-schedules]")
    assert "the prefix matches nothing" in run.message("[no-rules]")
    assert "the prefix matches nothing" in run.message("[no-alarms]")
    assert "EventBridge schedule ops-pipeline-dispatcher does not exist" in \
        run.message("[no-schedule]")


def test_insufficient_data_passes_only_where_allowed_and_says_so(verify, config_file,
                                                                 pipeline):
    _silent_alarm(pipeline)
    entry = 'name = "ops-pipeline-alarms"\nprefix = "ops-pipeline-"\n'
    config = CONFIG.replace(entry, entry + "allow_insufficient_data = true\n")
    run = _run(verify, config_file, pipeline.env, config=config)
    assert run.outcomes() == ITEMS, run.output
    assert "INSUFFICIENT_DATA allowed: ops-pipeline-telemetry-lag" in \
        run.message("[ops-pipeline-alarms]")


def test_disabled_on_purpose_is_shown_not_hidden(verify, config_file, pipeline):
    _disable_schedule(pipeline)
    config = CONFIG.replace('schedule_prefix = "ops-pipeline-"\n', 'schedule_prefix = '
                            '"ops-pipeline-"\naccept_disabled = ["*-signal-engine-*"]\n')
    run = _run(verify, config_file, pipeline.env, config=config)
    assert run.outcomes() == ITEMS, run.output
    assert ("3 of 4 schedules enabled; disabled on purpose (accept_disabled): "
            "ops-pipeline-signal-engine-1m") in run.message("[ops-pipeline-schedules]")


def test_ecs_services_are_described_ten_to_a_call(verify, config_file, pipeline):
    """Fourteen services on two clusters: three describe_services calls, none over ten."""
    ecs = pipeline.client("ecs")
    extra = [f"worker-{i}" for i in range(6)]
    for name in extra:
        ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition="trade-stream",
                           desiredCount=1)
    ecs.create_cluster(clusterName="ops-pipeline-staging-cluster")
    for name in ("trade-stream", "dispatcher-service"):
        ecs.create_service(cluster="ops-pipeline-staging-cluster", serviceName=name,
                           taskDefinition="trade-stream", desiredCount=1 if name == "trade-stream"
                           else 0)
    config = "".join(
        f'[[ecs_services]]\nname = "{s}"\ncluster = "{CLUSTER}"\n' for s in (*SERVICES, *extra))
    config += ('[[ecs_services]]\nname = "staging-trade-stream"\nservice = "trade-stream"\n'
               'cluster = "ops-pipeline-staging-cluster"\n'
               '[[ecs_services]]\nname = "staging-dispatcher"\nservice = "dispatcher-service"\n'
               'cluster = "ops-pipeline-staging-cluster"\n')
    with aws_front(pipeline.endpoint) as front:
        run = _run(verify, config_file, {**pipeline.env, "AWS_ENDPOINT_URL_ECS": front.url},
                   "-k", "ecs", config=config)
    outcomes = run.outcomes()
    assert len(outcomes) == 14
    assert {k for k, v in outcomes.items() if v != "passed"} == {
        "test_ecs_service_stable[staging-dispatcher]"}, run.output
    described = [json.loads(body) for op, body in front.calls if op == "DescribeServices"]
    assert sorted(len(d["services"]) for d in described) == [2, 2, 10]
    assert {d["cluster"] for d in described} == {CLUSTER, "ops-pipeline-staging-cluster"}


@pytest.mark.parametrize(("operation", "status", "code", "items"), [
    ("DescribeServices", 400, "ThrottlingException", [f"test_ecs_service_stable[{s}]"
                                                      for s in SERVICES]),
    ("GetSchedule", 403, "AccessDeniedException", [
        "test_schedule_enabled[ops-pipeline-schedules]", "test_schedule_enabled[healthcheck-5m]"]),
    ("ListTargetsByRule", 400, "AccessDeniedException", [
        "test_schedule_enabled[ticker-discovery]"]),
    ("DescribeAlarms", 400, "Throttling", ["test_alarm_not_firing[ops-pipeline-alarms]",
                                           "test_alarm_not_firing[duplicate-executions]"]),
    ("FilterLogEvents", 400, "ThrottlingException", [
        "test_log_errors[dispatcher]", "test_log_heartbeat[trade_stream_poll]"]),
    ("GetMetricData", 403, "AccessDenied", [f"test_lambda_errors[{HEALTHCHECK}]"]),
    ("GetFunctionConfiguration", 403, "AccessDeniedException", [
        f"test_lambda_errors[{HEALTHCHECK}]"]),
])
def test_throttled_or_denied_calls_are_errors_never_passes(verify, config_file, pipeline,
                                                           operation, status, code, items):
    with aws_front(pipeline.endpoint, {operation: (status, code)}) as front:
        run = _run(verify, config_file, {**pipeline.env, "AWS_ENDPOINT_URL": front.url,
                                         "AWS_MAX_ATTEMPTS": "1"})
    assert operation in front.operations()
    assert run.outcomes() == {**ITEMS, **dict.fromkeys(items, "error")}, run.output
    assert code in run.message(items[0])
    assert run.returncode == 1


def test_without_aws_each_is_skipped_with_the_reason(verify, config_file):
    run = verify("--config", str(config_file(CONFIG)), paths=PATHS)
    assert set(run.outcomes().values()) == {"skipped"}
    assert all(c["message"].startswith("AWS checks are off") for c in run.summary["checks"])


def test_an_environment_points_entries_elsewhere(verify, config_file, pipeline):
    """staging's overrides: another alarm prefix (matching nothing: a failure), another
    log group; and its skip list."""
    config = CONFIG + '''
[environments.staging]
dsn = "host=/nonexistent dbname=x"
aws_region = "us-west-2"
skip = ["lambda_errors.*"]

[environments.staging.overrides]
"alarms.ops-pipeline-alarms" = { prefix = "ops-pipeline-staging-" }
"log_errors.dispatcher" = { log_group = "/ecs/ops-pipeline-staging/dispatcher", max_count = 5 }
'''
    put_log_lines(pipeline, "/ecs/ops-pipeline-staging/dispatcher", ["ERROR - x"] * 3)
    run = verify("--env", "staging", "--config", str(config_file(config)), env=pipeline.env,
                 paths=PATHS)
    outcomes = run.outcomes()
    assert outcomes["test_alarm_not_firing[ops-pipeline-alarms]"] == "failed"
    assert "ops-pipeline-staging-*" in run.message("[ops-pipeline-alarms]")
    assert outcomes["test_log_errors[dispatcher]"] == "passed"
    assert "3 line(s) matching 'ERROR' in /ecs/ops-pipeline-staging/dispatcher" in \
        run.message("[dispatcher]")
    assert outcomes[f"test_lambda_errors[{HEALTHCHECK}]"] == "skipped"


def test_settle_retries_alarms_but_never_error_counts(verify, config_file, pipeline):
    _alarm(pipeline)
    _error_burst(pipeline)
    run = _run(verify, config_file, pipeline.env, "--settle", "2s", "-k",
               "alarm_not_firing or log_errors")
    checks = {c["id"].split("::", 1)[1]: c for c in run.summary["checks"]}
    assert checks["test_alarm_not_firing[ops-pipeline-alarms]"]["outcome"] == "failed"
    assert checks["test_log_errors[dispatcher]"]["outcome"] == "failed"
    assert "attempts" not in checks["test_log_errors[dispatcher]"]


@pytest.mark.parametrize(("entry", "message"), [
    ('[[alarms]]\nname = "a"\n', "give exactly one of alarm, prefix; got none"),
    ('[[alarms]]\nname = "a"\nalarm = "x"\nprefix = "y"\n', "got alarm, prefix"),
    ('[[alarms]]\nname = "a"\nprefix = " "\n', "prefix must not be empty"),
    ('[[alarms]]\nname = "a"\nprefix = "x"\nallow_insufficent_data = true\n',
     "unknown key 'allow_insufficent_data'"),
    ('[[schedules]]\nname = "s"\n', "give exactly one of schedule, schedule_prefix"),
    ('[[schedules]]\nname = "s"\nrule = "r"\ngroup = "g"\n', "group is a Scheduler setting"),
    ('[[schedules]]\nname = "s"\nschedule_prefix = ""\n', "schedule_prefix must not be empty"),
    ('[[log_errors]]\nname = "l"\nlog_group = "/g"\nmax_count = -1\n', "out of range"),
    ('[[log_errors]]\nname = "l"\nlog_group = "/g"\nwindow = "0m"\n', "not a positive duration"),
    ('[[log_errors]]\nname = "l"\nlog_group = "/g"\npattern = ""\n', "name the error lines"),
    ('[[log_errors]]\nname = "l"\n', "missing required key 'log_group'"),
    ('[[lambda_errors]]\nname = "arn:aws:lambda:us-west-2:1:function:f"\n',
     "give the function's name"),
    ('[[lambda_errors]]\nname = "f"\nwindow = "15d"\n', "at most 14d"),
    ('[[lambda_errors]]\nname = "f"\nmin_invocations = 1.5\n', "expected an integer"),
    ('[[ecs_services]]\nname = "e"\nservice = ""\n', "must not be empty"),
])
def test_a_bad_entry_is_a_one_line_usage_error(entry, message, tmp_path: Path):
    from checks import config
    from checks.config import ConfigError

    path = tmp_path / "invariants.toml"
    path.write_text(entry)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as info:
        config.load(path)
    assert "\n" not in str(info.value)


def test_a_bad_entry_stops_the_run_before_anything(verify, config_file):
    run = verify("--aws", "--config", str(config_file('[[alarms]]\nname = "a"\n')),
                 env={"AWS_REGION": "us-west-2"}, paths=PATHS)
    assert run.returncode == 4
    assert "give exactly one of alarm, prefix" in run.output
