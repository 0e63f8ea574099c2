"""CloudWatch alarms are quiet: not in ALARM, one by name or every one of a prefix.

A named alarm that does not exist, or a prefix that matches none, fails: an empty match is
never a pass. INSUFFICIENT_DATA fails too unless ``allow_insufficient_data``: it means the
metric behind the alarm stopped arriving (for the ops-pipeline's alarms, the healthcheck
Lambda that publishes them stopped), so the alarm watches nothing; a state that cannot say
"not in ALARM" is not taken as one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from checks.config import Common, one_of
from checks.kinds.aws import pages
from checks.kinds.base import Facts, Kind
from checks.need import Env, Need
from checks.outcome import Evidence, Outcome, failed, passed, skipped
from checks.selftest import faults as f

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


@dataclass(frozen=True)
class Alarms(Common):
    """One CloudWatch alarm (metric or composite) by name, or every one of a prefix."""

    name: str
    alarm: str | None = None
    prefix: str | None = None
    allow_insufficient_data: bool = False
    """Accept INSUFFICIENT_DATA (e.g. a market-hours metric at night); shown, never hidden."""

    def __post_init__(self) -> None:
        one_of(self, ("alarm", "prefix"), "every alarm")

    @property
    def id(self) -> str:
        return self.name

    @property
    def what(self) -> str:
        return f"CloudWatch alarm {self.alarm}" if self.alarm else \
            f"CloudWatch alarms named {self.prefix}*"


@dataclass(frozen=True)
class AlarmStates(Need):
    """Metric and composite alarms by name or prefix, every page followed."""

    reads = "aws"
    params: str
    """describe_alarms' parameters as JSON (so that the need is hashable)."""

    def run(self, env: Env) -> list[dict[str, Any]]:
        assert env.aws is not None
        cloudwatch = env.aws.client("cloudwatch")
        found = []
        for page in pages(cloudwatch.describe_alarms, "describe_alarms",
                          AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                          **json.loads(self.params)):
            for kind, alarms in (("metric", page.get("MetricAlarms", [])),
                                 ("composite", page.get("CompositeAlarms", []))):
                found += [{"name": a["AlarmName"], "type": kind, "state": a.get("StateValue"),
                           "since": str(a.get("StateUpdatedTimestamp") or ""),
                           "reason": a.get("StateReason", ""),
                           "actions": a.get("ActionsEnabled")} for a in alarms]
        return found


def _need(s: Alarms) -> AlarmStates:
    params = {"AlarmNames": [s.alarm]} if s.alarm else {"AlarmNamePrefix": s.prefix}
    return AlarmStates(json.dumps(params))


def needs(s: Alarms, facts: Facts) -> list[Need]:
    return [] if facts.aws_off else [_need(s)]


def alarm_not_firing(s: Alarms, facts: Facts) -> Outcome:
    """Passed when every alarm the entry names exists and is OK (or INSUFFICIENT_DATA when
    that is allowed): converging, so ``--settle`` waits for an alarm a deploy tripped."""
    if facts.aws_off:
        return skipped(facts.aws_off)
    found = facts[_need(s)]
    if s.alarm:
        found = [a for a in found if a["name"] == s.alarm]
        if not found:
            return failed(f"{s.what} does not exist")
    elif not found:
        return failed(f"no CloudWatch alarm is named {s.prefix}*: the prefix matches nothing")
    by_state = {state: [a["name"] for a in found if a["state"] == state] for state in STATES}
    bad = list(by_state["ALARM"])
    if not s.allow_insufficient_data:
        bad += by_state["INSUFFICIENT_DATA"]
    other = [a["name"] for a in found if a["state"] not in STATES]
    bad += other
    evidence = Evidence("Alarms", ("name", "type", "state", "since", "reason",
                                   "actions enabled"),
                        [(a["name"], a["type"], a["state"], a["since"], a["reason"][:200],
                          a["actions"]) for a in sorted(found, key=_worst_first)])
    figures = {"alarms": len(found), "in_alarm": len(by_state["ALARM"]),
               "insufficient_data": len(by_state["INSUFFICIENT_DATA"]),
               "ok": len(by_state["OK"])}
    if bad:
        states = {a["name"]: a["state"] for a in found}
        listed = ", ".join(f"{n} ({states[n]})" for n in bad)
        return failed(f"{len(bad)} of {len(found)} alarm(s) not OK: {listed}",
                      evidence).with_figures(**figures).fixed_by(
            "read each alarm's reason and history (aws cloudwatch describe-alarm-history "
            "--alarm-name NAME); INSUFFICIENT_DATA: the metric stopped arriving, check "
            "what publishes it (for the ops-pipeline, the healthcheck Lambda and its "
            "schedule)")
    note = (f"; INSUFFICIENT_DATA allowed: {', '.join(by_state['INSUFFICIENT_DATA'])}"
            if by_state["INSUFFICIENT_DATA"] else "")
    return passed(f"{len(by_state['OK'])} of {len(found)} alarm(s) OK{note}",
                  evidence).with_figures(**figures)


def _worst_first(alarm: dict[str, Any]) -> tuple[int, str]:
    order = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}
    return order.get(alarm["state"], 0), alarm["name"]


# ---------------------------------------------------------------- self-test faults
def _alarm(s: Alarms, state: str, account: f.AwsAccount) -> None:
    """The alarm (the named one, or one of the prefix) watching a metric, in ``state``."""
    name = s.alarm or f"{s.prefix}{f.INJECTED}"
    account.call("cloudwatch", "put_metric_alarm", AlarmName=name, MetricName=f.INJECTED,
                 Namespace=f.INJECTED, Statistic="Maximum", Period=60, EvaluationPeriods=1,
                 Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    account.call("cloudwatch", "set_alarm_state", AlarmName=name, StateValue=state,
                 StateReason=f"{f.INJECTED}: {state}")


def _faults(s: Alarms, base: f.Base) -> f.Faults:
    name = s.alarm or f"{s.prefix}{f.INJECTED}"
    return f.of(f.Fault(f"put {name} in ALARM", partial(_alarm, s, "ALARM"),
                        names=(name, "ALARM"), on="aws"),
                healthy=partial(_alarm, s, "OK"))


ALARM_NOT_FIRING = Kind("alarm_not_firing", "pipeline", alarm_not_firing, needs,
                        section="alarms", spec=Alarms, reads=frozenset({"aws"}),
                        converging=True, faults=_faults)
