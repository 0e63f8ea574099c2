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
    described,
    files,
    junit,
    metrics,
    overall,
    run_outcome,
    verdict,
)
from checks.reporting import console as console_report
from checks.reporting.ci import ci_run_url
from checks.reporting.files import Staged, write_together
from checks.reporting.history import current, past_runs
from checks.reporting.html import evidence_html, mask_columns, verdict_html
from checks.reporting.summary import summary_json, summary_markdown
from plugin import guard
from plugin.items import CHECK_KEY, REFUSED_KEY, RUNS_KEY, SPREAD_KEY
from plugin.plan import (
    PLAN_KEY,
    REPORT_FILES,
    Plan,
    command_line,
    write_error_summary,
    write_usage_error,
)

_ENV_KEYS = ("Duration", "Outcome", "Target", "Release", "Suite commit", "Started", "Run by",
             "Write probes", "Selection")


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    guard.at_registration(parser, pluginmanager)


def pytest_configure(config: pytest.Config) -> None:
    # Runs after plugin.items builds the plan (tryfirst) and, being a conftest plugin,
    # before pytest-html and junitxml read their paths. The console section, uploads,
    # pushes and attachments run at the terminal's summary; report.html, junit.xml and the
    # environment come from the others (plugin.guard refuses a run without them).
    guard.at_configure(config)
    plan = config.stash[PLAN_KEY]
    staged = Staged()  # pytest-html and junitxml write under temporary names, put in place
    if _no_verdict(config) is None:  # a mode that runs no check writes no report at all
        if not config.option.htmlpath:
            config.option.htmlpath = str(staged.path(plan.reports_dir / "report.html"))
            config.option.self_contained_html = True
        if not config.option.xmlpath:
            config.option.xmlpath = str(staged.path(plan.reports_dir / "junit.xml"))
    config.stash[metadata_key].update(_environment(plan, config.rootpath))
    if not hasattr(config, "workerinput"):
        reports = Reports(config, plan, staged)
        config.stash[RUNS_KEY].announce = reports.new_roles
        config.pluginmanager.register(reports, "verify-reports")


class Reports:
    """Gathers each item's phases into one CheckResult and writes the report files."""

    def __init__(self, config: pytest.Config, plan: Plan, staged: Staged) -> None:
        self.config = config
        self.plan = plan
        self.staged = staged
        """The run's report files, put in place together once every one was written."""
        self.texts: dict[Path, str] = {}
        self.last_success = metrics.NEVER
        self.full_pass = False
        """Every check of the config passed: the targets' last success moves to now."""
        self.texts_staged = False
        self.write_error: str | None = None
        """Why the reports could not be written (then none of them is in place)."""
        self.redact = plan.redact
        self.results: dict[str, CheckResult] = {}
        self.selected: list[str] | None = None
        """The selected checks' ids; None until collection finished."""
        self.facts: dict[str, str] = {}
        self.roles: dict[str, dict[str, Any]] = {}
        """Each target's role and replica state once it answered, by label."""
        self.html_report: Any = None
        self.published = False
        """Every report file of the run is in place."""
        self.silenced: list[Any] = []
        """pytest-html's and junitxml's plugins, once their staged files are in place."""
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

    def _writer(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    def _say(self, line: str, **markup: bool) -> None:
        writer = self._writer()
        if writer is not None:
            writer.ensure_newline()
            writer.write_line(self.redact(line), **markup)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.facts.update(getattr(report, "verify_facts", {}))
        self.new_roles(getattr(report, "verify_roles", {}))
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
            result.method = found.get("method")
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

    def new_roles(self, roles: dict[str, dict[str, Any]]) -> None:
        """Say each target's role as soon as it answered: before any verdict is shown."""
        for label, found in roles.items():
            if label not in self.roles:
                self.roles[label] = found
                target = {"label": label, "replica": found}
                writer = self._writer()
                for line in console_report.role_lines(
                        target, _width(writer) if writer is not None else 100, indent=""):
                    self._say(line, bold=True, red=not found["in_step"])

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
                      **({"ignored": list(t.ignored)} if t.ignored else {}),
                      **({"replica": self.roles[t.label]} if t.label in self.roles else {})}
                     for t in plan.targets],
            no_verdict=_no_verdict(self.config),
            self_test=plan.self_test,
        )

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Any:
        # The innermost wrapper: the verdict before pytest-html and junitxml write their
        # (staged) files, and every file put in place once they have, before the console's
        # summary (the terminal's wrapper, outside this one) delivers and reports them.
        self._conclude(session)
        try:
            result = yield
        except BaseException as exc:  # a report plugin's write failed (a full disk)
            self._publish(exc)
            self._silence_writers()
            if isinstance(exc, OSError):
                return None
            raise
        self._publish(None)
        self._silence_writers()
        return result

    def _conclude(self, session: pytest.Session) -> None:
        self.session = session
        if refused := self.config.stash.get(REFUSED_KEY, None):
            write_usage_error(self.plan.reports_dir, self.redact(refused),
                              self_test=self.plan.self_test)
            return
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
        outcome = overall(results, run.not_run,
                          collected=run.selection.total is not None)
        # A self-test's verdict is about the config, not the target's health: it stays out
        # of the history strip and the pager's metrics (and keeps no history of its own).
        self.history = [] if run.self_test else [*past_runs(reports_dir / "history"),
                                                  current(self.plan.run_id, outcome, results)]
        self.environment = {k: str(v) for k, v in metadata.items()}
        # pytest-html writes these values into the page unescaped (innerHTML); a database,
        # target or release name is text from outside
        metadata.update({k: html.escape(self.redact(v)) for k, v in metadata.items()
                         if isinstance(v, str)})
        # A self-test's verdict is about the config, not the target's health: no metrics,
        # no last success (and no history: above).
        self.full_pass = outcome == "passed" and not run.selection.partial and not run.self_test
        self.last_success = (time.time() if self.full_pass
                             else metrics.last_success(reports_dir, self.plan.target_keys))
        self.metrics = None if run.self_test else metrics.registry(run, results,
                                                                   self.last_success)
        self.texts = {**({} if self.metrics is None else
                         {reports_dir / "metrics.prom": metrics.text(self.metrics)}),
                      reports_dir / "summary.md": self.redact(summary_markdown(run, results)),
                      reports_dir / "summary.json": self.redact(summary_json(run, results))}
        if outcome != "passed" and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = (pytest.ExitCode.INTERRUPTED if outcome == "interrupted"
                                  else pytest.ExitCode.TESTS_FAILED)

    def _publish(self, failure: BaseException | None) -> None:
        """Put every report file in place, summary.json last, or none of them: a failed
        write leaves an error summary (if the folder takes it) and a non-zero exit."""
        if self.run is None or self.run.no_verdict:
            self.staged.discard()
            return
        reports_dir = self.plan.reports_dir
        try:
            if failure is not None:
                raise failure
            xml = self.config.option.xmlpath
            if xml and Path(xml).is_file():  # the staged file, or one given elsewhere
                results = self._finished()
                junit.amend(Path(xml), [
                    ("verdict", verdict(self.run, results)),
                    ("target", described(self.run)),
                    ("selection", self.run.selection.describe()),
                    *([("not_run", " ".join(self.run.not_run))] if self.run.not_run else [])],
                    self.run.not_run)
            _gather_elsewhere(self.config, reports_dir, self.staged)
            if missing := self.staged.missing():
                raise OSError(f"{missing[0].name} was not written")
            self.texts_staged = True
            for path, text in self.texts.items():
                self.staged.write_text(path, text)
            self.staged.publish(last=reports_dir / "summary.json")
        except BaseException as exc:
            self.staged.withdraw()
            self._not_written(exc)
            return
        self.published = True

    def _silence_writers(self) -> None:
        """pytest-html and junitxml would name in the console the temporary file they wrote:
        once it is in place (or taken back) they leave the console to this plugin, which
        names report.html when it is in place. Each is registered again for pytest's
        cleanup (junitxml's unregisters its own)."""
        for writer in _staged_writers(self.config, self.staged, self.plan.reports_dir):
            self.config.pluginmanager.unregister(writer)
            self.silenced.append(writer)

    @pytest.hookimpl(tryfirst=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        for writer in self.silenced:
            if not config.pluginmanager.is_registered(writer):
                config.pluginmanager.register(writer)

    def _not_written(self, exc: BaseException) -> None:
        """No report of this run stays in place; an error summary says why, if it fits."""
        self.staged.withdraw()
        reports_dir = self.plan.reports_dir
        cause = (files.describe(exc, reports_dir) if isinstance(exc, OSError)
                 else f"{type(exc).__name__}: {exc}")
        if isinstance(exc, OSError) and not exc.filename and not self.texts_staged:
            cause += " (writing report.html or junit.xml)"  # the plugins' own writes
        self.write_error = f"reports NOT written to {reports_dir}: {cause}"
        assert self.run is not None
        self.run.delivery_errors.append(self.redact(f"reports folder: {cause}"))
        last = metrics.last_success(reports_dir, self.plan.target_keys)
        self.metrics = None if self.run.self_test else metrics.error_only(last)
        write_error_summary(
            reports_dir, f"The checks ran, but their reports could not be written: {cause}",
            last_success=last, self_test=self.run.self_test,
            target={"kind": self.run.target_kind, "name": self.run.target_name},
            release=self.run.release, reports_error=self.redact(self.write_error))
        self._fail_run()

    # ---------------------------------------------------------------- pytest-html
    def pytest_html_report_title(self, report: Any) -> None:
        plan = self.plan
        names = ", ".join(f"{t.env_name + ': ' if t.env_name else ''}{t.kind} {t.name}"
                          for t in plan.targets)
        release = f", release {plan.release}" if plan.release else ""
        report.title = (f"Self-test of {self.plan.config.path.name} ({names})"
                        if plan.self_test else f"Post-deploy verification: {names}{release}")
        self.html_report = report  # its title gets each target's role once they answered

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str],
                                    postfix: list[str], session: pytest.Session) -> None:
        if (self.run is not None and self.html_report is not None and self.roles
                and not self.plan.self_test):
            release = f", release {self.plan.release}" if self.plan.release else ""
            self.html_report.title = self.redact(
                f"Post-deploy verification: {described(self.run)}{release}")
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
        terminalreporter.write_sep("=", "self-test of the invariants" if self.plan.self_test
                                   else "post-deploy verification", fullwidth=width)
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
        where = ("no reports written" if self.write_error
                 else f"reports in {self.plan.reports_dir}")
        write(f"verdict: {verdict(run, results)}  ({where})",
              green=outcome == "passed" and not self.write_error,
              red=outcome != "passed" or bool(self.write_error), bold=True)
        if self.write_error:
            write(self.redact(self.write_error), red=True, bold=True)
        elif self.published and (html_report := self.plan.reports_dir / "report.html").is_file():
            write(f"html report: {html_report.resolve().as_uri()}")

    def _deliver(self) -> None:
        """Upload, push and attach before the verdict is printed: a run whose evidence
        did not arrive is not green, and says so in its verdict and summaries."""
        assert self.run is not None
        reports_dir = self.plan.reports_dir
        if self.write_error:  # nothing to upload or attach; the pager hears of the error
            if self.plan.pushgateway and self.metrics is not None:
                self._push()
            return
        present = [reports_dir / n for n in REPORT_FILES if (reports_dir / n).is_file()]
        if self.plan.upload:
            self._upload(present)
        if self.plan.pushgateway and self.metrics is not None:
            self._push()
        for ticket in self.plan.tickets:
            self._attach(ticket)
        results = self._finished()
        keep = self.plan.config.settings.report_history
        history = Staged()
        try:
            if self.run.delivery_errors:
                self._fail_run()
                write_together({
                    reports_dir / "summary.md": self.redact(summary_markdown(self.run, results)),
                    reports_dir / "summary.json": self.redact(summary_json(self.run, results)),
                }, last=reports_dir / "summary.json")
            if not self.run.self_test:  # a self-test keeps no history
                _stage_history(history, present, reports_dir / "history", self.plan.run_id,
                               keep)
                history.publish(last=reports_dir / "history" /
                                f"{self.plan.run_id}-summary.json")
        except OSError as exc:  # a passed summary must not stand beside what failed
            history.withdraw()
            self._not_written(exc)
            return
        if not self.run.self_test:
            _prune_history(reports_dir / "history", keep)
        if self.full_pass and not self.run.delivery_errors:
            try:  # recorded only once the reports that say so are in place
                for key in self.plan.target_keys:
                    state = metrics.success_file(reports_dir, key)
                    write_together({state: f"{self.last_success}\n"}, last=state)
            except OSError:
                pass  # the next run reads the success before this one: older, never newer

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


def _gather_elsewhere(config: pytest.Config, reports_dir: Path, staged: Staged) -> None:
    """``--html`` / ``--junitxml`` given elsewhere: a copy in the reports folder too, which
    the history, the upload (its link names report.html) and the ticket read."""
    for given, name in ((config.option.htmlpath, "report.html"),
                        (config.option.xmlpath, "junit.xml")):
        final = reports_dir / name
        if given and Path(given).resolve() != staged.path(final).resolve():
            staged.copy(Path(given), final)


def _staged_writers(config: pytest.Config, staged: Staged, reports_dir: Path) -> list[Any]:
    """The plugin objects of pytest-html and junitxml that write a file of ``staged`` (the
    temporary name this plugin gave them at configure; one given by ``--html`` or
    ``--junitxml`` elsewhere is theirs). Found through the plugin manager's public API:
    pytest-html's report is a ``BaseReport``; junitxml's names its file ``logfile``."""
    from pytest_html.basereport import BaseReport

    def ours(given: str | None, name: str) -> str | None:
        final = reports_dir / name
        if not given or final not in staged:
            return None
        path = os.path.normpath(os.path.abspath(given))
        return path if path == os.path.abspath(staged.path(final)) else None

    html_path = ours(config.option.htmlpath, "report.html")
    xml_path = ours(config.option.xmlpath, "junit.xml")
    return [p for p in config.pluginmanager.get_plugins()
            if (html_path and isinstance(p, BaseReport))
            or (xml_path and getattr(p, "logfile", None) == xml_path)]


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


def _stage_history(staged: Staged, present: list[Path], folder: Path, run_id: str,
                   keep: int) -> None:
    """This run's files as ``history/<run>-<name>``, put in place together."""
    if keep <= 0:
        return
    folder.mkdir(exist_ok=True)
    for f in present:
        staged.copy(f, folder / f"{run_id}-{f.name}")


def _prune_history(folder: Path, keep: int) -> None:
    """Drop the oldest runs beyond ``keep``."""
    if keep <= 0 or not folder.is_dir():
        return
    runs = sorted({p.name.split("-", 1)[0] for p in folder.iterdir()
                   if not p.name.startswith(".")})
    for old in runs[:-keep]:
        for p in folder.glob(f"{old}-*"):
            p.unlink(missing_ok=True)


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


