"""A Lambda function's errors within a window stay under a threshold, and (optionally) it
ran at least as often as it should.

The function must exist (``get_function_configuration``), else the check fails: metrics of
a function that is gone say nothing. The counts are the Sum of ``AWS/Lambda`` ``Errors``,
``Invocations`` and ``Throttles`` for its ``FunctionName`` over the window, read with
``get_metric_data`` (every page; a partial, forbidden or failed answer is an error).

Lambda publishes these metrics only for minutes in which the function was invoked, so no
datapoints means no invocations, hence no errors: the check passes and says "not
invoked". A function that should run on a schedule sets ``min_invocations``, and then not
running is a failure. Not retried under ``--settle`` (a count over a past window).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any

from checks.config import Common, ConfigError, Duration, Range, duration_ms
from checks.kinds.aws import MAX_PAGES, AwsCall, call_aws
from checks.kinds.base import Facts, Kind
from checks.need import Env, Need
from checks.outcome import CouldNotCheck, Evidence, Outcome, failed, passed, skipped
from checks.selftest import faults as f

METRICS = ("Errors", "Invocations", "Throttles")
PERIOD_S = 60
MAX_WINDOW_MS = 14 * 86_400_000
"""One-minute Lambda metrics are kept for 15 days."""
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class LambdaErrors(Common):
    """A Lambda function: at most ``max_errors`` errors within ``window``."""

    name: str
    function: str | None = None
    """The function's name (default: the entry's ``name``)."""
    window: Duration = "1h"
    max_errors: Annotated[int, Range(0)] = 0
    min_invocations: Annotated[int, Range(0)] = 0
    """Fewer invocations within the window fail (a schedule that should run it did not)."""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.function_name):
            raise ConfigError(f"function {self.function_name!r}: give the function's name "
                              "(its metrics are per name, not per ARN or alias)")
        if duration_ms(self.window) > MAX_WINDOW_MS:
            raise ConfigError(f"window {self.window!r}: at most 14d (one-minute Lambda "
                              "metrics are kept for 15 days)")

    @property
    def id(self) -> str:
        return self.name

    @property
    def function_name(self) -> str:
        return self.function or self.name


@dataclass(frozen=True)
class MetricSums(Need):
    """Sums of metrics of one namespace and dimension over whole minutes, every page of
    ``get_metric_data`` followed, with how many datapoints each had."""

    reads = "aws"
    namespace: str
    dimension: tuple[str, str]
    metrics: tuple[str, ...]
    start: datetime
    end: datetime

    def run(self, env: Env) -> dict[str, dict[str, float]]:
        assert env.aws is not None
        cloudwatch = env.aws.client("cloudwatch")
        queries = [{"Id": f"m{i}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": self.namespace, "MetricName": metric,
                       "Dimensions": [{"Name": self.dimension[0], "Value": self.dimension[1]}]},
            "Period": PERIOD_S, "Stat": "Sum"}} for i, metric in enumerate(self.metrics)]
        request: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": self.start,
                                   "EndTime": self.end}
        sums = {m: {"sum": 0.0, "datapoints": 0} for m in self.metrics}
        what = f"{self.namespace} metrics of {self.dimension[1]}"
        for _ in range(MAX_PAGES):
            page = call_aws(lambda: cloudwatch.get_metric_data(**request), what)
            for result in page.get("MetricDataResults", []):
                metric = self.metrics[int(result["Id"][1:])]
                status = result.get("StatusCode", "Complete")
                if status not in ("Complete", "PartialData"):
                    raise CouldNotCheck(f"{what}: {metric} answered {status}")
                sums[metric]["sum"] += sum(result.get("Values", []))
                sums[metric]["datapoints"] += len(result.get("Values", []))
                if status == "PartialData" and not page.get("NextToken"):
                    raise CouldNotCheck(f"{what}: {metric} is PartialData with no next page")
            if messages := [m for m in page.get("Messages", []) if m.get("Code") != "Complete"]:
                raise CouldNotCheck(f"{what}: {messages[0].get('Code')} "
                                    f"{messages[0].get('Value', '')}".strip())
            if not page.get("NextToken"):
                return sums
            request["NextToken"] = page["NextToken"]
        raise CouldNotCheck(f"{what}: no end after {MAX_PAGES} pages")


def _needs(s: LambdaErrors, facts: Facts) -> tuple[AwsCall, MetricSums]:
    # Whole minutes: from the minute the window starts in to the end of the current one.
    end = facts.now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = (facts.now - timedelta(milliseconds=duration_ms(s.window))).replace(
        second=0, microsecond=0)
    function = AwsCall("lambda", "get_function_configuration",
                       json.dumps({"FunctionName": s.function_name}))
    return function, MetricSums("AWS/Lambda", ("FunctionName", s.function_name), METRICS,
                                start, end)


def needs(s: LambdaErrors, facts: Facts) -> list[Need]:
    return [] if facts.aws_off else list(_needs(s, facts))


def lambda_errors(s: LambdaErrors, facts: Facts) -> Outcome:
    """Passed when the function exists, had at most ``max_errors`` errors within the
    window, and was invoked at least ``min_invocations`` times."""
    if facts.aws_off:
        return skipped(facts.aws_off)
    function, metrics = _needs(s, facts)
    config = facts[function]
    if config.get("error"):
        return failed(f"Lambda function {s.function_name} does not exist "
                      f"({config.get('message') or config['error']})")
    found = facts[metrics]
    errors, invocations, throttles = (int(found[m]["sum"]) for m in METRICS)
    evidence = Evidence("CloudWatch AWS/Lambda, Sum", ("metric", "sum", "minutes with data"),
                        [(m, int(found[m]["sum"]), found[m]["datapoints"]) for m in METRICS])
    span = f"{metrics.start.isoformat(timespec='minutes')} to " \
           f"{metrics.end.isoformat(timespec='minutes')}"
    ran = (f"invoked {invocations} time(s)" if found["Invocations"]["datapoints"]
           else "not invoked (no Invocations datapoints)")
    text = (f"{s.function_name}: {errors} error(s) in the last {s.window} (max "
            f"{s.max_errors}), {ran}, {throttles} throttled; {span}")
    problems = []
    if errors > s.max_errors:
        problems.append(f"{errors} error(s), more than {s.max_errors}")
    if invocations < s.min_invocations:
        problems.append(f"invoked {invocations} time(s), fewer than min_invocations "
                        f"{s.min_invocations}: what should run it did not")
    outcome = failed(f"{'; '.join(problems)}: {text}", evidence).fixed_by(
        f"read its logs (aws logs tail /aws/lambda/{s.function_name} --since {s.window}); "
        "too few invocations: check the schedule or rule that invokes it") if problems else \
        passed(text, evidence)
    return outcome.with_figures(errors=errors, invocations=invocations, throttles=throttles)


# ---------------------------------------------------------------- self-test faults
def _function(s: LambdaErrors, errors: int, invocations: int, account: f.AwsAccount) -> None:
    """The function, and its metrics a few minutes ago: ``invocations`` and ``errors``."""
    role = account.call("iam", "create_role", RoleName=f"{f.INJECTED}-{s.function_name}"[:64],
                        AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    account.call("lambda", "create_function", FunctionName=s.function_name, Runtime="python3.11",
                 Role=role, Handler="handler.handler", Code={"ZipFile": code.getvalue()})
    at = datetime.now(UTC) - timedelta(milliseconds=min(60_000, duration_ms(s.window) // 2))
    data = [{"MetricName": metric, "Dimensions": [{"Name": "FunctionName",
                                                   "Value": s.function_name}],
             "Timestamp": at, "Value": float(value), "Unit": "Count"}
            for metric, value in (("Invocations", invocations), ("Errors", errors)) if value]
    if data:
        account.call("cloudwatch", "put_metric_data", Namespace="AWS/Lambda", MetricData=data)


def _faults(s: LambdaErrors, base: f.Base) -> f.Faults:
    runs = max(s.min_invocations, s.max_errors + 1, 1)
    found = [f.Fault(f"make {s.function_name} fail {s.max_errors + 1} time(s)",
                     partial(_function, s, s.max_errors + 1, runs),
                     names=(s.function_name, f"{s.max_errors + 1} error(s)"), on="aws")]
    if s.min_invocations:
        found.append(f.Fault(f"stop invoking {s.function_name}", partial(_function, s, 0, 0),
                             names=(s.function_name, "fewer than min_invocations"), on="aws"))
    return f.of(*found, healthy=partial(_function, s, 0, max(s.min_invocations, 1)))


LAMBDA_ERRORS = Kind("lambda_errors", "pipeline", lambda_errors, needs,
                     section="lambda_errors", spec=LambdaErrors, reads=frozenset({"aws"}),
                     faults=_faults)
