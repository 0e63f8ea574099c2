"""What every check function receives besides its invariant."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from checks import schema
from checks.config import Settings
from checks.normalize import Normalizer
from checks.outcome import CouldNotCheck
from checks.reference import Reference
from checks.targets.base import Target

if TYPE_CHECKING:  # checks.aws imports this module
    from checks.aws import Aws


class Context:
    """The run's resources. The target is opened on first use, so checks that only read
    files still run when it is unreachable; its failure is raised again for every check."""

    def __init__(self, open_target: Callable[[], Target], reference: Reference,
                 normalizer: Normalizer, settings: Settings, aws: Aws | None = None) -> None:
        self._open_target = open_target
        self._target: Target | None = None
        self._error: CouldNotCheck | None = None
        self._live_schema: schema.Schema | None = None
        self.reference = reference
        self.normalizer = normalizer
        self.settings = settings
        self.aws = aws
        """AWS clients, or None when the AWS checks are off."""
        self.facts: dict[str, str] = {}
        """What was learned about the target (server version), for the report."""

    @property
    def target(self) -> Target:
        if self._error is not None:
            raise self._error
        if self._target is None:
            try:
                self._target = self._open_target()
                self.facts["Server version"] = self._target.server_version()
            except CouldNotCheck as exc:
                self._error = exc
                raise
        return self._target

    def live_schema(self) -> schema.Schema:
        """The target's catalog, captured once per run."""
        if self._live_schema is None:
            self._live_schema = schema.capture(self.target)
        return self._live_schema

    def close(self) -> None:
        try:
            self.normalizer.close()
        finally:
            if self._target is not None:
                self._target.close()
