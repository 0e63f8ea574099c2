"""Building blocks of an AWS world in moto's server: log lines, Lambda functions and their
metrics, as the real services write them."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import UTC, datetime, timedelta

from tests.conftest import MotoServer


def put_log_lines(aws: MotoServer, group: str, messages: list[str]) -> None:
    logs = aws.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="task-1")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="task-1", logEvents=[
        {"timestamp": now - 60_000 + i, "message": m} for i, m in enumerate(messages)])


def create_function(aws: MotoServer, name: str) -> None:
    role = aws.client("iam").create_role(RoleName=f"{name}-role",
                                         AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("lambda_function.py", "def lambda_handler(event, context):\n    pass\n")
    aws.client("lambda").create_function(FunctionName=name, Runtime="python3.11", Role=role,
                                         Handler="lambda_function.lambda_handler",
                                         Code={"ZipFile": code.getvalue()})


def put_lambda_metric(aws: MotoServer, function: str, metric: str, values: list[float]) -> None:
    """One datapoint a minute, ending two minutes ago, as Lambda publishes them."""
    now = datetime.now(UTC)
    aws.client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": metric, "Dimensions": [{"Name": "FunctionName", "Value": function}],
         "Timestamp": now - timedelta(minutes=2 + i), "Value": v, "Unit": "Count"}
        for i, v in enumerate(values)])
