"""``metrics.prom`` for node_exporter's textfile collector, and the same metrics pushed to
a Pushgateway: per-check outcomes, per-area counts, the run, heartbeat ages, the last
success. Made with prometheus-client (its text format)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest, push_to_gateway

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
    _roles(found, run)
    return found


def _roles(found: CollectorRegistry, run: Run) -> None:
    """Each target that answered: a standby or not, and a standby's lag when it is known."""
    standby = Gauge("ops_verify_target_standby", "1 when the target is a standby (in "
                    "recovery), 0 for a primary", ["target"], registry=found)
    lag = Gauge("ops_verify_replica_lag_seconds", "How far behind its primary a standby "
                "target may be (absent when that cannot be known)", ["target"], registry=found)
    for target in run.targets:
        if replica := target.get("replica"):
            name = target.get("label") or target["name"]
            standby.labels(name).set(replica["role"] == "standby")
            if replica["role"] == "standby" and replica["lag_s"] is not None:
                lag.labels(name).set(replica["lag_s"])


def error_only(last_success: float | None) -> CollectorRegistry:
    """The metrics of a run that ended in an error without a report of its checks (refused
    before it checked anything, or its reports could not be written): an error, now, so
    that an alert on the outcome fires instead of the series vanishing."""
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
        Gauge("ops_verify_last_success_timestamp_seconds", "When a full run last passed on "
              "this target (Unix time; 0: never)", registry=found).set(last_success)


def text(metrics: CollectorRegistry) -> str:
    """The textfile collector's format (written with the other report files, together)."""
    return generate_latest(metrics).decode("utf-8")


def push(url: str, metrics: CollectorRegistry, grouping: dict[str, str]) -> None:
    """Push to a Pushgateway (job ``ops-verify``); raises on any failure."""
    push_to_gateway(url, job="ops-verify", registry=metrics, grouping_key=grouping, timeout=10)


NEVER = 0.0
"""The last success of a target no full run has passed (as far as the folder remembers):
an alert on its age fires."""


def success_file(reports_dir: Path, target: str) -> Path:
    """Where one target's last full pass is kept: ``reports/.last-success-<target>-<hash>``
    (one folder may hold the reports of several targets, run in turn)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", target).strip("-.")[:60]
    digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:10]
    return reports_dir / f".last-success-{slug}-{digest}"


def last_success(reports_dir: Path, targets: Sequence[str]) -> float:
    """When a full run last passed on every one of ``targets`` (the oldest of theirs), or
    :data:`NEVER`. A partial run never counts; nor does another target's pass."""
    found = []
    for target in targets:
        try:
            found.append(float(success_file(reports_dir, target).read_text()))
        except (OSError, ValueError):
            return NEVER
    return min(found, default=NEVER)
