"""No duplicate positions; upserts that have an arbiter; the idempotency schema and its
indexes are in place and usable."""

from plugin import check


@check("no_duplicates")
def test_no_duplicates() -> None:
    """No value repeats (e.g. one Alpaca order id opening two positions)."""


@check("upsert_has_arbiter")
def test_upsert_has_arbiter() -> None:
    """The service's INSERT ... ON CONFLICT (columns) DO NOTHING has an arbiter."""


@check("index_present")
def test_index_present() -> None:
    """The declared index exists with its columns and uniqueness, valid and ready."""


@check("indexes_valid")
def test_indexes_valid() -> None:
    """Every index on the table is valid and ready (no leftover of a failed CONCURRENTLY)."""


@check("custom_sql")
def test_custom_sql() -> None:
    """The custom query returns no rows."""
