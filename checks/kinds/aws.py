"""The trade-stream service seen from AWS: the ECS service is stable, its logs are recent.

A missing cluster, service or log group is a failure that says so; missing credentials,
an unreachable endpoint or a refused call is an error, never a pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from checks.config import Common, ConfigError, Duration, duration_ms
from checks.kinds.base import Facts, Kind
from checks.kinds.freshness import human
from checks.need import Env, Need
from checks.outcome import CouldNotCheck, Evidence, Outcome, failed, passed, skipped

OFF_REASON = ("AWS checks are off: use --aws (on by default with --via-lambda and for "
              "environments with AWS settings)")
NOT_FOUND = ("ResourceNotFoundException", "ClusterNotFoundException",
             "ServiceNotFoundException")
MAX_PAGES = 100


@dataclass(frozen=True)
class AwsCall(Need):
    """One read-only AWS API call; a not-found answer is a result (the check decides)."""

    reads = "aws"
    service: str
    operation: str
    params: str
    """The call's parameters as JSON (so that the need is hashable)."""

    def run(self, env: Env) -> dict[str, Any]:
        assert env.aws is not None
        client = env.aws.client(self.service)
        return call_aws(lambda: getattr(client, self.operation)(**json.loads(self.params)),
                     f"{self.service} {self.operation}")


@dataclass(frozen=True)
class LogWindow(Need):
    """Events of a log group matching a filter pattern in a time window: the newest one
    and how many, all pages followed (empty pages with a token do not mean the end)."""

    reads = "aws"
    group: str
    pattern: str
    start_ms: int
    end_ms: int

    def run(self, env: Env) -> dict[str, Any]:
        assert env.aws is not None
        logs = env.aws.client("logs")
        request: dict[str, Any] = {"logGroupName": self.group, "startTime": self.start_ms,
                                   "endTime": self.end_ms}
        if self.pattern:
            request["filterPattern"] = self.pattern
        newest: dict[str, Any] | None = None
        count = 0
        for _ in range(MAX_PAGES):
            page = call_aws(lambda: logs.filter_log_events(**request), f"log group {self.group}")
            if "error" in page:
                return page
            for event in page.get("events", []):
                count += 1
                if newest is None or event["timestamp"] > newest["timestamp"]:
                    newest = event
            if "nextToken" not in page:
                return {"newest": newest, "count": count}
            request["nextToken"] = page["nextToken"]
        raise CouldNotCheck(f"{self.group}: no end after {MAX_PAGES} pages of events")


def call_aws(action: Any, what: str) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return action()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") in NOT_FOUND:
            return {"error": error.get("Code"), "message": error.get("Message", "")}
        raise CouldNotCheck(f"{what}: {error.get('Code', '')} {error.get('Message', exc)}"
                            .strip()) from None
    except BotoCoreError as exc:
        raise CouldNotCheck(f"{what}: {str(exc).splitlines()[0]}") from None


@dataclass(frozen=True)
class EcsService(Common):
    """An ECS service that must be stable: active, running what it should, rolled out."""

    name: str
    cluster: str = "ops-pipeline-cluster"
    service: str = "trade-stream"
    task_definition: str | None = None
    """The expected task definition: ``family`` or ``family:revision``."""

    @property
    def id(self) -> str:
        return self.name


def _describe(s: EcsService) -> AwsCall:
    return AwsCall("ecs", "describe_services",
                   json.dumps({"cluster": s.cluster, "services": [s.service]}))


def ecs_needs(s: EcsService, facts: Facts) -> list[Need]:
    return [] if facts.aws_off else [_describe(s)]


def ecs_service_stable(s: EcsService, facts: Facts) -> Outcome:
    """Passed when the service is ACTIVE, runs as many tasks as desired (more than none),
    has one deployment whose rollout COMPLETED, and runs the expected task definition:
    what botocore's ``services_stable`` waiter means by stable, and more."""
    if facts.aws_off:
        return skipped(facts.aws_off)
    answer = facts[_describe(s)]
    if answer.get("error"):
        return failed(f"ECS cluster {s.cluster} does not exist ({answer['message']})")
    if not answer.get("services"):
        reasons = ", ".join(f.get("reason", "?") for f in answer.get("failures", []))
        return failed(f"ECS service {s.service} not found in cluster {s.cluster} ({reasons})")
    svc = answer["services"][0]
    deployments = svc.get("deployments", [])
    running, desired = svc.get("runningCount"), svc.get("desiredCount", 0)
    evidence = [Evidence("Deployments", ("id", "status", "rollout", "task definition",
                                         "desired", "running", "pending", "failed tasks"),
                         [(d.get("id"), d.get("status"), d.get("rolloutState"),
                           _task(d.get("taskDefinition")), d.get("desiredCount"),
                           d.get("runningCount"), d.get("pendingCount"), d.get("failedTasks"))
                          for d in deployments])]
    state = (f"{svc.get('status')}, {len(deployments)} deployment(s), running "
             f"{running} of {desired}, task definition {_task(svc.get('taskDefinition'))}")
    problems = unsettled(svc)
    if s.task_definition and not _task_matches(svc.get("taskDefinition"), s.task_definition):
        problems.append(f"runs {_task(svc.get('taskDefinition'))}, expected {s.task_definition}")
    if problems:
        events = [(e.get("createdAt"), e.get("message")) for e in svc.get("events", [])[:5]]
        evidence.append(Evidence("Recent service events", ("at", "message"), events))
        return failed(f"{s.service} is not stable ({'; '.join(problems)}): {state}", *evidence)
    return passed(f"{s.service} is stable: {state}", *evidence)


def unsettled(svc: dict[str, Any]) -> list[str]:
    """Why a described ECS service is not a finished rollout (none when it is): ACTIVE,
    more than zero tasks desired and all running, one deployment, its rollout COMPLETED."""
    running, desired = svc.get("runningCount"), svc.get("desiredCount", 0)
    deployments = svc.get("deployments", [])
    problems = []
    if svc.get("status") != "ACTIVE":
        problems.append(f"status {svc.get('status')}")
    if desired == 0:
        problems.append("scaled to zero")
    if running != desired:
        problems.append(f"running {running} of {desired}")
    if len(deployments) != 1:
        problems.append("a deployment is still in progress")
    rollouts = {d.get("rolloutState") for d in deployments if d.get("rolloutState")}
    if "FAILED" in rollouts:
        problems.append("a rollout FAILED")
    elif rollouts - {"COMPLETED"}:
        problems.append(f"rollout {', '.join(sorted(rollouts - {'COMPLETED'}))}")
    return problems


def _task(arn: str | None) -> str:
    """``family:revision`` of a task definition ARN."""
    return (arn or "?").rsplit("/", 1)[-1]


def _task_matches(arn: str | None, expected: str) -> bool:
    family_revision = _task(arn)
    return family_revision == expected if ":" in expected else \
        family_revision.split(":")[0] == expected


@dataclass(frozen=True)
class LogHeartbeat(Common):
    """A log group must hold an event matching ``pattern`` within ``max_age``."""

    name: str
    pattern: str
    """A CloudWatch Logs filter pattern for the line the service writes while healthy,
    e.g. ``'"Account activities: fetched="'`` (any line would count its errors too)."""
    log_group: str = "/ecs/ops-pipeline/trade-stream"
    max_age: Duration = "10m"
    count_pattern: str = ""
    """Events of the window to count and show (e.g. ``"Event already processed"``)."""

    def __post_init__(self) -> None:
        if not self.pattern.strip():
            raise ConfigError("pattern: name the line the service writes while healthy (an "
                              "empty pattern counts every line, its errors too)")

    @property
    def id(self) -> str:
        return self.name


def _windows(h: LogHeartbeat, facts: Facts) -> tuple[LogWindow, LogWindow | None]:
    end = int(facts.now.timestamp() * 1000)
    start = end - duration_ms(h.max_age)
    main = LogWindow(h.log_group, h.pattern, start, end)
    counted = LogWindow(h.log_group, _phrase(h.count_pattern), start, end) \
        if h.count_pattern else None
    return main, counted


def _phrase(text: str) -> str:
    return text if text.startswith(("\"", "{", "[", "?", "%")) else json.dumps(text)


def log_needs(h: LogHeartbeat, facts: Facts) -> list[Need]:
    return [] if facts.aws_off else [w for w in _windows(h, facts) if w]


def log_heartbeat(h: LogHeartbeat, facts: Facts) -> Outcome:
    """Passed when the log group has a matching event within ``max_age`` (the newest
    event found by a time-bounded search, not the lagging ``lastEventTimestamp``)."""
    if facts.aws_off:
        return skipped(facts.aws_off)
    main, counted = _windows(h, facts)
    found = facts[main]
    if found.get("error"):
        return failed(f"log group {h.log_group} does not exist")
    what = f"event matching {h.pattern!r}" if h.pattern else "event"
    extra = []
    if counted is not None:
        tally = facts[counted]
        if not tally.get("error"):
            extra.append(Evidence(f"Events in the window matching {h.count_pattern!r}",
                                  ("count", "window"), [(tally["count"], h.max_age)]))
    newest = found["newest"]
    if newest is None:
        return failed(f"no {what} in {h.log_group} within the last {h.max_age}", *extra)
    age_s = max(0.0, (main.end_ms - newest["timestamp"]) / 1000)
    return passed(f"newest {what} in {h.log_group} is {human(age_s)} old (max {h.max_age}); "
                  f"{found['count']} in the window",
                  Evidence("Newest event", ("stream", "age", "message"),
                           [(newest.get("logStreamName"), human(age_s),
                             str(newest.get("message", ""))[:200])]), *extra
                  ).with_figures(age_s=age_s, max_age_s=duration_ms(h.max_age) / 1000,
                                 events=found["count"]).moved_to(str(newest["timestamp"]))


ECS = Kind("ecs_service_stable", "heartbeat", ecs_service_stable, ecs_needs,
           section="ecs_services", spec=EcsService, reads=frozenset({"aws"}), converging=True)
LOGS = Kind("log_heartbeat", "heartbeat", log_heartbeat, log_needs, section="log_heartbeats",
            spec=LogHeartbeat, reads=frozenset({"aws"}), converging=True)
