"""The trade-stream service is alive: its heartbeat (and other timestamps) are fresh."""

from checks import aws, freshness
from checks.outcome import Outcome
from plugin import invariant, verdict


@invariant("freshness", freshness.fresh)
def test_fresh(outcome: Outcome) -> None:
    """The newest timestamp in scope is younger than its maximum age."""
    verdict(outcome)


@invariant("ecs_services", aws.ecs_service_stable)
def test_ecs_service_stable(outcome: Outcome) -> None:
    """The ECS service is active, with one deployment, running what it should (--aws)."""
    verdict(outcome)


@invariant("log_heartbeats", aws.log_heartbeat)
def test_log_heartbeat(outcome: Outcome) -> None:
    """The service's CloudWatch Logs show a recent heartbeat (--aws)."""
    verdict(outcome)
