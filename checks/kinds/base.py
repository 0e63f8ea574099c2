"""What a kind of check is: its spec, what it needs gathered, and a pure judge.

A kind's ``needs(spec, facts)`` names the data it wants (catalog lookups are free: the
catalog is captured once); the planner merges the needs of every selected check (one
scan per table, one ledger read, ...) and runs them concurrently; ``judge(spec, facts)``
then decides from what was gathered alone, so it can be tested without a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from checks.config import Config, Settings, build, typed
from checks.config.fields import nth_entry
from checks.need import Env, Need
from checks.outcome import CouldNotCheck, Outcome

if TYPE_CHECKING:
    from checks.catalog import Catalog
    from checks.infra.expected import Expected
    from checks.manifest import Manifest
    from checks.migrations import MigrationFile
    from checks.replica import Replica
    from checks.selftest.faults import Base, Faults


@dataclass
class Facts:
    """What a judge sees: the catalog, gathered results, the run's inputs."""

    settings: Settings
    now: datetime
    inputs: Inputs
    target_name: str = ""
    probe_block: str | None = None
    aws_off: str | None = None
    """Why AWS checks do not run (None when they do)."""
    replica: Replica | None = None
    """The target's role and, for a standby, its lag (None until the target answered)."""
    _catalog: Catalog | CouldNotCheck | None = None
    _expected: Catalog | CouldNotCheck | None = None
    expected_version: str = ""
    """The PostgreSQL version the expected schema was built on (or the snapshot's)."""
    results: dict[Any, Any] = field(default_factory=dict)

    @property
    def catalog(self) -> Catalog:
        """The target's live catalog."""
        return _present(self._catalog, "the catalog was not captured")

    @property
    def expected(self) -> Catalog:
        """The expected schema's catalog, for the target's major version when possible."""
        return _present(self._expected, "the expected schema was not built")

    def __getitem__(self, need: Need) -> Any:
        found = self.results.get(need, _MISSING)
        if found is _MISSING:
            raise CouldNotCheck(f"not gathered: {need}")
        if isinstance(found, CouldNotCheck):
            raise found
        return found


_MISSING = object()


def _present(found: Any, otherwise: str) -> Any:
    if isinstance(found, CouldNotCheck):
        raise found
    if found is None:
        raise CouldNotCheck(otherwise)
    return found


@dataclass
class Inputs:
    """The run's inputs besides the target: config, migration files, expected schema."""

    config: Config
    migrations: list[MigrationFile]
    expected: Expected
    manifest: Manifest | None = None
    """The release manifest, when one was given (``--release-manifest``)."""


def _no_needs(spec: Any, facts: Facts) -> Iterable[Need]:
    return ()


@dataclass(frozen=True)
class Kind:
    """One kind of check. Its items are ``verify/``'s ``test_<name>[<spec id>]``."""

    name: str
    area: str
    judge: Callable[[Any, Facts], Outcome]
    needs: Callable[[Any, Facts], Iterable[Need]] = _no_needs
    section: str | None = None
    """The config section its specs come from (several kinds may share one)."""
    spec: type | None = None
    items: Callable[[Inputs], list[Any]] | None = None
    """Specs that do not come from a config section (migrations, schema objects)."""
    reads: frozenset[str] = frozenset({"target", "catalog"})
    """What it reads: ``target`` (the database), ``catalog``, ``aws``, ``files``."""
    converging: bool = False
    """Describes a state that converges after a deploy (retried under ``--settle``)."""
    parse_section: Callable[[Any, str], list[Any]] = field(default=None)  # type: ignore[assignment]
    faults: Callable[[Any, Base], Faults] | None = None
    """The ways to break what one of its checks guards (``--self-test``, see
    :mod:`checks.selftest`): each fault, applied to a copy, must make the check fail and
    name what was injected."""

    def __post_init__(self) -> None:
        if self.parse_section is None:
            object.__setattr__(self, "parse_section", self._parse_list)

    def _parse_list(self, raw: Any, where: str) -> list[Any]:
        """The default section shape: ``[[section]]`` entries, each a ``spec``."""
        assert self.spec is not None
        entries = typed(raw if raw is not None else [], list, where)
        return [build(self.spec, entry, nth_entry(where, i, entry))
                for i, entry in enumerate(entries)]

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


__all__ = ["Env", "Facts", "Inputs", "Kind", "Need", "Unavailable"]
