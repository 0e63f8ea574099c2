"""The services seen from AWS: ECS services are stable, their logs are recent.

A missing cluster, service or log group is a failure that says so; missing credentials,
an unreachable endpoint or a refused call (throttled, denied) is an error, never a pass.
The shared pieces of every AWS kind live here: one read-only call, a time-bounded log
search, and the reason AWS checks are skipped.
"""

from __future__ import annotations

import heapq
import json
import shlex
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from checks.config import Common, ConfigError, Duration, duration_ms
from checks.kinds.base import Facts, Kind
from checks.need import Env, Need
from checks.outcome import CouldNotCheck, Evidence, Outcome, failed, human, passed, skipped
from checks.selftest import faults as f

OFF_REASON = ("AWS checks are off: use --aws (on by default with --via-lambda and for "
              "environments with AWS settings)")
NOT_FOUND = ("ResourceNotFoundException", "ClusterNotFoundException",
             "ServiceNotFoundException")
MAX_PAGES = 100
ECS_BATCH = 10
"""describe_services takes at most ten services per call (the API's limit)."""


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
    """Events of a log group matching a filter pattern in a time window: how many, and the
    newest ``keep`` of them (at least the newest one), all pages followed (empty pages
    with a token do not mean the end). ``complete`` is false when the search stopped at
    the page cap: the count is then a lower bound."""

    reads = "aws"
    group: str
    pattern: str
    start_ms: int
    end_ms: int
    keep: int = 1

    def run(self, env: Env) -> dict[str, Any]:
        assert env.aws is not None
        logs = env.aws.client("logs")
        request: dict[str, Any] = {"logGroupName": self.group, "startTime": self.start_ms,
                                   "endTime": self.end_ms}
        if self.pattern:
            request["filterPattern"] = self.pattern
        newest: list[tuple[int, int, dict[str, Any]]] = []  # a min-heap of the newest events
        count = 0
        for _ in range(MAX_PAGES):
            page = call_aws(lambda: logs.filter_log_events(**request), f"log group {self.group}")
            if "error" in page:
                return page
            for event in page.get("events", []):
                count += 1
                item = (event["timestamp"], count, event)
                if len(newest) < max(self.keep, 1):
                    heapq.heappush(newest, item)
                elif item[0] > newest[0][0]:
                    heapq.heapreplace(newest, item)
            if "nextToken" not in page:
                return self._found(newest, count, complete=True)
            request["nextToken"] = page["nextToken"]
        return self._found(newest, count, complete=False)

    @staticmethod
    def _found(newest: list[tuple[int, int, dict[str, Any]]], count: int, *, complete: bool
               ) -> dict[str, Any]:
        events = [e for _, _, e in sorted(newest, key=lambda i: (-i[0], -i[1]))]
        return {"newest": events[0] if events else None, "events": events, "count": count,
                "complete": complete}


def tally_text(found: dict[str, Any]) -> str | int:
    """A log search's count, as a lower bound when the search stopped at the page cap."""
    return found["count"] if found["complete"] else f"at least {found['count']}"


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


def pages(call: Any, what: str, token: str = "NextToken", **request: Any) -> list[dict[str, Any]]:
    """Every page of a paginated read (``token`` names the continuation key); a not-found
    answer is the one page; more than MAX_PAGES pages is an error, never a partial list."""
    found = []
    for _ in range(MAX_PAGES):
        page = call_aws(lambda: call(**request), what)
        found.append(page)
        if "error" in page or not page.get(token):
            return found
        request[token] = page[token]
    raise CouldNotCheck(f"{what}: no end after {MAX_PAGES} pages")


@dataclass(frozen=True)
class EcsService(Common):
    """An ECS service that must be stable: active, running what it should, rolled out."""

    name: str
    cluster: str = "ops-pipeline-cluster"
    service: str | None = None
    """The service's name or ARN (default: the entry's ``name``)."""
    task_definition: str | None = None
    """The expected task definition: ``family`` or ``family:revision``."""

    def __post_init__(self) -> None:
        if not self.cluster.strip() or (self.service is not None and not self.service.strip()):
            raise ConfigError("cluster and service must not be empty")

    @property
    def id(self) -> str:
        return self.name

    @property
    def service_name(self) -> str:
        return self.service or self.name


@dataclass(frozen=True)
class EcsDescribe(Need):
    """One ECS service as ``describe_services`` shows it. The services of one cluster are
    described together, ten names per call (the API's limit), never one call each."""

    reads = "aws"
    cluster: str
    service: str

    def batch(self) -> str:
        return self.cluster

    @classmethod
    def run_batch(cls, needs: list[EcsDescribe], env: Env) -> dict[Any, Any]:
        assert env.aws is not None
        ecs = env.aws.client("ecs")
        cluster = needs[0].cluster
        results: dict[Any, Any] = {}
        for start in range(0, len(needs), ECS_BATCH):
            chunk = needs[start:start + ECS_BATCH]
            names = list(dict.fromkeys(n.service for n in chunk))
            try:
                answer = call_aws(lambda names=names: ecs.describe_services(
                    cluster=cluster, services=names), f"ECS cluster {cluster}")
            except CouldNotCheck as exc:  # throttled or denied: this call's services error
                results.update(dict.fromkeys(chunk, exc))
                continue
            results.update({n: _one_service(answer, n) for n in chunk})
        return results


def _one_service(answer: dict[str, Any], need: EcsDescribe) -> Any:
    """One service's part of a describe_services answer: the service, or why it is not
    there; a service the answer does not mention is an error, never a pass."""
    if answer.get("error"):
        return answer
    named = [svc for svc in answer.get("services", [])
             if need.service in (svc.get("serviceName"), svc.get("serviceArn"))]
    if named:  # a service deleted and created again may also be there, INACTIVE
        return {"service": next((s for s in named if s.get("status") == "ACTIVE"), named[0])}
    for failure in answer.get("failures", []):
        arn = failure.get("arn", "")
        if need.service in (arn, arn.rsplit("/", 1)[-1]):
            return {"failure": failure.get("reason", "?")}
    return CouldNotCheck(f"ECS service {need.service}: describe_services on cluster "
                         f"{need.cluster} answered neither the service nor a failure for it")


def _describe(s: EcsService) -> EcsDescribe:
    return EcsDescribe(s.cluster, s.service_name)


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
    if "failure" in answer:
        return failed(f"ECS service {s.service_name} not found in cluster {s.cluster} "
                      f"({answer['failure']})")
    svc = answer["service"]
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
        return failed(f"{s.service_name} is not stable ({'; '.join(problems)}): {state}", *evidence)
    return passed(f"{s.service_name} is stable: {state}", *evidence)


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
                                  ("count", "window"), [(tally_text(tally), h.max_age)]))
    newest = found["newest"]
    if newest is None and not found["complete"]:
        raise CouldNotCheck(f"{h.log_group}: no end after {MAX_PAGES} pages of events")
    if newest is None:
        return failed(f"no {what} in {h.log_group} within the last {h.max_age}", *extra)
    age_s = max(0.0, (main.end_ms - newest["timestamp"]) / 1000)
    return passed(f"newest {what} in {h.log_group} is {human(age_s)} old (max {h.max_age}); "
                  f"{tally_text(found)} in the window",
                  Evidence("Newest event", ("stream", "age", "message"),
                           [(newest.get("logStreamName"), human(age_s),
                             str(newest.get("message", ""))[:200])]), *extra
                  ).with_figures(age_s=age_s, max_age_s=duration_ms(h.max_age) / 1000,
                                 events=found["count"]).moved_to(str(newest["timestamp"]))


# ---------------------------------------------------------------- self-test faults
def matching_line(pattern: str) -> str:
    """A log line a CloudWatch Logs filter pattern of terms matches: its terms, without
    the ``?`` of alternatives and the quotes of phrases (a ``-term`` is left out)."""
    try:
        terms = shlex.split(pattern)
    except ValueError:
        terms = pattern.split()
    words = [t.lstrip("?") for t in terms if t and not t.startswith("-")]
    return " ".join([*words, f"({f.INJECTED})"])


def put_events(account: f.AwsAccount, group: str, messages: list[str], seconds_ago: float,
               stream: str = f.INJECTED) -> None:
    """The log group (made if missing) with these events, ``seconds_ago``."""
    logs = account.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        account.call("logs", "create_log_group", logGroupName=group)
        account.call("logs", "create_log_stream", logGroupName=group, logStreamName=stream)
    if messages:
        at = int((time.time() - seconds_ago) * 1000)
        account.call("logs", "put_log_events", logGroupName=group, logStreamName=stream,
                     logEvents=[{"timestamp": at + i, "message": m}
                                for i, m in enumerate(messages)])


def _named(text: str, what: str) -> str:
    if text.startswith("arn:"):
        raise f.NotProven(f"the {what} is named by an ARN ({text}), which the local stand-in "
                          "cannot make: name it by its name")
    return text


def _service(s: EcsService, account: f.AwsAccount, desired: int = 1) -> None:
    """The cluster, the task definition (at the expected revision) and the service,
    running what it should: a finished rollout."""
    cluster, name = _named(s.cluster, "cluster"), _named(s.service_name, "service")
    family, _, revision = (s.task_definition or name).partition(":")
    account.call("ecs", "create_cluster", clusterName=cluster)
    for _ in range(int(revision) if revision.isdigit() else 1):
        account.call("ecs", "register_task_definition", family=family, containerDefinitions=[
            {"name": family, "image": f"{family}:{f.INJECTED}", "memory": 256}])
    account.call("ecs", "create_service", cluster=cluster, serviceName=name,
                 taskDefinition=f"{family}:{revision}" if revision else family,
                 desiredCount=1)
    if desired != 1:
        account.call("ecs", "update_service", cluster=cluster, service=name,
                     desiredCount=desired)


def _ecs_faults(s: EcsService, base: f.Base) -> f.Faults:
    revision = (s.task_definition or "").partition(":")[2]
    if revision.isdigit() and int(revision) > 100:
        return f.unproven(f"task definition revision {revision}: the local stand-in would "
                          "register it that many times")
    return f.of(f.Fault(f"scale {s.service_name} to zero", partial(_service, s, desired=0),
                        names=(s.service_name, "scaled to zero"), on="aws"),
                healthy=partial(_service, s))


def _heartbeat(h: LogHeartbeat, seconds_ago: float, account: f.AwsAccount) -> None:
    put_events(account, h.log_group, [matching_line(h.pattern)], seconds_ago)


def _heartbeat_faults(h: LogHeartbeat, base: f.Base) -> f.Faults:
    max_age_s = duration_ms(h.max_age) / 1000
    return f.of(f.Fault(f"silence {h.log_group} (its last line {h.max_age} and an hour ago)",
                        partial(_heartbeat, h, max_age_s + 3600),
                        names=(h.log_group, "no event"), on="aws"),
                healthy=partial(_heartbeat, h, min(5, max_age_s / 2)))


ECS = Kind("ecs_service_stable", "heartbeat", ecs_service_stable, ecs_needs,
           section="ecs_services", spec=EcsService, reads=frozenset({"aws"}), converging=True,
           faults=_ecs_faults)
LOGS = Kind("log_heartbeat", "heartbeat", log_heartbeat, log_needs, section="log_heartbeats",
            spec=LogHeartbeat, reads=frozenset({"aws"}), converging=True,
            faults=_heartbeat_faults)
