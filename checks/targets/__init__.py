"""Choosing and opening the target: --dsn, --via-lambda, --env, or the embedded default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from checks.config import Config, ConfigError
from checks.migrations import MigrationFile
from checks.targets.base import Target
from checks.targets.postgres import display_name

if TYPE_CHECKING:  # checks.scratch imports this package
    from checks.scratch import Scratch

READ_ONLY_REASON = "write probes are off (--read-only)"


@dataclass(frozen=True)
class TargetSpec:
    """Which target to open; built from options and environment before anything connects."""

    kind: str  # "dsn" | "lambda" | "ephemeral"
    dsn: str | None = None
    function: str | None = None
    env_name: str | None = None
    read_only: bool = False
    pg_bin: Path | None = None
    aws: bool = False
    aws_region: str | None = None
    aws_profile: str | None = None

    @property
    def name(self) -> str:
        """Display name, without secrets."""
        if self.kind == "dsn":
            return display_name(self.dsn or "")
        if self.kind == "lambda":
            return str(self.function)
        return "throwaway PostgreSQL (embedded default)"


def resolve(config: Config, environ: Mapping[str, str], *, dsn: str | None = None,
            via_lambda: str | None = None, env_name: str | None = None,
            read_only: bool = False, aws: bool | None = None,
            pg_bin: Path | None = None) -> TargetSpec:
    """The first target that applies: DSN, Lambda, named environment, embedded default."""
    if pg_bin is not None and not (pg_bin / "pg_ctl").is_file():
        raise ConfigError(f"--pg-bin {pg_bin}: no pg_ctl there")
    dsn = dsn or environ.get("VERIFY_DSN") or None
    via_lambda = via_lambda or environ.get("VERIFY_LAMBDA") or None
    env_aws, region, profile = False, None, None
    if not dsn and not via_lambda and env_name:
        env = config.environments.get(env_name)
        if env is None:
            known = ", ".join(sorted(config.environments)) or "none configured"
            raise ConfigError(f"--env {env_name}: no such environment in {config.path.name} "
                              f"(known: {known})")
        if not env.dsn and not env.lambda_function:
            raise ConfigError(f"environment {env_name!r} has neither dsn nor lambda_function")
        dsn, via_lambda, env_aws = env.dsn, env.lambda_function, env.has_aws
        region, profile = env.aws_region, env.aws_profile
    if dsn:
        display_name(dsn)  # a malformed DSN is a config error before anything connects
        return TargetSpec("dsn", dsn=dsn, env_name=env_name, read_only=read_only,
                          aws=bool(aws or env_aws), aws_region=region, aws_profile=profile)
    if via_lambda:
        return TargetSpec("lambda", function=via_lambda, env_name=env_name, read_only=True,
                          aws=aws is not False, aws_region=region, aws_profile=profile)
    return TargetSpec("ephemeral", read_only=read_only, pg_bin=pg_bin, aws=bool(aws))


def open_target(spec: TargetSpec, config: Config, migrations: list[MigrationFile],
                scratch: Scratch) -> Target:
    """Connect to (or build, on the run's scratch server) the target; raises CouldNotCheck
    when that is impossible."""
    probe_block = READ_ONLY_REASON if spec.read_only else None
    if spec.kind == "dsn":
        from checks.targets.postgres import PostgresTarget

        return PostgresTarget(spec.dsn or "", config.settings, probe_block=probe_block)
    if spec.kind == "lambda":
        from checks.targets.lambda_proxy import LambdaTarget

        return LambdaTarget(spec.function or "", config.settings,
                            region=spec.aws_region, profile=spec.aws_profile)
    from checks.targets import ephemeral

    fixtures = sorted(config.fixtures_dir.glob("*.sql")) if config.fixtures_dir.is_dir() else []
    return ephemeral.start(migrations, fixtures, config.settings, scratch,
                           probe_block=probe_block)
