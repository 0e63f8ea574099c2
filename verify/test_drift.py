"""The live schema is the schema the migrations build: no object missing, changed or extra."""

from plugin import check


@check("schema_object")
def test_schema_object() -> None:
    """The object exists live and matches what the migrations create (expected vs found)."""


@check("no_unexpected_objects")
def test_no_unexpected_objects() -> None:
    """The live schema has nothing of this kind that the migrations do not create."""
