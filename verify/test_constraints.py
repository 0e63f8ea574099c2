"""CHECK constraints exist, say the right thing, and are enforced."""

from checks import constraints
from checks.outcome import Outcome
from plugin import invariant, verdict


@invariant("check_constraints", constraints.definition)
def test_check_constraint_definition(outcome: Outcome) -> None:
    """The constraint exists on its table under its name with the declared rule."""
    verdict(outcome)


@invariant("check_constraints", constraints.enforced)
def test_check_constraint_enforced(outcome: Outcome) -> None:
    """A row breaking only this rule is rejected by it (probe, always rolled back)."""
    verdict(outcome)
