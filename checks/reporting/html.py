"""Pieces of report.html: the verdict and what failed at the top, evidence per check."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from checks.redact import MASK
from checks.reporting.history import Past
from checks.reporting.model import (
    MARKS,
    CheckResult,
    Run,
    area_rank,
    areas,
    counts,
    described,
    grouped,
    run_outcome,
    settled,
    verdict,
)

CSS = """
table.verify-areas, table.verify-evidence, table.verify-problems { border-collapse: collapse;
  margin: 6px 0 12px; }
table.verify-areas td, table.verify-areas th, table.verify-evidence td,
table.verify-evidence th, table.verify-problems td, table.verify-problems th {
  border: 1px solid #bbb; padding: 3px 8px; text-align: left; vertical-align: top; }
table.verify-evidence caption { text-align: left; font-weight: bold; padding: 2px 0; }
.verify-passed { color: #1a7f37; font-weight: bold; }
.verify-failed { color: #cf222e; font-weight: bold; }
.verify-error, .verify-interrupted { color: #9a6700; font-weight: bold; }
.verify-skipped, .verify-accepted, .verify-info { color: #57606a; font-weight: bold; }
.verify-warned { color: #bc4c00; font-weight: bold; }
#environment-header, #environment { display: none; }  /* shown folded, below the verdict */
div.logwrapper { display: none; }  /* the reason has its column, the evidence is below it */
table.verify-strip td { padding: 1px 4px; font-size: 12px; }
span.verify-cell { display: inline-block; width: 12px; height: 12px; margin: 0 1px;
  border-radius: 2px; }
span.verify-cell.passed { background: #1a7f37; } span.verify-cell.failed { background: #cf222e; }
span.verify-cell.error, span.verify-cell.interrupted { background: #bf8700; }
span.verify-cell.warned { background: #e16f24; }
span.verify-cell.skipped, span.verify-cell.accepted, span.verify-cell.info,
span.verify-cell.none { background: #d0d7de; }
"""


def verdict_html(run: Run, results: Sequence[CheckResult], scrub: Callable[[str], str],
                 evidence: Callable[[CheckResult], str], history: Sequence[Past] = (),
                 environment: dict[str, Any] | None = None) -> str:
    """The top of the report: the verdict in plain words, what did not pass with its
    evidence, the checks that did not run, the areas and their last runs, and the
    environment folded below."""
    outcome = run_outcome(run, results)
    parts = [f"<style>{CSS}</style>",
             f'<h2>Overall: <span class="verify-{outcome}">{_h(verdict(run, results), scrub)}'
             f"</span></h2>",
             f"<p><b>{_h(in_words(run, results), scrub)}</b></p>",
             f"<p>Target: {_h(described(run), scrub)};"
             f" release {_h(run.release or 'not given', scrub)}; "
             f"{_h(run.selection.describe(), scrub)}.</p>"]
    problems = [(r, n) for r, n in grouped(results) if r.outcome not in ("skipped", "info")]
    if problems:
        rows = "".join(
            f'<tr><td class="verify-{r.outcome}">{MARKS[r.outcome]}</td>'
            f"<td><code>{_h(r.short_id, scrub)}</code>"
            + (f" and {n - 1} more" if n > 1 else "")
            + f"</td><td>{_h(r.message, scrub)}"
            + (f"<p><b>Fix:</b> {_h(r.fix, scrub)}</p>" if r.fix else "")
            + f"{evidence(r)}</td></tr>"
            for r, n in problems)
        parts.append('<h3>What did not pass</h3><table class="verify-problems"><thead><tr>'
                     "<th>result</th><th>check</th><th>why, and the evidence</th></tr></thead>"
                     f"<tbody>{rows}</tbody></table>")
    if run.not_run:
        items = "".join(f"<li><code>{_h(i, scrub)}</code></li>" for i in run.not_run)
        parts.append(f"<h3>Not run ({len(run.not_run)})</h3><ul>{items}</ul>")
    if retried := settled(results):
        items = "".join(f"<li><code>{_h(line, scrub)}</code></li>" for line in retried)
        parts.append(f"<h3>Retried in the settle window</h3><ul>{items}</ul>")
    parts.append(areas_table(results))
    if len(history) > 1:
        parts.append(history_strip_html(history))
    if environment:
        rows = "".join(f"<tr><td>{_h(k, scrub)}</td><td>{_h(v, scrub)}</td></tr>"
                       for k, v in environment.items())
        parts.append("<details><summary>Environment (versions, plugins, who ran it)</summary>"
                     f'<table class="verify-evidence">{rows}</table></details>')
    return "".join(parts)


def history_strip_html(history: Sequence[Past]) -> str:
    """Each area's outcome over the last runs (oldest left), and each heartbeat's age as
    a small chart against its limit: a flapping check is visible at a glance."""
    areas_seen = sorted({a for p in history for a in p.areas}, key=area_rank)
    rows = "".join(
        f"<tr><td>{html.escape(area)}</td><td>" + "".join(
            f'<span class="verify-cell {p.areas.get(area, "none")}" '
            f'title="{html.escape(p.run)}: {p.areas.get(area, "not run")}"></span>'
            for p in history) + "</td></tr>"
        for area in areas_seen)
    rows += "".join(f"<tr><td>{html.escape(name)} age</td><td>{_sparkline(history, name)}</td>"
                    "</tr>" for name in sorted({n for p in history for n in p.ages}))
    return (f"<h3>The last {len(history)} runs</h3>"
            f'<table class="verify-strip"><tbody>{rows}</tbody></table>')


def _sparkline(history: Sequence[Past], name: str, width: int = 240, height: int = 28) -> str:
    points = [(i, p.ages[name]) for i, p in enumerate(history) if name in p.ages]
    limit = max((p.limits.get(name, 0.0) for p in history), default=0.0)
    top = max([limit, *(age for _, age in points)]) or 1.0
    step = width / max(1, len(history) - 1)

    def y(value: float) -> float:
        return height - 2 - (height - 4) * min(value, top) / top

    line = " ".join(f"{i * step:.1f},{y(age):.1f}" for i, age in points)
    ceiling = (f'<line x1="0" x2="{width}" y1="{y(limit):.1f}" y2="{y(limit):.1f}" '
               'stroke="#cf222e" stroke-dasharray="3,3"/>' if limit else "")
    latest = f"{points[-1][1]:.0f} s" if points else "n/a"
    return (f'<svg width="{width}" height="{height}" role="img">{ceiling}'
            f'<polyline fill="none" stroke="#0969da" stroke-width="1.5" points="{line}"/>'
            f"</svg> {latest}")


def in_words(run: Run, results: Sequence[CheckResult]) -> str:
    """The verdict in plain words, e.g. "5 checks failed, 100 passed, 2 were skipped"."""
    c = counts(results)
    said = [f"{c['failed']} check{'s' if c['failed'] != 1 else ''} failed" if c["failed"] else "",
            f"{c['error']} could not be checked" if c["error"] else "",
            f"{len(run.not_run)} did not run" if run.not_run else "",
            f"{c['warned']} warned" if c["warned"] else "",
            f"{c['passed']} passed",
            f"{c['accepted']} accepted (known history)" if c["accepted"] else "",
            f"{c['skipped']} were skipped" if c["skipped"] else ""]
    return ", ".join(s for s in said if s) + "."


def areas_table(results: Sequence[CheckResult]) -> str:
    rows = "".join(
        f'<tr><td>{html.escape(area)}</td><td class="verify-{worst}">{MARKS[worst]}</td>'
        + "".join(f"<td>{c[k]}</td>" for k in MARKS) + "</tr>"
        for area, worst, c in areas(results))
    head = "".join(f"<th>{k}</th>" for k in MARKS)
    return (f'<table class="verify-areas"><thead><tr><th>area</th><th>worst</th>{head}</tr>'
            f"</thead><tbody>{rows}</tbody></table>")


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
    """The evidence tables and the SQL of one outcome, escaped and redacted."""
    parts = []
    for ev in outcome.get("evidence", []):
        shown, total = len(ev["rows"]), ev["total"]
        caption = f"{ev['title']} ({total} in all" + (f", first {shown} shown)" if total > shown
                                                       else ")")
        head = "".join(f"<th>{_h(c, scrub)}</th>" for c in ev["columns"])
        body = "".join(
            "<tr>" + "".join(f"<td>{_h(v, scrub)}</td>" for v in row) + "</tr>"
            for row in ev["rows"])
        parts.append(f'<table class="verify-evidence"><caption>{_h(caption, scrub)}</caption>'
                     f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    if outcome.get("sql"):
        statements = _h("\n\n".join(outcome["sql"]), scrub)
        parts.append(f'<details class="verify-sql"><summary>SQL it ran</summary>'
                     f"<pre>{statements}</pre></details>")
    return "".join(parts)


def _h(value: Any, scrub: Callable[[str], str]) -> str:
    return html.escape(scrub("NULL" if value is None else str(value)))
