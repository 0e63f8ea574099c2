"""No duplicate positions; upserts that have an arbiter; the idempotency schema and its
indexes are in place and usable."""

from plugin import checklist

checklist("data integrity", globals())
