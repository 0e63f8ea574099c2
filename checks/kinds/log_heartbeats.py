"""The services' CloudWatch Logs show a recent event: a heartbeat line within ``max_age``.

A missing log group is a failure that says so; a search cut at the page cap with nothing
found, or a refused call, is an error, never a pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import cast

from checks.config import Common, ConfigError, Duration, duration_ms
from checks.kinds.aws import MAX_PAGES, LogWindow, matching_line, put_events, tally_text
from checks.kinds.base import Context, Found, Kind, Needs
from checks.outcome import CouldNotCheck, Evidence, Outcome, failed, human, passed
from checks.selftest import faults as f


@dataclass(frozen=True)
class LogHeartbeat(Common):
    """A log group must hold an event matching ``pattern`` within ``max_age``."""

    name: str
    pattern: str
    """A CloudWatch Logs filter pattern for the line the service writes while healthy,
    e.g. ``'"Account activities: fetched="'`` (any line would count its errors too)."""
    log_group: str = "/ecs/ops-pipeline/trade-stream"
    max_age: Duration = "10m"
    count_pattern: str = ""
    """Events of the window to count and show (e.g. ``"Event already processed"``)."""

    def __post_init__(self) -> None:
        if not self.pattern.strip():
            raise ConfigError("pattern: name the line the service writes while healthy (an "
                              "empty pattern counts every line, its errors too)")

    @property
    def id(self) -> str:
        return self.name


def log_needs(h: LogHeartbeat, ctx: Context) -> Needs:
    """The search for the healthy line over the last ``max_age``, and the one for
    ``count_pattern`` over the same window (when given)."""
    end = int(ctx.now.timestamp() * 1000)
    start = end - duration_ms(h.max_age)
    searches = {"heartbeat": LogWindow(h.log_group, h.pattern, start, end)}
    if h.count_pattern:
        searches["counted"] = LogWindow(h.log_group, _phrase(h.count_pattern), start, end)
    return searches


def _phrase(text: str) -> str:
    return text if text.startswith(("\"", "{", "[", "?", "%")) else json.dumps(text)


def log_heartbeat(h: LogHeartbeat, ctx: Context, gathered: Found) -> Outcome:
    """Passed when the log group has a matching event within ``max_age`` (the newest
    event found by a time-bounded search, not the lagging ``lastEventTimestamp``)."""
    found = gathered["heartbeat"]
    if found.get("error"):
        return failed(f"log group {h.log_group} does not exist")
    what = f"event matching {h.pattern!r}" if h.pattern else "event"
    extra = []
    if "counted" in gathered:
        tally = gathered["counted"]
        if not tally.get("error"):
            extra.append(Evidence(f"Events in the window matching {h.count_pattern!r}",
                                  ("count", "window"), [(tally_text(tally), h.max_age)]))
    newest = found["newest"]
    if newest is None and not found["complete"]:
        raise CouldNotCheck(f"{h.log_group}: no end after {MAX_PAGES} pages of events")
    if newest is None:
        return failed(f"no {what} in {h.log_group} within the last {h.max_age}", *extra)
    window = cast(LogWindow, gathered.needs["heartbeat"])
    age_s = max(0.0, (window.end_ms - newest["timestamp"]) / 1000)
    return passed(f"newest {what} in {h.log_group} is {human(age_s)} old (max {h.max_age}); "
                  f"{tally_text(found)} in the window",
                  Evidence("Newest event", ("stream", "age", "message"),
                           [(newest.get("logStreamName"), human(age_s),
                             str(newest.get("message", ""))[:200])]), *extra
                  ).with_figures(age_s=age_s, max_age_s=duration_ms(h.max_age) / 1000,
                                 events=found["count"]).moved_to(str(newest["timestamp"]))


# ---------------------------------------------------------------- self-test faults
def _heartbeat(h: LogHeartbeat, seconds_ago: float, account: f.AwsAccount) -> None:
    put_events(account, h.log_group, [matching_line(h.pattern)], seconds_ago)


def _heartbeat_faults(h: LogHeartbeat, base: f.Base) -> f.Faults:
    max_age_s = duration_ms(h.max_age) / 1000
    return f.of(f.Fault(f"silence {h.log_group} (its last line {h.max_age} and an hour ago)",
                        partial(_heartbeat, h, max_age_s + 3600),
                        names=(h.log_group, "no event"), on="aws"),
                healthy=partial(_heartbeat, h, min(5, max_age_s / 2)))


LOGS = Kind("log_heartbeat", "heartbeat", log_heartbeat, log_needs, section="log_heartbeats",
            spec=LogHeartbeat, reads=frozenset({"aws"}), converging=True,
            faults=_heartbeat_faults,
            doc="The service's CloudWatch Logs show a recent event (AWS checks).")
