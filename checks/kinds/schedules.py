"""The pipeline's schedules fire: EventBridge Scheduler schedules and EventBridge rules are
enabled, one by name or every one whose name starts with a prefix.

A named schedule that does not exist, or a prefix that matches none, fails: an empty
match is never a pass. A schedule past its end date (or before its start date) is enabled
but does not fire; a rule without a target fires into nothing: both fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

from checks.config import Common, ConfigError, one_of
from checks.kinds.aws import call_aws, pages
from checks.kinds.base import Facts, Kind
from checks.need import Env, Need
from checks.outcome import Evidence, Outcome, failed, passed, skipped
from checks.selftest import faults as f

KEYS = ("schedule", "schedule_prefix", "rule", "rule_prefix")


@dataclass(frozen=True)
class Schedules(Common):
    """One EventBridge Scheduler schedule or rule by name, or every one of a prefix."""

    name: str
    schedule: str | None = None
    """An EventBridge Scheduler schedule (``aws scheduler``), by name."""
    schedule_prefix: str | None = None
    """Every EventBridge Scheduler schedule whose name starts with this."""
    rule: str | None = None
    """An EventBridge rule (``aws events``), by name."""
    rule_prefix: str | None = None
    """Every EventBridge rule whose name starts with this."""
    group: str | None = None
    """The schedule group (Scheduler; a named schedule: ``default``; a prefix: every group)."""
    event_bus: str = "default"
    """The event bus of the rules."""
    accept_disabled: list[str] = field(default_factory=list)
    """Names (shell patterns) known to be disabled on purpose: shown as accepted, never
    passed silently."""

    def __post_init__(self) -> None:
        one_of(self, KEYS, "every schedule")
        if self.group is not None and self.api != "scheduler":
            raise ConfigError("group is a Scheduler setting: use event_bus for rules")

    @property
    def id(self) -> str:
        return self.name

    @property
    def api(self) -> str:
        return "scheduler" if self.schedule or self.schedule_prefix else "events"

    @property
    def what(self) -> str:
        noun = "schedule" if self.api == "scheduler" else "rule"
        if self.schedule or self.rule:
            return f"EventBridge {noun} {self.schedule or self.rule}"
        return f"EventBridge {noun}s named {self.schedule_prefix or self.rule_prefix}*"


@dataclass(frozen=True)
class ScheduleStates(Need):
    """The schedules or rules an entry names, each with its state, expression, dates and
    (rules) targets; every page of a listing followed."""

    reads = "aws"
    api: str
    name: str | None
    prefix: str | None
    group: str | None
    event_bus: str

    def run(self, env: Env) -> dict[str, Any]:
        assert env.aws is not None
        client = env.aws.client(self.api)
        if self.api == "scheduler":
            return self._schedules(client)
        return self._rules(client)

    def _schedules(self, client: Any) -> dict[str, Any]:
        if self.name:
            names = [(self.name, self.group or "default")]
        else:
            request: dict[str, Any] = {"NamePrefix": self.prefix}
            if self.group:
                request["GroupName"] = self.group
            listed = pages(client.list_schedules, f"schedules named {self.prefix}*", **request)
            if listed[0].get("error"):
                return listed[0]
            names = [(s["Name"], s.get("GroupName", "default"))
                     for page in listed for s in page.get("Schedules", [])]
        found = []
        for name, group in names:
            # list_schedules shows no dates: each schedule is read for its end and start
            one = call_aws(lambda n=name, g=group: client.get_schedule(Name=n, GroupName=g),
                           f"schedule {name}")
            if one.get("error"):
                if self.name:
                    return one
                continue  # deleted between the listing and the read: not there
            found.append({"name": name, "group": group, "state": one.get("State"),
                          "expression": one.get("ScheduleExpression"),
                          "start": _iso(one.get("StartDate")), "end": _iso(one.get("EndDate")),
                          "target": (one.get("Target") or {}).get("Arn")})
        return {"found": found}

    def _rules(self, client: Any) -> dict[str, Any]:
        if self.name:
            one = call_aws(lambda: client.describe_rule(Name=self.name,
                                                        EventBusName=self.event_bus),
                           f"rule {self.name}")
            if one.get("error"):
                return one
            rules = [one]
        else:
            listed = pages(client.list_rules, f"rules named {self.prefix}*",
                           NamePrefix=self.prefix, EventBusName=self.event_bus)
            if listed[0].get("error"):
                return listed[0]
            rules = [r for page in listed for r in page.get("Rules", [])]
        found = []
        for rule in rules:
            targets = pages(client.list_targets_by_rule, f"targets of rule {rule['Name']}",
                            Rule=rule["Name"], EventBusName=self.event_bus)
            if targets[0].get("error"):
                if self.name:
                    return targets[0]
                continue  # deleted between the listing and the read: not there
            found.append({"name": rule["Name"], "state": rule.get("State"),
                          "expression": rule.get("ScheduleExpression") or "event pattern",
                          "targets": sum(len(p.get("Targets", [])) for p in targets)})
        return {"found": found}


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _need(s: Schedules) -> ScheduleStates:
    return ScheduleStates(s.api, s.schedule or s.rule, s.schedule_prefix or s.rule_prefix,
                          s.group, s.event_bus)


def needs(s: Schedules, facts: Facts) -> list[Need]:
    return [] if facts.aws_off else [_need(s)]


def schedule_enabled(s: Schedules, facts: Facts) -> Outcome:
    """Passed when every schedule or rule the entry names exists and fires: enabled,
    within its start and end dates, and (a rule) with a target."""
    if facts.aws_off:
        return skipped(facts.aws_off)
    answer = facts[_need(s)]
    if answer.get("error"):
        return failed(f"{s.what} does not exist in {_where(s)} "
                      f"({answer.get('message') or answer['error']})")
    found = answer["found"]
    if not found:
        return failed(f"no {s.what.removeprefix('EventBridge ')}: the prefix matches nothing "
                      f"(in {_where(s)})")
    rows, broken, accepted = [], [], []
    for item in found:
        why = _not_firing(item, facts.now)
        if why and any(fnmatchcase(item["name"], p) for p in s.accept_disabled):
            accepted.append(item["name"])
            why = f"{why} (accepted)"
        elif why:
            broken.append(f"{item['name']} {why}")
        rows.append((item["name"], item["state"], item["expression"],
                     item.get("end") or item.get("targets"), why or "fires"))
    last = "end date" if s.api == "scheduler" else "targets"
    evidence = Evidence("Schedules" if s.api == "scheduler" else "Rules",
                        ("name", "state", "expression", last, "verdict"), rows)
    figures = {"schedules": len(found), "not_firing": len(broken), "accepted": len(accepted)}
    if broken:
        return failed(f"{len(broken)} of {len(found)} {_noun(s)} do not fire: "
                      f"{'; '.join(broken)}", evidence).with_figures(**figures).fixed_by(
            "enable it (aws scheduler update-schedule --state ENABLED with its expression "
            "and target, or aws events enable-rule), move its end date, give a rule its "
            "target; a schedule disabled on purpose goes in accept_disabled")
    note = f"; disabled on purpose (accept_disabled): {', '.join(accepted)}" if accepted else ""
    return passed(f"{len(found) - len(accepted)} of {len(found)} {_noun(s)} enabled{note}",
                  evidence).with_figures(**figures)


def _not_firing(item: dict[str, Any], now: datetime) -> str | None:
    """Why a schedule or rule does not fire (None when it does)."""
    state = item.get("state") or "?"
    if not state.startswith("ENABLED"):  # rules: ENABLED_WITH_ALL_CLOUDTRAIL_... is enabled
        return f"is {state}"
    if item.get("end") and datetime.fromisoformat(item["end"]) <= now:
        return f"ended at {item['end']}"
    if item.get("start") and datetime.fromisoformat(item["start"]) > now:
        return f"starts only at {item['start']}"
    if item.get("targets") == 0:
        return "has no target: it fires into nothing"
    return None


def _noun(s: Schedules) -> str:
    return "schedules" if s.api == "scheduler" else "rules"


def _where(s: Schedules) -> str:
    if s.api == "scheduler":
        if s.schedule:
            return f"schedule group {s.group or 'default'}"
        return f"schedule group {s.group}" if s.group else "every schedule group"
    return f"event bus {s.event_bus}"


# ---------------------------------------------------------------- self-test faults
_TARGET_ROLE = "arn:aws:iam::{account}:role/ops-verify-self-test"


def _named(s: Schedules) -> str:
    """The schedule or rule to make: the named one, or one of the prefix that is not
    accepted disabled (then disabling it must fail the check)."""
    if s.schedule or s.rule:
        return str(s.schedule or s.rule)
    prefix = str(s.schedule_prefix or s.rule_prefix)
    names = (f"{prefix}{f.INJECTED}{n}" for n in ("", "_2", "_3"))
    first = f"{prefix}{f.INJECTED}"
    return next((n for n in names if not any(fnmatchcase(n, p) for p in s.accept_disabled)),
                first)


def _schedule(s: Schedules, state: str, account: f.AwsAccount) -> None:
    """The schedule (or rule) enabled and firing into a target, then in ``state``."""
    name = _named(s)
    target = f"arn:aws:sqs:{account.region}:{account.account_id}:{f.INJECTED}"
    role = _TARGET_ROLE.format(account=account.account_id)
    if s.api == "scheduler":
        group = s.group or "default"
        if group != "default":
            account.call("scheduler", "create_schedule_group", Name=group)
        request = {"Name": name, "GroupName": group, "ScheduleExpression": "rate(1 minute)",
                   "FlexibleTimeWindow": {"Mode": "OFF"},
                   "Target": {"Arn": target, "RoleArn": role}}
        account.call("scheduler", "create_schedule", **request)
        if state != "ENABLED":
            account.call("scheduler", "update_schedule", **request, State=state)
        return
    if s.event_bus != "default":
        account.call("events", "create_event_bus", Name=s.event_bus)
    account.call("events", "put_rule", Name=name, ScheduleExpression="rate(1 hour)",
                 State="ENABLED", EventBusName=s.event_bus)
    account.call("events", "put_targets", Rule=name, EventBusName=s.event_bus,
                 Targets=[{"Id": "1", "Arn": target}])
    if state != "ENABLED":
        account.call("events", "disable_rule", Name=name, EventBusName=s.event_bus)


def _faults(s: Schedules, base: f.Base) -> f.Faults:
    name = _named(s)
    return f.of(f.Fault(f"disable {name}", partial(_schedule, s, "DISABLED"),
                        names=(name, "DISABLED"), on="aws"),
                healthy=partial(_schedule, s, "ENABLED"))


SCHEDULE_ENABLED = Kind("schedule_enabled", "pipeline", schedule_enabled, needs,
                        section="schedules", spec=Schedules, reads=frozenset({"aws"}),
                        faults=_faults)
