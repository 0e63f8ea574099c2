"""``summary.json`` (the public interface's shape, plus environment and details) and
``summary.md`` (the verdict for a ticket comment)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from checks.reporting.model import (
    MARKS,
    CheckResult,
    Run,
    clip,
    counts,
    evidence_line,
    grouped,
    overall,
    settled,
    verdict,
)

MD_ROWS = 25
"""At most this many lines of checks that did not pass go into summary.md."""


def summary(run: Run, results: Sequence[CheckResult]) -> dict[str, Any]:
    """The summary.json document."""
    return {
        "outcome": overall(results, run.not_run),
        "verdict": verdict(run, results),
        "target": {"kind": run.target_kind, "name": run.target_name},
        "targets": run.targets,
        "release": run.release,
        "started_at": run.started_at,
        "duration_s": round(run.duration_s, 3),
        "counts": counts(results),
        "selection": {"expression": run.selection.expression,
                      "selected": run.selection.selected, "total": run.selection.total},
        "not_run": run.not_run,
        "checks": [
            {"id": r.id, "outcome": r.outcome, "message": r.message,
             "duration_s": round(r.duration_s, 4), "area": r.area,
             **({"figures": r.figures} if r.figures else {}),
             **({"blocked_by": r.blocked_by} if r.blocked_by else {}),
             **({"attempts": r.attempts, "first_passed_s": r.first_passed_s}
                if r.attempts > 1 or r.first_passed_s is not None else {})}
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
    """The verdict for the release ticket: outcome, target, counts, then what did not pass
    (failures first, one line of evidence each), then what did not run."""
    c = counts(results)
    lines = [
        f"## Post-deploy verification: {verdict(run, results)}",
        "",
        f"- Target: {run.target_kind} {_code(run.target_name)}"
        + (f" (server {run.environment['Server version']})"
           if "Server version" in run.environment else ""),
        f"- Release: {_code(run.release) if run.release else 'not given'}",
        f"- Started: {run.started_at} ({run.duration_s:.1f} s)",
        f"- Checks: {run.selection.describe()}; " + ", ".join(
            f"{n} {outcome}" for outcome, n in c.items() if n or outcome in
            ("passed", "failed", "error", "skipped")),
    ]
    problems = grouped(results)
    if problems:
        lines += ["", "| result | check | why | evidence |", "| --- | --- | --- | --- |"]
        for r, n in problems[:MD_ROWS]:
            check = f"`{r.short_id}`" + (f" and {n - 1} more" if n > 1 else "")
            lines.append(f"| {MARKS[r.outcome]} | {check} | {_cell(r.message)} | "
                         f"{_cell(evidence_line(r))} |")
        if len(problems) > MD_ROWS:
            lines.append(f"\n…and {len(problems) - MD_ROWS} more that did not pass: "
                         "see report.html")
    if retried := settled(results):
        lines += ["", "Settled within the window:", *(f"- `{line}`" for line in retried)]
    if run.not_run:
        lines += ["", f"Not run ({len(run.not_run)}): "
                  + ", ".join(f"`{i.split('::', 1)[-1]}`" for i in run.not_run[:10])
                  + (" …" if len(run.not_run) > 10 else "")]
    if run.upload_error:
        lines += ["", f"Reports NOT uploaded: {_code(run.upload_error)}"]
    elif run.report_url:
        lines += ["", f"Full report: {run.report_url}"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return _code(text, 200).replace("|", "\\|")


def _code(text: str, limit: int = 300) -> str:
    """Text from outside (data, names, messages) as an inline code span: no link, image,
    mention or HTML in it renders on the ticket."""
    text = clip(" ".join(text.split()), limit)
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
