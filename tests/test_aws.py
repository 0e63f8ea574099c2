"""--aws: the trade-stream service seen from ECS and CloudWatch Logs (moto's real server)."""

from __future__ import annotations

import time

import pytest

from tests.conftest import log_heartbeat, trade_stream

ECS = "test_ecs_service_stable[trade-stream]"
LOGS = "test_log_heartbeat[trade_stream_logs]"


def _aws_outcomes(run) -> dict[str, str]:
    return {k: v for k, v in run.outcomes().items() if k in (ECS, LOGS)}


def test_healthy_service_passes(verify, database, aws_world):
    run = verify("--dsn", database.dsn, "--aws", env=aws_world.env)
    assert run.returncode == 0, run.output
    assert _aws_outcomes(run) == {ECS: "passed", LOGS: "passed"}
    assert "running 1 of 1" in run.message(ECS.split("test_ecs_service_stable")[1])
    assert aws_world.env["AWS_SECRET_ACCESS_KEY"] not in run.all_output()


@pytest.mark.xdist_group("healthy-run")
def test_without_aws_they_are_skipped_with_the_reason(healthy_run):
    run = healthy_run
    assert _aws_outcomes(run) == {ECS: "skipped", LOGS: "skipped"}
    assert "use --aws" in run.message("[trade-stream]")


@pytest.mark.parametrize(("fault", "expected"), [
    pytest.param("stale-log", {ECS: "passed", LOGS: "failed"}, id="heartbeat-3h-old"),
    pytest.param("no-log-group", {ECS: "passed", LOGS: "failed"}, id="log-group-missing"),
    pytest.param("scaled-to-zero", {ECS: "failed", LOGS: "passed"}, id="scaled-to-zero"),
    pytest.param("no-service", {ECS: "failed", LOGS: "passed"}, id="service-missing"),
])
def test_faults_fail_exactly_their_check(verify, database, moto_server, fault, expected):
    ecs = moto_server.client("ecs")
    ecs.create_cluster(clusterName="ops-pipeline-cluster")
    if fault != "no-service":
        ecs.register_task_definition(family="trade-stream", containerDefinitions=[
            {"name": "trade-stream", "image": "trade-stream:latest", "memory": 256}])
        ecs.create_service(cluster="ops-pipeline-cluster", serviceName="trade-stream",
                           taskDefinition="trade-stream", desiredCount=1)
    if fault == "scaled-to-zero":
        ecs.update_service(cluster="ops-pipeline-cluster", service="trade-stream", desiredCount=0)
    if fault == "stale-log":
        log_heartbeat(moto_server, seconds_ago=3 * 3600)
    elif fault == "no-log-group":
        log_heartbeat(moto_server, seconds_ago=1, group="/ecs/other-service")
    else:
        log_heartbeat(moto_server, seconds_ago=1)
    run = verify("--dsn", database.dsn, "--aws", env=moto_server.env)
    assert run.returncode == 1
    assert _aws_outcomes(run) == expected
    if fault == "no-log-group":
        assert "log group /ecs/ops-pipeline/trade-stream does not exist" in run.message(
            "[trade_stream_logs]")


def test_a_service_that_logs_only_errors_and_replays_is_not_alive(verify, database,
                                                                   moto_server):
    """Recent lines, none of them the healthy poll line: the log heartbeat fails."""
    trade_stream(moto_server, heartbeat_age_s=3 * 3600)
    now = int(time.time() * 1000)
    moto_server.client("logs").put_log_events(
        logGroupName="/ecs/ops-pipeline/trade-stream", logStreamName="trade-stream/task-1",
        logEvents=[{"timestamp": now - 2000, "message": "ERROR - WebSocket disconnected; "
                    "heartbeat timeout, reconnecting"},
                   {"timestamp": now - 1000, "message": "INFO - Event already processed: e-1"}])
    run = verify("--dsn", database.dsn, "--aws", env=moto_server.env)
    assert _aws_outcomes(run) == {ECS: "passed", LOGS: "failed"}


def test_unreachable_aws_is_an_error(verify, database):
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "AKIATESTING",
           "AWS_SECRET_ACCESS_KEY": "x" * 20, "AWS_REGION": "us-west-2",
           "AWS_MAX_ATTEMPTS": "1"}
    run = verify("--dsn", database.dsn, "--aws", env=env)
    assert run.returncode == 1
    assert _aws_outcomes(run) == {ECS: "error", LOGS: "error"}


def test_an_unexpected_task_definition_fails_with_the_services_events(verify, database,
                                                                     aws_world, config_file):
    config = config_file('[[ecs_services]]\nname = "pinned"\ncluster = "ops-pipeline-cluster"\n'
                         'service = "trade-stream"\ntask_definition = "trade-stream:7"\n'
                         '[[ecs_services]]\nname = "family"\ncluster = "ops-pipeline-cluster"\n'
                         'service = "trade-stream"\ntask_definition = "trade-stream"\n')
    run = verify("--dsn", database.dsn, "--aws", "--config", str(config), "-k", "ecs",
                 env=aws_world.env)
    assert run.outcomes() == {"test_ecs_service_stable[pinned]": "failed",
                              "test_ecs_service_stable[family]": "passed"}
    assert "runs trade-stream:1, expected trade-stream:7" in run.message("[pinned]")
    titles = [e["title"] for e in run.detail("[pinned]")["evidence"]]
    assert titles == ["Deployments", "Recent service events"]


def test_the_log_check_counts_already_processed_events(verify, database, aws_world):
    logs = aws_world.client("logs")
    import time

    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/ecs/ops-pipeline/trade-stream",
                        logStreamName="trade-stream/task-1", logEvents=[
                            {"timestamp": now - 2000 + i, "message": f"INFO - Event already "
                             f"processed: fill_ord-{i}"} for i in range(3)])
    run = verify("--dsn", database.dsn, "--aws", "-k", "log_heartbeat", env=aws_world.env)
    assert run.outcomes() == {"test_log_heartbeat[trade_stream_logs]": "passed"}
    evidence = run.detail("trade_stream_logs")["evidence"]
    assert evidence[1]["title"] == "Events in the window matching 'Event already processed'"
    assert evidence[1]["rows"][0][0] == 3
