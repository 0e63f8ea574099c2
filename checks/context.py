"""What every check function receives besides its invariant."""

from __future__ import annotations

from dataclasses import dataclass

from checks.config import Settings
from checks.normalize import Normalizer
from checks.targets.base import Target


@dataclass
class Context:
    """The run's resources: the target, a normalizer for definitions, the safety settings."""

    target: Target
    normalizer: Normalizer
    settings: Settings

    def close(self) -> None:
        try:
            self.normalizer.close()
        finally:
            self.target.close()
