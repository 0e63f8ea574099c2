"""Never a false green: every way the suite was fooled, and tampering of the same kinds.

Each case ends non-green (or says it is partial) and names its cause.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from psycopg import sql

from tests import forked
from tests.conftest import MIGRATIONS, ROOT, _clean_env
from tests.forked import OPS_VERIFY
from tests.polling import PATIENCE_S, poll, query_running

DUPLICATE = ("INSERT INTO active_positions (ticker, instrument_type, side, quantity, entry_price, "
             "alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, 'ord-1001')")
DUPLICATES = "test_no_duplicates[active_positions.alpaca_order_id]"
REPORTS = ("report.html", "junit.xml", "summary.md", "summary.json")


# ---------------------------------------------------------------- the plugin owns the verdict
@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
@pytest.mark.parametrize("mode", ["--setup-only", "--setup-plan", "--collect-only"])
def test_modes_that_run_no_check_leave_no_passed_report(verify, database, tmp_path, mode,
                                                        workers):
    database.execute(DUPLICATE)
    reports = tmp_path / "reports"
    earlier = verify("--dsn", database.dsn, "-k", "recorded", reports=reports)
    assert earlier.summary["outcome"] == "passed"
    run = verify("--dsn", database.dsn, mode, *workers, reports=reports)
    for name in REPORTS:
        assert not (reports / name).exists(), name
    assert "PASSED" not in run.output.split("post-deploy verification")[-1]
    if mode != "--collect-only":
        assert run.returncode == 1
        assert f"NO VERDICT: {mode} runs no check" in run.output


def test_the_test_body_does_not_decide_the_verdict(verify, database, tmp_path):
    """A checklist module whose bodies fail, skip or pass: the checks' outcomes stand."""
    copy = tmp_path / "suite"
    shutil.copytree(ROOT / "verify", copy / "verify")
    for name in ("conftest.py", "pytest.ini"):
        shutil.copy(ROOT / name, copy / name)
    module = copy / "verify" / "test_data_integrity.py"
    ran = tmp_path / "bodies-ran"
    ran.mkdir()
    # the area's items as the checklist makes them, then two with bodies of their own
    module.write_text(module.read_text() + f"""
from plugin import check


@check("no_duplicates")
def test_no_duplicates():
    import pathlib
    import pytest
    pathlib.Path({str(ran / "skip")!r}).touch()
    pytest.skip("tampered")


@check("custom_sql")
def test_custom_sql():
    import pathlib
    pathlib.Path({str(ran / "fail")!r}).touch()
    raise AssertionError("no")
""")
    database.execute(DUPLICATE)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(copy / "verify"), "--dsn", database.dsn,
         "--config", str(ROOT / "verify" / "invariants.toml"), "--reports-dir",
         str(tmp_path / "r"), "-k", "no_duplicates or custom_sql"],
        cwd=copy, capture_output=True, text=True, env=_clean_env(), timeout=300)
    assert sorted(p.name for p in ran.iterdir()) == ["fail", "skip"], run.stdout  # tampered
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    outcomes = {c["id"].split("::")[1]: c["outcome"] for c in summary["checks"]}
    assert outcomes == {DUPLICATES: "failed",
                        "test_custom_sql[open_positions_have_positive_quantity]": "passed"}
    assert run.returncode == 1


STALE = '{"outcome": "passed", "checks": []}\n'


@pytest.mark.parametrize(("args", "env", "cause"), [
    (("-p", "no:plugin.reports"), {}, "-p no:plugin.reports: the suite's own plugin"),
    (("-p", "no:plugin.items"), {}, "-p no:plugin.items: the suite's own plugin"),
    (("-p", "no:plugin.options"), {}, "-p no:plugin.options: the suite's own plugin"),
    (("-p", "no:verify-reports"), {}, "-p no:verify-reports: the suite's own plugin"),
    ((), {"PYTEST_ADDOPTS": "-p no:plugin.reports"}, "-p no:plugin.reports: the suite's own"),
    (("-o", "addopts=-p no:plugin.reports"), {}, "-p no:plugin.reports: the suite's own"),
    (("-p", "no:plugin.options", "--reports-dir", "{reports}"), {},
     "-p no:plugin.options: the suite's own plugin"),
    (("-p", "no:terminal"), {}, "-p no:terminal: the suite reports through pytest's terminal"),
    (("-p", "no:html"), {}, "-p no:html: the suite reports through pytest's html plugin"),
    (("-p", "no:junitxml"), {}, "-p no:junitxml: the suite reports through"),
    (("-p", "no:metadata"), {}, "-p no:metadata: the suite reports through"),
    ((), {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, "pytest's html and metadata plugins are not"),
    (("--disable-plugin-autoload",), {}, "pytest's html and metadata plugins are not"),
], ids=["reports", "items", "options", "registered-name", "PYTEST_ADDOPTS", "ini-addopts",
        "options-and-its-option", "terminal", "html", "junitxml", "metadata",
        "autoload-variable", "autoload-option"])
@pytest.mark.parametrize("command", ["pytest", "ops-verify"])
def test_the_suite_s_plugins_cannot_be_disabled(verify, database, tmp_path, args, env, cause,
                                                command):
    """Each way to switch a plugin off is a usage error in one line, and the previous run's
    passed summary is replaced by it."""
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "summary.json").write_text(STALE)
    args = tuple(a.format(reports=reports) for a in args)
    if command == "pytest":
        run = verify("--dsn", database.dsn, "-k", "recorded", *args, env=env, reports=reports)
        returncode, output = run.returncode, run.output
    else:
        returncode, output = _ops_verify("verify", "--dsn", database.dsn, "-k", "recorded",
                                         "--reports-dir", str(reports), *args, env=env)
    assert returncode == 4, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"ERROR: {cause}"), output
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["outcome"] == "error" and cause in summary["usage_error"]
    assert 'ops_verify_run_outcome{outcome="error"} 1.0' in (reports / "metrics.prom").read_text()


@pytest.mark.parametrize("args", [("-o", "addopts="), ("-p", "no:conftest"), ("-p", "no:xdist"),
                                  ("-p", "no:randomly")])
def test_what_does_not_disable_the_suite_leaves_its_verdict(verify, database, args):
    run = verify("--dsn", database.dsn, "-k", "recorded", *args)
    assert run.returncode == 0, run.output
    assert run.summary["verdict"].startswith("PASSED (6 of ")


def test_a_conftest_cannot_be_blocked_by_name(verify, database):
    run = verify("--dsn", database.dsn, "-p", f"no:{ROOT / 'conftest.py'}")
    assert run.returncode == 4
    assert "Blocking conftest files using -p is not supported" in run.output


@pytest.fixture
def suite_copy(tmp_path) -> Path:
    """The checklist and its wiring in a folder of their own."""
    copy = tmp_path / "suite"
    shutil.copytree(ROOT / "verify", copy / "verify")
    for name in ("conftest.py", "pytest.ini"):
        shutil.copy(ROOT / name, copy / name)
    return copy


@pytest.mark.parametrize("with_options", [False, True], ids=["no-options", "suite-options"])
@pytest.mark.parametrize(("args", "root"), [(("--noconftest",), "."),
                                            (("--confcutdir", "verify"), "."),
                                            (("-c", "verify/tox.ini"), "verify"),
                                            ((), "verify")],
                         ids=["noconftest", "confcutdir", "ini-named-by-c", "ini-found-below"])
def test_a_run_that_never_loads_the_plugin_is_never_green(suite_copy, database, args, root,
                                                          with_options):
    """What no plugin can refuse: with ``pytest`` every check errors for want of its
    fixture (or the suite's options are unknown); ``ops-verify`` (what CI runs) makes it a
    usage error in one line, and replaces the previous run's passed summary with it. An ini
    file below conftest.py (named by -c, or merely present) makes that folder the rootdir,
    and conftest.py lies outside it."""
    if root != ".":
        (suite_copy / root / "tox.ini").write_text("[pytest]\n")
    reports = suite_copy / root / "reports"
    reports.mkdir(exist_ok=True)
    options = ("--dsn", database.dsn, "--reports-dir", str(reports)) if with_options else ()
    common = ("verify", "-k", "recorded", "-p", "no:randomly", *options, *args)
    code, plain = forked.run(list(common), cwd=suite_copy, env=_clean_env(), timeout=300,
                             output=suite_copy / "plain")
    assert code == (4 if with_options else 1), plain  # pytest's own
    assert not re.search(r"\d passed", plain), plain
    (reports / "summary.json").write_text(STALE)
    returncode, output = _ops_verify(*common, cwd=suite_copy)
    assert returncode == 4, output
    lines = [line for line in output.splitlines() if line.strip()]
    if with_options:  # pytest refuses the suite's options it never learnt
        assert "unrecognized arguments: --dsn" in output, output
    else:
        assert len(lines) == 1, output
        assert lines[0].startswith("ERROR: the suite's plugins were not loaded (")
        assert lines[0].endswith("nothing was verified")
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["outcome"] == "error", output


def test_ops_verify_runs_the_suite(database, tmp_path):
    """The installed console script itself (the other tests fork its entry point)."""
    returncode, output = _ops_verify("verify", "--dsn", database.dsn, "-k", "recorded",
                                     "--reports-dir", str(tmp_path / "r"), fresh=True)
    assert returncode == 0, output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["verdict"].startswith("PASSED (6 of ")


def _ops_verify(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT,
                fresh: bool = False) -> tuple[int, str]:
    """``ops-verify *args``: forked from the tests' fork server, or with ``fresh`` the
    installed script in a process of its own."""
    env = {**_clean_env(), **(env or {})}
    if fresh:
        done = subprocess.run([str(OPS_VERIFY), *args], cwd=cwd, capture_output=True,
                              text=True, env=env, timeout=300)
        return done.returncode, done.stdout + done.stderr
    output = Path(tempfile.gettempdir()) / f"ops-verify-{uuid.uuid4().hex}"
    return forked.run(list(args), cwd=cwd, env=env, timeout=300, output=output,
                      command="ops-verify")


# ---------------------------------------------------------------- stopped early
def _interrupted_run(tmp_path, private_tmp, *args: str, running: str):
    """A run of ``args`` sent SIGTERM once its server runs a statement containing
    ``running``; returns (returncode, output, reports folder)."""
    reports = tmp_path / "reports"
    with subprocess.Popen(
            [sys.executable, "-m", "pytest", str(ROOT / "verify"), *args,
             "--reports-dir", str(reports)],
            cwd=ROOT, env={**_clean_env(), "TMPDIR": str(private_tmp),
                           "VERIFY_RUNTIME_DIR": str(private_tmp)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        try:
            assert poll(lambda: query_running(private_tmp, running), until=proc), \
                f"{running} never ran"
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=PATIENCE_S)
        finally:
            proc.kill()
    return proc.returncode, output, reports


@pytest.mark.slow
def test_sigterm_mid_run_reports_interrupted_with_the_checks_not_run(tmp_path, private_tmp,
                                                                    config_file):
    config = config_file('[settings]\nstatement_timeout = "2h"\n[[custom_sql]]\n'
                         'name = "slow"\nsql = "SELECT 1 FROM pg_sleep(3600) WHERE random() < 0"\n')
    code, output, reports = _interrupted_run(tmp_path, private_tmp, "--config", str(config),
                                             running="pg_sleep(3600)")
    assert code == 2, output
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["outcome"] == "interrupted", output
    assert summary["not_run"] and summary["counts"]["passed"] == 0
    html = (reports / "report.html").read_text()
    assert "INTERRUPTED" in html and "Not run (" in html
    assert "not_run" in (reports / "junit.xml").read_text()


@pytest.mark.slow
def test_sigterm_while_the_checks_are_collected_still_reports_interrupted(
        tmp_path, private_tmp, config_file):
    """Collection replays the migrations (a cold cache, a new migration): a signal there
    still writes every report, marked interrupted, never a pass and never nothing."""
    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "db" / "migrations", migrations)
    (migrations / "2099_01_01_0001_slow.sql").write_text(
        f"-- {uuid.uuid4()}: never replayed before\nSELECT pg_sleep(3600);\n")
    code, output, reports = _interrupted_run(
        tmp_path, private_tmp, "--migrations-dir", str(migrations), running="pg_sleep(3600)")
    assert code == 2, output
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["outcome"] == "interrupted", output
    assert summary["verdict"].startswith("INTERRUPTED (no check collected")
    assert summary["selection"]["total"] is None and summary["checks"] == []
    assert 'ops_verify_run_outcome{outcome="interrupted"} 1.0' in (
        reports / "metrics.prom").read_text()
    assert not list(private_tmp.iterdir()), "the replay server was left behind"


@pytest.mark.parametrize("stop", [("-x",), ("--maxfail", "1")])
def test_a_run_stopped_at_the_first_failure_lists_what_it_did_not_run(verify, database, stop):
    database.execute("ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_side")
    run = verify("--dsn", database.dsn, *stop)
    assert run.returncode == 1
    assert run.summary["outcome"] == "failed"
    assert len(run.summary["not_run"]) > 50
    assert "selected check(s) not run" in (run.reports_dir / "summary.md").read_text()
    junit = (run.reports_dir / "junit.xml").read_text()  # what a CI's test view reads
    assert junit.count('>not run: the run stopped before') == \
        len(run.summary["not_run"])
    errors = int(re.search(r'errors="(\d+)"', junit).group(1))
    assert errors >= len(run.summary["not_run"])


@pytest.mark.parametrize("mistake", ["config", "option-typo", "no-terminal"])
def test_a_usage_error_replaces_the_previous_reports(verify, database, tmp_path, config_file,
                                                     mistake):
    reports = tmp_path / "reports"
    assert verify("--dsn", database.dsn, reports=reports).summary["outcome"] == "passed"
    if mistake == "config":  # refused by the suite, in pytest_configure
        bad = config_file("[settings]\nsample_rows = 0\n")
        run = verify("--dsn", database.dsn, "--config", str(bad), reports=reports)
        cause = "sample_rows: 0 is out of range"
    elif mistake == "option-typo":  # refused by pytest's own parser, before any hook
        run = verify("--dns", database.dsn, reports=reports)
        cause = "unrecognized arguments: --dns"
    else:  # the console, uploads and attachments all run at the terminal's summary
        run = verify("--dsn", database.dsn, "-p", "no:terminal", "-o", "addopts=",
                     reports=reports)
        cause = "-p no:terminal: the suite reports through pytest's terminal plugin"
    assert run.returncode == 4
    assert cause in run.output
    assert run.summary["outcome"] == "error"
    assert cause in run.summary["usage_error"]
    assert database.dsn not in (reports / "summary.json").read_text()
    assert not [n for n in ("report.html", "junit.xml") if (reports / n).exists()]
    assert "ERROR" in (reports / "summary.md").read_text().splitlines()[0]
    # the pager sees an error now, not series that vanished
    prom = (reports / "metrics.prom").read_text()
    assert 'ops_verify_run_outcome{outcome="error"} 1.0' in prom
    assert 'ops_verify_run_outcome{outcome="passed"} 0.0' in prom
    # a usage error knows no target: no last success (never another target's)
    assert "ops_verify_last_success_timestamp_seconds" not in prom


# ---------------------------------------------------------------- partial runs say so
@pytest.mark.parametrize(("args", "expression"), [
    (("-k", "chk_active_positions_side"), "-k 'chk_active_positions_side'"),
    (("--deselect", "verify/test_migrations.py::test_migration_recorded[001_init]"),
     "--deselect"),
])
def test_a_partial_selection_is_shown_everywhere(verify, database, args, expression):
    run = verify("--dsn", database.dsn, *args)
    assert run.returncode == 0, run.output
    selection = run.summary["selection"]
    assert selection["selected"] < selection["total"]
    assert expression in selection["expression"]
    said = f"{selection['selected']} of {selection['total']} checks selected"
    assert run.summary["verdict"].startswith(f"PASSED ({said}")
    assert said in run.output
    assert said in (run.reports_dir / "summary.md").read_text().splitlines()[0]
    assert said in (run.reports_dir / "report.html").read_text()


def test_a_file_selection_is_partial_too(verify, database):
    run = verify("--dsn", database.dsn, paths=("verify/test_drift.py",))
    assert run.summary["selection"]["expression"].endswith("test_drift.py")
    assert "checks selected" in run.summary["verdict"]


# ---------------------------------------------------------------- the target is explicit
@pytest.mark.parametrize(("args", "env", "message"), [
    (("--dsn", ""), {}, "--dsn was given an empty value"),
    (("--via-lambda", ""), {}, "--via-lambda was given an empty value"),
    (("--env", " "), {}, "--env was given an empty value"),
    ((), {"VERIFY_DSN": ""}, "VERIFY_DSN is set but empty"),
    ((), {"VERIFY_LAMBDA": ""}, "VERIFY_LAMBDA is set but empty"),
    ((), {"VERIFY_DSN": "host=/x dbname=y", "VERIFY_LAMBDA": "f"}, "both set"),
    (("--dsn", "host=/x dbname=y", "--via-lambda", "f"), {}, "given together"),
])
def test_an_empty_or_conflicting_target_is_a_usage_error(verify, args, env, message):
    run = verify(*args, env=env)
    assert run.returncode == 4
    assert message in run.output
    assert "Traceback" not in run.output


def test_the_command_line_beats_the_environment_and_says_so(verify, database, config_file):
    config = config_file(f'[environments.prod]\ndsn = "{database.dsn}"\n')
    run = verify("--env", "prod", "--config", str(config), "-k", "recorded",
                 env={"VERIFY_DSN": "host=/nonexistent dbname=elsewhere"})
    assert run.returncode == 0, run.output
    first = run.output.splitlines()[0]
    assert first.startswith("target: dsn local socket:5432/") and "(chosen by --env prod)" in first
    assert "VERIFY_DSN is set and ignored (--env given)" in run.output


def test_the_embedded_default_ignores_the_callers_libpq_environment(verify):
    hostile = {"PGPORT": "1", "PGHOST": "/nonexistent", "PGDATABASE": "nope", "PGUSER": "nobody",
               "PGOPTIONS": "-c statement_timeout=1", "PGTZ": "Pacific/Kiritimati",
               "PGSSLMODE": "require", "PGSERVICE": "no-such-service", "PGAPPNAME": "x",
               "PGCONNECT_TIMEOUT": "1", "PGDATESTYLE": "German", "PGCLIENTENCODING": "LATIN1",
               "PGTARGETSESSIONATTRS": "standby", "PGGSSENCMODE": "require"}
    run = verify(env=hostile)
    assert run.returncode == 0, run.output
    assert run.summary["outcome"] == "passed"


def test_a_dsn_still_takes_what_it_leaves_out_from_the_libpq_environment(verify, database):
    host = database.dsn.split("host=")[1].split()[0]
    run = verify("--dsn", f"dbname={database.name}", "-k", "recorded",
                 env={"PGHOST": host, "PGPORT": "5432", "PGUSER": "postgres"})
    assert run.returncode == 0, run.output


# ---------------------------------------------------------------- checks see all there is
def test_row_level_security_that_hides_rows_is_an_error_naming_the_policy(verify, database):
    role = f"verify_{uuid.uuid4().hex[:8]}"
    database.execute(DUPLICATE)
    database.execute(f"CREATE ROLE {role} LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public "
                     f"TO {role}; ALTER TABLE active_positions ENABLE ROW LEVEL SECURITY; "
                     f"CREATE POLICY only_first_rows ON active_positions USING (id < 5)")
    try:
        run = verify("--dsn", f"{database.dsn} user={role}", "-k", "no_duplicates or custom")
        assert run.outcomes()[DUPLICATES] == "error"
        message = run.message("[active_positions.alpaca_order_id]")
        assert "row-level security" in message and "only_first_rows" in message
        assert role in message
    finally:
        database.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_the_session_time_zone_is_pinned(verify, database, config_file):
    """A timestamp without time zone written as UTC wall-clock time, read by a database
    whose default time zone is UTC+14: still fresh."""
    database.execute("CREATE TABLE beats (at timestamp NOT NULL); "
                     "INSERT INTO beats VALUES (now() AT TIME ZONE 'UTC')")
    database.execute(f"ALTER DATABASE {database.name} SET timezone = 'Pacific/Kiritimati'")
    config = config_file('[[freshness]]\nname = "naive"\ntable = "beats"\ncolumn = "at"\n'
                         'max_age = "5m"\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "fresh")
    assert run.outcomes() == {"test_fresh[naive]": "passed"}, run.output


def test_the_search_path_is_pinned(verify, database, config_file):
    """A schema that shadows the tables on the database's search_path does not hide the
    duplicate from unqualified custom SQL, and is itself unexpected."""
    database.execute(DUPLICATE)
    database.execute("CREATE SCHEMA shadow; CREATE TABLE shadow.active_positions "
                     "(LIKE public.active_positions)")
    database.execute(f"ALTER DATABASE {database.name} SET search_path = shadow, public")
    config = config_file(
        '[[custom_sql]]\nname = "dups"\nsql = "SELECT alpaca_order_id FROM active_positions '
        'GROUP BY 1 HAVING count(*) > 1"\n')
    run = verify("--dsn", database.dsn, "--config", str(config))
    assert run.outcomes()["test_custom_sql[dups]"] == "failed"
    assert run.outcomes()["test_no_unexpected_objects[table]"] == "failed"
    assert "shadow.active_positions" in run.message("test_no_unexpected_objects[table]")


def test_sampling_caps_the_evidence_never_the_verdict(verify, database, config_file):
    for i in range(5):
        database.execute(DUPLICATE.replace("ord-1001", f"ord-dup-{i}"))
        database.execute(DUPLICATE.replace("ord-1001", f"ord-dup-{i}"))
    config = config_file('[settings]\nsample_rows = 1\n[[unique]]\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    evidence = run.detail("test_no_duplicates")["evidence"][0]
    assert len(evidence["rows"]) == 1 and evidence["total"] == 5
    assert "5 duplicated alpaca_order_id value(s) across 10 rows" in run.message(
        "[active_positions.alpaca_order_id]")


@pytest.mark.parametrize(("text", "message"), [
    ("[settings]\nsample_rows = 0\n", "sample_rows: 0 is out of range"),
    ("[settings]\nstatement_timeout = '0s'\n", "not a positive duration"),
    ("[settings]\nconcurrency = 0\n", "concurrency: 0 is out of range"),
    ("[settings]\ntimezone = 'Mars/Base'\n", "unknown time zone"),
    ("[[freshness]]\nname='x'\ntable='t'\ncolumn='c'\nmax_age='-5m'\n", "not a positive"),
    ("[[freshness]]\nname='x'\ntable='t'\ncolumn='c'\n"
     "active={days=['mon'], hours='16:00-09:30'}\n", "the start must come before the end"),
    ("[[unique]]\ntable='t'\ncolumns=['c']\nseverity='maybe'\n", "is not one of"),
    ("[[custom_sql]]\nname='x'\nsql='DELETE FROM t'\n", "must be one SELECT"),
    ("[[custom_sql]]\nname='x'\nsql='SELECT 1; DROP TABLE t'\n", "must be one SELECT"),
    ("[[unique]]\ntable='t'\ncolumns=[]\n", "columns: name at least one column"),
    ("[[indexes]]\ntable='t'\n", "name the index, its columns, or primary_key = true"),
    ("[[log_heartbeats]]\nname='x'\npattern=''\n", "pattern: name the line the service"),
    ("[[freshness]]\nname='x'\ntable='t'\ncolumn='c'\nactive={days=[]}\n",
     "days: name at least one day"),
    ("[[freshness]]\nname='x'\ntable='t'\ncolumn='c'\nactive={hours='09:75-16:00'}\n",
     "not a time of day"),
])
def test_config_values_are_range_checked(verify, config_file, text, message):
    run = verify("--config", str(config_file(text)))
    assert run.returncode == 4
    assert message in run.output
    assert len([line for line in run.output.splitlines() if line.startswith("ERROR")]) == 1


def test_a_role_s_or_database_s_own_timeouts_that_the_suite_overrode_are_said(verify,
                                                                                database):
    """ALTER ROLE / DATABASE ... SET timeouts: the suite pins its own, and the report's facts
    say whose were overridden (an operator reading 5s would otherwise assume 2s held)."""
    database.execute(f"ALTER ROLE postgres IN DATABASE {database.name} "
                     "SET statement_timeout = '2s'")
    database.execute(f"ALTER DATABASE {database.name} SET lock_timeout = '3s'")
    run = verify("--dsn", database.dsn, "-k", "chk_active_positions_side")
    assert run.returncode == 0, run.output
    said = run.summary["environment"]["Timeouts"]
    assert said == ("the database's lock_timeout 3s was overridden by the suite's 1s; the "
                    "role's (in this database) statement_timeout 2s was overridden by the "
                    "suite's 5s"), said
    assert "statement_timeout 2s was overridden" in (run.reports_dir / "report.html").read_text()


# ---------------------------------------------------------------- guards are real
@pytest.mark.parametrize(("guard", "is_guard"), [
    ("CREATE UNIQUE INDEX uq_never ON active_positions (alpaca_order_id) WHERE false", False),
    ("ALTER TABLE active_positions ADD CONSTRAINT uq_deferred UNIQUE (alpaca_order_id) "
     "DEFERRABLE INITIALLY DEFERRED", False),
    ("CREATE UNIQUE INDEX uq_pair ON active_positions (alpaca_order_id, ticker)", False),
    ("CREATE UNIQUE INDEX uq_real ON active_positions (alpaca_order_id) "
     "WHERE alpaca_order_id IS NOT NULL", True),
    ("CREATE UNIQUE INDEX uq_full ON active_positions (alpaca_order_id)", True),
    ("CREATE UNIQUE INDEX uq_parent ON active_positions (alpaca_order_id); "
     "CREATE TABLE active_positions_archive () INHERITS (active_positions)", False),
], ids=["where-false", "deferrable", "other-columns", "not-null-partial", "full",
        "parent-of-children"])
def test_a_unique_guard_counts_only_if_it_guards_every_row(verify, database, config_file,
                                                           guard, is_guard):
    database.execute(guard)
    config = config_file('[[unique]]\nname = "orders"\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\nrequire_guard = true\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    assert run.outcomes() == {"test_no_duplicates[orders]": "passed" if is_guard else "failed"}
    if not is_guard:
        assert "no database-level unique guard" in run.message("[orders]")


def test_a_composite_key_with_a_null_field_is_still_a_key(verify, database, config_file):
    """Only a NULL key is out of scope: (broker, NULL) twice is a duplicate, as a unique
    index would say (x IS NOT NULL is false for it, NOT (x IS NULL) is true)."""
    database.execute(
        "CREATE TYPE order_ref AS (broker text, leg int); "
        "ALTER TABLE active_positions ADD COLUMN order_ref order_ref; "
        "UPDATE active_positions SET order_ref = ROW('alpaca-' || id, 1); "
        "UPDATE active_positions SET order_ref = ROW('alpaca-x', NULL) "
        "WHERE id IN (SELECT id FROM active_positions ORDER BY id LIMIT 2)")
    config = config_file('[[unique]]\nname = "refs"\ntable = "active_positions"\n'
                         'columns = ["order_ref"]\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    assert run.outcomes() == {"test_no_duplicates[refs]": "failed"}


# ---------------------------------------------------------------- probes leave no trace
def _sequence(database, name: str) -> tuple:
    return database.execute(f"SELECT last_value, is_called FROM {name}")[0]


def test_a_default_that_calls_nextval_is_never_evaluated(verify, database):
    database.execute(
        "CREATE SEQUENCE side_seq; "
        "CREATE FUNCTION next_ticker() RETURNS text LANGUAGE sql VOLATILE "
        "AS $$ SELECT 'T' || nextval('side_seq') $$; "
        "ALTER TABLE position_history ALTER COLUMN ticker SET DEFAULT next_ticker()")
    before = _sequence(database, "side_seq"), _sequence(database, "position_history_id_seq")
    run = verify("--dsn", database.dsn, "-k", "enforced")
    assert set(run.outcomes().values()) == {"passed"}, run.output
    assert (_sequence(database, "side_seq"),
            _sequence(database, "position_history_id_seq")) == before


def test_a_check_function_that_sets_a_sequence_is_caught(verify, database, config_file):
    """setval() defines currval() but not lastval(): the sequences that moved during the
    probe are asked too (here a function that says IMMUTABLE and is not)."""
    database.execute(
        "CREATE SEQUENCE sneaky_seq; "
        "CREATE FUNCTION sneaky(q numeric) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS "
        "$$ BEGIN IF q <= 0 THEN PERFORM setval('sneaky_seq', 42); END IF; RETURN q > 0; "
        "END $$; "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_sneaky CHECK (sneaky(quantity)) "
        "NOT VALID")
    config = config_file('[settings]\ntrusted_functions = ["public.sneaky(numeric)"]\n'
                         '[[check_constraints]]\ntable = "active_positions"\n'
                         'name = "chk_sneaky"\nexpression = "sneaky(quantity)"\n'
                         'violation = { quantity = -1 }\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "enforced")
    assert run.outcomes() == {"test_check_constraint_enforced[chk_sneaky]": "error"}
    assert "the probe advanced public.sneaky_seq" in run.message("[chk_sneaky]")


TRIGGER = ("CREATE SEQUENCE trg_seq; "
           "CREATE FUNCTION count_insert() RETURNS trigger LANGUAGE plpgsql AS "
           "$$ BEGIN PERFORM nextval('trg_seq'); RETURN NEW; END $$; "
           "CREATE TRIGGER trg_count BEFORE INSERT ON position_history FOR EACH ROW "
           "EXECUTE FUNCTION count_insert()")


def test_a_table_with_triggers_is_not_probed(verify, database):
    database.execute(TRIGGER)
    before = _sequence(database, "trg_seq")
    run = verify("--dsn", database.dsn, "-k", "enforced")
    assert run.outcomes()["test_check_constraint_enforced[chk_position_history_side]"] == \
        "skipped"
    assert "has trigger trg_count" in run.message("enforced[chk_position_history_side]")
    assert run.outcomes()["test_check_constraint_enforced[chk_active_positions_side]"] == \
        "passed"
    assert _sequence(database, "trg_seq") == before


def test_a_probe_that_advances_a_sequence_is_an_error_naming_it(verify, database, config_file):
    database.execute(TRIGGER + "; ALTER SEQUENCE trg_seq OWNED BY position_history.ticker")
    config = config_file(
        '[[check_constraints]]\ntable = "position_history"\nname = "chk_position_history_side"\n'
        "expression = \"side IN ('long', 'short', 'call', 'put')\"\nprobe_with_triggers = true\n")
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "enforced")
    assert run.outcomes() == {"test_check_constraint_enforced[chk_position_history_side]": "error"}
    assert "the probe advanced public.trg_seq" in run.message("[chk_position_history_side]")


def test_a_trigger_writing_through_dblink_is_never_fired(verify, database):
    database.execute(
        "CREATE EXTENSION dblink; CREATE TABLE probe_log (at timestamptz DEFAULT now()); "
        "CREATE FUNCTION log_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"PERFORM dblink_exec('{database.dsn}', 'INSERT INTO probe_log DEFAULT VALUES'); "
        "RETURN NEW; END $$; "
        "CREATE TRIGGER trg_log BEFORE INSERT ON active_positions FOR EACH ROW "
        "EXECUTE FUNCTION log_insert()")
    run = verify("--dsn", database.dsn, "-k", "enforced")
    assert run.outcomes()["test_check_constraint_enforced[chk_active_positions_side]"] == \
        "skipped"
    assert database.execute("SELECT count(*) FROM probe_log") == [(0,)]


# ---------------------------------------------------------------- operators of a user
_HIJACK_OPERATORS = ["=", "<>", "<", "<=", ">", ">=", "~", "!~", "~~", "!~~", "~*", "!~*",
                     "||", "@>", "<@", "&&", "->", "->>", "#>>", "+", "-", "*", "/"]
_HIJACK_TYPES = ["name", "text", "oid", "smallint", "integer", "bigint", '"char"', "boolean",
                 "regclass", "regprocedure", "regnamespace", "regtype", "oid[]", "smallint[]",
                 "text[]", "name[]", "int2vector", "oidvector", "pg_node_tree", "json", "jsonb",
                 "character varying", "character", "numeric", "double precision",
                 "timestamp with time zone", "timestamp without time zone", "interval", "uuid",
                 "xid", "aclitem[]"]
HIJACK = f"""SET search_path = pg_catalog;
DO $do$ DECLARE l text; r text; o text; BEGIN
  FOREACH l IN ARRAY ARRAY[{", ".join(sql.Literal(t).as_string(None) for t in _HIJACK_TYPES)}]
  LOOP FOREACH r IN ARRAY ARRAY[{", ".join(sql.Literal(t).as_string(None) for t in _HIJACK_TYPES)}]
  LOOP
    EXECUTE format('CREATE FUNCTION public.hijack(%s, %s) RETURNS boolean LANGUAGE plpgsql '
                   'AS $f$BEGIN RAISE EXCEPTION ''hijacked''; END$f$', l, r);
    FOREACH o IN ARRAY ARRAY[{", ".join(sql.Literal(o).as_string(None) for o in _HIJACK_OPERATORS)}]
    LOOP
      IF NOT EXISTS (SELECT 1 FROM pg_operator p WHERE p.oprname = o
                     AND p.oprnamespace = 'pg_catalog'::regnamespace::oid
                     AND p.oprleft = l::regtype::oid AND p.oprright = r::regtype::oid) THEN
        EXECUTE format('CREATE OPERATOR public.%s (leftarg = %s, rightarg = %s, '
                       'function = public.hijack)', o, l, r);
      END IF;
    END LOOP;
  END LOOP; END LOOP;
END $do$"""
"""For every operator name the suite's SQL could use, on every built-in type it could
apply one to, an operator in public that raises, wherever pg_catalog has none that takes
exactly those types: one that PostgreSQL would choose over pg_catalog's after a coercion."""


@pytest.mark.slow
def test_a_users_operators_cannot_redirect_the_suites_own_queries(verify, database,
                                                                   config_file):
    """The suite pins pg_catalog first on the search_path, but an operator resolves to the
    exact match wherever it is: `nspname !~ '...'` (name, name) or `oid >= 16384` (oid,
    integer) once resolved to a user's operator, and a `!~` that said false hid every
    object from the capture. Every statement the suite writes resolves to pg_catalog's
    operators (the config's own SQL is left out: it is the operator's)."""
    database.execute(DUPLICATE)
    database.execute("CREATE TABLE beats (at timestamp NOT NULL); "
                     "INSERT INTO beats VALUES (now() AT TIME ZONE 'UTC')")
    database.execute(HIJACK)
    database.execute(f"ALTER DATABASE {database.name} SET search_path = public, pg_catalog")
    slow = '[settings]\nstatement_timeout = "60s"\n'  # 22,000 operators to capture
    shipped = "\n".join(line for line in (ROOT / "verify" / "invariants.toml").read_text()
                         .splitlines() if not line.startswith(("migrations_dir", "fixtures_dir")))
    own = config_file(  # the suite's own statements around SQL of the config's with none
        slow + '[[custom_sql]]\nname = "none"\nsql = "SELECT 1 AS x WHERE false"\n'
        '[[freshness]]\nname = "naive"\ntable = "beats"\ncolumn = "at"\nmax_age = "5m"\n'
        '[[freshness]]\nname = "aware"\ntable = "service_heartbeats"\n'
        'column = "last_beat_at"\nmax_age = "5m"\n')
    run = verify("--dsn", database.dsn, "--config",
                 str(config_file(shipped.replace('statement_timeout = "5s"',
                                                 'statement_timeout = "60s"'))),
                 "-k", "not custom_sql and not fresh")
    assert "hijacked" not in run.all_output(), run.output
    assert run.not_passed() == {
        DUPLICATES: "failed", "test_no_unexpected_objects[operator]": "failed",
        "test_no_unexpected_objects[function]": "failed",
        "test_no_unexpected_objects[setting]": "failed",
        "test_no_unexpected_objects[table]": "failed",
        "test_no_unexpected_objects[column]": "failed"}, run.output
    configured = verify("--dsn", database.dsn, "--config", str(own), "-k",
                        "custom_sql or fresh")
    assert configured.outcomes() == {"test_custom_sql[none]": "passed",
                                     "test_fresh[naive]": "passed",
                                     "test_fresh[aware]": "passed"}, configured.output
    evidence = run.detail("test_no_duplicates")["evidence"][0]
    assert [r[:2] for r in evidence["rows"]] == [["ord-1001", 2]]


# ---------------------------------------------------------------- user code is not run on trust
_AUDIT = """CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TABLE audit_log (v numeric);
CREATE FUNCTION audited(q numeric) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN
    PERFORM dblink_exec({dsn}, 'INSERT INTO audit_log VALUES (' || coalesce(q, 0) || ')');
    RETURN q > 0; END $$;
"""
_AUDITED_CHECKS = {  # how a CHECK may reach the function: the rule, and what the config says
    "function": ("", "audited(quantity)"),
    "operator": ("CREATE FUNCTION audited_above(q numeric, floor numeric) RETURNS boolean "
                 "LANGUAGE sql IMMUTABLE AS $$ SELECT audited(q - floor) $$; "
                 "CREATE OPERATOR >>> (leftarg = numeric, rightarg = numeric, "
                 "function = audited_above);", "quantity >>> 0"),
    "domain": ("CREATE DOMAIN audited_quantity AS numeric CHECK (audited(VALUE));",
               "quantity::audited_quantity > 0"),
    "cast": ("CREATE TYPE audited_box AS (q numeric); CREATE FUNCTION boxed(q numeric) "
             "RETURNS audited_box LANGUAGE sql IMMUTABLE AS $$ SELECT ROW(q)::audited_box "
             "WHERE audited(q) $$; CREATE CAST (numeric AS audited_box) WITH FUNCTION "
             "boxed(numeric);", "(quantity::audited_box).q > 0"),
}
_CALLED = {"function": "public.audited(numeric)",
           "operator": "public.audited_above(numeric, numeric)",
           "domain": "public.audited(numeric)", "cast": "public.boxed(numeric)"}


@pytest.mark.parametrize("way", list(_AUDITED_CHECKS))
def test_a_check_calling_a_function_labelled_immutable_is_never_evaluated(
        verify, database, tmp_path, config_file, way):
    """The function writes through dblink, outside every transaction the suite rolls back:
    neither the count of violating rows, nor the probe's search for values, nor the probe
    may run it, however the CHECK reaches it, until the operator trusts it."""
    setup, expression = _AUDITED_CHECKS[way]
    seed = (_AUDIT.format(dsn=sql.Literal(database.dsn).as_string(None)) + setup
            + f"ALTER TABLE position_history ADD CONSTRAINT chk_audited CHECK ({expression}) "
            "NOT VALID; INSERT INTO schema_migrations (version) "
            "VALUES ('2026_03_01_0001_audited');\n")
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations)
    (migrations / "2026_03_01_0001_audited.sql").write_text(seed)
    database.execute(seed)
    assert database.execute("SELECT count(*) FROM position_history")[0][0] > 0
    entry = ('[[check_constraints]]\ntable = "position_history"\nname = "chk_audited"\n'
             f'expression = "{expression}"\n')
    run = verify("--dsn", database.dsn, "--config", str(config_file(entry)),
                 "--migrations-dir", str(migrations), "-k", "check_constraint and chk_audited")
    assert run.outcomes() == {"test_check_constraint_definition[chk_audited]": "error",
                              "test_check_constraint_enforced[chk_audited]": "skipped"}, \
        run.output
    said = f"calls untrusted {_CALLED[way]}"
    assert "its rows were not evaluated" in run.message("definition[chk_audited]")
    assert said in run.message("definition[chk_audited]")
    assert said in run.message("enforced[chk_audited]")
    assert database.execute("SELECT count(*) FROM audit_log") == [(0,)]
    if way == "function":  # trusted, it runs: the audit above would have seen it
        trusted = config_file('[settings]\ntrusted_functions = ["Public.audited( NUMERIC )"]\n'
                              + entry)
        run = verify("--dsn", database.dsn, "--config", str(trusted),
                     "--migrations-dir", str(migrations), "-k", "definition[chk_audited]")
        assert run.outcomes() == {"test_check_constraint_definition[chk_audited]": "passed"}, \
            run.output
        assert database.execute("SELECT count(*) FROM audit_log")[0][0] > 0


# ---------------------------------------------------------------- faults end fast, in one line
def test_an_unwritable_reports_folder_is_a_usage_error(verify, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = verify(reports=blocker / "reports")
    assert run.returncode == 4
    assert "not writable" in run.output and "Traceback" not in run.output


@pytest.fixture
def small_disk(tmp_path):
    """A reports folder on a tmpfs of the given size (the suite's tests run as root, as
    CI does); unmounted afterwards."""
    mounted: list[Path] = []

    def mount(size_kib: int) -> Path:
        folder = tmp_path / f"disk-{size_kib}k"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs",
                               str(folder)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"cannot mount a tmpfs (needs root): {done.stderr}"
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("size_kib", [64, 160, 200, 300, 2048])
def test_a_full_disk_leaves_no_passed_file_behind(verify, database, small_disk, size_kib):
    """The reports are put in place together or not at all (summary.json last): with too
    little room, wherever the first write fails, nothing says passed, the run exits 1 with
    one line, and an error summary stands if it fits. 64 KiB: report.html does not fit;
    160: junit.xml or summary.json; 200 and 300: the copies kept in history/."""
    reports = small_disk(size_kib)
    run = verify("--dsn", database.dsn, reports=reports)
    left = sorted(p.relative_to(reports).as_posix() for p in reports.rglob("*") if p.is_file())
    assert not [name for name in left if name.endswith(".partial")], left
    assert ".partial" not in run.output  # the console names no temporary file either
    if size_kib == 2048:  # room for everything: all of it, and the success kept
        assert run.returncode == 0, run.output
        assert f"html report: {(reports / 'report.html').as_uri()}" in run.output
        assert run.summary["outcome"] == "passed"
        assert {"report.html", "junit.xml", "summary.md", "summary.json",
                "metrics.prom"} <= set(left)
        assert [n for n in left if n.startswith(".last-success-")]
        return
    assert run.returncode == 1, run.output
    lines = [line for line in run.output.splitlines() if "reports NOT written" in line]
    assert lines == [f"reports NOT written to {reports}: No space left on device"
                     + lines[0].rpartition("No space left on device")[2]], run.output
    assert "(no reports written)" in run.output
    assert "html report:" not in run.output
    assert not {"report.html", "junit.xml"} & set(left), left
    assert not [n for n in left if n.startswith(("history/", ".last-success"))], left
    if "summary.json" in left:  # the error summary, when it fits
        assert run.summary["outcome"] == "error"
        assert "No space left on device" in run.summary["reports_error"]
        assert "ops_verify_run_outcome{outcome=\"error\"} 1.0" in \
            (reports / "metrics.prom").read_text()


def test_a_killed_run_s_temporary_files_are_swept(verify, database, tmp_path):
    """A run killed while writing leaves hidden ``.partial`` files; the next run removes
    those whose process is gone, never a running one's."""
    reports = tmp_path / "reports"
    (reports / "history").mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = [reports / f".summary.json.{gone.pid}-0badc0de.partial",
            reports / "history" / f".20260101T000000000Z-report.html.{gone.pid}-0badc0de.partial"]
    running = reports / f".report.html.{os.getpid()}-0badc0de.partial"
    for path in (*dead, running):
        path.write_text("{}")
    run = verify("--dsn", database.dsn, "-k", "recorded", reports=reports)
    assert run.returncode == 0, run.output
    assert not [p for p in dead if p.exists()]
    assert running.exists()


@pytest.mark.parametrize(("config", "env", "message"), [
    ("", {"AWS_REGION": "us-west-2"}, "no AWS credentials"),
    ("[aws]\nregion = ''\n", {"AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": "x" * 20},
     "no AWS region"),
])
def test_missing_aws_settings_are_one_usage_line(verify, database, config_file, config, env,
                                                 message):
    cfg = config_file(config) if config else ROOT / "verify" / "invariants.toml"
    run = verify("--dsn", database.dsn, "--aws", "--config", str(cfg), env=env)
    assert run.returncode == 4
    assert message in run.output
