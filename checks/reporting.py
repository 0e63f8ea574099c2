"""Turn check results into the report files: summary.json, summary.md, console table, HTML.

Pure functions over plain data, so they run the same under pytest, xdist or a REPL.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tabulate import tabulate

MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIP"}
AREAS = {
    "migrations": "migrations",
    "drift": "drift",
    "constraints": "constraints",
    "data_integrity": "data integrity",
    "heartbeat": "heartbeat",
}


@dataclass
class CheckResult:
    """One pytest item's final outcome (its phases combined)."""

    id: str
    area: str
    outcome: str
    message: str
    duration_s: float = 0.0
    evidence: list[dict[str, Any]] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)


@dataclass
class Run:
    """What was verified, when, by whom."""

    target_kind: str
    target_name: str
    release: str | None
    started_at: str
    duration_s: float
    environment: dict[str, str] = field(default_factory=dict)


def counts(results: Sequence[CheckResult]) -> dict[str, int]:
    tally = dict.fromkeys(MARKS, 0)
    for r in results:
        tally[r.outcome] += 1
    return tally


def overall(results: Sequence[CheckResult]) -> str:
    """``error`` if anything errored, else ``failed`` if anything failed, else ``passed``
    when at least one check passed; a run that checked nothing is ``error``."""
    c = counts(results)
    if c["error"]:
        return "error"
    if c["failed"]:
        return "failed"
    return "passed" if c["passed"] else "error"


def summary(run: Run, results: Sequence[CheckResult]) -> dict[str, Any]:
    """The summary.json document of the public interface."""
    return {
        "outcome": overall(results),
        "target": {"kind": run.target_kind, "name": run.target_name},
        "release": run.release,
        "started_at": run.started_at,
        "duration_s": round(run.duration_s, 3),
        "counts": counts(results),
        "checks": [
            {"id": r.id, "outcome": r.outcome, "message": r.message,
             "duration_s": round(r.duration_s, 4)}
            for r in results
        ],
        "environment": run.environment,
        "details": [
            {"id": r.id, "area": r.area, "evidence": r.evidence, "sql": r.sql}
            for r in results if r.evidence or r.sql
        ],
    }


def summary_json(run: Run, results: Sequence[CheckResult]) -> str:
    return json.dumps(summary(run, results), indent=2, default=str) + "\n"


def summary_markdown(run: Run, results: Sequence[CheckResult]) -> str:
    """A short Markdown summary for the release ticket: outcome, target, counts, non-passes."""
    c = counts(results)
    lines = [
        f"## Post-deploy verification: {overall(results).upper()}",
        "",
        f"- Target: {run.target_kind} `{run.target_name}`",
        f"- Release: {run.release or 'not given'}",
        f"- Started: {run.started_at} ({run.duration_s:.1f} s)",
        f"- Checks: {c['passed']} passed, {c['failed']} failed, {c['error']} error, "
        f"{c['skipped']} skipped",
    ]
    problems = [r for r in results if r.outcome != "passed"]
    if problems:
        lines += ["", "| result | check | why |", "| --- | --- | --- |"]
        lines += [f"| {MARKS[r.outcome]} | `{r.id}` | {_md_cell(r.message)} |" for r in problems]
    return "\n".join(lines) + "\n"


def console_table(results: Sequence[CheckResult], width: int = 100) -> str:
    """One row per check, grouped by area, with PASS/FAIL/ERROR/SKIP and the reason."""
    ordered = sorted(results, key=lambda r: (r.area, r.id))
    rows = [
        (r.area, _short_id(r.id), MARKS[r.outcome], _clip(r.message, max(30, width - 60)))
        for r in ordered
    ]
    return tabulate(rows, headers=("area", "check", "result", "reason"), tablefmt="simple")


def evidence_html(outcome: dict[str, Any], scrub: Callable[[str], str]) -> str:
    """The evidence tables of one outcome, escaped and redacted, for the HTML report."""
    parts = []
    for ev in outcome.get("evidence", []):
        shown, total = len(ev["rows"]), ev["total"]
        caption = f"{ev['title']} ({total} in all" + (f", first {shown} shown)" if total > shown
                                                       else ")")
        head = "".join(f"<th>{_h(c, scrub)}</th>" for c in ev["columns"])
        body = "".join(
            "<tr>" + "".join(f"<td>{_h(v, scrub)}</td>" for v in row) + "</tr>"
            for row in ev["rows"]
        )
        parts.append(f'<table class="verify-evidence"><caption>{_h(caption, scrub)}</caption>'
                     f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "".join(parts)


def results_as_dicts(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


def _h(value: Any, scrub: Callable[[str], str]) -> str:
    return html.escape(scrub("NULL" if value is None else str(value)))


def _md_cell(text: str) -> str:
    return _clip(text.replace("|", "\\|").replace("\n", " "), 200)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_id(node_id: str) -> str:
    return node_id.split("::", 1)[-1]
