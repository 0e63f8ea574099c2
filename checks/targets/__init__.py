"""Choosing the targets: explicit, never guessed.

Command-line options first (``--dsn``, ``--via-lambda``, ``--env``; each may be repeated
for several targets of that kind, two kinds at once is a usage error); else the
variables ``VERIFY_DSN`` or ``VERIFY_LAMBDA`` (both set is a usage error); else the
embedded default. An option or variable given empty is a usage error, never the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from checks.config import Config, ConfigError
from checks.targets.postgres import display_name, with_environment

READ_ONLY_REASON = "write probes are off (--read-only)"
LAMBDA_REASON = "the db-query Lambda is read-only: write probes cannot run through it"
_VARIABLES = ("VERIFY_DSN", "VERIFY_LAMBDA")


@dataclass(frozen=True)
class TargetSpec:
    """One target to verify; built from options, environment and config before anything
    connects."""

    kind: str  # "dsn" | "lambda" | "ephemeral"
    chosen_by: str
    """How it was chosen, for the console's first lines: ``--dsn``, ``VERIFY_DSN``, ...,
    or ``default`` (no target given)."""
    conninfo: str | None = None
    """The DSN with what libpq takes from ``PG*`` variables written in (never shown)."""
    ssm_prefix: str | None = None
    secret: str | None = None
    """Where the DSN is kept when it is read at run time (SSM, Secrets Manager)."""
    function: str | None = None
    env_name: str | None = None
    database: str | None = None
    """The database the target must answer for, when the config says."""
    read_only: bool = False
    aws: bool = False
    aws_region: str | None = None
    aws_profile: str | None = None
    label: str = ""
    """Prefix of its check ids when a run has several targets, else empty."""
    ignored: tuple[str, ...] = field(default=())
    """Target settings that were present but lost to a stronger one (said in the console)."""
    self_test: bool = False
    """``--self-test``: the suite's own copies of the expected database (and a local AWS),
    never a target; ``env_name`` then names whose version of the entries is proven."""

    @property
    def name(self) -> str:
        """Display name, without secrets."""
        if self.kind == "dsn" and self.conninfo is None:
            return f"{self.ssm_prefix or ''}{' + ' if self.ssm_prefix else ''}secret {self.secret}"
        if self.kind == "dsn":
            return display_name(self.conninfo)
        if self.kind == "lambda":
            return str(self.function)
        if self.self_test:
            return "copies of the expected database (self-test: no target is touched)"
        return "throwaway PostgreSQL (embedded default)"

    @property
    def key(self) -> str:
        """The target as its files in the reports folder are kept: kind, environment, name."""
        return " ".join(filter(None, (self.kind, self.env_name and f"env:{self.env_name}",
                                      self.name)))

    @property
    def probe_block(self) -> str | None:
        if self.kind == "lambda":
            return LAMBDA_REASON
        return READ_ONLY_REASON if self.read_only else None


def resolve(config: Config, environ: Mapping[str, str], *, dsn: Sequence[str] = (),
            via_lambda: Sequence[str] = (), env_name: Sequence[str] = (),
            read_only: bool = False, aws: bool | None = None) -> list[TargetSpec]:
    """The run's targets, by the rules of this module's docstring."""
    given = {"--dsn": list(dsn or ()), "--via-lambda": list(via_lambda or ()),
             "--env": list(env_name or ())}
    for option, values in given.items():
        for value in values:
            if not value.strip():
                raise ConfigError(f"{option} was given an empty value")
    options = [o for o, values in given.items() if values]
    if len(options) > 1:
        raise ConfigError(f"{' and '.join(options)} given together: choose one kind of target")
    variables = {v: environ[v] for v in _VARIABLES if v in environ}
    for variable, value in variables.items():
        if not value.strip():
            raise ConfigError(f"{variable} is set but empty (unset it, or give it a value)")
    region = config.aws.region
    if options:
        ignored = tuple(f"{v} is set and ignored ({options[0]} given)" for v in variables)
        specs = [_from_option(options[0], value, config, environ, read_only, aws, region, ignored)
                 for value in given[options[0]]]
    elif len(variables) > 1:
        raise ConfigError("VERIFY_DSN and VERIFY_LAMBDA are both set: choose one")
    elif "VERIFY_DSN" in variables:
        specs = [_dsn(variables["VERIFY_DSN"], "VERIFY_DSN", environ, read_only, aws, region)]
    elif "VERIFY_LAMBDA" in variables:
        specs = [_lambda(variables["VERIFY_LAMBDA"], "VERIFY_LAMBDA", aws, region)]
    else:
        specs = [TargetSpec("ephemeral", "default",
                            read_only=read_only, aws=bool(aws), aws_region=region)]
    return _labelled(specs)


def self_test_targets(config: Config, environ: Mapping[str, str], *, dsn: Sequence[str] = (),
                      via_lambda: Sequence[str] = (), env_name: Sequence[str] = (),
                      read_only: bool = False) -> list[TargetSpec]:
    """``--self-test``: the suite's own copies, never a target. ``--dsn`` and
    ``--via-lambda`` with it are usage errors; ``--env NAME`` proves that environment's
    version of the entries (its overrides and skips), and reaches nothing of it; a
    ``VERIFY_DSN`` or ``VERIFY_LAMBDA`` is ignored, and the console says so."""
    for option, values in (("--dsn", dsn), ("--via-lambda", via_lambda)):
        if values:
            raise ConfigError(f"--self-test touches no target, so {option} cannot go with it "
                              "(--env NAME proves that environment's version of the entries)")
    ignored = tuple(f"{v} is set and ignored (--self-test touches no target)"
                    for v in _VARIABLES if v in environ)
    specs = []
    for name in env_name or ():
        if not name.strip():
            raise ConfigError("--env was given an empty value")
        env = config.environments.get(name)
        if env is None:
            known = ", ".join(sorted(config.environments)) or "none configured"
            raise ConfigError(f"--env {name}: no such environment in {config.path.name} "
                              f"(known: {known})")
        specs.append(TargetSpec("ephemeral", f"--self-test --env {name}", env_name=name,
                                read_only=read_only, aws=True,
                                aws_region=env.aws_region or config.aws.region,
                                ignored=ignored, self_test=True))
    return _labelled(specs or [TargetSpec("ephemeral", "--self-test", read_only=read_only,
                                          aws=True, aws_region=config.aws.region,
                                          ignored=ignored, self_test=True)])


def _from_option(option: str, value: str, config: Config, environ: Mapping[str, str],
                 read_only: bool, aws: bool | None, region: str | None,
                 ignored: tuple[str, ...]) -> TargetSpec:
    if option == "--dsn":
        spec = _dsn(value, "--dsn", environ, read_only, aws, region)
    elif option == "--via-lambda":
        spec = _lambda(value, "--via-lambda", aws, region)
    else:
        spec = _environment(value, config, environ, read_only, aws)
    return _replace(spec, ignored=ignored)


def _dsn(dsn: str, chosen_by: str, environ: Mapping[str, str], read_only: bool,
         aws: bool | None, region: str | None, **extra: object) -> TargetSpec:
    display_name(dsn)  # a malformed DSN is a config error before anything connects
    return TargetSpec("dsn", chosen_by, conninfo=with_environment(dsn, dict(environ)),
                      read_only=read_only, aws=bool(aws), aws_region=region, **extra)  # type: ignore[arg-type]


def _lambda(function: str, chosen_by: str, aws: bool | None, region: str | None,
            **extra: object) -> TargetSpec:
    return TargetSpec("lambda", chosen_by, function=function, read_only=True,
                      aws=aws is not False, aws_region=region, **extra)  # type: ignore[arg-type]


def _environment(name: str, config: Config, environ: Mapping[str, str], read_only: bool,
                 aws: bool | None) -> TargetSpec:
    env = config.environments.get(name)
    if env is None:
        known = ", ".join(sorted(config.environments)) or "none configured"
        raise ConfigError(f"--env {name}: no such environment in {config.path.name} "
                          f"(known: {known})")
    region = env.aws_region or config.aws.region
    extra = {"env_name": name, "database": env.database, "aws_profile": env.aws_profile}
    chosen_by = f"--env {name}"
    if env.dsn_env:
        dsn = environ.get(env.dsn_env)
        if not dsn or not dsn.strip():
            raise ConfigError(f"environment {name!r} takes its DSN from {env.dsn_env}, which "
                              "is not set or empty")
        return _dsn(dsn, chosen_by, environ, read_only, aws or env.has_aws, region, **extra)
    if env.dsn:
        return _dsn(env.dsn, chosen_by, environ, read_only, aws or env.has_aws, region, **extra)
    if env.secret:
        return TargetSpec("dsn", chosen_by, ssm_prefix=env.ssm_prefix, secret=env.secret,
                          read_only=read_only, aws=aws is not False, aws_region=region,
                          **extra)  # type: ignore[arg-type]
    if env.lambda_function:
        return _lambda(env.lambda_function, chosen_by, aws, region, **extra)
    raise ConfigError(f"environment {name!r} has neither dsn, dsn_env nor lambda_function")


def _labelled(specs: list[TargetSpec]) -> list[TargetSpec]:
    if len(specs) < 2:
        return specs
    labels = [s.env_name or s.name for s in specs]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"the same target is given twice: {labels}")
    return [_replace(s, label=label) for s, label in zip(specs, labels, strict=True)]


def _replace(spec: TargetSpec, **changes: object) -> TargetSpec:
    from dataclasses import replace

    return replace(spec, **changes)  # type: ignore[arg-type]


def pg_bin(value: str | None) -> Path | None:
    """``--pg-bin``: a bin dir with pg_ctl, or a usage error."""
    if value is None:
        return None
    if not value.strip() or not (Path(value) / "pg_ctl").is_file():
        raise ConfigError(f"--pg-bin {value!r}: no pg_ctl there")
    return Path(value)
