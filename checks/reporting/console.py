"""The console: the target and selection first, then only what did not pass (failures
first, one line of evidence each), one line per area, and the verdict. ``-v``: every check.
Lines fit the terminal (at most 100 columns)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from checks.reporting.model import (
    MARKS,
    CheckResult,
    Run,
    areas,
    clip,
    evidence_line,
    grouped,
    ordered,
    role,
    settled,
)


def header(run: Run) -> list[str]:
    """The first lines of a run: what is verified, which release, which checks."""
    targets = run.targets or [{"kind": run.target_kind, "name": run.target_name,
                               "chosen_by": ""}]
    lines = []
    for t in targets:
        lines.append(f"target: {t['kind']} {t['name']}" + _chosen(t.get("chosen_by", "")))
        lines += role_lines(t)
    lines += [f"  note: {note}" for t in targets for note in t.get("ignored", [])]
    lines.append(f"release: {run.release or 'not given'}")
    lines.append(f"checks: {run.selection.describe()}")
    return lines


def role_lines(target: dict[str, Any], width: int = 100, indent: str = "  ") -> list[str]:
    """``role: standby, in step: ...`` (wrapped) once the target answered, else nothing."""
    found = role(target)
    if found is None:
        return []
    who = f"role of {target['label']}" if target.get("label") else "role"
    return textwrap.wrap(f"{who}: {found}", width, initial_indent=indent,
                         subsequent_indent=indent + "  ")


def _chosen(how: str) -> str:
    if how == "default":
        return " (no target given: the embedded default)"
    return f" (chosen by {how})" if how else ""


MESSAGE_LINES = 4


def problems(results: Sequence[CheckResult], width: int) -> list[str]:
    """What did not pass, folded where many share one cause."""
    lines = []
    for r, n in grouped(results):
        if r.outcome in ("skipped", "info"):
            continue
        who = r.short_id if n == 1 else f"{r.short_id} and {n - 1} more with this cause"
        lines.append(f"{MARKS[r.outcome]:5} " + clip(who, width - 6))
        # The cause is often at the end of a long driver message: wrapped, never cut short.
        lines += ["      " + part for part in textwrap.wrap(
            r.message, width - 6, max_lines=MESSAGE_LINES, placeholder=" …")]
        if proof := evidence_line(r):
            lines.append("      " + clip(proof, width - 6))
        if r.fix and r.outcome in ("failed", "warned"):
            lines += ["      " + part for part in textwrap.wrap(
                f"fix: {r.fix}", width - 6, max_lines=MESSAGE_LINES, placeholder=" …")]
    return lines


def settled_lines(results: Sequence[CheckResult], width: int) -> list[str]:
    return [clip(line, width) for line in settled(results)]


def area_lines(results: Sequence[CheckResult]) -> list[str]:
    names = {"passed": "passed", "failed": "failed", "error": "error", "skipped": "skipped",
             "accepted": "accepted", "warned": "warned", "info": "info"}
    return [f"{area:15} {MARKS[worst]:8} " + ", ".join(f"{n} {names[k]}" for k, n in c.items()
                                                      if n)
            for area, worst, c in areas(results)]


def table(results: Sequence[CheckResult], width: int) -> str:
    """Every check, grouped by area, for ``-v``."""
    reason = max(20, width - 70)
    rows = [(r.area, clip(r.short_id, 50), MARKS[r.outcome], clip(r.message, reason))
            for r in ordered(results)]
    return tabulate(rows, headers=("area", "check", "result", "reason"), tablefmt="simple")


def not_run_lines(run: Run, width: int) -> list[str]:
    if not run.not_run:
        return []
    shown = ", ".join(i.split("::", 1)[-1] for i in run.not_run[:5])
    return [clip(f"NOT RUN ({len(run.not_run)}): {shown}"
                 + (" ..." if len(run.not_run) > 5 else ""), width)]
