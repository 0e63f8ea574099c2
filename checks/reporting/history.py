"""The last runs, from the ``summary.json`` files kept in ``reports/history/``: each area's
outcome per run, and each heartbeat's age per run, for the strip at the top of the report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks.reporting.model import ORDER, CheckResult

MAX_RUNS = 30


@dataclass
class Past:
    """One earlier (or this) run, as the strip shows it."""

    run: str
    outcome: str
    areas: dict[str, str] = field(default_factory=dict)
    """Each area's worst outcome."""
    ages: dict[str, float] = field(default_factory=dict)
    """Each heartbeat check's age in seconds."""
    limits: dict[str, float] = field(default_factory=dict)


def past_runs(folder: Path, limit: int = MAX_RUNS) -> list[Past]:
    """Earlier runs, oldest first (unreadable files are left out)."""
    runs = []
    for path in sorted(folder.glob("*-summary.json"))[-limit:]:
        try:
            runs.append(from_summary(path.name.removesuffix("-summary.json"),
                                     json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return runs


def from_summary(run: str, summary: dict[str, Any]) -> Past:
    past = Past(run, summary["outcome"])
    for check in summary["checks"]:
        area = check.get("area", "other")
        past.areas[area] = _worst(past.areas.get(area), check["outcome"])
        figures = check.get("figures") or {}
        if "age_s" in figures:
            name = check["id"].split("::", 1)[-1]
            past.ages[name] = figures["age_s"]
            if "max_age_s" in figures:
                past.limits[name] = figures["max_age_s"]
    return past


def current(run: str, outcome: str, results: Sequence[CheckResult]) -> Past:
    return from_summary(run, {"outcome": outcome, "checks": [
        {"id": r.id, "outcome": r.outcome, "area": r.area, "figures": r.figures}
        for r in results]})


def _worst(a: str | None, b: str) -> str:
    return b if a is None else min(a, b, key=ORDER.index)
