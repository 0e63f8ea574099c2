"""Reports: every item's outcome gathered on the controller, written on every run.

The console starts with the target and the selection; every report carries the same
verdict, which says when only some checks were selected or some did not run. Modes that
run no check write no report at all (the previous run's were removed at start).
"""

from __future__ import annotations

import getpass
import html
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_metadata.plugin import metadata_key

from checks import upload
from checks.outcome import CouldNotCheck
from checks.reporting import (
    CheckResult,
    Run,
    Selection,
    attach,
    junit,
    metrics,
    overall,
    run_outcome,
    verdict,
)
from checks.reporting import console as console_report
from checks.reporting.ci import ci_run_url
from checks.reporting.history import current, past_runs
from checks.reporting.html import evidence_html, mask_columns, verdict_html
from checks.reporting.summary import summary_json, summary_markdown
from plugin.items import CHECK_KEY, SPREAD_KEY
from plugin.plan import PLAN_KEY, REPORT_FILES, Plan, command_line, write_usage_error

_REPORTING_PLUGINS = ("terminal", "html", "junitxml", "metadata")
_ENV_KEYS = ("Duration", "Outcome", "Target", "Release", "Suite commit", "Started", "Run by",
             "Write probes", "Selection")


def pytest_configure(config: pytest.Config) -> None:
    # Runs after plugin.items builds the plan (tryfirst) and, being a conftest plugin,
    # before pytest-html and junitxml read their paths.
    plan = config.stash[PLAN_KEY]
    # the console section, uploads, pushes and attachments run at the terminal's summary;
    # report.html, junit.xml and the environment come from the others
    if blocked := [p for p in _REPORTING_PLUGINS if config.pluginmanager.is_blocked(p)]:
        message = (f"-p no:{blocked[0]}: the suite reports through pytest's {blocked[0]} "
                   "plugin; keep it" + (" (use -q for less output)"
                                        if blocked[0] == "terminal" else ""))
        if not hasattr(config, "workerinput"):
            write_usage_error(plan.reports_dir, message)
        raise pytest.UsageError(message)
    if _no_verdict(config) is None:  # a mode that runs no check writes no report at all
        if not config.option.htmlpath:
            config.option.htmlpath = str(plan.reports_dir / "report.html")
            config.option.self_contained_html = True
        if not config.option.xmlpath:
            config.option.xmlpath = str(plan.reports_dir / "junit.xml")
    config.stash[metadata_key].update(_environment(plan, config.rootpath))
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Reports(config, plan), "verify-reports")


class Reports:
    """Gathers each item's phases into one CheckResult and writes the report files."""

    def __init__(self, config: pytest.Config, plan: Plan) -> None:
        self.config = config
        self.plan = plan
        self.redact = plan.redact
        self.results: dict[str, CheckResult] = {}
        self.selected: list[str] | None = None
        """The selected checks' ids; None until collection finished."""
        self.facts: dict[str, str] = {}
        self.clock = time.monotonic()
        self.run: Run | None = None
        self.upload_error: str | None = None
        self.session: pytest.Session | None = None
        self.history: list[Any] = []
        self.environment: dict[str, str] = {}
        self.metrics: Any = None
        self.delivered: list[str] = []
        """The console lines of the upload, push and attachments."""

    # ---------------------------------------------------------------- what ran
    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if sys.exc_info()[1] is not None:
            return  # pytest calls this also when collection is interrupted: nothing selected
        self._selected([_node(i.nodeid) for i in session.items if CHECK_KEY in i.stash])

    @pytest.hookimpl(optionalhook=True)  # pytest-xdist is optional
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.selected is None:
            self._selected([_node(i) for i in ids if "::test_" in i])

    def _selected(self, ids: list[str]) -> None:
        self.selected = ids
        self._say(f"checks: {self._run(ids).selection.describe()}")

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        _no_second_list(self.config)
        # The target and the release only: counting the checks may replay the migrations,
        # which belongs to collection (an interrupt there still writes the reports).
        run = self._run(selected=None)
        for line in console_report.target_lines(run):
            self._say(line, bold=line.startswith("target"))
        if spread := self.config.stash.get(SPREAD_KEY, None):
            self._say(f"parallel: {spread}")

    def _say(self, line: str, **markup: bool) -> None:
        writer = self.config.pluginmanager.get_plugin("terminalreporter")
        if writer is not None:
            writer.ensure_newline()
            writer.write_line(self.redact(line), **markup)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.facts.update(getattr(report, "verify_facts", {}))
        node = _node(report.nodeid)
        result = self.results.get(node)
        found = getattr(report, "verify_outcome", None)
        if result is None:
            if found is None and report.when != "setup":
                return
            area = getattr(report, "verify_area", None) or _area(node)
            result = self.results[node] = CheckResult(id=node, area=area, outcome="",
                                                      message="")
        result.duration_s += report.duration
        if found is not None:
            result.evidence = mask_columns(found["evidence"],
                                           self.plan.config.settings.sensitive_columns)
            result.sql = [self.redact(s) for s in found["sql"]]
            result.message = self.redact(found["message"])
            result.blocked_by = found.get("blocked_by")
            result.attempts = found.get("attempts", 1)
            result.first_passed_s = found.get("first_passed_s")
            result.figures = found.get("figures", {})
            result.fix = self.redact(found["fix"]) if found.get("fix") else None
            if report.when == "call" or found["status"] in ("error", "skipped", "accepted"):
                result.outcome = found["status"]
        elif report.failed:  # broke outside any check (a fixture, a crash): never a pass
            result.outcome = "error"
            result.message = self.redact(f"{report.when}: {_one_line(report.longreprtext)}")
        if report.when == "teardown" and report.failed and result.outcome != "error":
            result.outcome = "error"
            result.message = self.redact(f"teardown: {_one_line(report.longreprtext)}")
        if report.when in ("setup", "call") and result.outcome:
            _attach_extras(report, result, self.redact)
        report.verify_reason = result.message

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            node = report.nodeid or "collection"
            self.results[node] = CheckResult(id=node, area="collection", outcome="error",
                                             message=self.redact(_one_line(report.longreprtext)))

    # ---------------------------------------------------------------- verdict
    def _finished(self) -> list[CheckResult]:
        return [r for r in self.results.values() if r.outcome]

    def _run(self, selected: list[str] | None) -> Run:
        """The run so far; ``selected`` None: its checks are not collected (yet)."""
        plan = self.plan
        finished = {r.id for r in self._finished()}
        selection = Selection(_expression(self.config), len(selected or ()),
                              plan.total if selected is not None else None)
        first = plan.targets[0]
        return Run(
            target_kind=first.kind if len(plan.targets) == 1 else "multiple",
            target_name=first.name if len(plan.targets) == 1 else ", ".join(
                t.label for t in plan.targets),
            release=plan.release,
            started_at=plan.started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            duration_s=time.monotonic() - self.clock,
            selection=selection,
            not_run=[i for i in (selected or []) if i not in finished],
            targets=[{"kind": t.kind, "name": t.name, "chosen_by": t.chosen_by,
                      **({"label": t.label} if t.label else {}),
                      **({"env": t.env_name} if t.env_name else {}),
                      **({"ignored": list(t.ignored)} if t.ignored else {})}
                     for t in plan.targets],
            no_verdict=_no_verdict(self.config),
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.session = session
        run = self.run = self._run(self.selected)
        results = self._finished()
        if run.no_verdict:
            if session.exitstatus == pytest.ExitCode.OK and not self.config.option.collectonly:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        metadata = self.config.stash[metadata_key]
        metadata.update(self.facts)  # the same dict pytest-html renders at its session finish
        metadata["Duration"] = f"{run.duration_s:.1f} s"
        metadata["Outcome"] = verdict(run, results)
        metadata["Selection"] = run.selection.describe()
        if self.plan.upload:
            try:
                link = upload.presign(self.plan.upload, self.plan.run_id,
                                      self.plan.upload_clients)
                run.report_url, run.report_url_note = link.url, link.note
            except CouldNotCheck as exc:
                self.upload_error = str(exc)
        run.ci_url = ci_run_url(os.environ)
        run.environment = {k: str(v) for k, v in metadata.items()
                           if k in _ENV_KEYS or k in self.facts}
        reports_dir = self.plan.reports_dir
        _write(reports_dir / "summary.json", self.redact(summary_json(run, results)))
        _write(reports_dir / "summary.md", self.redact(summary_markdown(run, results)))
        outcome = overall(results, run.not_run,
                          collected=run.selection.total is not None)
        self.history = [*past_runs(reports_dir / "history"),
                        current(self.plan.run_id, outcome, results)]
        self.environment = {k: str(v) for k, v in metadata.items()}
        # pytest-html writes these values into the page unescaped (innerHTML); a database,
        # target or release name is text from outside
        metadata.update({k: html.escape(self.redact(v)) for k, v in metadata.items()
                         if isinstance(v, str)})
        self.metrics = metrics.registry(run, results, metrics.last_success(
            reports_dir, outcome == "passed" and not run.selection.partial))
        metrics.write(reports_dir / "metrics.prom", self.metrics)
        if outcome != "passed" and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = (pytest.ExitCode.INTERRUPTED if outcome == "interrupted"
                                  else pytest.ExitCode.TESTS_FAILED)

    # ---------------------------------------------------------------- pytest-html
    def pytest_html_report_title(self, report: Any) -> None:
        plan = self.plan
        names = ", ".join(f"{t.env_name + ': ' if t.env_name else ''}{t.kind} {t.name}"
                          for t in plan.targets)
        release = f", release {plan.release}" if plan.release else ""
        report.title = f"Post-deploy verification: {names}{release}"

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str],
                                    postfix: list[str], session: pytest.Session) -> None:
        if self.run is not None:
            prefix.append(verdict_html(self.run, self._finished(), self.redact,
                                       lambda r: evidence_html(
                                           {"evidence": r.evidence, "sql": []}, self.redact),
                                       self.history, self.environment))

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        if hasattr(report, "verify_outcome"):
            data.clear()  # the reason is in its own column and the evidence below it

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, "<th>Reason</th>")

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        # pytest-html writes the node id unescaped; ids carry file names and config names
        test_id = report.nodeid + (f"::{report.when}" if report.when != "call" else "")
        cells[:] = [f'<td class="col-testId">{html.escape(self.redact(test_id))}</td>'
                    if 'class="col-testId"' in cell else cell for cell in cells]
        cells.insert(2, f"<td>{html.escape(getattr(report, 'verify_reason', ''))}</td>")

    # ---------------------------------------------------------------- console
    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        # Runs after pytest-html and junitxml have written their files.
        run, results = self.run, self._finished()
        write = terminalreporter.write_line
        width = _width(terminalreporter)
        terminalreporter.write_sep("=", "post-deploy verification", fullwidth=width)
        if run is None:
            return
        if run.no_verdict:
            write(f"NO VERDICT: {run.no_verdict}; no report written", yellow=True, bold=True)
            return
        self._deliver()
        for line in console_report.header(run):
            write(self.redact(line))
        if self.config.get_verbosity() > 0:
            for line in console_report.every_check(results, width):
                write(self.redact(line))
        for line in console_report.problems(results, width):
            write(self.redact(line), red=line.startswith(("FAIL", "ERROR")))
        for line in console_report.not_run_lines(run, width):
            write(line, yellow=True)
        for line in console_report.settled_lines(results, width):
            write(line)
        for line in console_report.area_lines(results):
            write(line)
        for line in self.delivered:
            write(self.redact(line), red=line.startswith("reports NOT")
                  or line.startswith("metrics NOT"), bold=True)
        outcome = run_outcome(run, results)
        write(f"verdict: {verdict(run, results)}  (reports in {self.plan.reports_dir})",
              green=outcome == "passed", red=outcome != "passed", bold=True)

    def _deliver(self) -> None:
        """Upload, push and attach before the verdict is printed: a run whose evidence
        did not arrive is not green, and says so in its verdict and summaries."""
        assert self.run is not None
        reports_dir = self.plan.reports_dir
        if self.config.option.xmlpath and Path(self.config.option.xmlpath).is_file():
            results = self._finished()
            junit.amend(Path(self.config.option.xmlpath), [
                ("verdict", verdict(self.run, results)),
                ("selection", self.run.selection.describe()),
                *([("not_run", " ".join(self.run.not_run))] if self.run.not_run else [])],
                self.run.not_run)
        _gather_elsewhere(self.config, reports_dir)
        files = [reports_dir / n for n in REPORT_FILES if (reports_dir / n).is_file()]
        if self.plan.upload:
            self._upload(files)
        if self.plan.pushgateway and self.metrics is not None:
            self._push()
        for ticket in self.plan.tickets:
            self._attach(ticket)
        if self.run.delivery_errors:
            self._fail_run()
            results = self._finished()
            _write(reports_dir / "summary.json", self.redact(summary_json(self.run, results)))
            _write(reports_dir / "summary.md", self.redact(summary_markdown(self.run, results)))
        _keep_history(files, reports_dir / "history", self.plan.run_id,
                      self.plan.config.settings.report_history)

    def _undelivered(self, line: str, cause: str) -> None:
        assert self.run is not None
        self.delivered.append(line)
        self.run.delivery_errors.append(self.redact(cause))

    def _attach(self, ticket: Any) -> None:
        assert self.run is not None
        try:
            where = attach.attach(ticket, self.run, self._finished(),
                                  self.plan.reports_dir / "report.html", self.redact)
        except (CouldNotCheck, OSError) as exc:
            self._undelivered(f"reports NOT attached to {ticket}: {self.redact(str(exc))}",
                              f"ticket {ticket}: {exc}")
            return
        self.delivered.append(f"reports attached to {ticket}: {where}")

    def _push(self) -> None:
        assert self.plan.pushgateway is not None and self.metrics is not None
        grouping = {"target": ",".join(t.label or t.name for t in self.plan.targets)}
        try:
            metrics.push(self.plan.pushgateway, self.metrics, grouping)
        except Exception as exc:  # urllib: HTTPError, URLError, timeouts
            cause = str(exc).splitlines()[0]
            self._undelivered(f"metrics NOT pushed to {self.plan.pushgateway}: {cause}",
                              f"pushgateway: {cause}")
            return
        self.delivered.append(f"metrics pushed to {self.plan.pushgateway}")

    def _fail_run(self) -> None:
        if self.session is not None and self.session.exitstatus == pytest.ExitCode.OK:
            # pytest reads the status after the whole sessionfinish hook, this included
            self.session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _upload(self, files: list[Path]) -> None:
        assert self.plan.upload is not None and self.run is not None
        if self.upload_error is None:
            try:
                upload.upload(files, self.plan.upload, self.plan.run_id, self.plan.upload_clients)
            except CouldNotCheck as exc:
                self.upload_error = str(exc)
        if self.upload_error:
            # the ticket's comment must not offer a link to what was never written
            self._undelivered(f"reports NOT uploaded: {self.upload_error}",
                              f"upload: {self.upload_error}")
            return
        self.delivered.append(f"report for the ticket ({self.run.report_url_note}): "
                              f"{self.run.report_url}")


def _width(terminalreporter: Any) -> int:
    """100 columns, or the terminal's width when it is a narrower terminal."""
    if not terminalreporter.isatty:
        return 100
    return min(100, shutil.get_terminal_size().columns)


def _no_second_list(config: pytest.Config) -> None:
    """Drop pytest's "short test summary info" unless ``-r`` asked for another one.

    The post-deploy section already lists every failure and error, folded by cause and
    redacted; pytest's list repeats one line per item, unredacted, and on CI (``CI`` set)
    with the whole message: one unreachable server printed its cause a hundred times.
    """
    writer = config.pluginmanager.get_plugin("terminalreporter")
    given = [*command_line(config), *config.getini("addopts")]
    if writer is not None and not any(a.startswith("-r") for a in given):
        writer.reportchars = "".join(c for c in writer.reportchars if c not in "fE")


def _node(nodeid: str) -> str:
    """A node id without xdist's ``@group`` suffix (the target is already in the id)."""
    head, _, group = nodeid.rpartition("@")
    return head if head and "[" in head and "]" not in group else nodeid


def _expression(config: pytest.Config) -> str | None:
    """How the run narrowed the checks: -k, -m, --deselect, node ids or files."""
    parts = []
    if config.option.keyword:
        parts.append(f"-k {config.option.keyword!r}")
    if config.option.markexpr:
        parts.append(f"-m {config.option.markexpr!r}")
    for node in getattr(config.option, "deselect", None) or []:
        parts.append(f"--deselect {node}")
    if getattr(config.option, "lf", False):
        parts.append("--lf")
    verify = (config.rootpath / "verify").resolve()
    for arg in config.args:
        if Path(arg.split("::", 1)[0]).resolve() != verify:
            parts.append(arg)
    return " ".join(parts) or None


def _no_verdict(config: pytest.Config) -> str | None:
    for option, flag in (("collectonly", "--collect-only"), ("setupplan", "--setup-plan"),
                         ("setuponly", "--setup-only")):  # --setup-plan sets setuponly too
        if config.getoption(option, False):
            return f"{flag} runs no check"
    return None


def _gather_elsewhere(config: pytest.Config, reports_dir: Path) -> None:
    """``--html`` / ``--junitxml`` given elsewhere: a copy in the reports folder too, which
    the history, the upload (its link names report.html) and the ticket read."""
    for given, name in ((config.option.htmlpath, "report.html"),
                        (config.option.xmlpath, "junit.xml")):
        if given and Path(given).is_file() and Path(given).resolve() != (
                reports_dir / name).resolve():
            shutil.copyfile(given, reports_dir / name)


def _environment(plan: Plan, root: Path) -> dict[str, str]:
    return {
        "Target": plan.target_line(),
        "Release": plan.release or "not given",
        "Suite commit": _git_commit(root),
        "Started": plan.started_at.isoformat(timespec="seconds"),
        "Run by": _user(),
        "Write probes": "off (--read-only)" if all(t.read_only for t in plan.targets)
        else "on (always rolled back)",
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


def _attach_extras(report: pytest.TestReport, result: CheckResult, redact: Any) -> None:
    import pytest_html

    extras = list(getattr(report, "extras", []))
    table = evidence_html({"evidence": result.evidence, "sql": result.sql}, redact)
    if table:
        extras.append(pytest_html.extras.html(table))
    report.extras = extras


def _one_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.startswith(("file ", "  ")):
            return line.strip().removeprefix("E ").strip()
    return text.strip()[:300]


def _area(nodeid: str) -> str:
    """An item outside the registry (a collection error) is filed under its module."""
    return Path(nodeid.split("::", 1)[0]).stem.removeprefix("test_").replace("_", " ")


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

