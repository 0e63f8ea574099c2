"""A service's log group holds no more error lines than allowed within a window.

The lines are counted by CloudWatch Logs itself (``filter_log_events`` with the entry's
filter pattern, bounded to the window, every page followed: the log heartbeat's search).
A log group that does not exist fails. Not retried under ``--settle``: a count over a past
window only "settles" by waiting until a burst slides out of it, which would hide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated

from checks.config import Common, ConfigError, Duration, Range, duration_ms
from checks.kinds.aws import MAX_PAGES, LogWindow, matching_line, put_events, tally_text
from checks.kinds.base import Facts, Kind
from checks.need import Need
from checks.outcome import CouldNotCheck, Evidence, Outcome, failed, passed, skipped
from checks.selftest import faults as f

SAMPLE = 10
"""The newest matching lines shown as evidence."""


@dataclass(frozen=True)
class LogErrors(Common):
    """Error lines in a log group within ``window``: at most ``max_count``."""

    name: str
    log_group: str
    pattern: str = "?ERROR ?CRITICAL ?Traceback"
    """A CloudWatch Logs filter pattern for an error line (terms are case-sensitive; the
    default matches Python's ERROR and CRITICAL levels and uncaught tracebacks)."""
    window: Duration = "1h"
    max_count: Annotated[int, Range(0)] = 0

    def __post_init__(self) -> None:
        if not self.pattern.strip():
            raise ConfigError("pattern: name the error lines (an empty pattern counts every "
                              "line)")
        if not self.log_group.strip():
            raise ConfigError("log_group must not be empty")

    @property
    def id(self) -> str:
        return self.name


def _window(s: LogErrors, facts: Facts) -> LogWindow:
    end = int(facts.now.timestamp() * 1000)
    return LogWindow(s.log_group, s.pattern, end - duration_ms(s.window), end, keep=SAMPLE)


def needs(s: LogErrors, facts: Facts) -> list[Need]:
    return [] if facts.aws_off else [_window(s, facts)]


def log_errors(s: LogErrors, facts: Facts) -> Outcome:
    """Passed when the log group exists and at most ``max_count`` events within the last
    ``window`` match ``pattern``; a search cut at the page cap fails only when what it
    already counted is too many, and is an error otherwise."""
    if facts.aws_off:
        return skipped(facts.aws_off)
    window = _window(s, facts)
    found = facts[window]
    if found.get("error"):
        return failed(f"log group {s.log_group} does not exist")
    count = found["count"]
    if count <= s.max_count and not found["complete"]:
        raise CouldNotCheck(f"{s.log_group}: no end after {MAX_PAGES} pages of events "
                            f"matching {s.pattern!r} ({count} so far)")
    evidence = Evidence("Newest matching lines", ("at", "stream", "message"),
                        [(_at(e["timestamp"]), e.get("logStreamName"),
                          str(e.get("message", ""))[:300]) for e in found["events"]],
                        total=count)
    text = (f"{tally_text(found)} line(s) matching {s.pattern!r} in {s.log_group} within the "
            f"last {s.window} (max {s.max_count})")
    outcome = failed(text, evidence).fixed_by(
        f"read the lines around them (aws logs tail {s.log_group} --since {s.window}); "
        "raise max_count only for errors known to be harmless") if count > s.max_count else \
        passed(text, *([evidence] if count else []))
    return outcome.with_figures(errors=count, max_count=s.max_count)


def _at(timestamp_ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------- self-test faults
def _lines(s: LogErrors, count: int, account: f.AwsAccount) -> None:
    """The log group with ``count`` error lines within the window (none: a quiet service)."""
    put_events(account, s.log_group, [matching_line(s.pattern)] * count,
               min(60, duration_ms(s.window) / 2000))


def _faults(s: LogErrors, base: f.Base) -> f.Faults:
    burst = s.max_count + 1
    return f.of(f.Fault(f"log {burst} error line(s) in {s.log_group}",
                        partial(_lines, s, burst), names=(s.log_group, f"{burst} line(s)"),
                        on="aws"),
                healthy=partial(_lines, s, 0))


LOG_ERRORS = Kind("log_errors", "pipeline", log_errors, needs, section="log_errors",
                  spec=LogErrors, reads=frozenset({"aws"}), faults=_faults)
