"""Command-line options of the suite (see docs: the public interface)."""

from __future__ import annotations

import pytest

from plugin import guard


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("verify", "post-deploy verification")
    group.addoption("--dsn", dest="dsn", metavar="URL", action="append",
                    help="verify a live PostgreSQL (libpq URL or key=value; env VERIFY_DSN); "
                         "repeat for several targets")
    group.addoption("--via-lambda", dest="via_lambda", metavar="FUNCTION", action="append",
                    help="verify through the db-query proxy Lambda (env VERIFY_LAMBDA)")
    group.addoption("--env", dest="env_name", metavar="NAME", action="append",
                    help="a named environment from the config file; repeat for several")
    group.addoption("--read-only", dest="read_only", action="store_true",
                    help="no write probes; probe checks are skipped with the reason")
    group.addoption("--aws", dest="aws", action="store_true", default=None,
                    help="also run the AWS checks (ECS service, CloudWatch Logs heartbeat)")
    group.addoption("--config", dest="verify_config", metavar="PATH",
                    help="the invariants file (default verify/invariants.toml)")
    group.addoption("--migrations-dir", dest="migrations_dir", metavar="DIR",
                    help="the migrations the ledger, replay and drift checks read")
    group.addoption("--reports-dir", dest="reports_dir", metavar="DIR",
                    help="where reports go (default reports/)")
    group.addoption("--release", dest="release", metavar="TEXT",
                    help="the release being verified (env VERIFY_RELEASE)")
    group.addoption("--upload", dest="upload", metavar="S3URL",
                    help="upload the reports to s3://bucket/prefix/<run>/ and print a link")
    group.addoption("--upload-expiry", dest="upload_expiry", metavar="DURATION", default="7d",
                    help="how long the presigned link works (default 7d, the maximum)")
    group.addoption("--attach", dest="attach", metavar="TICKET", action="append",
                    help="put the reports on a ticket: github:owner/repo#123 (GITHUB_TOKEN) or "
                         "jira:KEY-123 (JIRA_BASE_URL, JIRA_TOKEN, JIRA_USER)")
    group.addoption("--pushgateway", dest="pushgateway", metavar="URL",
                    help="also push the run's metrics to this Prometheus Pushgateway")
    group.addoption("--release-manifest", dest="release_manifest", metavar="FILE",
                    help="what the release deployed (JSON or TOML): each entry is a check")
    group.addoption("--settle", dest="settle", metavar="DURATION",
                    help="retry the checks of converging state (rollouts, heartbeats) with "
                         "backoff until they pass or this long has passed, e.g. 10m")
    group.addoption("--deep", dest="deep", action="store_true",
                    help="read every row: no proof, earlier count or watermark spares a scan "
                         "(the nightly job; also every [settings] deep_every)")
    group.addoption("--self-test", dest="self_test", action="store_true",
                    help="prove that every selected invariant can fail: each check against "
                         "the faults it exists to catch, on the suite's own copies of the "
                         "expected database (and a local AWS stand-in); no target is "
                         "touched (--env NAME: that environment's version of the entries)")
    group.addoption("--pg-bin", dest="pg_bin", metavar="DIR",
                    help="PostgreSQL bin directory for the throwaway servers (default: embedded)")
    guard.at_registration(parser, pluginmanager)
