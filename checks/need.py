"""What a check needs gathered, and what needs run against.

A need is hashable: equal needs of different checks are gathered once.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from checks.config import Settings

if TYPE_CHECKING:
    from checks.catalog import Catalog
    from checks.clients.aws import AwsClients
    from checks.infra.expected import Expected
    from checks.infra.normalize import Normalizer
    from checks.targets.base import Target
    from checks.watermarks import Store


class Need:
    """Something a check needs gathered. Needs with the same :meth:`batch` key run
    together in one :meth:`run_batch` call (e.g. every aggregate of one table in one scan)."""

    reads = "target"
    """``target`` (the database), ``scratch`` (a throwaway server), ``aws``, ``files``."""

    def batch(self) -> Hashable:
        return self

    @classmethod
    def run_batch(cls, needs: list[Any], env: Env) -> dict[Any, Any]:
        return {need: need.run(env) for need in needs}

    def run(self, env: Env) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class TableRead(Need):
    """A need that reads the rows of one table."""

    schema: str
    table: str


@dataclass
class Env:
    """What needs run against."""

    settings: Settings
    target: Target | None = None
    catalog: Catalog | None = None
    normalizer: Normalizer | None = None
    expected: Expected | None = None
    aws: AwsClients | None = None
    now: datetime | None = None
    proofs: Store | None = None
    """What earlier runs proved on this target (``checks.watermarks``); None: prove nothing
    from the past."""
