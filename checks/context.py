"""What one target's checks work with: the run's inputs, and what the target showed.

One :class:`Context` per target and run of its checks. ``checks.run.TargetRun`` fills it
as the target answers (the session, the catalog, its role, the expected schema); a need
runs against it (the target, the AWS clients, the scratch server's normalizer), and a
judge reads it (the catalog, the settings, the time of the run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from checks.config import Config, Settings
from checks.outcome import CouldNotCheck

if TYPE_CHECKING:
    from checks.catalog import Catalog
    from checks.clients.aws import AwsClients
    from checks.infra.expected import Expected
    from checks.infra.normalize import Normalizer
    from checks.manifest import Manifest
    from checks.migrations import MigrationFile
    from checks.replica import Replica
    from checks.targets.base import Target
    from checks.watermarks import Store


@dataclass
class Inputs:
    """The run's inputs besides the targets: config, migration files, expected schema."""

    config: Config
    migrations: list[MigrationFile]
    expected: Expected
    """Builds (or loads) the expected schema; its catalog is :attr:`Context.expected`."""
    manifest: Manifest | None = None
    """The release manifest, when one was given (``--release-manifest``)."""


@dataclass
class Context:
    """One target's run of its checks, as its needs and judges see it."""

    settings: Settings
    inputs: Inputs
    now: datetime
    """When this round of checks started (each ``--settle`` sample has its own)."""
    target_name: str = ""
    target: Target | None = None
    """The open target (None until it is opened, and for checks that do not read it)."""
    aws: AwsClients | None = None
    """The target's AWS clients (None when its AWS checks are off)."""
    normalizer: Normalizer | None = None
    """Normalizes CHECK expressions on a throwaway server (set when a need asks for it)."""
    probe_block: str | None = None
    """Why write probes may not run on this target (None when they may)."""
    replica: Replica | None = None
    """The target's role and, for a standby, its lag (None until it answered)."""
    live: Catalog | None = None
    """The target's catalog, once captured (judges read :attr:`catalog`)."""
    expected_schema: Catalog | CouldNotCheck | None = None
    """The expected schema's catalog, or why it could not be built (judges read
    :attr:`expected`)."""
    expected_version: str = ""
    """The PostgreSQL version the expected schema was built on (or the snapshot's)."""
    proofs: Store | None = None
    """What earlier runs proved on this target (``checks.watermarks``); None: prove nothing
    from the past."""

    @property
    def catalog(self) -> Catalog:
        """The target's live catalog."""
        if self.live is None:
            raise CouldNotCheck("the catalog was not captured")
        return self.live

    @property
    def expected(self) -> Catalog:
        """The expected schema's catalog, for the target's major version when possible."""
        if isinstance(self.expected_schema, CouldNotCheck):
            raise self.expected_schema
        if self.expected_schema is None:
            raise CouldNotCheck("the expected schema was not built")
        return self.expected_schema
