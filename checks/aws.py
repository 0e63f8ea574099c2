"""The trade-stream service seen from AWS: the ECS service is stable, its logs show a heartbeat."""

from __future__ import annotations

import os
import time
from typing import Any

from checks.config import EcsService, LogHeartbeat, duration_ms
from checks.context import Context
from checks.outcome import CouldNotCheck, Evidence, Outcome, failed, passed, skipped

OFF_REASON = ("AWS checks are off: use --aws (on by default with --via-lambda and for "
              "environments with AWS settings)")
_MAX_PAGES = 50


class Aws:
    """boto3 clients from the standard chain, with an environment's region and profile."""

    def __init__(self, region: str | None = None, profile: str | None = None) -> None:
        self._region = region or os.environ.get("AWS_REGION") or None
        self._profile = profile
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            try:
                session = boto3.Session(profile_name=self._profile, region_name=self._region)
                self._clients[service] = session.client(service, config=Config(
                    connect_timeout=5, read_timeout=20,
                    retries={"mode": "standard", "total_max_attempts": 3}))
            except Exception as exc:  # botocore: unknown profile, no region...
                raise CouldNotCheck(f"cannot set up the {service} client: {exc}") from None
        return self._clients[service]


def ecs_service_stable(ctx: Context, s: EcsService) -> Outcome:
    """Passed when the service is ACTIVE with exactly one deployment and running equals
    desired (> 0): what botocore's ``services_stable`` waiter means by stable."""
    if ctx.aws is None:
        return skipped(OFF_REASON)
    answer = _call(lambda: ctx.aws.client("ecs").describe_services(
        cluster=s.cluster, services=[s.service]), f"ECS service {s.cluster}/{s.service}")
    if not answer.get("services"):
        reasons = ", ".join(f.get("reason", "?") for f in answer.get("failures", []))
        return failed(f"ECS service {s.service} not found in cluster {s.cluster} ({reasons})")
    svc = answer["services"][0]
    deployments = svc.get("deployments", [])
    evidence = Evidence("Deployments", ("id", "status", "rollout", "desired", "running",
                                        "pending", "failed tasks"),
                        [(d.get("id"), d.get("status"), d.get("rolloutState"),
                          d.get("desiredCount"), d.get("runningCount"),
                          d.get("pendingCount"), d.get("failedTasks")) for d in deployments])
    state = (f"{svc.get('status')}, {len(deployments)} deployment(s), running "
             f"{svc.get('runningCount')}/{svc.get('desiredCount')}")
    problems = []
    if svc.get("status") != "ACTIVE":
        problems.append(f"status {svc.get('status')}")
    if svc.get("desiredCount", 0) == 0:
        problems.append("scaled to zero")
    if svc.get("runningCount") != svc.get("desiredCount"):
        problems.append("running differs from desired")
    if len(deployments) != 1:
        problems.append("a deployment is still in progress")
    if any(d.get("rolloutState") == "FAILED" for d in deployments):
        problems.append("a rollout FAILED")
    if problems:
        return failed(f"{s.service} is not stable ({'; '.join(problems)}): {state}", evidence)
    return passed(f"{s.service} is stable: {state}", evidence)


def log_heartbeat(ctx: Context, h: LogHeartbeat) -> Outcome:
    """Passed when the log group has a matching event within ``max_age``; a log group that
    does not exist is a failure, never a pass."""
    if ctx.aws is None:
        return skipped(OFF_REASON)
    logs = ctx.aws.client("logs")
    now_ms = int(time.time() * 1000)
    request: dict[str, Any] = {"logGroupName": h.log_group,
                               "startTime": now_ms - duration_ms(h.max_age)}
    if h.pattern:
        request["filterPattern"] = h.pattern
    newest: dict[str, Any] | None = None
    for _ in range(_MAX_PAGES):
        page = _call(lambda: logs.filter_log_events(**request), f"log group {h.log_group}",
                     missing=f"log group {h.log_group} does not exist")
        if isinstance(page, Outcome):
            return page
        for event in page.get("events", []):
            if newest is None or event["timestamp"] > newest["timestamp"]:
                newest = event
        if "nextToken" not in page:  # empty pages with a token do not mean the end
            break
        request["nextToken"] = page["nextToken"]
    else:
        if newest is None:
            raise CouldNotCheck(f"no conclusion after {_MAX_PAGES} pages of {h.log_group}")
    what = f"event matching {h.pattern!r}" if h.pattern else "event"
    if newest is None:
        return failed(f"no {what} in {h.log_group} within the last {h.max_age}")
    age_s = max(0, (now_ms - newest["timestamp"]) // 1000)
    return passed(f"newest {what} in {h.log_group} is {age_s}s old (max {h.max_age})",
                  Evidence("Newest event", ("stream", "age", "message"),
                           [(newest.get("logStreamName"), f"{age_s}s",
                             str(newest.get("message", ""))[:200])]))


def _call(action: Any, what: str, missing: str | None = None) -> Any:
    """Run one AWS call; ResourceNotFound is the failure ``missing`` when given, anything else
    that goes wrong is a CouldNotCheck."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return action()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if missing and code == "ResourceNotFoundException":
            return failed(missing)
        raise CouldNotCheck(f"{what}: {code or exc}") from None
    except BotoCoreError as exc:
        raise CouldNotCheck(f"{what}: {exc}") from None
