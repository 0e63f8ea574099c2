"""Migrations really took effect: every file is in the ledger, the ledger has no strangers."""

from checks import ledger
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
