"""What the AWS kinds share: one read-only call (a missing resource is an answer, a refused
call an error), paging, a time-bounded log search, a rollout's state, and the self-test's
log lines. The kinds themselves are ``ecs_services``, ``log_heartbeats``, ``alarms``,
``schedules``, ``log_errors``, ``lambda_errors`` and the release's.
"""

from __future__ import annotations

import heapq
import json
import shlex
import time
from dataclasses import dataclass
from typing import Any

from checks.clients.aws import call
from checks.kinds.base import Context
from checks.need import Need
from checks.outcome import CouldNotCheck
from checks.selftest import faults as f

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

    def run(self, ctx: Context) -> dict[str, Any]:
        assert ctx.aws is not None
        client = ctx.aws.client(self.service)
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

    def run(self, ctx: Context) -> dict[str, Any]:
        assert ctx.aws is not None
        logs = ctx.aws.client("logs")
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
    """The answer of one AWS read; a missing resource is an answer (``{"error": ...}``)."""
    return call(action, what, not_found=NOT_FOUND)


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
