"""Did the deploy land what was released (--release-manifest), and does the run wait for
it to settle (--settle)? Against moto's server over real HTTP; settle windows of seconds."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from checks.settle import Settling
from tests.conftest import MotoServer, log_heartbeat

IMAGE = "160027201036.dkr.ecr.us-west-2.amazonaws.com/ops-pipeline/trade-stream"


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", text)
    return buffer.getvalue()


@pytest.fixture
def deployed(moto_server: MotoServer) -> dict:
    """What a deploy of release v42 left on AWS: the db-query function and trade-stream on
    its task definition revision 2 with the v42 image."""
    iam = moto_server.client("iam")
    role = iam.create_role(RoleName="ops-pipeline-lambda", AssumeRolePolicyDocument="{}")
    function = moto_server.client("lambda").create_function(
        FunctionName="ops-pipeline-db-query", Runtime="python3.11", Handler="x.handler",
        Role=role["Role"]["Arn"], Code={"ZipFile": _zip("def handler(e, c): return 42")})
    ecs = moto_server.client("ecs")
    ecs.create_cluster(clusterName="ops-pipeline-cluster")
    for tag in ("v41", "v42"):
        ecs.register_task_definition(family="trade-stream", containerDefinitions=[
            {"name": "trade-stream", "image": f"{IMAGE}:{tag}", "memory": 512}])
    ecs.create_service(cluster="ops-pipeline-cluster", serviceName="trade-stream",
                       taskDefinition="trade-stream:2", desiredCount=1)
    log_heartbeat(moto_server, seconds_ago=1)
    return {"code_sha256": function["CodeSha256"]}


def _manifest(tmp_path: Path, deployed: dict, **changes: object) -> Path:
    manifest = {
        "release": "v42",
        "lambda_functions": [{"name": "ops-pipeline-db-query",
                              "code_sha256": deployed["code_sha256"]}],
        "ecs_services": [{"cluster": "ops-pipeline-cluster", "service": "trade-stream",
                          "task_definition": "trade-stream:2",
                          "images": {"trade-stream": f"{IMAGE}:v42"}}],
        "migrations": ["2026_02_02_0003_add_constraints_no_do",
                       "2026_02_02_0004_service_heartbeats"],
    }
    manifest.update(changes)
    path = tmp_path / "release-manifest.json"
    path.write_text(json.dumps(manifest))
    return path


RELEASE_CHECKS = {"test_release_lambda[ops-pipeline-db-query]",
                  "test_release_ecs_service[ops-pipeline-cluster/trade-stream]",
                  "test_release_migration[2026_02_02_0003_add_constraints_no_do]",
                  "test_release_migration[2026_02_02_0004_service_heartbeats]"}


def test_a_manifest_that_matches_passes_and_names_the_release(verify, database, moto_server,
                                                              deployed, tmp_path):
    run = verify("--dsn", database.dsn, "--release-manifest",
                 str(_manifest(tmp_path, deployed)), env=moto_server.env)
    assert run.returncode == 0, run.output
    assert {k: v for k, v in run.outcomes().items() if k in RELEASE_CHECKS} == \
        dict.fromkeys(RELEASE_CHECKS, "passed")
    assert run.summary["release"] == "v42"  # from the manifest: no --release given


@pytest.mark.parametrize(("change", "failing", "said"), [
    ({"lambda_functions": [{"name": "ops-pipeline-db-query", "code_sha256": "AAAA="}]},
     "test_release_lambda[ops-pipeline-db-query]", "code SHA-256 differ"),
    ({"ecs_services": [{"cluster": "ops-pipeline-cluster", "service": "trade-stream",
                        "images": {"trade-stream": "v43"}}]},
     "test_release_ecs_service[ops-pipeline-cluster/trade-stream]",
     "image of trade-stream differ"),
    ({"ecs_services": [{"cluster": "ops-pipeline-cluster", "service": "trade-stream",
                        "task_definition": "trade-stream:3"}]},
     "test_release_ecs_service[ops-pipeline-cluster/trade-stream]", "task definition differ"),
    ({"migrations": ["2026_04_01_0001_not_applied"]},
     "test_release_migration[2026_04_01_0001_not_applied]", "the ledger has no row"),
], ids=["wrong-code-hash", "wrong-image-tag", "wrong-task-definition", "missing-migration"])
def test_a_mismatch_fails_its_item_with_expected_and_found(verify, database, moto_server,
                                                          deployed, tmp_path, change, failing,
                                                          said):
    run = verify("--dsn", database.dsn, "--release-manifest",
                 str(_manifest(tmp_path, deployed, **change)), env=moto_server.env)
    assert run.returncode == 1
    assert {k for k, v in run.outcomes().items() if v == "failed"} == {failing}
    assert said in run.message(failing)
    if "ecs" in failing or "lambda" in failing:
        evidence = run.detail(failing.split("::")[-1])["evidence"][0]
        assert evidence["columns"] == ["what", "expected", "found"]
        # the console's line of evidence starts with a key, never "=task definition"
        line = next(x for x in run.output.splitlines() if x.strip().startswith("what="))
        assert not line.strip().startswith("=")


def _moto_state(service: str) -> object:
    """moto's own record of what the real service would report (no API sets these)."""
    region = "us-west-2"
    if service == "ecs":
        from moto.ecs.models import ecs_backends
        return ecs_backends["123456789012"][region]
    from moto.awslambda.models import lambda_backends
    return lambda_backends["123456789012"][region]


def _rollout(state: str) -> None:
    for service in _moto_state("ecs").services.values():
        service.deployments[0]["rolloutState"] = state


def _lambda(attribute: str, value: str) -> None:
    setattr(_moto_state("lambda").get_function("ops-pipeline-db-query"), attribute, value)


ECS_ENTRY = "test_release_ecs_service[ops-pipeline-cluster/trade-stream]"
LAMBDA_ENTRY = "test_release_lambda[ops-pipeline-db-query]"


@pytest.mark.parametrize(("seed", "failing", "said"), [
    (lambda ecs: ecs.update_service(cluster="ops-pipeline-cluster", service="trade-stream",
                                    desiredCount=0), ECS_ENTRY, "scaled to zero"),
    (lambda ecs: ecs.delete_service(cluster="ops-pipeline-cluster", service="trade-stream",
                                    force=True), ECS_ENTRY, "status INACTIVE"),
    (lambda ecs: _rollout("IN_PROGRESS"), ECS_ENTRY, "rollout IN_PROGRESS"),
    (lambda ecs: _rollout("FAILED"), ECS_ENTRY, "a rollout FAILED"),
    (lambda ecs: _lambda("state", "Failed"), LAMBDA_ENTRY, "state differ"),
], ids=["ecs-scaled-to-zero", "ecs-deleted", "ecs-rolling-out", "ecs-rollout-failed",
        "lambda-failed"])  # moto always answers LastUpdateStatus Successful
def test_the_released_code_must_also_be_running(verify, database, moto_server, deployed,
                                                tmp_path, seed, failing, said):
    """The right revision or hash is not enough: a service scaled to zero, deleted or
    still rolling out, a function whose update failed or is still in progress, fails."""
    seed(moto_server.client("ecs"))
    run = verify("--dsn", database.dsn, "--release-manifest",
                 str(_manifest(tmp_path, deployed)), "-k", "release", env=moto_server.env)
    assert run.returncode == 1
    assert {k for k, v in run.outcomes().items() if v != "passed"} == {failing}
    assert said in run.message(failing)


def test_a_bad_manifest_is_a_usage_error(verify, tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"release": "v1", "lambdas": []}')
    run = verify("--release-manifest", str(path))
    assert run.returncode == 4
    assert "unknown key 'lambdas'" in run.output


@pytest.mark.parametrize(("manifest", "said"), [
    ({"lambda_functions": [{"name": "ops-pipeline-db-query"}]}, "names neither code_sha256"),
    ({"ecs_services": [{"service": "trade-stream"}]}, "names neither task_definition"),
    ({"release": "v1", "lambda_functions": [], "migrations": []}, "names nothing"),
    ({"migrations": ["0001_a", "0001_a"]}, "0001_a is listed twice"),
], ids=["lambda-without-hash", "ecs-without-revision", "empty", "twice"])
def test_a_manifest_entry_with_nothing_to_compare_is_a_usage_error(verify, tmp_path,
                                                                   manifest, said):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    run = verify("--release-manifest", str(path))
    assert run.returncode == 4
    assert said in run.output


def _scaled_to_zero(moto_server: MotoServer) -> None:
    ecs = moto_server.client("ecs")
    ecs.create_cluster(clusterName="ops-pipeline-cluster")
    ecs.register_task_definition(family="trade-stream", containerDefinitions=[
        {"name": "trade-stream", "image": f"{IMAGE}:v42", "memory": 512}])
    ecs.create_service(cluster="ops-pipeline-cluster", serviceName="trade-stream",
                       taskDefinition="trade-stream", desiredCount=0)
    log_heartbeat(moto_server, seconds_ago=1)


@pytest.mark.slow
def test_a_service_that_comes_up_within_the_window_passes_with_its_attempts(
        verify, database, moto_server, monkeypatch):
    """The rollout is still scaling up when the run starts; it is done when the run looks
    a second time (as that request reaches moto: the first answer was sent before)."""
    _scaled_to_zero(moto_server)
    _scale_up_at_look(monkeypatch, 2)
    run = verify("--dsn", database.dsn, "--aws", "--settle", "60s", "-k",
                 "ecs_service or recorded", env=moto_server.env)
    assert run.returncode == 0, run.output
    check = next(c for c in run.summary["checks"] if "ecs_service_stable" in c["id"])
    assert check["outcome"] == "passed"
    assert check["attempts"] >= 3  # down, then up twice in a row
    assert check["first_passed_s"] > 0  # the first look saw it down
    assert "SETTLED test_ecs_service_stable[trade-stream]: passed after" in run.output
    recorded = [c for c in run.summary["checks"] if "recorded" in c["id"]]
    assert all("attempts" not in c for c in recorded)  # invariants are never retried


def _scale_up_at_look(monkeypatch: pytest.MonkeyPatch, look: int) -> None:
    """moto (in this process) scales trade-stream to one task as the ``look``-th
    DescribeServices request arrives, before answering it."""
    from moto.ecs.models import EC2ContainerServiceBackend

    answer = EC2ContainerServiceBackend.describe_services
    looks = []

    def describe(backend: EC2ContainerServiceBackend, cluster: str, names: list[str]) -> Any:
        looks.append(names)
        if len(looks) == look:
            backend.update_service({"cluster": cluster, "service": "trade-stream",
                                    "desired_count": 1})
        return answer(backend, cluster, names)

    monkeypatch.setattr(EC2ContainerServiceBackend, "describe_services", describe)


@pytest.mark.slow
def test_a_service_that_never_settles_fails_when_the_window_ends(verify, database, moto_server):
    _scaled_to_zero(moto_server)
    started = time.monotonic()
    run = verify("--dsn", database.dsn, "--aws", "--settle", "4s", "-k", "ecs_service",
                 env=moto_server.env)
    assert time.monotonic() - started < 120  # a bound, not a timing: the window is seconds
    assert run.returncode == 1
    check = next(c for c in run.summary["checks"] if "ecs_service_stable" in c["id"])
    assert check["outcome"] == "failed" and check["attempts"] >= 2
    assert check["first_passed_s"] is None
    assert "scaled to zero" in check["message"]
    assert "NOT SETTLED test_ecs_service_stable[trade-stream]: still failed after" in run.output
    assert "\nSETTLED" not in run.output


def test_one_good_sample_of_a_flapping_state_is_not_settled():
    """Settled means passing on consecutive samples: a value that flaps between samples
    never is, and its passing time restarts with each new streak."""
    settling = Settling()
    for elapsed, passed in enumerate([True, False, True, False, True]):
        settling.record("flapping", passed, float(elapsed))
    samples = settling.samples["flapping"]
    assert samples.attempts == 5 and samples.unconfirmed and not samples.settled
    assert samples.first_passed_s == 4.0
    assert settling.pending(["flapping"]) == ["flapping"]
    settling.record("flapping", True, 5.0)
    assert samples.settled and settling.pending(["flapping"]) == []
    assert samples.first_passed_s == 4.0  # the streak that settled it began at 4 s


def test_a_heartbeat_that_does_not_move_is_not_settled():
    """Two passes that saw the same newest heartbeat prove nothing: one beat at boot, then
    a hang, is not settled; a newer beat in the next sample is."""
    settling = Settling()
    settling.record("beat", True, 0.0, progress="2026-11-28 12:00:01")
    settling.record("beat", True, 2.0, progress="2026-11-28 12:00:01")
    assert settling.samples["beat"].unconfirmed
    settling.record("beat", True, 4.0, progress="2026-11-28 12:00:04")
    assert settling.samples["beat"].settled


# ---------------------------------------------------------------- release entries settle
def test_release_entries_that_finish_rolling_out_within_the_window_settle(
        verify, database, moto_server, deployed, tmp_path, on_moto_request):
    """The function's update and the service's rollout are still in progress at the first
    look; both are done when the second look arrives: each passes, settled on the third."""
    from moto.awslambda.models import LambdaBackend
    from moto.ecs.models import EC2ContainerServiceBackend

    _rollout("IN_PROGRESS")
    _lambda("state", "Pending")
    function = _moto_state("lambda").get_function("ops-pipeline-db-query")

    def done_at(look: int, change) -> object:
        return lambda n, *_: n == look and change()

    on_moto_request(EC2ContainerServiceBackend, "describe_services",
                    done_at(2, lambda: _rollout("COMPLETED")))
    on_moto_request(LambdaBackend, "get_function",
                    done_at(2, lambda: setattr(function, "state", "Active")))
    run = verify("--dsn", database.dsn, "--release-manifest", str(_manifest(tmp_path, deployed)),
                 "--settle", "10m", "-k", "release", env=moto_server.env)
    assert run.returncode == 0, run.output
    for entry in (ECS_ENTRY, LAMBDA_ENTRY):
        check = next(c for c in run.summary["checks"] if c["id"].endswith(entry))
        assert check["outcome"] == "passed"
        assert check["attempts"] == 3  # in progress; done; done again
        assert check["first_passed_s"] > 0
        assert f"SETTLED {entry}: passed after 3 attempts" in run.output
    migration = next(c for c in run.summary["checks"] if "release_migration" in c["id"])
    assert "attempts" not in migration  # the ledger is an invariant: never retried


# ---------------------------------------------------------------- the manifest's forms
TOML_MANIFEST = '''release = "v42"
migrations = ["2026_02_02_0003_add_constraints_no_do", "2026_02_02_0004_service_heartbeats"]

[[lambda_functions]]
name = "ops-pipeline-db-query"
code_sha256 = "{code_sha256}"

[[ecs_services]]
cluster = "ops-pipeline-cluster"
service = "trade-stream"
task_definition = "{task_definition}"

[ecs_services.images]
trade-stream = "{image}:v42"
'''


@pytest.mark.parametrize(("task_definition", "failing"), [
    ("trade-stream:2", set()),
    ("trade-stream:3", {"test_release_ecs_service[ops-pipeline-cluster/trade-stream]"}),
], ids=["matches", "other-revision"])
def test_a_toml_manifest_is_read_like_json(verify, database, moto_server, deployed, tmp_path,
                                           task_definition, failing):
    path = tmp_path / "release-manifest.toml"
    path.write_text(TOML_MANIFEST.format(code_sha256=deployed["code_sha256"],
                                         task_definition=task_definition, image=IMAGE))
    run = verify("--dsn", database.dsn, "--release-manifest", str(path), "-k", "release",
                 env=moto_server.env)
    assert run.returncode == (1 if failing else 0), run.output
    assert set(run.outcomes()) == RELEASE_CHECKS
    assert {k for k, v in run.outcomes().items() if v != "passed"} == failing
    assert run.summary["release"] == "v42"


def test_a_manifest_that_is_not_valid_toml_is_a_usage_error(verify, tmp_path):
    path = tmp_path / "release-manifest.toml"
    path.write_text('release = "v42"\n[[lambda_functions]\n')
    run = verify("--release-manifest", str(path))
    assert run.returncode == 4
    assert "release-manifest.toml: not valid TOML" in run.output


@pytest.fixture
def aliased(moto_server: MotoServer, deployed: dict) -> dict:
    """Version 1 is the code deployed first; then new code, published as version 2; the
    alias ``live`` still points to version 1."""
    client = moto_server.client("lambda")
    first = client.publish_version(FunctionName="ops-pipeline-db-query")
    updated = client.update_function_code(FunctionName="ops-pipeline-db-query",
                                          ZipFile=_zip("def handler(e, c): return 43"))
    second = client.publish_version(FunctionName="ops-pipeline-db-query")
    client.create_alias(FunctionName="ops-pipeline-db-query", Name="live",
                        FunctionVersion=first["Version"])
    assert updated["CodeSha256"] != deployed["code_sha256"]
    return {"old": deployed["code_sha256"], "new": updated["CodeSha256"],
            "versions": (first["Version"], second["Version"])}


@pytest.mark.parametrize(("entry", "said"), [
    ({"alias": "live", "code_sha256": "old", "version": "first"}, None),
    ({"version": "second", "code_sha256": "new"}, None),
    ({"alias": "live", "code_sha256": "new"}, "code SHA-256 differ"),
    ({"alias": "live", "version": "second"}, "version differ"),
    ({"version": "first", "code_sha256": "new"}, "code SHA-256 differ"),
], ids=["alias-on-its-version", "version-with-its-code", "alias-still-on-old-code",
        "alias-on-another-version", "version-with-other-code"])
def test_a_lambda_entry_is_checked_at_its_alias_or_version(verify, database, moto_server,
                                                          aliased, tmp_path, entry, said):
    """What answers at the alias (or the published version) is compared, not $LATEST:
    new code deployed but the alias left on the old version is not the release."""
    first, second = aliased["versions"]
    values = {"old": aliased["old"], "new": aliased["new"], "first": first, "second": second}
    fields = {k: values[v] if k != "alias" else v for k, v in entry.items()}
    path = tmp_path / "release-manifest.json"
    path.write_text(json.dumps({"release": "v42", "lambda_functions": [
        {"name": "ops-pipeline-db-query", **fields}]}))
    run = verify("--dsn", database.dsn, "--release-manifest", str(path), "-k", "release",
                 env=moto_server.env)
    item = "test_release_lambda[ops-pipeline-db-query" + (
        f":{entry['alias']}]" if "alias" in entry else "]")
    assert run.outcomes() == {item: "failed" if said else "passed"}, run.output
    assert run.returncode == (1 if said else 0)
    if said:
        assert said in run.message(item.split("test_release_lambda")[1])


@pytest.mark.parametrize(("args", "env", "release"), [
    ((), {"VERIFY_RELEASE": "v43-from-env"}, "v43-from-env"),
    (("--release", "v44-from-option"), {"VERIFY_RELEASE": "v43-from-env"}, "v44-from-option"),
    ((), {}, "v42"),
], ids=["variable-over-manifest", "option-over-variable", "manifest"])
def test_the_release_comes_from_the_option_the_variable_or_the_manifest(
        verify, database, moto_server, deployed, tmp_path, args, env, release):
    run = verify("--dsn", database.dsn, "--release-manifest", str(_manifest(tmp_path, deployed)),
                 "-k", "release_migration", *args, env={**moto_server.env, **env})
    assert run.returncode == 0, run.output
    assert run.summary["release"] == release
    assert f"Release: `{release}`" in (run.reports_dir / "summary.md").read_text()
    assert release in (run.reports_dir / "report.html").read_text()
    assert f"release: {release}" in run.output.splitlines()[1]
