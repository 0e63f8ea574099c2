"""The trade-stream service is alive: its heartbeat (and other timestamps) are fresh."""

from checks import freshness
from checks.outcome import Outcome
from plugin import invariant, verdict


@invariant("freshness", freshness.fresh)
def test_fresh(outcome: Outcome) -> None:
    """The newest timestamp in scope is younger than its maximum age."""
    verdict(outcome)
