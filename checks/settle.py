"""When a converging state (a rollout, a heartbeat) counts as settled: pure bookkeeping of
the samples ``--settle`` takes, so that one good sample of a flapping value is not enough."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

CONFIRMING_SAMPLES = 2
"""Consecutive passing samples, a backoff apart, that make a state settled."""


@dataclass
class Samples:
    """The samples of one check in the settle window."""

    attempts: int = 0
    streak: int = 0
    """Passing samples in a row, up to the latest."""
    first_passed_s: float | None = None
    """When the current streak of passes began (seconds into the window)."""
    progress: str | None = None
    """What the latest passing sample showed (the newest heartbeat): a pass confirms only
    if it shows something newer (one heartbeat at boot, then a hang, is not settled)."""

    @property
    def settled(self) -> bool:
        return self.streak >= CONFIRMING_SAMPLES

    @property
    def unconfirmed(self) -> bool:
        """The latest sample passed, but no later one confirmed it."""
        return 0 < self.streak < CONFIRMING_SAMPLES


@dataclass
class Settling:
    """Every converging check's samples; a check is retried until it is settled."""

    samples: dict[Hashable, Samples] = field(default_factory=dict)

    def record(self, check: Hashable, passed: bool, elapsed_s: float,
               progress: str | None = None) -> None:
        found = self.samples.setdefault(check, Samples())
        found.attempts += 1
        if not passed:
            found.streak, found.first_passed_s, found.progress = 0, None, None
            return
        if found.streak == 0:
            found.first_passed_s = round(elapsed_s, 1)
            found.streak = 1
        elif progress is None or progress != found.progress:
            found.streak += 1
        found.progress = progress

    def pending(self, checks: list[Hashable]) -> list[Hashable]:
        return [c for c in checks if not self.samples.setdefault(c, Samples()).settled]
