"""The pytest side of the suite: options, items from the registry, the verdict, reports."""

from plugin.items import check

__all__ = ["check"]
