"""The pipeline kinds' judges on plain answers: the corners moto cannot produce (a search
cut at the page cap, a state nobody documents, a service AWS leaves out of its answer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checks.kinds import REGISTRY
from checks.kinds.alarms import ALARM_NOT_FIRING, Alarms
from checks.kinds.ecs_services import ECS, EcsDescribe, EcsService, _one_service
from checks.kinds.lambda_errors import LAMBDA_ERRORS, LambdaErrors
from checks.kinds.log_errors import LOG_ERRORS, LogErrors
from checks.kinds.log_heartbeats import LOGS, LogHeartbeat
from checks.kinds.schedules import SCHEDULE_ENABLED, Schedules
from checks.outcome import CouldNotCheck, Status
from tests.judging import NOW, context, judged


def _events(count: int, *, complete: bool) -> dict[str, Any]:
    events = [{"timestamp": int(NOW.timestamp() * 1000) - i, "logStreamName": "s",
               "message": "ERROR - x"} for i in range(min(count, 10))]
    return {"newest": events[0] if events else None, "events": events, "count": count,
            "complete": complete}


def test_converging_kinds_are_the_states_a_deploy_converges_to():
    converging = {k.name for k in REGISTRY.values() if k.converging}
    assert {"ecs_service_stable", "alarm_not_firing"} <= converging
    # counts over a past window would settle only by letting a burst slide out of it
    assert not {"log_errors", "lambda_errors", "schedule_enabled"} & converging


def test_an_error_search_cut_at_the_page_cap_fails_only_with_too_many_already():
    spec = LogErrors(name="d", log_group="/g", max_count=5)
    many = judged(LOG_ERRORS, spec, errors=_events(1_000_000, complete=False))
    assert many.status is Status.FAILED
    assert "at least 1000000 line(s)" in many.message
    with pytest.raises(CouldNotCheck, match="no end after 100 pages"):
        judged(LOG_ERRORS, spec, errors=_events(3, complete=False))


def test_a_heartbeat_search_cut_at_the_page_cap_with_nothing_found_is_an_error():
    spec = LogHeartbeat(name="h", pattern='"poll"')
    with pytest.raises(CouldNotCheck, match="no end after 100 pages"):
        judged(LOGS, spec, heartbeat=_events(0, complete=False))


@pytest.mark.parametrize(("item", "verdict"), [
    ({"state": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", "targets": 1}, None),
    ({"state": None}, "is ?"),
    ({"state": "ENABLED", "start": (NOW + timedelta(days=1)).isoformat()}, "starts only at"),
    ({"state": "ENABLED", "end": NOW.isoformat()}, "ended at"),
    ({"state": "ENABLED", "targets": 0}, "has no target"),
])
def test_what_makes_a_schedule_not_fire(item, verdict):
    spec = Schedules(name="s", rule_prefix="ops-")
    found = {"found": [{"name": "ops-x", "expression": "rate(1 minute)", **item}]}
    outcome = judged(SCHEDULE_ENABLED, spec, schedules=found)
    if verdict is None:
        assert outcome.status is Status.PASSED, outcome.message
    else:
        assert outcome.status is Status.FAILED
        assert f"ops-x {verdict}" in outcome.message


def test_an_alarm_state_nobody_documents_is_not_ok():
    spec = Alarms(name="a", prefix="ops-")
    found = [{"name": "ops-a", "type": "metric", "state": "PENDING", "since": "", "reason": "",
              "actions": True}]
    outcome = judged(ALARM_NOT_FIRING, spec, alarms=found)
    assert outcome.status is Status.FAILED
    assert "ops-a (PENDING)" in outcome.message


def test_a_named_alarm_is_matched_by_its_whole_name():
    spec = Alarms(name="a", alarm="ops-pipeline-lag")
    found = [{"name": "ops-pipeline-lag-2", "type": "metric", "state": "OK", "since": "",
              "reason": "", "actions": True}]
    outcome = judged(ALARM_NOT_FIRING, spec, alarms=found)
    assert outcome.status is Status.FAILED
    assert "does not exist" in outcome.message


def test_a_service_the_answer_leaves_out_is_an_error_and_the_active_one_wins():
    need = EcsDescribe("c", "trade-stream")
    assert isinstance(_one_service({"services": [], "failures": []}, need), CouldNotCheck)
    inactive = {"serviceName": "trade-stream", "status": "INACTIVE"}
    active = {"serviceName": "trade-stream", "status": "ACTIVE"}
    assert _one_service({"services": [inactive, active]}, need) == {"service": active}
    missing = {"services": [], "failures": [
        {"arn": "arn:aws:ecs:us-west-2:1:service/c/trade-stream", "reason": "MISSING"}]}
    assert _one_service(missing, need) == {"failure": "MISSING"}


def test_a_service_is_stable_when_rolled_out_on_its_task_definition():
    spec = EcsService(name="trade-stream", task_definition="trade-stream:42")
    service = {"status": "ACTIVE", "desiredCount": 1, "runningCount": 1,
               "taskDefinition": "arn:aws:ecs:us-west-2:1:task-definition/trade-stream:42",
               "deployments": [{"id": "d1", "rolloutState": "COMPLETED"}]}
    stable = judged(ECS, spec, service={"service": service})
    assert stable.status is Status.PASSED and stable.message.startswith("trade-stream is stable")
    old = {**service, "taskDefinition": service["taskDefinition"].replace(":42", ":41")}
    moved = judged(ECS, spec, service={"service": old})
    assert moved.status is Status.FAILED and "runs trade-stream:41, expected trade-stream:42" \
        in moved.message
    gone = judged(ECS, spec, service={"failure": "MISSING"})
    assert gone.message == "ECS service trade-stream not found in cluster ops-pipeline-cluster " \
        "(MISSING)"


def _metrics(errors: list[float], invocations: list[float]) -> dict[str, Any]:
    return {"Errors": {"sum": sum(errors), "datapoints": len(errors)},
            "Invocations": {"sum": sum(invocations), "datapoints": len(invocations)},
            "Throttles": {"sum": 0.0, "datapoints": 0}}


@pytest.mark.parametrize(("spec", "metrics", "status", "says"), [
    (LambdaErrors(name="f"), _metrics([], []), Status.PASSED, "not invoked"),
    (LambdaErrors(name="f", min_invocations=1), _metrics([], []), Status.FAILED,
     "fewer than min_invocations 1"),
    (LambdaErrors(name="f", max_errors=1), _metrics([0, 1, 1], [1, 1, 1]), Status.FAILED,
     "2 error(s), more than 1"),
    (LambdaErrors(name="f", max_errors=2), _metrics([0, 1, 1], [1, 1, 1]), Status.PASSED,
     "invoked 3 time(s)"),
])
def test_lambda_errors_and_invocations(spec, metrics, status, says):
    outcome = judged(LAMBDA_ERRORS, spec, function={"FunctionName": "f"}, metrics=metrics)
    assert outcome.status is status
    assert says in outcome.message


def test_the_lambda_window_is_whole_minutes_around_it():
    sums = LAMBDA_ERRORS.needs(LambdaErrors(name="f", window="1h"), context())["metrics"]
    assert sums.start == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    assert sums.end == datetime(2026, 3, 2, 15, 31, tzinfo=UTC)
