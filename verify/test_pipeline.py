"""The whole pipeline seen from AWS: schedules fire, alarms are quiet, logs and Lambda
functions show no more errors than allowed (AWS checks)."""

from plugin import check


@check("schedule_enabled")
def test_schedule_enabled() -> None:
    """Every EventBridge schedule or rule the entry names exists, is enabled and fires."""


@check("alarm_not_firing")
def test_alarm_not_firing() -> None:
    """Every CloudWatch alarm the entry names exists and is OK."""


@check("log_errors")
def test_log_errors() -> None:
    """The log group holds at most max_count error lines within the window."""


@check("lambda_errors")
def test_lambda_errors() -> None:
    """The Lambda function exists, had at most max_errors errors and ran as often as needed."""
