"""The console: the target and selection first, then only what did not pass (failures
first, one line of evidence each; skips with their reason), one line per area, and the
verdict. ``-v``: every check with its reason.
Lines fit the terminal (at most 100 columns)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from checks.reporting.model import (
    MARKS,
    ORDER,
    CheckResult,
    Run,
    area_rank,
    areas,
    clip,
    evidence_line,
    grouped,
    methods_line,
    role,
    settled,
)


def header(run: Run) -> list[str]:
    """The first lines of a run: what is verified, which release, which checks."""
    return [*target_lines(run), f"checks: {run.selection.describe()}"]


def target_lines(run: Run) -> list[str]:
    """What is verified (each target, how it was chosen, what it ignored), which release."""
    targets = run.targets or [{"kind": run.target_kind, "name": run.target_name,
                               "chosen_by": ""}]
    lines = []
    for t in targets:
        lines.append(f"target: {t['kind']} {t['name']}" + _chosen(t.get("chosen_by", "")))
        lines += role_lines(t)
    lines += [f"  note: {note}" for t in targets for note in t.get("ignored", [])]
    lines.append(f"release: {run.release or 'not given'}")
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
    """What did not pass (skips too: each says why), folded where many share one cause."""
    lines = []
    for r, n in grouped(results):
        if r.outcome == "info":
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
    """One line per area with its counts, then how the data checks read their rows."""
    names = {"passed": "passed", "failed": "failed", "error": "error", "skipped": "skipped",
             "accepted": "accepted", "warned": "warned", "info": "info"}
    lines = [f"{area:15} {MARKS[worst]:8} " + ", ".join(f"{n} {names[k]}" for k, n in c.items()
                                                       if n)
             for area, worst, c in areas(results)]
    if read := methods_line(results):
        lines.append(read)
    return lines


def every_check(results: Sequence[CheckResult], width: int) -> list[str]:
    """Every check for ``-v``, by area: its result and id, then its reason whole, wrapped."""
    lines: list[str] = []
    area = None
    for r in sorted(results, key=lambda r: (area_rank(r.area), ORDER.index(r.outcome), r.id)):
        if r.area != area:
            area = r.area
            lines.append(f"{area}:")
        lines += textwrap.wrap(r.short_id, width, initial_indent=f"  {MARKS[r.outcome]:8} ",
                               subsequent_indent=" " * 11, break_on_hyphens=False)
        lines += textwrap.wrap(r.message, width, initial_indent=" " * 11,
                               subsequent_indent=" " * 11)
    return lines


def not_run_lines(run: Run, width: int) -> list[str]:
    if not run.not_run:
        return []
    shown = ", ".join(i.split("::", 1)[-1] for i in run.not_run[:5])
    return [clip(f"NOT RUN ({len(run.not_run)}): {shown}"
                 + (" ..." if len(run.not_run) > 5 else ""), width)]
