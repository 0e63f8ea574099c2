"""The deploy landed what was released (with --release-manifest): code, images, migrations."""

from plugin import check


@check("release_lambda")
def test_release_lambda() -> None:
    """The Lambda function runs the released code (at its version or alias)."""


@check("release_ecs_service")
def test_release_ecs_service() -> None:
    """The ECS service runs the released task definition and images, fully rolled out."""


@check("release_migration")
def test_release_migration() -> None:
    """The ledger records each migration the release brings."""
