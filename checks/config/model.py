"""The invariants file's settings, as frozen dataclasses (the checks' own specs live with
their kinds, in ``checks/kinds/``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from checks.config.fields import ConfigError, Duration, Identifier, Range, function_signature

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Severity = Literal["fail", "warn", "info"]
_HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")


@dataclass(frozen=True)
class Settings:
    """Session safety settings applied to every connection, and report settings."""

    statement_timeout: Duration = "5s"
    lock_timeout: Duration = "1s"
    connect_timeout: Duration = "5s"
    application_name: str = "ops-verify"
    sample_rows: Annotated[int, Range(1, 10_000)] = 20
    """Rows of evidence shown per check; caps the evidence only, never the verdict."""
    sensitive_columns: list[Identifier] = field(default_factory=list)
    """Columns whose values are masked (***) in every report."""
    report_history: Annotated[int, Range(0, 10_000)] = 30
    """How many earlier runs' reports to keep (timestamped) in reports/history/."""
    search_path: list[Identifier] = field(default_factory=lambda: ["public"])
    """Schemas that unqualified names in the config's SQL resolve to (after pg_catalog)."""
    timezone: str = "UTC"
    """The session TimeZone: how ``timestamp without time zone`` values are read."""
    concurrency: Annotated[int, Range(1, 32)] = 4
    """How many queries (or Lambda invocations) run at once against one target (a direct
    target has one session more: the lock watcher's)."""
    parallel_workers: Annotated[int, Range(0, 32)] = 0
    """Parallel workers a statement may take (``max_parallel_workers_per_gather``). None by
    default: they come out of production's own pool and cores, and a statement that yields
    to a migration releases its locks only once its workers are gone (twice the wait on 2
    cores, bench/lock_queue.py)."""
    proxy_timeout: Duration | None = None
    """How long to wait for one db-query Lambda invocation (default: statement_timeout + 10s)."""
    proxy_clock_skew: Duration = "10m"
    """An answer through the proxy whose ``now()`` is further than this from this machine's
    clock is not taken as current (a cached or replayed answer, or a clock that is off)."""
    max_replica_lag: Duration = "30s"
    """How far behind its primary a standby target may be; beyond it, with replay paused,
    or when its lag cannot be known, every database check of that target is an error."""
    deep_every: Duration = "24h"
    """How long what an earlier run proved (a NOT VALID CHECK's count of 0, a duplicates
    watermark) may spare reading the rows: past it, the next run reads them all again (as
    ``--deep`` does), and that full read is the one that sees keys changed by UPDATE."""
    trusted_functions: list[str] = field(default_factory=list)
    """Functions not built in (``"public.valid_quantity(numeric)"``) that the suite may
    evaluate on the target: in the rows of a CHECK it counts, in probes and their searches.
    A volatility label is its author's claim; list a function once its body (and what it
    calls) is known to write nothing elsewhere."""

    def __post_init__(self) -> None:
        _zone(self.timezone)
        object.__setattr__(self, "trusted_functions", [
            function_signature(f, f"trusted_functions[{i}]")
            for i, f in enumerate(self.trusted_functions)])


@dataclass(frozen=True)
class Ledger:
    """Where the migration ledger lives, and the known history the operators accept."""

    table: Identifier = "schema_migrations"
    version_column: Identifier = "version"
    applied_at_column: Identifier | None = "applied_at"
    schema: Identifier = "public"
    order: Literal["numeric", "text", "applied"] = "numeric"
    """How versions are ordered: by numeric segments, as text, or as applied (``applied_at``)."""
    baseline: str | None = None
    """Nothing before this version is required to be recorded (like Flyway's baseline)."""
    accept_unknown: list[str] = field(default_factory=list)
    """Recorded versions without a file that are known and accepted (shell patterns)."""
    accept_out_of_order: list[str] = field(default_factory=list)
    """Versions known to have been applied out of order (shell patterns)."""
    accept_shared_prefixes: list[str] = field(default_factory=list)
    """Version prefixes known to be shared by several files (e.g. ``"1002"``)."""


@dataclass(frozen=True)
class Drift:
    """How the live schema is compared with the expected one."""

    snapshot: str | None = None
    """A snapshot file (relative to the config) to use instead of replaying the migrations."""
    allow: list[str] = field(default_factory=list)
    """Object ids (``kind:schema.name``, shell patterns) whose differences are intended."""
    match_target_version: bool = True
    """Replay on the target's major version when its binaries are here (--pg-bin or a
    usual install location); otherwise compare across versions."""


@dataclass(frozen=True)
class Aws:
    """AWS settings for the AWS checks (an environment may override them)."""

    region: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class Environment:
    """A named target from the config (``--env NAME``): how to reach its database, its AWS
    account, and how its checks differ from the defaults."""

    name: str
    dsn: str | None = None
    dsn_env: str | None = None
    """The name of an environment variable that holds the DSN (the DSN stays out of files)."""
    ssm_prefix: str | None = None
    """SSM parameters ``<prefix>/db_host``, ``db_port``, ``db_name`` (read at run time)."""
    secret: str | None = None
    """A Secrets Manager secret (JSON: ``username``, ``password``; also ``host``, ``port``,
    ``dbname`` when there is no ``ssm_prefix``), read at run time, never written."""
    lambda_function: str | None = None
    database: str | None = None
    """The database the target must answer for (``current_database()``); else an error."""
    aws_region: str | None = None
    aws_profile: str | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``"<section>.<entry id>" = { key = value }``: this environment's values of a check
    (another cluster, log group, heartbeat age...)."""
    skip: list[str] = field(default_factory=list)
    """``"<section>.<entry id>"`` patterns not checked in this environment (skipped, with
    that reason)."""

    def __post_init__(self) -> None:
        ways = [w for w, given in (("dsn", self.dsn), ("dsn_env", self.dsn_env),
                                   ("ssm_prefix/secret", self.ssm_prefix or self.secret),
                                   ("lambda_function", self.lambda_function)) if given]
        if len(ways) != 1:
            raise ConfigError("give exactly one way to reach the database (dsn, dsn_env, "
                              f"ssm_prefix with secret, or lambda_function); got "
                              f"{', '.join(ways) or 'none'}")
        if self.ssm_prefix and not self.secret:
            raise ConfigError("ssm_prefix needs a secret for the user and password")

    @property
    def has_aws(self) -> bool:
        return bool(self.lambda_function or self.aws_region or self.aws_profile
                    or self.ssm_prefix or self.secret)


@dataclass(frozen=True)
class Schedule:
    """When a check applies, e.g. US market hours; outside it the check is skipped."""

    timezone: str = "UTC"
    days: list[Weekday] = field(default_factory=lambda: list(WEEKDAYS))
    hours: str = "00:00-24:00"

    def __post_init__(self) -> None:
        _zone(self.timezone)
        match = _HOURS.fullmatch(self.hours)
        if not match:
            raise ConfigError(f"hours {self.hours!r}: use HH:MM-HH:MM, e.g. 09:30-16:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if m1 > 59 or m2 > 59 or h1 > 24 or h2 > 24:
            raise ConfigError(f"hours {self.hours!r}: not a time of day")
        start, end = self._minutes()
        if not (0 <= start < end <= 24 * 60):
            raise ConfigError(f"hours {self.hours!r}: the start must come before the end")
        if not self.days:
            raise ConfigError("days: name at least one day (an empty list would turn the "
                              "check off for good)")

    def _minutes(self) -> tuple[int, int]:
        h1, m1, h2, m2 = (int(g) for g in _HOURS.fullmatch(self.hours).groups())  # type: ignore[union-attr]
        return h1 * 60 + m1, h2 * 60 + m2

    def active_at(self, when: datetime) -> bool:
        local = when.astimezone(_zone(self.timezone))
        start, end = self._minutes()
        minute = local.hour * 60 + local.minute
        return WEEKDAYS[local.weekday()] in self.days and start <= minute < end

    def describe(self) -> str:
        days = ",".join(self.days) if len(self.days) < 7 else "every day"
        return f"{days} {self.hours} {self.timezone}"


@dataclass(frozen=True, kw_only=True)
class Common:
    """Keys every invariant entry accepts."""

    severity: Severity = "fail"
    """``warn``: a violation is reported but does not fail the run; ``info``: figures only."""
    active: Schedule | None = None
    """Outside this window the check is skipped with that reason."""
    description: str = ""


@dataclass(frozen=True)
class Config:
    """The whole invariants file."""

    path: Path
    migrations_dir: Path
    fixtures_dir: Path
    settings: Settings = field(default_factory=Settings)
    ledger: Ledger = field(default_factory=Ledger)
    drift: Drift = field(default_factory=Drift)
    aws: Aws = field(default_factory=Aws)
    environments: dict[str, Environment] = field(default_factory=dict)
    sections: dict[str, list[Any]] = field(default_factory=dict)
    """Each invariant section's entries, validated into their kind's spec."""
    overridden: dict[str, dict[tuple[str, str], Any]] = field(default_factory=dict)
    """Per environment, its own version of the entries it overrides."""

    def section(self, name: str) -> list[Any]:
        return self.sections.get(name, [])

    def for_environment(self, name: str | None, section: str, entries: list[Any]) -> list[Any]:
        """``entries`` of ``section`` as environment ``name`` sees them: its overrides in
        place, and the entries it skips as :class:`Off`."""
        env = self.environments.get(name or "")
        if env is None:
            return entries
        own = self.overridden.get(env.name, {})
        found = []
        for entry in entries:
            entry = own.get((section, entry.id), entry)
            pattern = next((p for p in env.skip if fnmatchcase(f"{section}.{entry.id}", p)),
                           None)
            found.append(Off(entry.id, f"{OFF_IN_ENVIRONMENT} {env.name} (skip "
                                       f"{pattern!r})") if pattern else entry)
        return found


OFF_IN_ENVIRONMENT = "not checked in environment"
"""How the reason of a check an environment's ``skip`` turns off begins."""


@dataclass(frozen=True)
class Off:
    """A check an environment does not run; its item is skipped with the reason."""

    id: str
    reason: str


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r} (use an IANA name such as "
                          "America/New_York)") from None
