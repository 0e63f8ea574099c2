"""The pytest side of the suite: options, invariant items, reports."""

from plugin.items import invariant, verdict

__all__ = ["invariant", "verdict"]
