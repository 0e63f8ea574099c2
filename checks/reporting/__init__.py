"""The report files, each from the same results and run (pure functions, no pytest)."""

from checks.reporting.model import (
    AREAS,
    MARKS,
    CheckResult,
    Run,
    Selection,
    areas,
    counts,
    described,
    grouped,
    ordered,
    overall,
    run_outcome,
    verdict,
)

__all__ = ["AREAS", "MARKS", "CheckResult", "Run", "Selection", "areas", "counts", "described",
           "grouped", "ordered", "overall", "run_outcome", "verdict"]
