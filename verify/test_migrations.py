"""Migrations really took effect: recorded, in order, distinct, and each one replays."""

from plugin import check


@check("migration_recorded")
def test_migration_recorded() -> None:
    """Each migration file has its row in the ledger."""


@check("ledger_has_no_unknown_versions")
def test_ledger_has_no_unknown_versions() -> None:
    """Each ledger row names a migration file (no hotfix run by hand and forgotten)."""


@check("ledger_in_order")
def test_ledger_in_order() -> None:
    """No version was applied after a later one."""


@check("migration_versions_distinct")
def test_migration_versions_distinct() -> None:
    """No two files share a version prefix; versions order by their numbers, not as text."""


@check("migration_replays")
def test_migration_replays() -> None:
    """The file applies cleanly, in order, to an empty database."""
