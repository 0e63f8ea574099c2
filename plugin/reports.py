"""Report hooks: every item's outcome gathered on the controller, written on every run."""

from __future__ import annotations

import getpass
import html
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_metadata.plugin import metadata_key

from checks import reporting, upload
from checks.outcome import CouldNotCheck
from checks.redact import Redactor
from checks.reporting import CheckResult, Run
from checks.targets.postgres import dsn_password
from plugin.plan import PLAN_KEY, Plan


def pytest_configure(config: pytest.Config) -> None:
    # Runs after plugin.items builds the plan (tryfirst) and, being a conftest plugin,
    # before pytest-html and junitxml read their paths.
    plan = config.stash[PLAN_KEY]
    redact = Redactor.from_environment(os.environ)
    if plan.spec.dsn:
        redact.add(dsn_password(plan.spec.dsn))
    plan.reports_dir.mkdir(parents=True, exist_ok=True)
    if not config.option.htmlpath:
        config.option.htmlpath = str(plan.reports_dir / "report.html")
        config.option.self_contained_html = True
    if not config.option.xmlpath:
        config.option.xmlpath = str(plan.reports_dir / "junit.xml")
    config.stash[metadata_key].update(_environment(plan, config.rootpath))
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Reports(config, plan, redact), "verify-reports")


class Reports:
    """Gathers each item's phases into one CheckResult and writes the report files."""

    def __init__(self, config: pytest.Config, plan: Plan, redact: Redactor) -> None:
        self.config = config
        self.plan = plan
        self.redact = redact
        self.results: dict[str, CheckResult] = {}
        self.facts: dict[str, str] = {}
        self.clock = time.monotonic()
        self.report_url: str | None = None
        self.upload_error: str | None = None
        self.session: pytest.Session | None = None

    def pytest_html_report_title(self, report: Any) -> None:
        spec = self.plan.spec
        env = f"{spec.env_name}: " if spec.env_name else ""
        release = f", release {self.plan.release}" if self.plan.release else ""
        report.title = f"Post-deploy verification: {env}{spec.kind} {spec.name}{release}"

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str],
                                    postfix: list[str], session: pytest.Session) -> None:
        prefix.append(reporting.areas_html(list(self.results.values())))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, "<th>Reason</th>")

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        cells.insert(2, f"<td>{html.escape(getattr(report, 'verify_reason', ''))}</td>")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.facts.update(getattr(report, "verify_facts", {}))
        result = self.results.get(report.nodeid)
        if result is None:
            result = self.results[report.nodeid] = CheckResult(
                id=report.nodeid, area=_area(report.nodeid), outcome="passed", message="")
        result.duration_s += report.duration
        found = getattr(report, "verify_outcome", None)
        if found and report.when in ("setup", "call"):
            result.evidence = reporting.mask_columns(
                found["evidence"], self.plan.config.settings.sensitive_columns)
            result.sql = found["sql"]
            result.message = self.redact(found["message"])
        _merge_phase(result, report, self.redact)
        if report.when == "teardown" or result.outcome in ("error", "skipped"):
            _attach_extras(report, result, self.redact)
        report.verify_reason = result.message

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.results[report.nodeid or "collection"] = CheckResult(
                id=report.nodeid or "collection", area="collection", outcome="error",
                message=self.redact(_one_line(report.longreprtext)))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.session = session
        results = list(self.results.values())
        duration = time.monotonic() - self.clock
        metadata = self.config.stash[metadata_key]
        metadata.update(self.facts)  # the same dict pytest-html renders at its session finish
        metadata["Duration"] = f"{duration:.1f} s"
        metadata["Outcome"] = reporting.overall(results)
        if self.plan.upload:
            try:
                self.report_url = upload.presign(self.plan.upload, self.plan.run_id)
            except CouldNotCheck as exc:
                self.upload_error = str(exc)
        run = Run(
            target_kind=self.plan.spec.kind,
            target_name=self.plan.spec.name,
            release=self.plan.release,
            started_at=self.plan.started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            duration_s=duration,
            environment={k: str(v) for k, v in metadata.items()
                         if k in _ENV_KEYS or k in self.facts},
            report_url=self.report_url,
        )
        reports_dir = self.plan.reports_dir
        _write(reports_dir / "summary.json", self.redact(reporting.summary_json(run, results)))
        _write(reports_dir / "summary.md", self.redact(reporting.summary_markdown(run, results)))
        if reporting.overall(results) != "passed" and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # nothing was really checked

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        # Runs after pytest-html and junitxml have written their files.
        results = list(self.results.values())
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", "post-deploy verification")
        if results:
            write(self.redact(reporting.console_table(results)))
        if not any(r.outcome == "passed" for r in results):
            write("no check passed: the run verified nothing", red=True)
        outcome = reporting.overall(results)
        write(f"outcome: {outcome.upper()}  (reports in {self.plan.reports_dir})",
              green=outcome == "passed", red=outcome != "passed", bold=True)
        files = [self.plan.reports_dir / n for n in _REPORT_FILES
                 if (self.plan.reports_dir / n).is_file()]
        _keep_history(files, self.plan.reports_dir / "history", self.plan.run_id,
                      self.plan.config.settings.report_history)
        if self.plan.upload:
            self._upload(files, write)

    def _upload(self, files: list[Path], write: Any) -> None:
        assert self.plan.upload is not None
        if self.upload_error is None:
            try:
                upload.upload(files, self.plan.upload, self.plan.run_id)
            except CouldNotCheck as exc:
                self.upload_error = str(exc)
        if self.upload_error:
            write(f"reports NOT uploaded: {self.redact(self.upload_error)}", red=True, bold=True)
            if self.session is not None and self.session.exitstatus == pytest.ExitCode.OK:
                # pytest reads the status after the whole sessionfinish hook, this included
                self.session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        write(f"report for the ticket (link valid {self.plan.upload.expiry_s // 3600} h): "
              f"{self.report_url}", bold=True)


_REPORT_FILES = ("report.html", "junit.xml", "summary.md", "summary.json")
_ENV_KEYS = ("Duration", "Outcome", "Target", "Release", "Suite commit", "Started", "Run by",
             "Write probes")


def _environment(plan: Plan, root: Path) -> dict[str, str]:
    return {
        "Target": f"{plan.spec.kind}: {plan.spec.name}",
        "Release": plan.release or "not given",
        "Suite commit": _git_commit(root),
        "Started": plan.started_at.isoformat(timespec="seconds"),
        "Run by": _user(),
        "Write probes": "off (--read-only)" if plan.spec.read_only else "on (always rolled back)",
    }


def _keep_history(files: list[Path], folder: Path, run_id: str, keep: int) -> None:
    """Copy this run's files to ``history/<run>-<name>`` and drop the oldest beyond ``keep``."""
    if keep <= 0:
        return
    folder.mkdir(exist_ok=True)
    for f in files:
        shutil.copyfile(f, folder / f"{run_id}-{f.name}")
    runs = sorted({p.name.split("-", 1)[0] for p in folder.iterdir()})
    for old in runs[:-keep]:
        for p in folder.glob(f"{old}-*"):
            p.unlink()


def _merge_phase(result: CheckResult, report: pytest.TestReport, redact: Redactor) -> None:
    """Combine setup/call/teardown: an error or skip in setup is final; call decides otherwise."""
    cause = getattr(report, "verify_cause", None)
    if report.when == "setup":
        if report.failed:
            result.outcome = "error"
            result.message = redact(cause or _one_line(report.longreprtext))
        elif report.skipped:
            result.outcome, result.message = "skipped", _skip_reason(report)
    elif report.when == "call":
        if report.failed and cause:  # the check itself broke: it could not check
            result.outcome, result.message = "error", redact(cause)
        elif report.failed:
            result.outcome = "failed"
            result.message = result.message or redact(_one_line(report.longreprtext))
        elif report.skipped:
            result.outcome, result.message = "skipped", _skip_reason(report)
    elif report.failed and result.outcome != "error":
        result.outcome = "error"
        result.message = "teardown: " + redact(_one_line(report.longreprtext))


def _attach_extras(report: pytest.TestReport, result: CheckResult, redact: Redactor) -> None:
    import pytest_html

    extras = list(getattr(report, "extras", []))
    table = reporting.evidence_html({"evidence": result.evidence, "sql": result.sql}, redact)
    if table:
        extras.append(pytest_html.extras.html(table))
    if result.sql:
        extras.append(pytest_html.extras.text(redact("\n\n".join(result.sql)), name="SQL"))
    report.extras = extras


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _one_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.startswith(("file ", "  ")):
            return line.strip().removeprefix("E ").strip()
    return text.strip()[:300]


def _area(nodeid: str) -> str:
    module = Path(nodeid.split("::", 1)[0]).stem.removeprefix("test_")
    return reporting.AREAS.get(module, module)


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
