"""Ready for the operators: environments and secrets, several targets in one run, metrics
for the pager, reports attached to the ticket, the report and the workflows."""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import REFERENCE, ROOT, MotoServer, _clean_env, copy_of, log_heartbeat
from tests.standins import TOKEN, serve

DB_PASSWORD = "st4ging-Db-Pa55word"
WORKFLOWS = ROOT / ".github" / "workflows"


def _staging(aws: MotoServer, database) -> None:
    """Staging as the real system keeps it: the address in SSM, the credentials in Secrets
    Manager, its own ECS cluster and log group."""
    host = database.dsn.split("host=")[1].split()[0]
    ssm = aws.client("ssm")
    for name, value in (("db_host", host), ("db_port", "5432"), ("db_name", database.name)):
        ssm.put_parameter(Name=f"/ops-pipeline-staging/{name}", Value=value, Type="String")
    aws.client("secretsmanager").create_secret(
        Name="ops-pipeline-staging/db",
        SecretString=json.dumps({"username": "postgres", "password": DB_PASSWORD}))
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="ops-pipeline-staging-cluster")
    ecs.register_task_definition(family="trade-stream", containerDefinitions=[
        {"name": "trade-stream", "image": "trade-stream:latest", "memory": 256}])
    ecs.create_service(cluster="ops-pipeline-staging-cluster", serviceName="trade-stream",
                       taskDefinition="trade-stream", desiredCount=1)
    log_heartbeat(aws, seconds_ago=60, group="/ecs/ops-pipeline-staging/trade-stream")


def test_staging_runs_every_check_with_no_other_option(verify, database, moto_server):
    _staging(moto_server, database)
    run = verify("--env", "staging", env=moto_server.env)
    assert run.returncode == 0, run.output
    outcomes = run.outcomes()
    assert outcomes["test_ecs_service_stable[trade-stream]"] == "passed"
    assert outcomes["test_log_heartbeat[trade_stream_logs]"] == "passed"
    assert {k for k, v in outcomes.items() if v == "skipped"} == {
        "test_custom_sql[open_positions_have_positive_quantity]"}
    assert "not checked in environment staging" in run.message(
        "[open_positions_have_positive_quantity]")
    # what the environment turns off is part of the verdict, not only of one row
    assert "1 check(s) off in this environment by its skip list" in run.summary["verdict"]
    assert "verdict: PASSED (1 check(s) off in this environment" in run.output
    assert "(max 15m)" in run.message("test_fresh[trade_stream_heartbeat]")  # its override
    assert "(chosen by --env staging)" in run.output.splitlines()[0]
    assert DB_PASSWORD not in run.all_output()


@pytest.mark.parametrize(("missing", "cause"), [
    ("secret", "cannot read secret ops-pipeline-staging/db: ResourceNotFoundException"),
    ("parameter", "cannot read SSM parameter /ops-pipeline-staging/db_host: ParameterNotFound"),
])
def test_a_missing_secret_or_parameter_is_one_cause(verify, database, moto_server, missing,
                                                    cause):
    _staging(moto_server, database)
    if missing == "secret":
        moto_server.client("secretsmanager").delete_secret(
            SecretId="ops-pipeline-staging/db", ForceDeleteWithoutRecovery=True)
    else:
        moto_server.client("ssm").delete_parameter(Name="/ops-pipeline-staging/db_host")
    run = verify("--env", "staging", env=moto_server.env)
    assert run.returncode == 1
    assert cause in run.message("test_migration_recorded[001_init]")
    assert run.outcomes()["test_ecs_service_stable[trade-stream]"] == "passed"


def test_two_targets_in_one_run_over_two_processes_make_one_report(verify, cluster, config_file):
    from tests.conftest import REFERENCE, copy_of

    with copy_of(cluster, REFERENCE) as blue, copy_of(cluster, REFERENCE) as green:
        green.execute("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
                      "entry_price, alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, "
                      "'ord-1001')")
        config = config_file(f'[environments.blue]\ndsn = "{blue.dsn}"\n'
                             f'[environments.green]\ndsn = "{green.dsn}"\n'
                             '[[unique]]\nname = "active_positions.alpaca_order_id"\n'
                             'table = "active_positions"\ncolumns = ["alpaca_order_id"]\n')
        run = verify("--env", "blue", "--env", "green", "--config", str(config), "-n", "2",
                     "-v")
    assert run.returncode == 1
    assert "parallel: 2 processes, a target each" in run.output
    # each target's checks in one process (one catalog capture, one scan per table): the
    # grouping xdist's loadgroup makes, which pytest 9.2 silently undoes (xdist #1386)
    ran = {(label, worker) for worker, label in re.findall(
        r"^\[(gw\d+)\] .*?\[(blue|green):", run.output, re.MULTILINE)}
    assert sorted(label for label, _ in ran) == ["blue", "green"], ran
    outcomes = run.outcomes()
    assert outcomes["test_no_duplicates[blue:active_positions.alpaca_order_id]"] == "passed"
    assert outcomes["test_no_duplicates[green:active_positions.alpaca_order_id]"] == "failed"
    assert {k for k, v in outcomes.items() if v == "failed"} == {
        "test_no_duplicates[green:active_positions.alpaca_order_id]"}
    assert len(outcomes) == 2 * len([k for k in outcomes if "[blue:" in k])
    assert [t["label"] for t in run.summary["targets"]] == ["blue", "green"]


def test_an_items_target_is_read_from_its_id_even_when_a_label_holds_a_colon():
    from plugin.items import target_of

    labels = {"blue", "local socket:5432/ops", "local socket:5432/ops_2"}
    assert target_of("verify/test_x.py::test_fresh[local socket:5432/ops_2:beat]", labels) \
        == "local socket:5432/ops_2"
    assert target_of("verify/test_x.py::test_fresh[local socket:5432/ops:beat]", labels) \
        == "local socket:5432/ops"
    assert target_of("verify/test_x.py::test_fresh[blue:a:b]", labels) == "blue"
    assert target_of("verify/test_x.py::test_fresh[green:beat]", labels) is None
    assert target_of("verify/test_x.py::test_fresh", labels) is None


def test_one_target_with_n_runs_in_one_process(verify, database):
    run = verify("--dsn", database.dsn, "-n", "2")
    assert run.returncode == 0, run.output
    assert "parallel: one target: checks run in this process (-n ignored)" in run.output


def test_metrics_for_the_textfile_collector_and_the_pushgateway(verify, database, tmp_path):
    reports = tmp_path / "reports"
    with serve("pushgateway") as gateway:
        run = verify("--dsn", database.dsn, "--pushgateway", gateway.url, reports=reports)
    assert run.returncode == 0, run.output
    text = (reports / "metrics.prom").read_text()
    assert 'ops_verify_run_outcome{outcome="passed"} 1.0' in text
    assert re.search(r'ops_verify_heartbeat_age_seconds\{check="test_fresh\[trade_stream_'
                     r'heartbeat\]"\} \d', text)
    assert 'ops_verify_area_checks{area="drift",outcome="passed"}' in text
    assert re.search(r"ops_verify_last_success_timestamp_seconds \d", text)
    assert len(gateway.pushes) == 1
    push = gateway.pushes[0]
    assert push["job"] == "ops-verify" and "ops_verify_run_duration_seconds" in push["families"]
    database.execute("DELETE FROM service_heartbeats")
    failed = verify("--dsn", database.dsn, reports=reports)
    text = (reports / "metrics.prom").read_text()
    assert 'ops_verify_run_outcome{outcome="failed"} 1.0' in text
    assert re.search(r"ops_verify_last_success_timestamp_seconds \d", text)  # kept
    assert failed.returncode == 1


def test_a_partial_run_never_counts_as_the_last_success(verify, database, tmp_path):
    reports = tmp_path / "reports"
    run = verify("--dsn", database.dsn, "-k", "recorded", reports=reports)
    assert run.returncode == 0, run.output
    prom = (reports / "metrics.prom").read_text()
    selected = int(float(re.search(r"^ops_verify_checks_selected (\S+)$", prom, re.M).group(1)))
    total = int(float(re.search(r"^ops_verify_checks_total (\S+)$", prom, re.M).group(1)))
    assert selected < total
    # no full pass yet: 0, so that an alert on its age fires
    assert "\nops_verify_last_success_timestamp_seconds 0.0\n" in prom


def _last_success(reports: Path) -> float:
    prom = (reports / "metrics.prom").read_text()
    return float(re.search(r"^ops_verify_last_success_timestamp_seconds (\S+)$", prom,
                           re.M).group(1))


@pytest.mark.slow
def test_last_success_is_kept_per_target(verify, database, cluster, tmp_path):
    """Two targets written in turn to one reports folder: the one that never fully passes
    never shows the other's success (its 0 makes the no-full-pass alert fire)."""
    reports = tmp_path / "reports"
    with copy_of(cluster, REFERENCE) as other:
        other.execute("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
                      "entry_price, alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, "
                      "189.5, 'ord-1001')")
        passing = verify("--dsn", database.dsn, reports=reports)
        assert passing.returncode == 0, passing.output
        first = _last_success(reports)
        assert first > 0
        failing = verify("--dsn", other.dsn, reports=reports)
        assert failing.returncode == 1
        assert _last_success(reports) == 0.0  # never, not the other target's pass
        again = verify("--dsn", database.dsn, "-k", "recorded", reports=reports)
        assert again.returncode == 0
        assert _last_success(reports) == first  # a partial pass keeps its target's own
        failing = verify("--dsn", other.dsn, reports=reports)
        assert _last_success(reports) == 0.0
        other.execute("DELETE FROM active_positions WHERE id = (SELECT max(id) FROM "
                      "active_positions)")
        fixed = verify("--dsn", other.dsn, reports=reports)
        assert fixed.returncode == 0, fixed.output
        assert _last_success(reports) > first
        verify("--dsn", database.dsn, "-k", "recorded", reports=reports)
        assert _last_success(reports) == first


def test_a_failed_push_fails_the_run_and_says_why(verify, database):
    """...and never shows the gateway's basic-auth password."""
    run = verify("--dsn", database.dsn, "-k", "recorded", "--pushgateway",
                 "http://pushuser:PushS3cret99@127.0.0.1:9")
    assert run.returncode == 1
    assert "metrics NOT pushed to http://pushuser:***@127.0.0.1:9" in run.output
    assert "PushS3cret99" not in run.all_output()


@pytest.fixture
def broken(database):
    database.execute("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
                     "entry_price, alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, "
                     "'ord-1001')")
    return database


def test_attach_to_a_github_pull_request(verify, broken):
    with serve("github", {"frotofraggins/inbound_aigen#42"}) as github:
        run = verify("--dsn", broken.dsn, "--release", "v7", "--attach",
                     "github:frotofraggins/inbound_aigen#42",
                     env={"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url})
    assert run.returncode == 1  # the checks failed; the attachment worked
    assert "reports attached to github:frotofraggins/inbound_aigen#42: https://github.com/" \
        in run.output
    (comment,) = github.comments
    assert comment["body"] == (run.reports_dir / "summary.md").read_text()
    assert "Post-deploy verification: FAILED" in comment["body"]
    assert run.leaks(TOKEN) == []


def test_attach_to_a_jira_issue_in_wiki_markup(verify, broken):
    """Jira's REST API v2 renders wiki markup: Markdown's ``##`` would be a list and
    ``| --- |`` a table row; text from outside is escaped monospace."""
    with serve("jira", {"OPS-42"}) as jira:
        run = verify("--dsn", broken.dsn, "--attach", "jira:OPS-42",
                     env={"JIRA_BASE_URL": jira.url, "JIRA_TOKEN": "jira-pat-token-0123",
                          "JIRA_USER": "ops@example.com"})
    assert run.returncode == 1, run.output  # the checks failed; the attachment worked
    assert "reports attached to jira:OPS-42" in run.output, run.output
    (attachment,) = jira.attachments
    assert attachment["filename"] == "report.html"
    assert b"Post-deploy verification" in attachment["content"]
    (comment,) = jira.comments
    body = comment["body"]
    assert body.startswith("h2. Post-deploy verification: FAILED")
    assert "||result||check||why||evidence||" in body
    assert "## " not in body and "| --- |" not in body and "`" not in body
    row = next(line for line in body.splitlines() if line.startswith("|FAIL|"))
    assert "{{test\\_no\\_duplicates\\[" in row  # escaped: _ and [ are markup
    basic = base64.b64encode(b"ops@example.com:jira-pat-token-0123").decode()  # as sent
    assert run.leaks("jira-pat-token-0123") == [] and run.leaks(basic) == []


@pytest.mark.parametrize(("ticket", "env", "why"), [
    ("github:o/r#404", {"GITHUB_TOKEN": TOKEN}, "answered HTTP 404: Not Found"),
    ("github:o/r#1", {"GITHUB_TOKEN": "wrong-token"}, "answered HTTP 401: Bad credentials"),
    ("jira:OPS-404", {"JIRA_TOKEN": "t"}, "answered HTTP 404: ['Issue does not exist"),
])
def test_a_failed_attach_fails_the_run_and_says_why(verify, database, ticket, env, why):
    kind = ticket.split(":")[0]
    with serve(kind, {"o/r#1", "OPS-1"}) as service:
        base = {"GITHUB_API_URL": service.url} if kind == "github" else \
            {"JIRA_BASE_URL": service.url}
        run = verify("--dsn", database.dsn, "-k", "recorded", "--attach", ticket,
                     env={**base, **env})
    assert run.returncode == 1
    assert f"reports NOT attached to {ticket}" in run.output and why in run.output


@pytest.mark.parametrize(("value", "message"), [
    ("github:o/r#1", "set GITHUB_TOKEN"),
    ("jira:OPS-1", "set JIRA_BASE_URL and JIRA_TOKEN"),
    ("linear:ABC-1", "expected github:owner/repo#123 or jira:KEY-123"),
])
def test_attach_settings_are_checked_before_anything_runs(verify, value, message):
    run = verify("--attach", value)
    assert run.returncode == 4
    assert message in run.output


@pytest.mark.slow
def test_the_report_opens_with_the_verdict_and_the_failures_evidence(verify, broken, tmp_path):
    reports = tmp_path / "reports"
    for _ in range(2):
        verify("--dsn", broken.dsn, "-k", "recorded", reports=reports)
    run = verify("--dsn", broken.dsn, reports=reports)
    page = (reports / "report.html").read_text()
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    verdict, failure = text.index("Overall: FAILED"), text.index("ord-1001")
    environment = text.index("Environment (versions, plugins, who ran it)")
    assert verdict < failure < environment
    assert "1 check failed" in text
    assert "The last 3 runs" in page and "verify-cell failed" in page
    assert run.returncode == 1


# ---------------------------------------------------------------- the workflows
def _workflow(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads "on" as true
    return document


def test_the_post_deploy_workflow_verifies_the_release_it_is_given():
    flow = _workflow("post-deploy-verify.yml")
    assert set(flow["on"]) == {"workflow_call", "workflow_dispatch"}
    for trigger in ("workflow_call", "workflow_dispatch"):
        assert {"release", "environment", "manifest", "settle"} <= \
            set(flow["on"][trigger]["inputs"])
    steps = flow["jobs"]["verify"]["steps"]
    run = " ".join(s.get("run", "") for s in steps)
    # ops-verify: pytest that refuses a run in which the suite's plugins never loaded
    assert ".venv/bin/ops-verify verify/ --env" in run and "--release" in run
    assert "--release-manifest" in run and "--settle" in run
    assert any(s.get("uses", "").startswith("actions/upload-artifact") and
               s.get("if") == "always()" for s in steps)
    assert "GITHUB_STEP_SUMMARY" in run
    # the evidence reaches the ticket: uploaded, and posted where the caller says
    assert "--upload" in run and '--attach "$TICKET"' in run
    assert {"ticket"} <= set(flow["on"]["workflow_call"]["inputs"])
    assert flow["permissions"]["issues"] == "write"


@pytest.mark.parametrize("name", ["post-deploy-verify.yml", "smoke.yml"])
def test_the_workflows_install_pinned_dependencies_from_the_lock_file(name):
    """Both workflows install exactly the locked versions (hashes checked), cache pip's
    downloads keyed by the lock file, and name their artifacts per attempt (a re-run's
    upload must not collide with the first attempt's)."""
    flow = _workflow(name)
    (job,) = flow["jobs"].values()
    steps = job["steps"]
    install = next(s["run"] for s in steps if s.get("name", "").startswith("Install"))
    assert "--require-hashes -r requirements.lock" in install
    assert "--no-deps -e ." in install
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"] == "requirements.lock"
    artifact = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "${{ github.run_attempt }}" in artifact["with"]["name"]
    locked = {line.split("==")[0] for line in (ROOT / "requirements.lock").read_text()
              .splitlines() if "==" in line}
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {re.split(r"[\[<>=]", d)[0] for d in declared} <= locked


def test_the_smoke_workflow_runs_on_a_schedule_and_feeds_the_alerts():
    """The alerts of the README read ops_verify_* from a Pushgateway, and the last
    success and history strip need the earlier runs' reports/: a runner starts empty, so
    the job pushes its metrics and restores and saves reports/ between runs; it never
    waits on an environment's approval rules (144 runs a day)."""
    flow = _workflow("smoke.yml")
    assert flow["on"]["schedule"][0]["cron"]
    job = flow["jobs"]["smoke"]
    assert "environment" not in job
    steps = job["steps"]
    run = " ".join(s.get("run", "") for s in steps)
    assert ".venv/bin/ops-verify verify/ --env" in run and "GITHUB_STEP_SUMMARY" in run
    assert '--pushgateway "$PUSHGATEWAY_URL"' in run
    uses = [s.get("uses", "") for s in steps]
    restore = uses.index(next(u for u in uses if u.startswith("actions/cache/restore")))
    verify_step = next(i for i, s in enumerate(steps) if "ops-verify verify/" in s.get("run", ""))
    save = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith(
        "actions/cache/save"))
    assert restore < verify_step < save
    assert steps[save]["if"] == "always()" and steps[save]["with"]["path"] == "reports/"
    assert steps[restore]["with"]["restore-keys"]
    assert any(u.startswith("actions/upload-artifact") for u in uses)


@pytest.mark.parametrize("linter", [
    ["actionlint"],
    ["check-jsonschema", "--builtin-schema", "vendor.github-workflows"],
])
def test_the_workflows_pass_their_linters(linter):
    """actionlint, and GitHub's workflow schema (SchemaStore's, through check-jsonschema)."""
    tool = Path(sys.executable).parent / linter[0]
    done = subprocess.run([str(tool), *linter[1:], *map(str, sorted(WORKFLOWS.glob("*.yml")))],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- a fresh machine
def _quick_start() -> list[str]:
    block = (ROOT / "README.md").read_text().split("## Quick start", 1)[1]
    return [line for line in block.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
            if line.strip()]


@pytest.mark.slow
def test_the_default_test_run_skips_nothing_and_deselects_only_the_upstream_test():
    """No test carries a skip: the one that needs a checkout of the real pipeline is
    deselected (counted so) unless -m names its marker, and then it runs."""
    def collect(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "tests", "--collect-only",
                               "-q", "-n", "0", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=300, env=_clean_env())

    rebuild = "test_the_rebuild_from_a_checkout_is_what_the_snapshot_and_ledger_hold"
    default = collect()
    assert default.returncode == 0, default.stdout + default.stderr
    assert rebuild not in default.stdout
    assert re.search(r"^\d+/\d+ tests collected \(1 deselected\)", default.stdout, re.M), \
        default.stdout[-300:]
    # one collection for both: none carries a skip, and -m upstream runs the rebuild
    marked = collect("-m", "upstream or skip or skipif or xfail")
    assert marked.returncode == 0, marked.stdout[-300:]
    assert [line for line in marked.stdout.splitlines() if "::" in line] == [
        f"test_production.py::{rebuild}"], marked.stdout[-600:]


@pytest.mark.pg15
@pytest.mark.browser
def test_the_readme_test_command_sets_up_what_the_tests_need(tmp_path):
    """The README's second command starts with scripts/test-setup, the one place that
    installs PostgreSQL 15 and Chromium; .ci/run runs that very line; what is missing is
    named with how to install it."""
    commands = _quick_start()
    assert len(commands) == 2 and commands[1].startswith("scripts/test-setup && ")
    shown = subprocess.run([str(ROOT / ".ci" / "run"), "--print"], capture_output=True,
                           text=True, check=True).stdout
    assert shown.strip() == commands[1]
    assert "apt-get" not in (ROOT / ".ci" / "run").read_text()
    setup = str(ROOT / "scripts" / "test-setup")
    here = subprocess.run([setup, "--check"], capture_output=True, text=True)
    assert here.returncode == 0, here.stderr
    assert "PostgreSQL 15 and Chromium are installed" in here.stdout
    lacking = subprocess.run([setup, "--check"], capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin", "PG15_BIN": str(tmp_path)})
    assert lacking.returncode == 1
    assert lacking.stderr.startswith("test-setup: missing postgresql-15: PostgreSQL 15: "
                                     "apt-get install postgresql-15 as root")
    assert "brew install postgresql@15" in lacking.stderr
