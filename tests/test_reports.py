"""Reports: what a browser shows, what reaches the ticket, what never leaks."""

from __future__ import annotations

import html
import json
import re
import shutil
import urllib.parse
import urllib.request
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import MIGRATIONS, REFERENCE, copy_of, run_verify

PASSWORD = "Tr4de-Str3am-pw!"
BROKEN = (
    "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_side",
    "INSERT INTO active_positions (ticker, instrument_type, side, quantity, entry_price, "
    "alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, 'ord-1001')",
)
DEFINITION = "test_check_constraint_definition[chk_active_positions_side]"
DUPLICATES = "test_no_duplicates[active_positions.alpaca_order_id]"


@pytest.fixture(scope="module")
def broken_run(cluster, tmp_path_factory):
    """A run against a database with a dropped constraint and duplicate order ids, with a
    password in its DSN (trust auth ignores it, every output must hide it); the tests that
    read its reports share it."""
    with copy_of(cluster, REFERENCE) as database:
        for statement in BROKEN:
            database.execute(statement)
        return run_verify(tmp_path_factory.mktemp("broken"), "--dsn",
                          f"{database.dsn} password={PASSWORD}", "--release", "v2026.11.25")


@pytest.mark.xdist_group("broken-run")
def test_browser_shows_failures_evidence_and_environment(broken_run, chromium, tmp_path):
    report = broken_run.reports_dir / "report.html"
    dom = chromium("--dump-dom", report.as_uri()).stdout
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))  # rendered text, not the JSON blob
    for seen in (DEFINITION, DUPLICATES,
                 "constraint chk_active_positions_side does not exist on public.active_positions",
                 "Duplicated alpaca_order_id", "ord-1001", "Server version", "Release",
                 "v2026.11.25", "Overall", "FAIL", "Write probes"):
        assert seen in text, seen
    shot = tmp_path / "report.png"
    chromium("--window-size=1400,2200", f"--screenshot={shot}", report.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_names_from_outside_never_run_as_script_in_the_report(verify, cluster, chromium,
                                                              tmp_path):
    """A database name, a migration file name and the release are text from outside:
    pytest-html writes the environment and the node ids into the page with innerHTML, so
    each is escaped before it gets there."""
    name = "<img src=x onerror=document.title='PWNED'>"
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(REFERENCE)))
    try:
        migrations = tmp_path / "migrations"
        shutil.copytree(MIGRATIONS, migrations)
        (migrations / "2099_01_01_0001_<b onmouseover=alert(1)>x.sql").write_text(
            "SELECT 1;")
        dsn = make_conninfo(cluster.conninfo("x"), dbname=name)
        run = verify("--dsn", dsn, "--migrations-dir", str(migrations), "--release", name)
        assert run.returncode == 1  # the new file is not in the ledger
        dom = chromium("--dump-dom", (run.reports_dir / "report.html").as_uri()).stdout
        title = re.search(r"<title[^>]*>(.*?)</title>", dom, re.S).group(1)
        assert title.startswith("Post-deploy verification"), title  # no script ran
        assert 'onerror="' not in dom and 'onmouseover="' not in dom  # no live element
        assert "onerror=document.title" in html.unescape(dom)  # shown as text
    finally:
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_data_in_the_ticket_comment_is_code_never_markdown(verify, database):
    """An order id or a ledger version is text from outside: on the ticket it must not
    render as an image (a green PASSED badge), a link, a mention or HTML."""
    payload = "![PASSED](https://img.example/ok.svg) [x](https://evil.example) @octocat <b>"
    database.execute("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
                     "entry_price, alpaca_order_id) SELECT ticker, instrument_type, side, "
                     "quantity, entry_price, %s FROM active_positions LIMIT 2", (payload,))
    database.execute("INSERT INTO schema_migrations (version) VALUES (%s)",
                     ("9999_`x`_" + payload,))
    run = verify("--dsn", database.dsn, "--release", "v1 @octocat")
    assert run.returncode == 1
    rows = [line for line in (run.reports_dir / "summary.md").read_text().splitlines()
            if line.startswith("|") or line.startswith("- Release")]
    shown = "\n".join(rows)
    assert "octocat" in shown and "evil.example" in shown
    for line in rows:  # each outside text sits inside a code span
        outside = re.sub(r"(`+) ?.*? ?\1", "", line)
        assert "@octocat" not in outside and "](" not in outside and "<b>" not in outside, line


@pytest.mark.xdist_group("broken-run")
def test_ticket_summary_names_both_failures(broken_run):
    assert broken_run.returncode == 1
    summary_md = (broken_run.reports_dir / "summary.md").read_text()
    assert "FAILED" in summary_md.splitlines()[0]
    assert DEFINITION in summary_md and DUPLICATES in summary_md
    assert "Release: `v2026.11.25`" in summary_md
    assert len(summary_md) < 4000


@pytest.mark.xdist_group("broken-run")
def test_no_output_contains_the_password(broken_run):
    assert broken_run.leaks(PASSWORD) == []  # every file, history/ too; encoded forms too


@pytest.mark.xdist_group("broken-run")
def test_summary_json_has_the_interface_shape(broken_run):
    summary = broken_run.summary
    assert summary["outcome"] == "failed"
    assert summary["target"]["kind"] == "dsn" and PASSWORD not in summary["target"]["name"]
    assert summary["release"] == "v2026.11.25"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", summary["started_at"])
    assert summary["duration_s"] > 0
    assert {"passed", "failed", "error", "skipped"} <= set(summary["counts"])
    assert sum(summary["counts"].values()) == len(summary["checks"])
    check = summary["checks"][0]
    assert {"id", "outcome", "message", "duration_s"} <= set(check)
    assert "::" in check["id"]


@pytest.mark.xdist_group("broken-run")
def test_junit_has_the_failures(broken_run):
    junit = (broken_run.reports_dir / "junit.xml").read_text()
    assert junit.count("<failure") == broken_run.summary["counts"]["failed"]


@pytest.mark.xdist_group("broken-run")
def test_console_lists_failures_with_evidence_then_areas_and_verdict(broken_run):
    out = broken_run.output
    assert re.search(r"FAIL +test_check_constraint_definition\[chk_active_positions_side\]\n"
                     r" +constraint chk_active_positions_side does not exist", out)
    assert re.search(r"FAIL +test_no_duplicates\[active_positions.alpaca_order_id\]\n(?: .*\n)+? +"
                     r"alpaca_order_id=ord-1001; rows=2", out)
    assert re.search(r"constraints +FAIL", out)
    assert "verdict: FAILED" in out
    assert all(len(line) <= 100 for line in out.split("post-deploy verification", 1)[1]
               .splitlines()[:20])


def test_sensitive_columns_are_masked(verify, database, config_file):
    database.execute(BROKEN[1])
    config = config_file('[settings]\nsensitive_columns = ["alpaca_order_id"]\n'
                         '[[unique]]\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    assert run.returncode == 1
    assert "ord-1001" not in run.all_output()
    assert run.detail("test_no_duplicates")["evidence"][0]["rows"][0][0] == "***"


def test_sensitive_columns_are_masked_in_the_probes_sql(verify, database, config_file):
    """The probe row is copied from a real row: the SQL shown for it masks them too."""
    database.execute("UPDATE active_positions SET ticker = 'SECRETTKR', "
                     "alpaca_order_id = 'ord-secret-' || id")
    config = config_file('[settings]\nsensitive_columns = ["ticker", "alpaca_order_id"]\n'
                         '[[check_constraints]]\ntable = "active_positions"\n'
                         'name = "chk_active_positions_side"\n'
                         "expression = \"side IN ('long', 'short', 'call', 'put')\"\n")
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "enforced")
    assert run.returncode == 0, run.output
    shown = run.detail("test_check_constraint_enforced")["sql"][0]
    assert shown.startswith("INSERT INTO") and "'***'" in shown
    assert "SECRETTKR" not in run.all_output() and "ord-secret-" not in run.all_output()


@pytest.mark.slow
def test_history_keeps_earlier_runs_beside_the_stable_report(verify, database, tmp_path,
                                                             config_file):
    config = config_file('[settings]\nreport_history = 2\n')
    reports = tmp_path / "reports"
    for release in ("r1", "r2", "r3"):
        run = verify("--dsn", database.dsn, "--config", str(config), "--reports-dir",
                     str(reports), "--release", release, "-k", "recorded")
        assert run.returncode == 0, run.output
    kept = sorted(p.name for p in (reports / "history").iterdir())
    assert {n.split("-", 2)[1] for n in kept} == {"r2", "r3"}
    assert len(kept) == 10  # five files a run
    assert json.loads((reports / "summary.json").read_text())["release"] == "r3"


@pytest.fixture
def s3_server(moto_server):
    client = moto_server.client("s3")
    client.create_bucket(Bucket="release-evidence",
                         CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return moto_server.env, client


def test_upload_puts_reports_under_a_run_prefix_and_prints_a_working_link(
        verify, database, s3_server):
    env, client = s3_server
    run = verify("--dsn", database.dsn, "--release", "v7", "--upload",
                 "s3://release-evidence/ops-pipeline", "--upload-expiry", "2h", env=env)
    assert run.returncode == 0, run.output
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="release-evidence")["Contents"]]
    assert len(keys) == 5
    assert all(re.fullmatch(r"ops-pipeline/\d{8}T\d{9}Z-v7/(report\.html|junit\.xml|"
                            r"summary\.md|summary\.json|metrics\.prom)", k) for k in keys)
    link = re.search(r"report for the ticket \(link valid 2 h\): (\S+)", run.output).group(1)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in link  # SigV4: its expiry holds, KMS serves it
    assert "X-Amz-Expires=7200" in link
    with urllib.request.urlopen(link) as response:
        assert b"Post-deploy verification" in response.read()
    assert link in (run.reports_dir / "summary.md").read_text()
    assert env["AWS_SECRET_ACCESS_KEY"] not in run.all_output()


def test_a_report_written_elsewhere_is_still_the_one_uploaded(verify, database, s3_server,
                                                              tmp_path):
    """--html elsewhere: the link names report.html, so the reports folder gets a copy."""
    env, client = s3_server
    run = verify("--dsn", database.dsn, "--html", str(tmp_path / "mine.html"),
                 "--self-contained-html", "--upload", "s3://release-evidence/x", env=env)
    assert run.returncode == 0, run.output
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="release-evidence")["Contents"]]
    assert any(k.endswith("/report.html") for k in keys)
    link = re.search(r"report for the ticket \(link valid \d+ h\): (\S+)", run.output).group(1)
    with urllib.request.urlopen(link) as response:
        assert b"Post-deploy verification" in response.read()


def test_the_console_names_each_report_where_it_stands(verify, database, tmp_path):
    """pytest-html and junitxml wrote under temporary names: the console names none of
    those, but report.html in the reports folder; a file given elsewhere keeps its own
    line (its plugin wrote it there)."""
    run = verify("--dsn", database.dsn)
    assert run.returncode == 0, run.output
    assert ".partial" not in run.output and "generated xml file" not in run.output
    assert f"html report: {(run.reports_dir / 'report.html').resolve().as_uri()}" in run.output
    mine = tmp_path / "mine.xml"
    run = verify("--dsn", database.dsn, "--junitxml", str(mine))
    assert run.returncode == 0, run.output
    assert f"generated xml file: {mine}" in run.output
    assert ".partial" not in run.output and (run.reports_dir / "junit.xml").is_file()


def test_temporary_credentials_give_a_console_link_not_one_with_their_token(
        verify, database, s3_server):
    """A presigned link made with a session token carries it (URL-encoded): the S3
    console's page of the object is given instead (it asks for a login), with the object's
    location, and the token appears nowhere in any encoding."""
    env, client = s3_server
    token = "FwoGZXIvYXdzEJr//////////wEaDtest+session/token=="
    run = verify("--dsn", database.dsn, "--upload", "s3://release-evidence/ops-pipeline",
                 env={**env, "AWS_SESSION_TOKEN": token})
    assert run.returncode == 0, run.output
    (key,) = [o["Key"] for o in client.list_objects_v2(Bucket="release-evidence")["Contents"]
              if o["Key"].endswith("/report.html")]
    line = next(x for x in run.output.splitlines() if x.startswith("report for the ticket"))
    assert f"(AWS console, needs a login; s3://release-evidence/{key}): " in line
    link = line.rsplit(": ", 1)[1]
    parsed = urllib.parse.urlsplit(link)
    assert (parsed.scheme, parsed.netloc, parsed.path) == (
        "https", "us-west-2.console.aws.amazon.com", "/s3/object/release-evidence")
    assert urllib.parse.parse_qs(parsed.query)["prefix"] == [key]
    summary_md = (run.reports_dir / "summary.md").read_text()
    assert f"Full report: [report.html]({link})" in summary_md
    for shown in (token, urllib.parse.quote(token, safe=""), urllib.parse.quote_plus(token)):
        assert shown not in run.all_output()


def test_failed_upload_is_not_green_anywhere(verify, database):
    """The checks pass, the upload fails: no report says PASSED above the upload error."""
    env = {"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "AKIATESTING",
           "AWS_SECRET_ACCESS_KEY": "x" * 20, "AWS_REGION": "us-east-1"}
    run = verify("--dsn", database.dsn, "--upload", "s3://nowhere/x", env=env)
    assert run.returncode == 1  # the ticket would lack its evidence
    summary = run.summary
    assert summary["outcome"] == "error"
    assert summary["counts"]["failed"] == summary["counts"]["error"] == 0  # checks passed
    assert summary["verdict"].startswith("ERROR (every check passed, but the reports were "
                                         "NOT delivered: upload")
    (cause,) = summary["delivery_errors"]
    assert cause.startswith("upload: upload to s3://nowhere/x/")
    lines = run.output.splitlines()
    verdict = next(i for i, x in enumerate(lines) if x.startswith("verdict:"))
    assert lines[verdict].startswith("verdict: ERROR (every check passed, but")
    assert any(x.startswith("reports NOT uploaded") for x in lines[:verdict])
    assert "PASSED" not in run.output.split("post-deploy verification", 1)[1]
    summary_md = (run.reports_dir / "summary.md").read_text()  # what --attach would post
    assert summary_md.splitlines()[0].startswith("## Post-deploy verification: ERROR")
    assert "NOT DELIVERED: `upload: upload to s3://nowhere/x/" in summary_md
    assert "Full report" not in summary_md


def test_bad_upload_url_is_a_usage_error(verify):
    run = verify("--upload", "https://example.invalid/bucket")
    assert run.returncode == 4
    assert "expected s3://bucket/prefix" in run.output


def test_ticket_summary_stays_short_when_everything_fails(verify, cluster):
    run = verify("--dsn", cluster.conninfo("postgres"))  # the wrong, empty database
    summary_md = (run.reports_dir / "summary.md").read_text()
    assert run.summary["counts"]["failed"] > 50
    assert len(re.findall(r"^\| (FAIL|ERROR|SKIP) \|", summary_md, re.MULTILINE)) == 25
    assert "more that did not pass: see report.html" in summary_md


def test_the_ticket_names_the_environment_and_links_the_ci_run(verify, database, config_file):
    """summary.md, which goes on the ticket, names the target the way operators do (the
    environment, not an SSM path or a secret's name) and links the CI run (its attempt)."""
    config = config_file('[environments.prod-direct]\ndsn_env = "OPS_TEST_DSN"\n')
    run = verify("--config", str(config), "--env", "prod-direct", "-k", "recorded",
                 env={"OPS_TEST_DSN": database.dsn, "GITHUB_ACTIONS": "true",
                      "GITHUB_SERVER_URL": "https://github.com",
                      "GITHUB_REPOSITORY": "frotofraggins/ops-verify", "GITHUB_RUN_ID": "4242",
                      "GITHUB_RUN_ATTEMPT": "2"})
    assert run.returncode == 0, run.output
    summary_md = (run.reports_dir / "summary.md").read_text()
    target = next(line for line in summary_md.splitlines() if line.startswith("- Target:"))
    assert target.startswith("- Target: `prod-direct` (dsn `"), target
    url = "https://github.com/frotofraggins/ops-verify/actions/runs/4242/attempts/2"
    assert f"- CI run: [this run]({url})" in summary_md
    assert run.summary["ci_run"] == url
    assert run.summary["targets"][0]["env"] == "prod-direct"


def _ticket_run(message: str) -> tuple[Any, list[Any]]:
    from checks.reporting.model import CheckResult, Run, Selection

    run = Run(target_kind="dsn", target_name="db/ops", release="v1",
              started_at="2026-12-03T10:00:00Z", duration_s=1.0,
              selection=Selection(None, 2, 2), targets=[{"kind": "dsn", "name": "db/ops"}])
    results = [CheckResult("verify/x.py::test_custom_sql[a]", "data integrity", "failed",
                           message),
               CheckResult("verify/x.py::test_fresh[b]", "heartbeat", "passed", "ok")]
    return run, results


@pytest.mark.parametrize("hostile", [
    "[~admin] please look", "{color:red}alarm{color}", "!https://evil.example/x.png!",
    "a | b || c", "*bold* _it_ -strike- +under+ ^sup^ ~sub~ ??cite?? #list",
    "[click|https://evil.example]", "back\\slash {{mono}}",
])
def test_jira_wiki_text_from_outside_renders_as_itself(hostile):
    """Every wiki-markup character in a message is escaped inside the monospace span, so a
    value from the database cannot mention, link, colour or break the table."""
    from checks.reporting.summary import JIRA_WIKI, summary_text

    run, results = _ticket_run(hostile)
    body = summary_text(run, results, JIRA_WIKI)
    row = next(line for line in body.splitlines() if line.startswith("|FAIL|"))
    cells = re.split(r"(?<!\\)\|", row)
    assert len(cells) == 6, row  # |FAIL|check|why|evidence| : no cell added by the value
    why = cells[3]
    assert why.startswith("{{") and why.endswith("}}")
    unescaped = re.sub(r"\\(.)", r"\1", why[2:-2])
    assert unescaped == " ".join(hostile.split())
    assert not re.search(r"(?<!\\)[\[\]{}|!*_~^+?#-]", why[2:-2]), why
    assert "||" not in row  # an empty cell would start a header cell


def test_markdown_text_from_outside_is_a_code_span():
    from checks.reporting.summary import MARKDOWN, summary_text

    run, results = _ticket_run("see `rm -rf` and <img src=x> @team [a](https://x)")
    body = summary_text(run, results, MARKDOWN)
    row = next(line for line in body.splitlines() if line.startswith("| FAIL |"))
    assert "``see `rm -rf` and <img src=x> @team [a](https://x)``" in row
    assert body.splitlines()[0] == "## Post-deploy verification: FAILED"
    assert "| --- | --- | --- | --- |" in body


# ---------------------------------------------------------------- the console
def _console(output: str) -> list[str]:
    """The suite's own section of the console: after its separator, up to the verdict."""
    lines = output.split("= post-deploy verification =", 1)[1].splitlines()[1:]
    return lines[:next(i for i, line in enumerate(lines) if line.startswith("verdict:"))]


@pytest.mark.xdist_group("healthy-run")
def test_the_console_counts_the_checks_and_says_why_any_was_skipped(verify, database,
                                                                    healthy_run):
    """pytest's count is the checks' (a kind with no entries makes no item); a green run
    names the skipped checks with their reason; -v shows every reason whole, wrapped."""
    run = healthy_run  # with -v
    assert run.returncode == 0, run.output
    total = len(run.summary["checks"])
    assert f"collected {total} items" in run.output
    assert f"checks: all {total} checks" in run.output
    console = _console(run.output)
    assert all(len(line) <= 100 for line in console)
    skipped = [c for c in run.summary["checks"] if c["outcome"] == "skipped"]
    assert skipped and "AWS checks are off" in skipped[0]["message"]
    text = " ".join(" ".join(console).split())
    assert f"SKIP {skipped[0]['id'].split('::')[1]} and {len(skipped) - 1} more with this " \
           f"cause {skipped[0]['message']}" in text
    listing = text.split("checks: all", 1)[1]
    for check in run.summary["checks"]:  # -v: each id with its whole reason
        assert f"{check['id'].split('::')[1]} {check['message']}" in listing, check["id"]
    narrowed = verify("--dsn", database.dsn, "-k", "duplicates")
    assert f"collected {total} items / {total - 1} deselected / 1 selected" in narrowed.output
    assert f"checks: 1 of {total} checks selected by -k 'duplicates'" in narrowed.output


@pytest.mark.parametrize("flag", ["--lf", "--ff", "--sw"])
def test_the_cache_options_are_a_usage_error_not_a_full_run(verify, flag):
    """pytest's cache is off (pytest.ini): --lf and its kin would run every check."""
    run = verify(flag)
    assert run.returncode == 4
    assert f"{flag} needs pytest's cache, which is off for this suite" in run.output
    assert run.summary["outcome"] == "error" and run.summary["checks"] == []


def test_help_shows_the_suites_options_first_in_the_order_an_operator_decides(verify):
    run = verify("--help")
    assert run.returncode == 0
    groups = re.findall(r"^(\S[^\n]*):$", run.output, re.MULTILINE)
    assert groups[:6] == ["positional arguments",
                          "post-deploy verification: the target (one kind, repeatable; "
                          "default: a throwaway database)",
                          "post-deploy verification: the checks",
                          "post-deploy verification: the release",
                          "post-deploy verification: the reports", "general"]
    # its help as one line without spaces: argparse may wrap after any hyphen
    aws = "".join(run.output.split("--aws", 1)[1].split("\n\n")[0].split())
    said = ("on by default with --via-lambda, with an --env that has AWS settings, and with a "
            "--release-manifest naming Lambda functions or ECS services")
    assert said.replace(" ", "") in aws
