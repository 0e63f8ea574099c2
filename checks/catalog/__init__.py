"""Catalog queries kept as plain ``.sql`` files beside this module (parameters: ``%(name)s``)."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The text of ``<name>.sql`` in this folder."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
