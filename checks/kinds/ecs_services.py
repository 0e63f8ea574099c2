"""ECS services are stable: active, rolled out, running what they should.

A missing cluster or service is a failure that says so; missing credentials, an
unreachable endpoint or a refused call (throttled, denied) is an error, never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from checks.config import Common, ConfigError
from checks.kinds.aws import call_aws, unsettled
from checks.kinds.base import Context, Found, Kind, Needs
from checks.need import Need
from checks.outcome import CouldNotCheck, Evidence, Outcome, failed, passed
from checks.selftest import faults as f

ECS_BATCH = 10
"""describe_services takes at most ten services per call (the API's limit)."""


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
    def run_batch(cls, needs: list[EcsDescribe], ctx: Context) -> dict[Any, Any]:
        assert ctx.aws is not None
        ecs = ctx.aws.client("ecs")
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


def ecs_needs(s: EcsService, ctx: Context) -> Needs:
    return {"service": EcsDescribe(s.cluster, s.service_name)}


def ecs_service_stable(s: EcsService, ctx: Context, gathered: Found) -> Outcome:
    """Passed when the service is ACTIVE, runs as many tasks as desired (more than none),
    has one deployment whose rollout COMPLETED, and runs the expected task definition:
    what botocore's ``services_stable`` waiter means by stable, and more."""
    answer = gathered["service"]
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


def _task(arn: str | None) -> str:
    """``family:revision`` of a task definition ARN."""
    return (arn or "?").rsplit("/", 1)[-1]


def _task_matches(arn: str | None, expected: str) -> bool:
    family_revision = _task(arn)
    return family_revision == expected if ":" in expected else \
        family_revision.split(":")[0] == expected



# ---------------------------------------------------------------- self-test faults
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



ECS = Kind("ecs_service_stable", "heartbeat", ecs_service_stable, ecs_needs,
           section="ecs_services", spec=EcsService, reads=frozenset({"aws"}), converging=True,
           faults=_ecs_faults,
           doc="The ECS service is active, rolled out, running what it should (AWS checks).")
