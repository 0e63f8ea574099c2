"""What this run verifies: the validated config, the migration files, the target to open."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checks import config as config_mod
from checks import indexes, ledger
from checks.config import Config
from checks.migrations import MigrationFile, discover
from checks.targets import TargetSpec, resolve

PLAN_KEY = pytest.StashKey["Plan"]()


@dataclass(frozen=True)
class Plan:
    """Everything decided before any SQL runs; invariant lists are its properties."""

    config: Config
    migrations: list[MigrationFile]
    spec: TargetSpec
    release: str | None
    reports_dir: Path
    started_at: datetime

    @property
    def ledger_records(self) -> list[ledger.Recorded]:
        return [ledger.Recorded(self.config.ledger, m) for m in self.migrations]

    @property
    def ledger_tables(self) -> list[ledger.NoUnknownVersions]:
        return [ledger.NoUnknownVersions(self.config.ledger, tuple(self.migrations))]

    @property
    def index_health(self) -> list[indexes.TableIndexes]:
        return [indexes.TableIndexes(t) for t in self.config.index_health_tables]

    def invariants(self, source: str) -> list:
        """The invariants named ``source``: a Plan property or a config section."""
        if hasattr(type(self), source):
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
        migrations = discover(cfg.migrations_dir)
    except config_mod.ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    return Plan(
        config=cfg,
        migrations=migrations,
        spec=spec,
        release=opt("release") or os.environ.get("VERIFY_RELEASE") or None,
        reports_dir=Path(opt("reports_dir") or root / "reports"),
        started_at=datetime.now(UTC),
    )
