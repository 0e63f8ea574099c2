"""No duplicate positions; the idempotency schema and its indexes are in place and usable."""

from checks import custom_sql, indexes, uniqueness
from checks.outcome import Outcome
from plugin import invariant, verdict


@invariant("unique", uniqueness.no_duplicates)
def test_no_duplicates(outcome: Outcome) -> None:
    """No value repeats (e.g. one Alpaca order id opening two positions)."""
    verdict(outcome)


@invariant("indexes", indexes.present)
def test_index_present(outcome: Outcome) -> None:
    """The declared index exists with its columns and uniqueness, valid and ready."""
    verdict(outcome)


@invariant("index_health", indexes.healthy)
def test_indexes_valid(outcome: Outcome) -> None:
    """Every index on the table is valid and ready (no leftover of a failed CONCURRENTLY)."""
    verdict(outcome)


@invariant("custom_sql", custom_sql.no_rows)
def test_custom_sql(outcome: Outcome) -> None:
    """The custom query returns no rows."""
    verdict(outcome)
