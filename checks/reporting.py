"""Turn check results into the report files: summary.json, summary.md, console table, HTML.

Pure functions over plain data, so they run the same under pytest, xdist or a REPL.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIP"}
MASK = "***"
MD_ROWS = 25
"""At most this many non-passed checks are listed in summary.md (it goes into a ticket)."""
_CSS = """
table.verify-areas, table.verify-evidence { border-collapse: collapse; margin: 6px 0 12px; }
table.verify-areas td, table.verify-areas th, table.verify-evidence td,
table.verify-evidence th { border: 1px solid #bbb; padding: 3px 8px; text-align: left; }
table.verify-evidence caption { text-align: left; font-weight: bold; padding: 2px 0; }
.verify-passed { color: #1a7f37; font-weight: bold; }
.verify-failed { color: #cf222e; font-weight: bold; }
.verify-error { color: #9a6700; font-weight: bold; }
.verify-skipped { color: #57606a; font-weight: bold; }
"""
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
    report_url: str | None = None


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
        f"- Target: {run.target_kind} `{run.target_name}`"
        + (f" (server {run.environment['Server version']})"
           if "Server version" in run.environment else ""),
        f"- Release: {run.release or 'not given'}",
        f"- Started: {run.started_at} ({run.duration_s:.1f} s)",
        f"- Checks: {c['passed']} passed, {c['failed']} failed, {c['error']} error, "
        f"{c['skipped']} skipped",
    ]
    problems = sorted((r for r in results if r.outcome != "passed"),
                      key=lambda r: (_SEVERITY.index(r.outcome), r.id))
    if problems:
        lines += ["", "| result | check | why |", "| --- | --- | --- |"]
        lines += [f"| {MARKS[r.outcome]} | `{_short_id(r.id)}` | {_md_cell(r.message)} |"
                  for r in problems[:MD_ROWS]]
        if len(problems) > MD_ROWS:
            lines.append(f"\n…and {len(problems) - MD_ROWS} more that did not pass: "
                         "see report.html")
    if run.report_url:
        lines += ["", f"Full report: {run.report_url}"]
    return "\n".join(lines) + "\n"


def console_table(results: Sequence[CheckResult], reason_chars: int = 120) -> str:
    """One row per check, grouped by area (named once), with PASS/FAIL/ERROR/SKIP and why."""
    rows, previous = [], None
    for r in sorted(results, key=lambda r: (r.area, r.id)):
        rows.append((r.area if r.area != previous else "", _short_id(r.id), MARKS[r.outcome],
                     _clip(r.message, reason_chars)))
        previous = r.area
    return tabulate(rows, headers=("area", "check", "result", "reason"), tablefmt="simple")


_SEVERITY = ("error", "failed", "skipped", "passed")


def areas(results: Sequence[CheckResult]) -> list[tuple[str, str, dict[str, int]]]:
    """Each area with its worst outcome and its counts, in a fixed reading order."""
    by_area: dict[str, list[CheckResult]] = {}
    for r in results:
        by_area.setdefault(r.area, []).append(r)
    order = [*AREAS.values(), *sorted(set(by_area) - set(AREAS.values()))]
    return [(area, min((r.outcome for r in by_area[area]), key=_SEVERITY.index),
             counts(by_area[area])) for area in order if area in by_area]


def areas_html(results: Sequence[CheckResult]) -> str:
    """The summary table at the top of report.html: each area's worst outcome."""
    rows = "".join(
        f'<tr><td>{html.escape(area)}</td><td class="verify-{worst}">{MARKS[worst]}</td>'
        f"<td>{c['passed']}</td><td>{c['failed']}</td><td>{c['error']}</td>"
        f"<td>{c['skipped']}</td></tr>"
        for area, worst, c in areas(results))
    return (f"<style>{_CSS}</style>"
            f'<h2>Overall: <span class="verify-{overall(results)}">'
            f"{overall(results).upper()}</span></h2>"
            '<table class="verify-areas"><thead><tr><th>area</th><th>worst</th><th>passed</th>'
            "<th>failed</th><th>error</th><th>skipped</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def mask_columns(evidence: list[dict[str, Any]], sensitive: Sequence[str]) -> list[dict[str, Any]]:
    """Evidence with the values of configured sensitive columns replaced by ``***``."""
    if not sensitive:
        return evidence
    masked = []
    for ev in evidence:
        hide = [i for i, c in enumerate(ev["columns"]) if c in sensitive]
        rows = [[MASK if i in hide else v for i, v in enumerate(row)] for row in ev["rows"]]
        masked.append({**ev, "rows": rows})
    return masked


def evidence_html(outcome: dict[str, Any], scrub: Callable[[str], str]) -> str:
    """The evidence tables and the SQL of one outcome, escaped and redacted, for report.html."""
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
    if outcome.get("sql"):
        statements = _h("\n\n".join(outcome["sql"]), scrub)
        parts.append(f'<details class="verify-sql"><summary>SQL it ran</summary>'
                     f"<pre>{statements}</pre></details>")
    return "".join(parts)


def _h(value: Any, scrub: Callable[[str], str]) -> str:
    return html.escape(scrub("NULL" if value is None else str(value)))


def _md_cell(text: str) -> str:
    return _clip(text.replace("|", "\\|").replace("\n", " "), 200)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_id(node_id: str) -> str:
    return node_id.split("::", 1)[-1]
