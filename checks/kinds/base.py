"""What a kind of check is: its spec, what it needs gathered, and a pure judge.

A kind's ``needs(spec, ctx)`` names the data it wants (``{"rows": SelectRows(...)}``;
catalog lookups are free: the catalog is captured once); the planner merges the needs of
every selected check (one scan per table, one ledger read, ...) and runs them
concurrently; ``judge(spec, ctx, found)`` then decides from what was gathered for those
names alone, so it can be tested without a server.

A kind is declared in one module of ``checks/kinds/`` (``NAME = Kind(...)``): its config
section and spec, its needs and judge, its area and its pytest item (``test_<name>``,
whose docstring is ``doc``). The registry (``checks.kinds``) finds it there; ``verify/``
makes its item from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checks.config import Section, from_table, typed
from checks.config.fields import nth_entry
from checks.context import Context, Inputs
from checks.need import Found, Need
from checks.outcome import Outcome

if TYPE_CHECKING:
    from checks.selftest.faults import Base, Faults

AREAS = ("release", "migrations", "drift", "constraints", "data integrity", "heartbeat",
         "pipeline")
"""The areas kinds are filed under, in reading order; each is one ``verify/`` module,
``verify/test_<area>.py`` (spaces as underscores), which makes its kinds' items."""


def area_module(area: str) -> str:
    """The ``verify/`` module of an area: ``data integrity`` -> ``test_data_integrity``."""
    return "test_" + area.replace(" ", "_")


Needs = Mapping[str, Need]
"""A check's needs, by the names its judge looks them up by."""
Judge = Callable[[Any, Context, Found], Outcome]
"""``judge(spec, ctx, found)``: the outcome, from the spec, the context and what was
gathered for its needs (pure: no I/O)."""


def no_needs(spec: Any, ctx: Context) -> Needs:
    return {}


@dataclass(frozen=True)
class Kind:
    """One kind of check. Its items are ``verify/``'s ``test_<name>[<spec id>]``."""

    name: str
    """Its pytest item is ``test_<name>`` (public: ``-k``, reports and tickets name it)."""
    area: str
    """One of :data:`AREAS`."""
    judge: Judge
    needs: Callable[[Any, Context], Needs] = no_needs
    section: str | None = None
    """The config section its specs come from (several kinds may share one)."""
    spec: type | None = None
    items: Callable[[Inputs], list[Any]] | None = None
    """Specs that do not come from a config section (migrations, schema objects)."""
    reads: frozenset[str] = frozenset({"target", "catalog"})
    """What it reads: ``target`` (the database), ``catalog``, ``expected``, ``scratch``,
    ``aws`` (its checks are skipped, with the reason, when AWS checks are off), ``files``."""
    converging: bool = False
    """Describes a state that converges after a deploy (retried under ``--settle``)."""
    parse_section: Callable[[Any, str], list[Any]] = field(default=None)  # type: ignore[assignment]
    doc: str = ""
    """Its pytest item's docstring: what one of its checks verifies, in one line."""
    faults: Callable[[Any, Base], Faults] | None = None
    """The ways to break what one of its checks guards (``--self-test``, see
    :mod:`checks.selftest`): each fault, applied to a copy, must make the check fail and
    name what was injected."""

    def __post_init__(self) -> None:
        if self.area not in AREAS:
            raise ValueError(f"kind {self.name}: area {self.area!r} is not one of {AREAS}")
        if self.parse_section is None:
            object.__setattr__(self, "parse_section", self._parse_list)

    def _parse_list(self, raw: Any, where: str) -> list[Any]:
        """The default section shape: ``[[section]]`` entries, each a ``spec``."""
        assert self.spec is not None
        entries = typed(raw if raw is not None else [], list, where)
        return [from_table(self.spec, entry, nth_entry(where, i, entry))
                for i, entry in enumerate(entries)]

    @property
    def config_section(self) -> Section | None:
        """How ``checks.config.load`` reads its section (None: its specs come from elsewhere)."""
        if self.section is None:
            return None
        return Section(self.parse_section, self.spec)

    @property
    def item_name(self) -> str:
        return f"test_{self.name}"

    def specs(self, inputs: Inputs) -> list[Any]:
        if self.items is not None:
            return self.items(inputs)
        assert self.section is not None
        return inputs.config.section(self.section)

    @property
    def reads_target(self) -> bool:
        return bool(self.reads & {"target", "catalog"})


@dataclass(frozen=True)
class Unavailable:
    """Stands in for a kind's items when they cannot even be listed; its item errors."""

    id: str
    error: str
    blocked_by: str | None = None


__all__ = ["AREAS", "Context", "Found", "Inputs", "Judge", "Kind", "Need", "Needs",
           "Unavailable", "area_module", "no_needs"]
