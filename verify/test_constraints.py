"""CHECK constraints exist, say the right thing, hold for the data, and are enforced."""

from plugin import check


@check("check_constraint_definition")
def test_check_constraint_definition() -> None:
    """The constraint exists on its table under its name with the declared rule."""


@check("check_constraint_enforced")
def test_check_constraint_enforced() -> None:
    """A row breaking only this rule is rejected by it (probe, always rolled back)."""
