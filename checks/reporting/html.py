"""Pieces of report.html: the verdict and what failed at the top, evidence per check."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from checks.reporting.model import MARKS, CheckResult, Run, areas, grouped, overall, verdict

MASK = "***"
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
"""


def verdict_html(run: Run, results: Sequence[CheckResult], scrub: Callable[[str], str],
                 evidence: Callable[[CheckResult], str]) -> str:
    """The top of the report: the verdict, what did not pass with its evidence, the areas,
    and the checks that did not run."""
    outcome = overall(results, run.not_run)
    parts = [f"<style>{CSS}</style>",
             f'<h2>Overall: <span class="verify-{outcome}">{_h(verdict(run, results), scrub)}'
             f"</span></h2>",
             f"<p>Target: {_h(run.target_kind, scrub)} <code>{_h(run.target_name, scrub)}</code>;"
             f" release {_h(run.release or 'not given', scrub)}; "
             f"{_h(run.selection.describe(), scrub)}.</p>"]
    problems = [(r, n) for r, n in grouped(results) if r.outcome not in ("skipped", "info")]
    if problems:
        rows = "".join(
            f'<tr><td class="verify-{r.outcome}">{MARKS[r.outcome]}</td>'
            f"<td><code>{_h(r.short_id, scrub)}</code>"
            + (f" and {n - 1} more" if n > 1 else "")
            + f"</td><td>{_h(r.message, scrub)}{evidence(r)}</td></tr>"
            for r, n in problems)
        parts.append('<h3>What did not pass</h3><table class="verify-problems"><thead><tr>'
                     "<th>result</th><th>check</th><th>why, and the evidence</th></tr></thead>"
                     f"<tbody>{rows}</tbody></table>")
    if run.not_run:
        items = "".join(f"<li><code>{_h(i, scrub)}</code></li>" for i in run.not_run)
        parts.append(f"<h3>Not run ({len(run.not_run)})</h3><ul>{items}</ul>")
    parts.append(areas_table(results))
    return "".join(parts)


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
