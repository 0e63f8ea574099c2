"""Primary or standby, and whether what a standby shows is the present.

A streaming standby answers every query like its primary, with the primary's past: with
replay paused or behind, a duplicate, a dropped constraint or an unknown ledger version
on the primary is not there yet. So every target's role is read once per run (the session
facts say whether it is in recovery; a standby is then asked where its replay stands, in
one SELECT that also runs through the db-query Lambda), and judged here, purely.

How far behind a standby may be:

- replay paused (or a pause requested): whatever happens next will not show;
- its last replayed transaction committed within ``max_replica_lag``: it shows at least
  the primary as of then;
- else, when its WAL receiver is streaming and it has replayed all it received, it is in
  step however old that transaction is (an idle primary writes none);
- else nobody can say how far behind it is (the receiver is down, waiting, restarting, or
  its state is hidden from the role): never taken as current.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from checks.catalog import replay_state
from checks.catalog.model import Session, from_row
from checks.outcome import CouldNotCheck, human

if TYPE_CHECKING:
    from checks.targets.base import Target

STANDBY_REASON = ("the target is a standby (read-only, in recovery): write probes cannot run "
                "on it")
RECEIVER_HIDDEN = "hidden"
"""The WAL receiver's state as a role without pg_read_all_stats sees it."""


@dataclass(frozen=True)
class ReplayState:
    """What a standby says of its replay (one row of ``replica.sql``)."""

    in_recovery: bool
    paused: bool | None = None
    pause_state: str | None = None
    receive_lsn: str | None = None
    replay_lsn: str | None = None
    pending_bytes: float | None = None
    """WAL received but not yet replayed."""
    last_replay_at: str | None = None
    last_replay_age_s: float | None = None
    """Since the last replayed transaction committed on the primary (the standby's clock)."""
    receiver_pid: int | None = None
    receiver_status: str | None = None


@dataclass(frozen=True)
class Replica:
    """A target's role and, for a standby, how current what it shows is."""

    role: str
    """``primary`` or ``standby``."""
    lag_s: float | None = None
    """How far behind its primary a standby may be: 0 when it replayed all it received
    while streaming, else the age of its last replayed transaction; None when that cannot
    be known (and on a primary)."""
    paused: bool = False
    pause_state: str | None = None
    receive_lsn: str | None = None
    replay_lsn: str | None = None
    last_replay_age_s: float | None = None
    receiver: str | None = None
    """The WAL receiver's status (``streaming``, ``waiting``...), ``not running``, or
    ``hidden`` (the role lacks pg_read_all_stats)."""
    max_lag_s: float = 0.0
    problem: str | None = None
    """Why nothing it shows can be taken as current (every database check's error)."""

    @property
    def standby(self) -> bool:
        return self.role == "standby"

    def describe(self) -> str:
        """One line for the console and every report."""
        if not self.standby:
            return "primary"
        if self.problem:
            return f"standby, NOT current: {self._state()}"
        return f"standby, in step: {self._state()}"

    def _state(self) -> str:
        last = ("no transaction replayed since it started" if self.last_replay_age_s is None
                else f"last replayed transaction {human(self.last_replay_age_s)} ago")
        limit = f"max_replica_lag {human(self.max_lag_s)}"
        if self.paused:
            return f"replay {self.pause_state or 'paused'}; {last}"
        if self.lag_s is None:
            return f"lag unknown (WAL receiver {self.receiver}); {last} ({limit})"
        if self.lag_s == 0:
            return f"replayed all it received (WAL receiver streaming); {last}"
        return f"lag {human(self.lag_s)} ({last}; {limit})"

    def to_dict(self) -> dict[str, Any]:
        """The ``replica`` object of summary.json."""
        found = asdict(self)
        found["in_step"] = self.problem is None
        found["description"] = self.describe()
        return found


def assess(state: ReplayState, max_lag_s: float, name: str, now: datetime | None = None
           ) -> Replica:
    """The role, and for a standby how far behind it may be (see the module docstring).

    The last replayed transaction's age is taken on the standby's clock and, given ``now``,
    on this machine's too: the larger counts, so a standby whose clock runs behind cannot
    make old data look recent."""
    if not state.in_recovery:
        return Replica("primary", max_lag_s=max_lag_s)
    receiver = ("not running" if state.receiver_pid is None
                else state.receiver_status or RECEIVER_HIDDEN)
    age = state.last_replay_age_s
    if age is not None and now is not None and state.last_replay_at:
        age = max(age, (now - datetime.fromisoformat(state.last_replay_at)).total_seconds())
    caught_up = (receiver == "streaming" and state.pending_bytes is not None
                 and state.pending_bytes <= 0)
    lag: float | None = None
    if caught_up:
        lag = 0.0
    elif age is not None and age <= max_lag_s:
        lag = max(age, 0.0)
    paused = bool(state.paused)
    found = Replica("standby", lag_s=lag, paused=paused,
                    pause_state=state.pause_state if paused else None,
                    receive_lsn=state.receive_lsn, replay_lsn=state.replay_lsn,
                    last_replay_age_s=None if age is None else max(age, 0.0),
                    receiver=receiver, max_lag_s=max_lag_s)
    last = ("it has replayed no transaction since it started" if age is None
            else f"last replayed transaction {human(max(age, 0.0))} ago")
    limit = f"max_replica_lag {human(max_lag_s)}"
    if paused:
        problem = (f"{name} is a standby with replay {state.pause_state or 'paused'}; "
                   f"{last}: nothing it shows is current")
    elif lag is not None:
        return found
    elif receiver == "streaming":
        problem = (f"{name} is a standby behind its primary: {_size(state.pending_bytes)} of "
                   f"WAL received but not replayed, {last} ({limit}): nothing it shows is "
                   "current")
    elif receiver == RECEIVER_HIDDEN:
        problem = (f"{name} is a standby whose lag cannot be known: {last} ({limit}) and the "
                   "WAL receiver's state is hidden from this role (grant it pg_read_all_stats: "
                   "sql/verify_role.sql): nothing it shows can be taken as current")
    else:
        problem = (f"{name} is a standby whose WAL receiver is {receiver}: how far behind its "
                   f"primary it is cannot be known ({last}; {limit}): nothing it shows can be "
                   "taken as current")
    return replace(found, problem=problem)


def read_role(target: Target, session: Session, max_lag_s: float, name: str) -> Replica:
    """The target's role: a primary from the session facts alone; a standby is asked where
    its replay stands (one SELECT, also through the db-query Lambda)."""
    if not session.in_recovery:
        return assess(ReplayState(in_recovery=False), max_lag_s, name)
    try:
        state = from_row(ReplayState, replay_state(target, session.major))
        return assess(state, max_lag_s, name, datetime.now(UTC))
    except (CouldNotCheck, ValueError) as exc:
        raise CouldNotCheck(f"{name} is a standby, and how far behind its primary it is could "
                            f"not be read: {exc}") from None


def _size(pending: float | None) -> str:
    if pending is None:
        return "an unknown amount"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if pending < 1024 or unit == "GiB":
            return f"{pending:.0f} {unit}" if unit == "bytes" else f"{pending:.1f} {unit}"
        pending /= 1024
    raise AssertionError("unreachable")
