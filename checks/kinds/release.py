"""Did the deploy land what was released? One check per entry of the release manifest:
each Lambda function's code, each ECS service's task definition and images, each
migration the release brings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from checks.kinds.aws import AwsCall, call_aws, unsettled
from checks.kinds.base import Context, Found, Inputs, Kind, Need, Needs
from checks.kinds.ledger import ledger_missing, ledger_needs, ledger_rows
from checks.manifest import EcsRelease, LambdaRelease, MigrationRelease
from checks.outcome import Evidence, Outcome, failed, passed


def lambda_needs(spec: LambdaRelease, ctx: Context) -> Needs:
    params: dict[str, Any] = {"FunctionName": spec.name}
    if spec.alias or spec.version:
        params["Qualifier"] = spec.alias or spec.version
    return {"function": AwsCall("lambda", "get_function_configuration", json.dumps(params))}


def lambda_deployed(spec: LambdaRelease, ctx: Context, gathered: Found) -> Outcome:
    """Passed when the live function (at the alias or version) runs the released code."""
    found = gathered["function"]
    if found.get("error"):
        return failed(f"Lambda function {spec.id} does not exist ({found['message']})")
    rows = [("code SHA-256", spec.code_sha256, found.get("CodeSha256")),
            ("version", spec.version, found.get("Version")),
            # an update in progress reports the new code while the old one still answers
            ("state", "Active", found.get("State", "Active")),
            ("last update", "Successful", found.get("LastUpdateStatus", "Successful")),
            ("last modified", None, found.get("LastModified"))]
    evidence = Evidence("Expected vs found", ("what", "expected", "found"), rows)
    wrong = [name for name, want, have in rows if want is not None and want != have]
    if wrong:
        return failed(f"{spec.id} does not run the released code, updated and active: "
                      f"{', '.join(wrong)} differ", evidence)
    return passed(f"{spec.id} runs the released code (version {found.get('Version')})",
                  evidence)


@dataclass(frozen=True)
class EcsState(Need):
    """A service and the task definition it runs (two calls: the second needs the first)."""

    reads = "aws"
    cluster: str
    service: str

    def run(self, ctx: Context) -> dict[str, Any]:
        assert ctx.aws is not None
        ecs = ctx.aws.client("ecs")
        answer = call_aws(lambda: ecs.describe_services(cluster=self.cluster,
                                                     services=[self.service]),
                       f"ECS service {self.cluster}/{self.service}")
        if answer.get("error") or not answer.get("services"):
            return {"service": None, "answer": answer}
        service = answer["services"][0]
        task = call_aws(lambda: ecs.describe_task_definition(
            taskDefinition=service["taskDefinition"]), f"task definition of {self.service}")
        return {"service": service, "task": task.get("taskDefinition", {})}


def ecs_needs(spec: EcsRelease, ctx: Context) -> Needs:
    return {"service": EcsState(spec.cluster, spec.service)}


def ecs_deployed(spec: EcsRelease, ctx: Context, gathered: Found) -> Outcome:
    """Passed when the service runs the released task definition and images, and its
    rollout is done (one deployment): converging, so ``--settle`` waits for it."""
    found = gathered["service"]
    service = found["service"]
    if service is None:
        return failed(f"ECS service {spec.id} does not exist")
    task = found["task"]
    running = f"{task.get('family')}:{task.get('revision')}"
    images = {c["name"]: c.get("image", "") for c in task.get("containerDefinitions", [])}
    rows = [("task definition", spec.task_definition, running),
            *((f"image of {name}", want, images.get(name)) for name, want in
              sorted(spec.images.items()))]
    evidence = [Evidence("Expected vs found", ("what", "expected", "found"), rows)]
    wrong = [name for name, want, have in rows if want is not None and not _same(want, have)]
    if wrong:
        return failed(f"{spec.id} does not run the release: {', '.join(wrong)} differ",
                      *evidence)
    if problems := unsettled(service):
        return failed(f"{spec.id} runs the released task definition but its rollout is not "
                      f"done: {'; '.join(problems)}", *evidence)
    return passed(f"{spec.id} runs {running} with the released images", *evidence)


def _same(want: str, have: str | None) -> bool:
    """An image equals the expected one, or has the expected tag when only a tag is given."""
    if have is None:
        return False
    if ":" not in want and "/" not in want:
        return have.rsplit(":", 1)[-1] == want
    return have == want


def migration_recorded(spec: MigrationRelease, ctx: Context, gathered: Found) -> Outcome:
    """Passed when the ledger records the migration the release brings."""
    if missing := ledger_missing(ctx):
        return missing
    rows, shown = ledger_rows(gathered)
    if spec.version in {v for v, _ in rows}:
        return passed(f"the release's migration {spec.version} is recorded", sql=shown)
    return failed(f"the release brings migration {spec.version}, but the ledger has no row "
                  "for it: it was not applied", sql=shown)


def _manifest(inputs: Inputs, name: str) -> list[Any]:
    return list(getattr(inputs.manifest, name)) if inputs.manifest else []


LAMBDA = Kind("release_lambda", "release", lambda_deployed, lambda_needs,
              items=lambda inputs: _manifest(inputs, "lambda_functions"),
              reads=frozenset({"aws"}), converging=True,
              doc="The Lambda function runs the released code (at its version or alias).")
ECS = Kind("release_ecs_service", "release", ecs_deployed, ecs_needs,
           items=lambda inputs: _manifest(inputs, "ecs_services"), reads=frozenset({"aws"}),
           converging=True,
           doc="The ECS service runs the released task definition and images, fully rolled out.")
MIGRATION = Kind("release_migration", "release", migration_recorded, ledger_needs,
                 items=lambda inputs: _manifest(inputs, "migrations"),
                 doc="The ledger records each migration the release brings.")
