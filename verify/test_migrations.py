"""Migrations really took effect: recorded, in order, distinct, and each one replays."""

from checks import ledger, migration_files
from checks.outcome import Outcome
from plugin import invariant, verdict


@invariant("ledger_records", ledger.recorded)
def test_migration_recorded(outcome: Outcome) -> None:
    """Each migration file has its row in the ledger."""
    verdict(outcome)


@invariant("ledger_tables", ledger.no_unknown_versions)
def test_ledger_has_no_unknown_versions(outcome: Outcome) -> None:
    """Each ledger row names a migration file (no hotfix run by hand and forgotten)."""
    verdict(outcome)


@invariant("ledger_tables", ledger.in_order)
def test_ledger_in_order(outcome: Outcome) -> None:
    """No version was applied after a numerically later one."""
    verdict(outcome)


@invariant("migration_dirs", migration_files.versions_unique)
def test_migration_versions_distinct(outcome: Outcome) -> None:
    """No two files share a version prefix; versions order by their numbers, not as text."""
    verdict(outcome)


@invariant("migrations", migration_files.replays)
def test_migration_replays(outcome: Outcome) -> None:
    """The file applies cleanly, in order, to an empty database."""
    verdict(outcome)
