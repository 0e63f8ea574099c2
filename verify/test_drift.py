"""The live schema is the schema the migrations build: no object missing, changed or extra."""

from checks import drift
from checks.outcome import Outcome
from plugin import invariant, verdict


@invariant("schema_objects", drift.matches)
def test_schema_object(outcome: Outcome) -> None:
    """The object exists live and matches what the migrations create (expected vs found)."""
    verdict(outcome)


@invariant("extra_object_kinds", drift.no_extra)
def test_no_unexpected_objects(outcome: Outcome) -> None:
    """The live schema has nothing of this kind that the migrations do not create."""
    verdict(outcome)
