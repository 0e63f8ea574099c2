"""``--self-test``: every invariant proven able to fail, on the suite's own copies.

The shipped config and the production example are fully proven; a config whose invariants
cannot fail (a misspelt status, a where that names no service) is not, and says which; for
every kind, a build of the suite whose judge was made insensitive on purpose
(``tests/insensitive.py``, a plugin of the test's own: nothing of psycopg or boto3 is
replaced) is caught. No target is ever touched.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from checks.outcome import Evidence, Outcome, Status, failed, passed, skipped
from checks.reporting.model import CheckResult, self_test_tally
from checks.selftest.faults import Fault, Faults, of, unproven
from checks.selftest.proof import Attempt, judged
from tests.conftest import MIGRATIONS, ROOT, VerifyRun, run_verify

PRODUCTION = ("--config", str(ROOT / "examples" / "ops-pipeline-production.toml"),
              "--migrations-dir", str(ROOT / "tests" / "data" / "production" / "migrations"))
AWS = '''
[aws]
region = "us-west-2"

[[ecs_services]]
name = "dispatcher-service"
cluster = "ops-pipeline-cluster"
task_definition = "dispatcher-service:2"

[[log_heartbeats]]
name = "trade_stream_poll"
log_group = "/ecs/ops-pipeline/trade-stream"
pattern = '"Account activities: fetched="'
max_age = "6m"

[[schedules]]
name = "ops-pipeline-schedules"
schedule_prefix = "ops-pipeline-"
accept_disabled = ["ops-pipeline-dispatcher-tiny"]

[[schedules]]
name = "healthcheck-5m"
schedule = "ops-pipeline-healthcheck-5m"

[[schedules]]
name = "ticker-discovery"
rule = "ops-ticker-discovery-6h"

[[alarms]]
name = "ops-pipeline-alarms"
prefix = "ops-pipeline-"

[[alarms]]
name = "duplicate-executions"
alarm = "ops-pipeline-duplicate-executions"

[[log_errors]]
name = "dispatcher"
log_group = "/ecs/ops-pipeline/dispatcher"
window = "1h"
max_count = 2

[[lambda_errors]]
name = "ops-pipeline-healthcheck"
window = "1h"
min_invocations = 6
'''
CANNOT_FAIL = '''
[[freshness]]
name = "trade_stream_heartbeat"
table = "service_heartbeats"
column = "last_beat_at"
where = "service = 'trade-streem'"
max_age = "5m"

[[custom_sql]]
name = "open_positions_have_positive_quantity"
sql = "SELECT id FROM active_positions WHERE status = 'opne' AND quantity <= 0"
violating = "UPDATE active_positions SET quantity = 0 WHERE status = 'open'"

[[unique]]
name = "active_positions.alpaca_order_id"
table = "active_positions"
columns = ["alpaca_order_id"]
'''


def _self_test(verify, *args: str, env: dict[str, str] | None = None):
    return verify("--self-test", *args, env=env)


# ---------------------------------------------------------------- the configs we ship
@pytest.mark.slow
def test_the_shipped_config_is_fully_proven(verify):
    run = _self_test(verify)
    assert run.returncode == 0, run.output
    outcomes = run.outcomes()
    assert set(outcomes.values()) == {"passed"}, run.not_passed()
    tally = run.summary["self_test"]
    assert tally["proven"] == tally["invariants"] == len(outcomes) > 100
    assert tally["not_proven"] == []
    line = f"{len(outcomes)} of {len(outcomes)} invariants proven able to fail"
    assert run.summary["verdict"] == f"PASSED ({line})"
    # every report carries the verdict; none of them is the target's health
    assert f"verdict: PASSED ({line})" in run.output
    assert line in (run.reports_dir / "summary.md").read_text()
    assert line in (run.reports_dir / "report.html").read_text()
    junit = ET.parse(run.reports_dir / "junit.xml").getroot()
    assert any(line in p.get("value", "") for p in junit.iter("property"))
    assert not (run.reports_dir / "metrics.prom").exists()
    assert not (run.reports_dir / "history").exists()
    # each kind's faults, in its item's evidence: what was done, and what the check said
    detail = run.detail("test_check_constraint_definition[chk_active_positions_side]")
    faults = {row[0]: row[1] for row in detail["evidence"][0]["rows"]}
    assert {"drop the CHECK chk_active_positions_side",
            "make chk_active_positions_side NOT ENFORCED"} <= set(faults)
    assert any(w.startswith("replace chk_active_positions_side with a weaker rule")
               for w in faults)
    assert any("NOT VALID" in w for w in faults)
    assert set(faults.values()) == {"failed", "passed"}  # the unfaulted copy passed
    assert any("DROP CONSTRAINT" in s for s in detail["sql"])
    assert "proven able to fail" in run.message("[active_positions.alpaca_order_id]")


@pytest.mark.slow
def test_the_production_example_is_fully_proven(verify):
    """Its snapshot's schema (on PostgreSQL 15 when it is here), its sample rows, its
    ledger history: every invariant proven; what cannot fail by design says so. The
    migration files' names come from VERIFY_MIGRATIONS_DIR, as the example's header says."""
    run = _self_test(verify, *PRODUCTION[:2],
                     env={"VERIFY_MIGRATIONS_DIR": PRODUCTION[3]})
    assert run.returncode == 0, run.output
    tally = run.summary["self_test"]
    assert tally["not_proven"] == [] and tally["proven"] > 600, run.not_passed()
    skipped = {k: run.message(k) for k, v in run.outcomes().items() if v == "skipped"}
    assert all(m.startswith("nothing to prove") for m in skipped.values()), skipped
    assert "snapshot" in skipped["test_migration_replays[001_init]"]
    assert "severity info" in skipped["test_custom_sql[recommendation_backlog]"]
    assert "probe = false" in skipped[
        "test_check_constraint_enforced[dispatch_executions_instrument_type_check]"]
    # its one real defect, the arbiter production lacks: proven by the check failing there
    arbiter = "test_upsert_has_arbiter[trade_stream_position_per_order]"
    assert run.outcomes()[arbiter] == "passed"
    assert "fails on the expected database itself" in run.message(arbiter)
    # the market-hours windows do not matter: whether a check can fail is not a matter of
    # the hour
    assert run.outcomes()["test_fresh[telemetry_bars]"] == "passed"
    assert "the snapshot's schema" in run.summary["environment"]["Self-test base"]


def test_the_production_example_without_its_migration_files_is_a_usage_error(verify):
    """Its ledger invariants are one per migration file: without the files there is
    nothing to prove them on, and the one line says how to give them."""
    run = _self_test(verify, *PRODUCTION[:2])
    assert run.returncode == 4, run.output
    assert len([line for line in run.output.splitlines() if line.strip()]) == 1, run.output
    assert "migrations dir not found" in run.output
    assert "--migrations-dir or VERIFY_MIGRATIONS_DIR" in run.output


def test_invariants_that_cannot_fail_are_named(verify, config_file):
    """A custom SQL with a misspelt status and a freshness where naming no service: the
    run ends non-zero and names both, each with why; the rest is proven."""
    run = _self_test(verify, "--config", str(config_file(CANNOT_FAIL)), "-k",
                     "fresh or custom or duplicates")
    assert run.returncode == 1, run.output
    sql_item = "test_custom_sql[open_positions_have_positive_quantity]"
    fresh_item = "test_fresh[trade_stream_heartbeat]"
    assert run.outcomes() == {sql_item: "failed", fresh_item: "error",
                              "test_no_duplicates[active_positions.alpaca_order_id]": "passed"}
    assert "the check still passed" in run.message(sql_item)
    assert "the scope `service = 'trade-streem'` matches no row" in run.message(fresh_item)
    tally = run.summary["self_test"]
    assert {i["id"] for i in tally["not_proven"]} == {sql_item, fresh_item}
    verdict = run.summary["verdict"]
    assert verdict.startswith("ERROR (1 of 3 invariants proven able to fail; not proven: ")
    assert sql_item in verdict and fresh_item in verdict
    assert sql_item in run.output and fresh_item in run.output


# ---------------------------------------------------------------- insensitive judges
DATABASE_KINDS = ["migration_recorded", "ledger_has_no_unknown_versions", "ledger_in_order",
                  "migration_versions_distinct", "migration_replays", "schema_object",
                  "no_unexpected_objects", "check_constraint_definition",
                  "check_constraint_enforced", "no_duplicates", "upsert_has_arbiter",
                  "index_present",
                  "indexes_valid", "custom_sql", "fresh", "row_counts"]
AWS_KINDS = ["ecs_service_stable", "log_heartbeat", "schedule_enabled", "alarm_not_firing",
             "log_errors", "lambda_errors"]
BLIND = ["no_duplicates", "fresh", "index_present", "alarm_not_firing"]
"""Kinds whose judge is made to fail without naming the fault (the rest would only repeat it)."""


def test_every_kind_declares_its_faults_and_is_attacked_here():
    """A kind added without faults, or without its insensitive-judge test below, fails
    here. The release kinds have none: their entries are a deploy's manifest, which the
    self-test refuses."""
    from checks.kinds import REGISTRY

    release = {name for name in REGISTRY if name.startswith("release_")}
    assert {name for name, kind in REGISTRY.items() if kind.faults is None} == release
    assert set(DATABASE_KINDS + AWS_KINDS) == set(REGISTRY) - release


@pytest.fixture(scope="session")
def made_insensitive(tmp_path_factory: pytest.TempPathFactory
                     ) -> Callable[[str, str, list[str]], VerifyRun]:
    """(config, mode, kinds) -> one self-test of the suite with those kinds' judges replaced
    (``tests/insensitive.py``), of the shipped config (``database``) or ``AWS`` (``aws``),
    on the first item of each of those kinds (the shipped config's own self-test above
    proves every item). One run stands for one per kind: each item's proof runs that item's
    check alone on its own copy, so no judge sees another's fault."""
    folder = tmp_path_factory.mktemp("insensitive")
    aws = folder / "aws.toml"
    aws.write_text(f'migrations_dir = "{MIGRATIONS}"\n'
                   f'fixtures_dir = "{MIGRATIONS.parent / "fixtures"}"\n{AWS}')
    runs: dict[tuple[str, str, tuple[str, ...]], VerifyRun] = {}
    listed: dict[str, VerifyRun] = {}

    def run(group: str, mode: str, kinds: list[str]) -> VerifyRun:
        kinds = [k for k in kinds if (k in AWS_KINDS) == (group == "aws")]
        key = (group, mode, tuple(kinds))
        if key not in runs:
            args = ("--config", str(aws)) if group == "aws" else ()
            if group not in listed:
                listed[group] = run_verify(folder, "--collect-only", "-q", *args)
            assert listed[group].returncode == 0, listed[group].output
            firsts: dict[str, str] = {}
            for line in listed[group].output.splitlines():
                if line.startswith("verify/") and "::" in line:
                    firsts.setdefault(line.split("::")[1].partition("[")[0], line)
            assert {f"test_{kind}" for kind in kinds} <= set(firsts)
            runs[key] = run_verify(
                folder, "--self-test", *args, "-p", "tests.insensitive",
                paths=tuple(firsts[f"test_{kind}"] for kind in kinds),
                env={"VERIFY_TEST_INSENSITIVE": ",".join(f"{kind}{mode}" for kind in kinds)})
        return runs[key]

    return run


def _items_of(run: VerifyRun, kind: str) -> dict[str, str]:
    return {i: o for i, o in run.outcomes().items() if i.partition("[")[0] == f"test_{kind}"}


@pytest.mark.xdist_group("insensitive")
@pytest.mark.parametrize("kind", DATABASE_KINDS + AWS_KINDS)
def test_each_kinds_faults_catch_a_judge_that_cannot_fail(made_insensitive, kind):
    """The suite with this kind's judge replaced by one that always passes: the self-test
    of its items fails, every one of them."""
    run = made_insensitive("aws" if kind in AWS_KINDS else "database", "",
                           DATABASE_KINDS + AWS_KINDS)
    assert run.returncode == 1, run.output
    outcomes = _items_of(run, kind)
    assert outcomes and set(outcomes.values()) == {"failed"}, outcomes
    assert all(run.message(i).startswith("not proven: ") and "still passed" in run.message(i)
               for i in outcomes)
    assert run.summary["self_test"]["proven"] == 0


@pytest.mark.xdist_group("insensitive")
@pytest.mark.parametrize("kind", BLIND)
def test_a_judge_that_fails_without_naming_the_fault_is_not_proven(made_insensitive, kind):
    """Failing is not enough: the failure must name what was injected."""
    run = made_insensitive("aws" if kind in AWS_KINDS else "database", ":blind", BLIND)
    assert run.returncode == 1, run.output
    outcomes = _items_of(run, kind)
    assert outcomes and set(outcomes.values()) == {"failed"}, outcomes
    assert all("does not name" in run.message(i) for i in outcomes)


@pytest.mark.slow
def test_the_aws_invariants_are_proven_against_a_local_stand_in(verify, config_file):
    run = _self_test(verify, "--config", str(config_file(AWS)), "-k",
                     " or ".join(f"test_{k}" for k in AWS_KINDS),
                     env={"AWS_PROFILE": "does-not-exist", "AWS_ENDPOINT_URL": "http://192.0.2.1:9"})
    assert run.returncode == 0, run.output
    assert set(run.outcomes().values()) == {"passed"} and len(run.outcomes()) == 9
    lambda_item = run.detail("test_lambda_errors[ops-pipeline-healthcheck]")
    faults = [row[0] for row in lambda_item["evidence"][0]["rows"]]
    assert "make ops-pipeline-healthcheck fail 1 time(s)" in faults
    assert "stop invoking ops-pipeline-healthcheck" in faults
    assert "3 line(s)" in run.message("test_log_errors[dispatcher]")


def test_without_moto_the_aws_invariants_are_not_proven(verify):
    run = _self_test(verify, "-p", "tests.without_moto", "-k", "ecs or log_heartbeat")
    assert run.returncode == 1, run.output
    assert set(run.outcomes().values()) == {"error"}
    assert all("pip install 'ops-verify[selftest]'" in run.message(i) for i in run.outcomes())


def test_what_the_expected_database_already_lacks_proves_the_check_by_itself(verify,
                                                                          config_file):
    """An upsert the expected database has no arbiter for (the production example's
    known defect), an index or a CHECK it never had: nothing to remove, and the check's
    failure there, naming it, is the proof."""
    body = '''
[[upserts]]
name = "no_arbiter"
table = "active_positions"
columns = ["alpaca_order_id"]

[[indexes]]
table = "active_positions"
name = "idx_never_made"
columns = ["ticker"]
'''
    run = _self_test(verify, "--config", str(config_file(body)), "-k",
                     "upsert or index_present")
    assert run.returncode == 0, run.output
    assert set(run.outcomes().values()) == {"passed"}
    assert "fails on the expected database itself" in run.message("[no_arbiter]")
    assert "idx_never_made" in run.message("[idx_never_made]")


# ---------------------------------------------------------------- custom SQL
def test_a_custom_sql_without_violating_is_not_proven_unless_allowed(verify, config_file):
    body = '''
[[custom_sql]]
name = "unproven"
sql = "SELECT id FROM active_positions WHERE quantity < 0"

[[custom_sql]]
name = "accepted"
sql = "SELECT id FROM active_positions WHERE quantity < 0"
allow_unproven = true
'''
    run = _self_test(verify, "--config", str(config_file(body)), "-k", "custom")
    assert run.outcomes() == {"test_custom_sql[unproven]": "error",
                              "test_custom_sql[accepted]": "accepted"}
    assert "not proven: give `violating`" in run.message("[unproven]")
    assert "accepted by allow_unproven" in run.message("[accepted]")
    assert run.returncode == 1
    assert run.summary["self_test"]["accepted_unproven"][0]["id"] == "test_custom_sql[accepted]"


def test_a_violating_statement_that_changes_nothing_the_query_reads_is_not_proven(
        verify, config_file):
    """The query returns rows already without the write: its failure proves nothing."""
    body = '''
[[custom_sql]]
name = "always_rows"
sql = "SELECT id FROM active_positions"
violating = "UPDATE active_positions SET quantity = quantity"
'''
    run = _self_test(verify, "--config", str(config_file(body)), "-k", "custom")
    assert run.outcomes() == {"test_custom_sql[always_rows]": "failed"}
    assert "fails without the fault too" in run.message("[always_rows]")


@pytest.mark.parametrize("violating", ["SELECT 1", "UPDATE a SET b = 1; DELETE FROM a", ""])
def test_violating_must_be_one_write(verify, config_file, violating):
    body = f'''
[[custom_sql]]
name = "x"
sql = "SELECT 1 WHERE false"
violating = "{violating}"
'''
    run = verify("--config", str(config_file(body)))
    assert run.returncode == 4, run.output
    assert "violating: must be one INSERT, UPDATE or DELETE" in run.output


# ---------------------------------------------------------------- no target
@pytest.mark.parametrize("args, says", [
    (("--dsn", "host=192.0.2.1"), "--self-test touches no target, so --dsn cannot go with it"),
    (("--via-lambda", "ops-pipeline-db-query"), "so --via-lambda cannot go with it"),
    (("--upload", "s3://bucket/p"), "nothing leaves this machine"),
    (("--attach", "github:o/r#1"), "nothing leaves this machine"),
    (("--settle", "1m"), "--settle cannot go with --self-test"),
    (("--release-manifest", "m.json"), "--release-manifest cannot go with --self-test"),
    (("--env", "nowhere"), "--env nowhere: no such environment"),
])
def test_a_target_or_a_delivery_with_the_self_test_is_a_usage_error(verify, args, says):
    run = _self_test(verify, *args)
    assert run.returncode == 4, run.output
    assert says in run.output
    assert len([line for line in run.output.splitlines() if line.strip()]) == 1, run.output
    assert run.summary["usage_error"]
    assert not (run.reports_dir / "metrics.prom").exists()
    title = (run.reports_dir / "summary.md").read_text().splitlines()[0]
    assert title == "## Self-test of the invariants: ERROR", title


def test_an_environment_is_its_version_of_the_entries_and_no_target(verify):
    """--env staging: its overrides (a heartbeat's max_age) and its skips; a target in
    VERIFY_DSN is ignored and said so; nothing is reached (the address does not exist)."""
    run = _self_test(verify, "--env", "staging", "-k", "fresh or custom",
                     env={"VERIFY_DSN": "host=192.0.2.1 dbname=prod connect_timeout=1"})
    assert run.returncode == 0, run.output
    assert run.outcomes() == {"test_fresh[trade_stream_heartbeat]": "passed",
                              "test_custom_sql[open_positions_have_positive_quantity]":
                                  "skipped"}
    assert "15m and a day" in run.message("[trade_stream_heartbeat]")
    assert "not checked in environment staging" in run.message(
        "[open_positions_have_positive_quantity]")
    assert "VERIFY_DSN is set and ignored (--self-test touches no target)" in run.output
    assert "chosen by --self-test --env staging" in run.output
    assert run.summary["target"]["kind"] == "ephemeral"


# ---------------------------------------------------------------- the verdict, judged
def _fault(*names: str, clean_base: bool = False) -> Fault:
    return Fault("break it", lambda copy: None, names=names, clean_base=clean_base)


def test_proven_only_when_the_failure_names_what_was_injected():
    fault = _fault("ord-7")
    base = passed("fine")
    named = failed("1 duplicated value", Evidence("d", ("key",), [("ord-7",)]))
    assert judged(base, of(fault), [Attempt(fault, named)]).status is Status.PASSED
    other = failed("1 duplicated value", Evidence("d", ("key",), [("ord-8",)]))
    found = judged(base, of(fault), [Attempt(fault, other)])
    assert found.status is Status.FAILED and "does not name 'ord-7'" in found.message
    warned = Outcome(Status.WARNED, "ord-7 twice")
    assert judged(base, of(fault), [Attempt(fault, warned)]).status is Status.PASSED


def test_every_way_an_item_is_not_proven():
    fault = _fault()
    assert judged(passed("ok"), of(fault), [Attempt(fault, passed("ok"))]).status \
        is Status.FAILED
    assert judged(passed("ok"), of(fault), [Attempt(fault, skipped("later"))]).status \
        is Status.FAILED
    errored = judged(passed("ok"), of(fault), [Attempt(fault, problem="no row in scope")])
    assert errored.status is Status.ERROR and "no row in scope" in errored.message
    cannot = Outcome(Status.ERROR, "locked")
    assert judged(passed("ok"), of(fault), [Attempt(fault, cannot)]).status is Status.ERROR
    assert judged(passed("ok"), Faults(), []).status is Status.ERROR
    assert judged(passed("ok"), unproven("give `violating`"), []).status is Status.ERROR
    assert judged(passed("ok"), unproven("x", accepted=True), []).status is Status.ACCEPTED
    clean = _fault(clean_base=True)
    assert judged(failed("rows"), of(clean), [Attempt(clean, failed("rows"))]).status \
        is Status.FAILED
    assert judged(skipped("read-only"), of(fault), []).status is Status.SKIPPED
    # a failure the fault did not change is not the fault's
    same = failed("2 rows", Evidence("rows", ("id",), [(1,), (2,)]))
    unchanged = judged(same, of(fault), [Attempt(fault, same)])
    assert unchanged.status is Status.FAILED and "changed nothing" in unchanged.message
    # one missed fault of several is enough
    second = _fault()
    mixed = judged(passed("ok"), of(fault, second),
                   [Attempt(fault, failed("x")), Attempt(second, passed("ok"))])
    assert mixed.status is Status.FAILED


def test_the_tally_names_what_was_not_proven():
    results = [CheckResult("v::a", "x", "passed", "proven"),
               CheckResult("v::b", "x", "failed", "not proven: still passed"),
               CheckResult("v::c", "x", "error", "not proven: no row"),
               CheckResult("v::d", "x", "skipped", "nothing to prove"),
               CheckResult("v::e", "x", "accepted", "not proven: accepted")]
    tally = self_test_tally(results)
    assert tally.line() == ("1 of 4 invariants proven able to fail; not proven: b, c; 1 not "
                            "proven, accepted by allow_unproven")
    assert json.dumps(tally.to_dict())


# ---------------------------------------------------------------- attacks on the self-test
class _Listener:
    """A TCP port that counts who connects (a database, an AWS endpoint nobody may reach)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import contextlib

        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.socket.accept()
                self.connections += 1
                conn.close()

    def close(self) -> None:
        self.socket.close()


def test_nothing_of_a_configured_target_is_reached(verify, config_file):
    """Every way a target could be named (an environment's DSN, its SSM parameters and
    secret, VERIFY_DSN, VERIFY_LAMBDA, the AWS chain's endpoint) points at a port that
    counts connections: the self-test proves database and AWS invariants, and nobody
    connects."""
    listener = _Listener()
    try:
        address = f"host=127.0.0.1 port={listener.port} dbname=ops_pipeline connect_timeout=1"
        body = f'''
[aws]
region = "us-west-2"

[environments.live]
dsn = "{address}"

[environments.live-ssm]
ssm_prefix = "/ops-pipeline"
secret = "ops-pipeline/db"
aws_region = "us-west-2"

[[freshness]]
name = "trade_stream_heartbeat"
table = "service_heartbeats"
column = "last_beat_at"
where = "service = 'trade-stream'"
max_age = "5m"

[[ecs_services]]
name = "trade-stream"
cluster = "ops-pipeline-cluster"
'''
        endpoint = f"http://127.0.0.1:{listener.port}"
        run = _self_test(verify, "--config", str(config_file(body)), "--env", "live",
                         "--env", "live-ssm", "-k", "fresh or ecs",
                         env={"VERIFY_DSN": address, "VERIFY_LAMBDA": "ops-pipeline-db-query",
                              "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-west-2",
                              "AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_SECRET_ACCESS_KEY": "x"})
    finally:
        listener.close()
    assert run.returncode == 0, run.output
    assert len(run.outcomes()) == 4 and set(run.outcomes().values()) == {"passed"}
    assert listener.connections == 0


def test_an_interrupted_self_test_is_never_a_pass(tmp_path, private_tmp, config_file):
    """Ctrl-C while a check runs on a copy: exit 2, the verdict says interrupted and lists
    what was not proven, and the suite's server and its copies are gone."""
    import signal
    import subprocess
    import sys

    from tests.conftest import _clean_env
    from tests.polling import poll, query_running, sigint_default
    from tests.test_lifecycle import _folders

    config = config_file('''
[settings]
statement_timeout = "60s"

[[custom_sql]]
name = "slow"
sql = "SELECT id FROM active_positions, pg_catalog.pg_sleep(30) WHERE quantity < 0"
violating = "UPDATE active_positions SET quantity = -1"

[[unique]]
name = "active_positions.alpaca_order_id"
table = "active_positions"
columns = ["alpaca_order_id"]
''')
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", str(ROOT / "verify"), "--self-test", "--config",
         str(config), "--reports-dir", str(reports), "-p", "no:randomly"],
        cwd=ROOT, env={**_clean_env(), "TMPDIR": str(private_tmp),
                       "VERIFY_RUNTIME_DIR": str(private_tmp)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=sigint_default)
    poll(lambda: query_running(private_tmp, "pg_sleep(30)"), until=proc)
    started = _folders(private_tmp)
    assert started, "the slow check never started"
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, output
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["outcome"] == "interrupted"
    assert summary["verdict"].startswith("INTERRUPTED (")
    assert "invariants proven able to fail" in summary["verdict"]
    tally = summary["self_test"]
    assert tally["not_run"] and tally["proven"] < tally["invariants"]
    assert f"{tally['not_run']} not run" in summary["verdict"]
    assert not list(private_tmp.iterdir()), output


# ---------------------------------------------------------------- drift of the kinds only a
# superuser (or a schema's owner) makes: the self-test's server is its own, so it can
KINDS_MIGRATION = """
CREATE FUNCTION public.same_price(numeric, numeric) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS 'SELECT $1 = $2';
CREATE OPERATOR public.=~= (LEFTARG = numeric, RIGHTARG = numeric,
                            FUNCTION = public.same_price);
CREATE TYPE public.order_state AS ENUM ('new', 'filled');
CREATE CAST (public.order_state AS text) WITH INOUT;
CREATE FUNCTION public.audit_ddl() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
CREATE EVENT TRIGGER audit_ddl ON ddl_command_end EXECUTE FUNCTION public.audit_ddl();
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET statement_timeout = %L', current_database(), '1h');
END $$;
"""


def test_settings_operators_casts_and_event_triggers_are_proven(verify, tmp_path):
    """Each of these drift kinds: an expected one dropped (a database's own setting reset)
    and an unexpected one added, on the copy; a role's setting, which would reach every
    database of the server, says plainly that the self-test cannot remove it."""
    import shutil

    from tests.conftest import MIGRATIONS

    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations)
    (migrations / "2026_12_01_0001_superuser_kinds.sql").write_text(KINDS_MIGRATION)
    config = tmp_path / "invariants.toml"
    config.write_text(f'migrations_dir = "{migrations}"\n'
                      f'fixtures_dir = "{MIGRATIONS.parent / "fixtures"}"\n')
    run = _self_test(verify, "--config", str(config), "-k",
                     "setting or operator or cast or event_trigger")
    assert run.returncode == 0, run.output
    outcomes = run.outcomes()
    assert set(outcomes.values()) == {"passed"}, run.not_passed()
    kinds = {"setting", "operator", "cast", "event_trigger"}
    assert {i.split("[", 1)[1].rstrip("]") for i in outcomes
            if i.startswith("test_no_unexpected_objects")} == kinds
    objects = {i.split("[", 1)[1].split(":", 1)[0] for i in outcomes
               if i.startswith("test_schema_object")}
    assert objects == kinds, outcomes
    assert "statement_timeout" in " ".join(outcomes)


@pytest.mark.parametrize("normalize", ["lower", "trim", "lower_trim"])
def test_a_normalized_key_is_duplicated_as_another_spelling(verify, config_file, normalize):
    """With ``normalize``, the duplicate is the key spelled otherwise (its case changed,
    spaces around it): the check must take it for the same key, and say which."""
    body = f'''
[[unique]]
name = "order_id_{normalize}"
table = "active_positions"
columns = ["alpaca_order_id"]
normalize = "{normalize}"
'''
    run = _self_test(verify, "--config", str(config_file(body)), "-k", "duplicates")
    assert run.returncode == 0, run.output
    item = f"test_no_duplicates[order_id_{normalize}]"
    assert run.outcomes() == {item: "passed"}, run.output
    detail = run.detail(item)
    written = " ".join(detail["sql"])
    assert ("upper(" in written) == ("lower" in normalize)
    assert ("' ' ||" in written) == ("trim" in normalize)
    assert f"spelled otherwise (normalize = {normalize})" in detail["evidence"][0]["rows"][0][0]


def test_a_roles_setting_says_plainly_that_it_cannot_be_removed_from_one_copy():
    """A role's setting (or ALTER ROLE ALL's) reaches every database of the server: removing
    it from one copy would change the others, so the item is not proven, and says why."""
    from types import SimpleNamespace

    from checks.kinds.drift import SCHEMA_OBJECT, ExpectedObject

    base = SimpleNamespace(config=SimpleNamespace(drift=SimpleNamespace(allow=[])))
    for scope in ("role ops_verify", "all roles"):
        found = SCHEMA_OBJECT.faults(ExpectedObject(f"setting:{scope}:statement_timeout"), base)
        assert found.unproven and "every database of the server" in found.unproven
        assert not found.accepted
    allowed = SimpleNamespace(config=SimpleNamespace(drift=SimpleNamespace(
        allow=["setting:*"])))
    assert SCHEMA_OBJECT.faults(ExpectedObject("setting:all roles:x"), allowed).not_applicable
