"""The trade-stream service is alive: its heartbeat is fresh, in the database and on AWS."""

from plugin import check


@check("fresh")
def test_fresh() -> None:
    """The newest timestamp in scope is younger than its maximum age."""


@check("ecs_service_stable")
def test_ecs_service_stable() -> None:
    """The ECS service is active, rolled out, running what it should (AWS checks)."""


@check("log_heartbeat")
def test_log_heartbeat() -> None:
    """The service's CloudWatch Logs show a recent event (AWS checks)."""
