"""``metrics.prom`` for node_exporter's textfile collector, and the same metrics pushed to
a Pushgateway: per-check outcomes, per-area counts, the run, heartbeat ages, the last
success. Made with prometheus-client (its text format and its atomic file write)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from checks.reporting.model import MARKS, CheckResult, Run, areas, run_outcome

RUN_OUTCOMES = ("passed", "failed", "error", "interrupted")


def registry(run: Run, results: Sequence[CheckResult], last_success: float | None
             ) -> CollectorRegistry:
    """Every metric of one run."""
    found = CollectorRegistry()
    outcome = run_outcome(run, results)
    check = Gauge("ops_verify_check_outcome", "1 for the outcome each check ended in",
                  ["check", "area", "outcome"], registry=found)
    for r in results:
        check.labels(r.short_id, r.area, r.outcome).set(1)
    area = Gauge("ops_verify_area_checks", "Checks per area and outcome", ["area", "outcome"],
                 registry=found)
    for name, _, counts in areas(results):
        for state in MARKS:
            area.labels(name, state).set(counts[state])
    _run(found, outcome, run.duration_s, last_success)
    Gauge("ops_verify_checks_selected", "Checks this run selected",
          registry=found).set(run.selection.selected)
    if run.selection.total is not None:  # None: stopped before the checks were collected
        Gauge("ops_verify_checks_total", "Checks the config defines (a run that selected "
              "fewer is partial)", registry=found).set(run.selection.total)
    Gauge("ops_verify_checks_not_run", "Selected checks that reached no verdict",
          registry=found).set(len(run.not_run))
    age = Gauge("ops_verify_heartbeat_age_seconds", "Age of the newest heartbeat a check saw",
                ["check"], registry=found)
    figure = Gauge("ops_verify_check_figure", "A number a check saw (error lines, alarms "
                   "by state, invocations, duplicated values, ...)", ["check", "figure"],
                   registry=found)
    for r in results:
        if "age_s" in r.figures:
            age.labels(r.short_id).set(r.figures["age_s"])
        for name, value in r.figures.items():
            figure.labels(r.short_id, name).set(value)
    return found


def usage_error(last_success: float | None) -> CollectorRegistry:
    """The metrics of a run refused before it checked anything: an error, now, so that
    an alert on the outcome fires instead of the series vanishing."""
    found = CollectorRegistry()
    _run(found, "error", 0.0, last_success)
    return found


def _run(found: CollectorRegistry, outcome: str, duration_s: float,
         last_success: float | None) -> None:
    run_outcome = Gauge("ops_verify_run_outcome", "1 for the run's outcome", ["outcome"],
                        registry=found)
    for state in RUN_OUTCOMES:
        run_outcome.labels(state).set(1 if state == outcome else 0)
    Gauge("ops_verify_run_duration_seconds", "How long the run took",
          registry=found).set(duration_s)
    Gauge("ops_verify_last_run_timestamp_seconds", "When the run ended (Unix time)",
          registry=found).set(time.time())
    if last_success is not None:
        Gauge("ops_verify_last_success_timestamp_seconds", "When a full run last passed (Unix "
              "time)", registry=found).set(last_success)


def write(path: Path, metrics: CollectorRegistry) -> None:
    write_to_textfile(str(path), metrics)


def push(url: str, metrics: CollectorRegistry, grouping: dict[str, str]) -> None:
    """Push to a Pushgateway (job ``ops-verify``); raises on any failure."""
    push_to_gateway(url, job="ops-verify", registry=metrics, grouping_key=grouping, timeout=10)


def last_success(reports_dir: Path, full_pass: bool) -> float | None:
    """When a full run last passed: now if this one did (a partial one never counts);
    kept in ``reports/.last-success``."""
    state = reports_dir / ".last-success"
    if full_pass:
        now = time.time()
        state.write_text(f"{now}\n")
        return now
    try:
        return float(state.read_text())
    except (OSError, ValueError):
        return None
