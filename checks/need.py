"""What a check needs gathered, and what its judge is given back.

A need is hashable: equal needs of different checks are gathered once. A kind names its
needs (``{"rows": SelectRows(...)}``); its judge receives :class:`Found`, what was gathered
for those names, so it never rebuilds a need to look its result up.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checks.outcome import CouldNotCheck

if TYPE_CHECKING:
    from checks.context import Context


class Need:
    """Something a check needs gathered. Needs with the same :meth:`runner` and
    :meth:`batch` key run together in one ``runner().run_batch`` call (e.g. every
    aggregate of one table in one scan, whichever kind of need asked for it)."""

    reads = "target"
    """``target`` (the database), ``scratch`` (a throwaway server), ``aws``, ``files``."""

    def batch(self) -> Hashable:
        return self

    @classmethod
    def runner(cls) -> type[Need]:
        """The class whose :meth:`run_batch` runs this need's batch."""
        return cls

    @classmethod
    def run_batch(cls, needs: list[Any], ctx: Context) -> dict[Any, Any]:
        return {need: need.run(ctx) for need in needs}

    def run(self, ctx: Context) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class TableRead(Need):
    """A need that reads the rows of one table."""

    schema: str
    table: str


_MISSING = object()


@dataclass(frozen=True)
class Found(Mapping[str, Any]):
    """What was gathered for one check's named needs: ``found["rows"]`` is the result of
    the need named ``rows``, or raises the CouldNotCheck that stopped it; ``needs`` are
    the needs themselves (their parameters, e.g. a log search's window)."""

    needs: Mapping[str, Need] = field(default_factory=dict)
    results: Mapping[Need, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        need = self.needs.get(name)
        found = _MISSING if need is None else self.results.get(need, _MISSING)
        if found is _MISSING:
            raise CouldNotCheck(f"not gathered: {name}")
        if isinstance(found, CouldNotCheck):
            raise found
        return found

    def __contains__(self, name: object) -> bool:
        return name in self.needs

    def __iter__(self) -> Iterator[str]:
        return iter(self.needs)

    def __len__(self) -> int:
        return len(self.needs)
