"""The pytest side of the suite: options, items from the registry, the verdict, reports."""

from plugin.items import check, checklist

__all__ = ["check", "checklist"]
