"""What the reports are made of: each check's result and the run around them.

Pure data and pure functions, so every report reads the same verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from checks.config.model import OFF_IN_ENVIRONMENT
from checks.kinds.base import AREAS

MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIP",
         "accepted": "ACCEPTED", "warned": "WARN", "info": "INFO"}
ORDER = ("failed", "error", "warned", "accepted", "skipped", "info", "passed")
"""Outcomes in the order reports list them: failures first, then errors."""


@dataclass
class CheckResult:
    """One item's final outcome."""

    id: str
    area: str
    outcome: str
    message: str
    duration_s: float = 0.0
    evidence: list[dict[str, Any]] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    blocked_by: str | None = None
    attempts: int = 1
    first_passed_s: float | None = None
    figures: dict[str, float] = field(default_factory=dict)
    fix: str | None = None
    """What an operator can do about it (failures only)."""
    method: str | None = None
    """How the rows were read: one of :data:`METHODS` (data checks with a shortcut only)."""

    @property
    def short_id(self) -> str:
        return self.id.split("::", 1)[-1]


@dataclass
class Selection:
    """Which checks this run selected, of all the config defines."""

    expression: str | None
    selected: int
    total: int | None
    """None: the run stopped while the checks were being collected (none is known)."""

    @property
    def partial(self) -> bool:
        return self.total is None or self.selected < self.total

    def describe(self) -> str:
        if self.total is None:
            return "no check collected: the run stopped while collecting them"
        if not self.partial:
            return f"all {self.total} checks"
        how = f" by {self.expression}" if self.expression else ""
        return f"{self.selected} of {self.total} checks selected{how}"


@dataclass
class Run:
    """What was verified, when, by whom, and how far the run got."""

    target_kind: str
    target_name: str
    release: str | None
    started_at: str
    duration_s: float
    selection: Selection
    not_run: list[str] = field(default_factory=list)
    """Selected checks that reached no verdict (the run was stopped or crashed)."""
    targets: list[dict[str, Any]] = field(default_factory=list)
    """Each target: kind, name, how it was chosen, and once it answered its ``replica``
    (role, lag, paused: :meth:`checks.replica.Replica.to_dict`)."""
    environment: dict[str, str] = field(default_factory=dict)
    report_url: str | None = None
    """Where the uploaded report.html is read: a presigned link, or (temporary AWS
    credentials) the S3 console's page of the object, which needs a login."""
    report_url_note: str = ""
    """What the link is (``valid 168 h``, ``AWS console: needs a login``)."""
    ci_url: str | None = None
    """The CI run that ran the suite, when a CI says (GitHub Actions, GitLab, Jenkins)."""
    delivery_errors: list[str] = field(default_factory=list)
    """Why the reports did not reach where they were sent (upload, ticket, Pushgateway):
    the run is not green then, whatever its checks said."""
    no_verdict: str | None = None
    """Why this run gives no verdict at all (e.g. ``--setup-only``)."""
    self_test: bool = False
    """``--self-test``: each item says whether its invariant was proven able to fail."""

    @property
    def title(self) -> str:
        return report_title(self.self_test)


def report_title(self_test: bool) -> str:
    """What a run's reports are titled (also an error summary written before any run)."""
    return "Self-test of the invariants" if self_test else "Post-deploy verification"


@dataclass(frozen=True)
class SelfTestTally:
    """A self-test's verdict: how many invariants were proven able to fail, which not."""

    proven: int
    not_proven: list[tuple[str, str]]
    """(check, why): failed (the check missed a fault) or error (it could not be shown)."""
    accepted: list[tuple[str, str]]
    """Not proven, accepted by the entry's ``allow_unproven``."""
    nothing_to_prove: int
    """Skipped: the check cannot fail by design of the config (or is off here)."""
    not_run: int = 0
    """Selected, and no verdict reached (an interrupted self-test): not proven either."""

    @property
    def invariants(self) -> int:
        return self.proven + len(self.not_proven) + len(self.accepted) + self.not_run

    def line(self, limit: int = 3) -> str:
        """``17 of 18 invariants proven able to fail; not proven: test_x[y]``."""
        text = f"{self.proven} of {self.invariants} invariants proven able to fail"
        if self.not_proven:
            shown = ", ".join(i for i, _ in self.not_proven[:limit])
            more = len(self.not_proven) - limit
            text += f"; not proven: {shown}" + (f" and {more} more" if more > 0 else "")
        if self.accepted:
            text += f"; {len(self.accepted)} not proven, accepted by allow_unproven"
        if self.not_run:
            text += f"; {self.not_run} not run"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"invariants": self.invariants, "proven": self.proven,
                "not_proven": [{"id": i, "why": m} for i, m in self.not_proven],
                "accepted_unproven": [{"id": i, "why": m} for i, m in self.accepted],
                "nothing_to_prove": self.nothing_to_prove, "not_run": self.not_run,
                "verdict": self.line(limit=10**6)}


def self_test_tally(results: Sequence[CheckResult], not_run: Sequence[str] = ()
                    ) -> SelfTestTally:
    ordered_ = ordered(results)
    return SelfTestTally(
        proven=sum(r.outcome == "passed" for r in results),
        not_proven=[(r.short_id, r.message) for r in ordered_ if r.outcome in ("failed", "error")],
        accepted=[(r.short_id, r.message) for r in ordered_ if r.outcome == "accepted"],
        nothing_to_prove=sum(r.outcome == "skipped" for r in results), not_run=len(not_run))


def target_title(run: Run, code: Callable[[str], str] = str) -> str:
    """The targets as an operator names them: the environment first (``prod: lambda
    ops-pipeline-db-query``), else the kind and name; ``code`` marks text from outside."""
    targets = run.targets or [{"kind": run.target_kind, "name": run.target_name}]
    return ", ".join(_title(t, code) for t in targets)


def _title(target: dict[str, Any], code: Callable[[str], str]) -> str:
    if target.get("env"):
        return f"{code(target['env'])} ({target['kind']} {code(target['name'])})"
    return f"{target['kind']} {code(target['name'])}"


def role(target: dict[str, Any]) -> str | None:
    """The target's role in words (``primary``, ``standby, in step: lag 2s ...``), once it
    answered."""
    replica = target.get("replica")
    return replica["description"] if replica else None


def described(run: Run) -> str:
    """Every target with its role: ``dsn host:5432/db: standby, in step: ...``."""
    targets = run.targets or [{"kind": run.target_kind, "name": run.target_name}]
    return "; ".join(_title(t, str) + (f": {found}" if (found := role(t)) else "")
                     for t in targets)


def counts(results: Sequence[CheckResult]) -> dict[str, int]:
    tally = dict.fromkeys(MARKS, 0)
    for r in results:
        tally[r.outcome] += 1
    return tally


def overall(results: Sequence[CheckResult], not_run: Sequence[str] = (),
            delivery_errors: Sequence[str] = (), collected: bool = True) -> str:
    """``error`` if anything errored, else ``failed`` if anything failed, else
    ``interrupted`` if a selected check reached no verdict (or the run stopped before its
    checks were ``collected``), else ``passed`` when at least one check reached a verdict
    (passed, accepted, warned, info); a run whose checks were all skipped (or that had
    none) checked nothing: ``error``; so is a passing run whose reports did not reach where
    they were sent (the ticket would lack its evidence)."""
    c = counts(results)
    if c["error"]:
        return "error"
    if c["failed"]:
        return "failed"
    if not_run or not collected:
        return "interrupted"
    if delivery_errors:
        return "error"
    return "passed" if c["passed"] + c["accepted"] + c["warned"] + c["info"] else "error"


def run_outcome(run: Run, results: Sequence[CheckResult]) -> str:
    """The run's outcome (see :func:`overall`)."""
    return overall(results, run.not_run, run.delivery_errors,
                   collected=run.selection.total is not None)


def verdict(run: Run, results: Sequence[CheckResult]) -> str:
    """The verdict in words: ``PASSED``, ``PASSED (3 of 103 checks selected)``,
    ``INTERRUPTED (39 of 103 checks reached a verdict)``..."""
    outcome = run_outcome(run, results).upper()
    notes = [self_test_tally(results, run.not_run).line()] \
        if run.self_test and (results or run.not_run) else []
    if run.selection.partial:
        notes.append(run.selection.describe())
    if run.not_run and not run.self_test:  # the self-test's tally says it
        notes.append(f"{len(run.not_run)} selected check(s) not run")
    if not results and not run.not_run and run.selection.total is not None:
        notes.append("no check ran: the run verified nothing")
    if off := sum(r.outcome == "skipped" and r.message.startswith(OFF_IN_ENVIRONMENT)
                  for r in results):
        notes.append(f"{off} check(s) off in this environment by its skip list")
    if run.delivery_errors:
        checks = overall(results, run.not_run)
        notes.append(("every check passed, but " if checks == "passed" else "")
                     + "the reports were NOT delivered: "
                     + "; ".join(e.split(":", 1)[0] for e in run.delivery_errors))
    return f"{outcome} ({'; '.join(notes)})" if notes else outcome


def ordered(results: Sequence[CheckResult]) -> list[CheckResult]:
    """Failures first, then errors (root causes before the checks they blocked), then the
    rest; by area and id within each."""
    def key(r: CheckResult) -> tuple[Any, ...]:
        return (ORDER.index(r.outcome), r.blocked_by is not None, area_rank(r.area), r.id)

    return sorted(results, key=key)


def grouped(results: Sequence[CheckResult]) -> list[tuple[CheckResult, int]]:
    """Non-passed results with identical outcome and message folded into one line (the
    first of them, and how many there are), in :func:`ordered` order."""
    groups: dict[tuple[str, str], list[CheckResult]] = {}
    for r in ordered(results):
        if r.outcome != "passed":
            groups.setdefault((r.outcome, r.message), []).append(r)
    return [(members[0], len(members)) for members in groups.values()]


def areas(results: Sequence[CheckResult]) -> list[tuple[str, str, dict[str, int]]]:
    """Each area with its worst outcome and its counts, in reading order."""
    by_area: dict[str, list[CheckResult]] = {}
    for r in results:
        by_area.setdefault(r.area, []).append(r)
    return [(area, min((r.outcome for r in members), key=ORDER.index), counts(members))
            for area, members in sorted(by_area.items(), key=lambda a: area_rank(a[0]))]


def area_rank(area: str) -> tuple[int, str]:
    return (AREAS.index(area) if area in AREAS else len(AREAS), area)


METHODS = {"proven": "proven by a unique guard",
           "cached": "NOT VALID counts kept (the rule unchanged)",
           "incremental": "incremental (only rows added since the last run)",
           "scanned": "scanned in full"}
"""How a data check read its rows (``checks/proofs.py``), in the words of the reports."""


def methods(results: Sequence[CheckResult]) -> dict[str, int]:
    """How many checks read their rows each way, in :data:`METHODS` order."""
    found = [r.method for r in results]
    return {m: found.count(m) for m in METHODS if m in found}


def methods_line(results: Sequence[CheckResult]) -> str | None:
    """``rows read: 4 NOT VALID counts kept (...), 1 incremental (...)``, or None when no
    check read rows with a shortcut or a full scan."""
    found = methods(results)
    if not found:
        return None
    return "rows read: " + ", ".join(f"{n} {METHODS[m]}" for m, n in found.items())


def settled(results: Sequence[CheckResult]) -> list[str]:
    """One line per check retried in the settle window: how many attempts and when it
    passed, or that it never settled."""
    return [(f"SETTLED {r.short_id}: passed after {r.attempts} attempts (passing since "
             f"{r.first_passed_s:g} s, confirmed)"
             if r.first_passed_s is not None and r.outcome == "passed" else
             f"NOT SETTLED {r.short_id}: still {r.outcome} after {r.attempts} attempts")
            for r in ordered(results) if r.attempts > 1]


def evidence_line(r: CheckResult, limit: int = 3) -> str:
    """The first rows of the first evidence table in one line (e.g. ``ord-7: 2 rows``)."""
    for ev in r.evidence:
        if ev["rows"]:
            columns = ev["columns"]
            shown = ["; ".join(f"{c}={_cell(v)}" for c, v in zip(columns, row, strict=False)
                               if v not in (None, ""))
                     for row in ev["rows"][:limit]]
            more = ev["total"] - len(shown)
            return " | ".join(shown) + (f" (+{more} more)" if more > 0 else "")
    return ""


def _cell(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 60 else text[:59] + "…"


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
