"""What this run verifies: the validated config, the migration files, the target to open."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checks import config as config_mod
from checks import drift, indexes, ledger, schema
from checks.config import Config
from checks.migration_files import MigrationsDir
from checks.migrations import MigrationFile, discover
from checks.outcome import CouldNotCheck
from checks.reference import Reference
from checks.scratch import Scratch
from checks.targets import TargetSpec, resolve
from checks.upload import Destination, parse_destination

PLAN_KEY = pytest.StashKey["Plan"]()


@dataclass(frozen=True)
class Unavailable:
    """Stands in for invariants that could not even be listed; its item is an error."""

    id: str
    error: str


@dataclass(frozen=True)
class Plan:
    """Everything decided before any SQL runs; invariant lists are its properties."""

    config: Config
    migrations: list[MigrationFile]
    spec: TargetSpec
    release: str | None
    reports_dir: Path
    started_at: datetime
    scratch: Scratch
    reference: Reference
    upload: Destination | None = None

    @property
    def run_id(self) -> str:
        """``20261125T141122Z`` plus the release, for file names and S3 prefixes."""
        stamp = self.started_at.strftime("%Y%m%dT%H%M%SZ")
        release = re.sub(r"[^A-Za-z0-9._-]+", "-", self.release or "").strip("-")
        return f"{stamp}-{release}" if release else stamp

    @property
    def ledger_records(self) -> list[ledger.Recorded]:
        return [ledger.Recorded(self.config.ledger, m) for m in self.migrations]

    @property
    def ledger_tables(self) -> list[ledger.NoUnknownVersions]:
        return [ledger.NoUnknownVersions(self.config.ledger, tuple(self.migrations))]

    @property
    def migration_dirs(self) -> list[MigrationsDir]:
        return [MigrationsDir(self.config.migrations_dir, tuple(self.migrations))]

    @property
    def schema_objects(self) -> list[drift.ExpectedObject | Unavailable]:
        try:
            expected = self.reference.schema()
        except CouldNotCheck as exc:
            return [Unavailable("expected-schema", str(exc))]
        allow = self.config.drift.allow
        return [drift.ExpectedObject(i, attrs, drift.allowed(i, allow))
                for i, attrs in sorted(expected.items())]

    @property
    def extra_object_kinds(self) -> list[drift.NoExtraObjects | Unavailable]:
        try:
            expected = frozenset(self.reference.schema())
        except CouldNotCheck as exc:
            return [Unavailable("expected-schema", str(exc))]
        return [drift.NoExtraObjects(k, expected, tuple(self.config.drift.allow))
                for k in schema.KINDS]

    @property
    def index_health(self) -> list[indexes.TableIndexes]:
        return [indexes.TableIndexes(t) for t in self.config.index_health_tables]

    def invariants(self, source: str) -> list:
        """The invariants named ``source``: a Plan property or a config section."""
        if hasattr(self, source):
            return list(getattr(self, source))
        if hasattr(self.config, source):
            return list(getattr(self.config, source))
        raise pytest.UsageError(f"unknown invariant source {source!r}")


def build(pytest_config: pytest.Config) -> Plan:
    """Read options, environment and config file; any problem is a one-line UsageError."""
    opt = pytest_config.getoption
    root = pytest_config.rootpath
    config_path = Path(opt("verify_config") or root / "verify" / "invariants.toml")
    migrations_dir = opt("migrations_dir")
    try:
        cfg = config_mod.load(config_path, Path(migrations_dir) if migrations_dir else None)
        spec = resolve(
            cfg, os.environ,
            dsn=opt("dsn"), via_lambda=opt("via_lambda"), env_name=opt("env_name"),
            read_only=opt("read_only"), aws=opt("aws"),
            pg_bin=Path(opt("pg_bin")) if opt("pg_bin") else None,
        )
        if cfg.drift.snapshot and not (cfg.path.parent / cfg.drift.snapshot).is_file():
            raise config_mod.ConfigError(f"drift.snapshot: no such file: {cfg.drift.snapshot}")
        migrations = discover(cfg.migrations_dir)
        upload = parse_destination(opt("upload"), opt("upload_expiry")) if opt("upload") else None
    except config_mod.ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    pg_bin = Path(opt("pg_bin")) if opt("pg_bin") else None
    scratch = Scratch(pg_bin)
    snapshot = cfg.path.parent / cfg.drift.snapshot if cfg.drift.snapshot else None
    return Plan(
        scratch=scratch,
        upload=upload,
        reference=Reference(scratch, migrations, cfg.settings, snapshot),
        config=cfg,
        migrations=migrations,
        spec=spec,
        release=opt("release") or os.environ.get("VERIFY_RELEASE") or None,
        reports_dir=Path(opt("reports_dir") or root / "reports"),
        started_at=datetime.now(UTC),
    )
