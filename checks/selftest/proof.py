"""The self-test's verdict on one invariant (the run's tally: ``checks.reporting.model``).

An invariant is proven when, for each of its faults, its check failed on the faulted copy
(a ``severity = "warn"`` check: it warned, which is a failure it would have reported) and
its message or evidence names what was injected. A check that still passed, or failed for
another reason, is not proven (a failure of the item: the check is blind to that fault);
one that could not check, or a fault that could not be applied, is not proven either (an
error: nothing was shown).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from checks.outcome import Evidence, Outcome, Status, accepted, skipped
from checks.selftest.faults import Fault, Faults

FAILING = (Status.FAILED, Status.WARNED)


@dataclass(frozen=True)
class Attempt:
    """One fault applied for one check, and what the check then said."""

    fault: Fault
    outcome: Outcome | None = None
    problem: str | None = None
    """Why the fault could not be applied (then there is no outcome)."""
    statements: tuple[str, ...] = ()
    """What the fault ran or called."""
    injected: tuple[str, ...] = ()
    """What the fault said it injected (the failure must name it, with ``fault.names``)."""


def judged(base: Outcome | None, faults: Faults, attempts: Sequence[Attempt]) -> Outcome:
    """The item's outcome: passed (proven), failed (the check missed a fault), error (it
    could not be shown), skipped (nothing to prove), accepted (``allow_unproven``)."""
    if base is not None and base.status in (Status.SKIPPED, Status.INFO):
        why = base.message if base.status is Status.SKIPPED else "figures only (severity info)"
        return skipped(f"nothing to prove: {why}")
    if faults.not_applicable:
        return skipped(f"nothing to prove: {faults.not_applicable}")
    if faults.unproven:
        text = f"not proven: {faults.unproven}"
        return accepted(f"{text}; accepted by allow_unproven") if faults.accepted else \
            Outcome(Status.ERROR, text)
    if faults.broken is not None:
        return _broken_already(base, faults.broken)
    if not faults.faults:
        return Outcome(Status.ERROR, "not proven: no fault is known for this kind of check")
    if not attempts:
        return Outcome(Status.ERROR, "not proven: none of its faults was applied")
    results = [(a, *_one(a, base)) for a in attempts]
    rows = [(a.fault.what, str(a.outcome.status) if a.outcome else "not applied",
             a.outcome.message if a.outcome else a.problem or "") for a, _, _ in results]
    if base is not None:
        rows.append(("(none: the unfaulted copy)", str(base.status), base.message))
    evidence = Evidence("What each fault made the check say", ("fault", "check", "its message"),
                        rows)
    shown = tuple(s for a in attempts for s in a.statements)
    for verdict, status in (("error", Status.ERROR), ("missed", Status.FAILED)):
        found = [why for _, v, why in results if v == verdict]
        if found:
            more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
            return Outcome(status, f"not proven: {found[0]}{more}", (evidence,), shown)
    first = results[0]
    more = f" (and {len(results) - 1} more fault(s))" if len(results) > 1 else ""
    return Outcome(Status.PASSED, f"proven able to fail: {first[2]}{more}", (evidence,), shown)


def _one(attempt: Attempt, base: Outcome | None) -> tuple[str, str]:
    """``proven``, ``missed`` or ``error``, and why."""
    what = attempt.fault.what
    found = attempt.outcome
    if attempt.problem is not None or found is None:
        return "error", f"{what}: {attempt.problem or 'not applied'}"
    if found.status is Status.ERROR:
        return "error", f"{what}: the check could not check: {found.message}"
    if found.status not in FAILING:
        return "missed", f"{what}: the check still {found.status}: {found.message}"
    if attempt.fault.clean_base and (base is None or base.status is not Status.PASSED):
        already = f" ({base.status}: {base.message})" if base else ""
        return "missed", (f"{what}: it fails without the fault too{already}, so its failure "
                          "proves nothing")
    if base is not None and base.status in FAILING and reported(base) == reported(found):
        return "missed", (f"{what}: it fails exactly as it does without the fault, so the "
                          f"fault changed nothing it reads: {found.message}")
    text = reported(found).lower()
    cells = {str(v).lower() for e in found.evidence for row in e.rows for v in row}
    missing = [n for n in attempt.fault.names if n.lower() not in text]
    # a value the fault wrote (a key) must be a cell of the evidence or a word of the message
    missing += [v for v in attempt.injected if v.lower() not in cells
                and not re.search(rf"(?<![\w.-]){re.escape(v.lower())}(?![\w.-])",
                                  found.message.lower())]
    if missing:
        return "missed", (f"{what}: the check failed, but it does not name "
                          f"{', '.join(repr(n) for n in missing)}, so not for this fault: "
                          f"{found.message}")
    return "proven", f"{what}: {found.message}"


def _broken_already(base: Outcome | None, broken: Fault) -> Outcome:
    """Proven by the expected database itself, when the check fails there naming it."""
    if base is None or base.status not in FAILING:
        shown = f" (it {base.status}: {base.message})" if base else ""
        return Outcome(Status.ERROR, f"not proven: {broken.what}, but the check does not fail "
                                     f"on it{shown}")
    missing = [n for n in broken.names if n.lower() not in reported(base).lower()]
    if missing:
        return Outcome(Status.FAILED, f"not proven: {broken.what}, but the check fails there "
                                      f"without naming {', '.join(map(repr, missing))}: "
                                      f"{base.message}")
    return Outcome(Status.PASSED, f"proven able to fail: it fails on the expected database "
                                  f"itself ({broken.what}): {base.message}", base.evidence)


def reported(outcome: Outcome) -> str:
    """What a check reported: its message and every cell of its evidence."""
    cells = [str(v) for e in outcome.evidence for row in e.rows for v in row]
    return "\n".join([outcome.message, *cells])
