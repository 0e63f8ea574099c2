"""Load and validate the invariants file (TOML) into typed, frozen dataclasses.

Every problem is a :class:`ConfigError` with a one-line message naming the key, raised
before any SQL runs: unknown keys, wrong types, hostile identifiers, bad durations.
"""

from __future__ import annotations

import re
import tomllib
import types
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints


class ConfigError(ValueError):
    """The configuration (file, options or environment) is not usable."""


_SELECT = re.compile(r"\s*(select|with)\b", re.IGNORECASE)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")
_DURATION = re.compile(r"(\d+)\s*(ms|s|m|h|d)")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

Identifier = Annotated[str, "identifier"]
"""A SQL identifier from the config: validated here, quoted by psycopg.sql at use."""

Duration = Annotated[str, "duration"]
"""A duration such as ``500ms``, ``5s``, ``5m``, ``2h``."""


def duration_ms(text: str) -> int:
    """Milliseconds in a duration string (``5m`` -> 300000)."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 500ms, 5s, 5m, 2h)")
    return int(match.group(1)) * _DURATION_MS[match.group(2)]


def check_identifier(value: str, where: str) -> str:
    """Return ``value`` if it is a plain SQL identifier, else raise ConfigError naming ``where``."""
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ConfigError(f"{where}: {value!r} is not a valid SQL identifier")
    return value


@dataclass(frozen=True)
class Settings:
    """Session safety settings applied to every connection."""

    statement_timeout: Duration = "5s"
    lock_timeout: Duration = "1s"
    connect_timeout: Duration = "5s"
    application_name: str = "ops-verify"
    sample_rows: int = 20
    sensitive_columns: list[Identifier] = field(default_factory=list)
    """Columns whose values are masked (***) in every report."""
    report_history: int = 30
    """How many earlier runs' reports to keep (timestamped) in reports/history/."""


@dataclass(frozen=True)
class Ledger:
    """Where the migration ledger lives."""

    table: Identifier = "schema_migrations"
    version_column: Identifier = "version"
    applied_at_column: Identifier | None = "applied_at"
    schema: Identifier = "public"


@dataclass(frozen=True)
class Drift:
    """How the live schema is compared with the expected one."""

    snapshot: str | None = None
    """A snapshot file (relative to the config) to use instead of replaying the migrations."""
    allow: list[str] = field(default_factory=list)
    """Object ids (``kind:schema.name``, shell patterns) whose differences are intended."""


@dataclass(frozen=True)
class Environment:
    """A named target from the config (``--env NAME``)."""

    name: str
    dsn: str | None = None
    lambda_function: str | None = None
    aws_region: str | None = None
    aws_profile: str | None = None

    @property
    def has_aws(self) -> bool:
        return bool(self.lambda_function or self.aws_region or self.aws_profile)


@dataclass(frozen=True)
class CheckConstraint:
    """A CHECK constraint that must exist with this definition and be enforced."""

    table: Identifier
    name: Identifier
    expression: str
    schema: Identifier = "public"
    probe_values: dict[str, Any] = field(default_factory=dict)
    violation: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True)
class Unique:
    """Columns whose values must not repeat (in the rows matching ``where``)."""

    table: Identifier
    columns: list[Identifier]
    where: str | None = None
    schema: Identifier = "public"
    name: str | None = None
    allow_empty: bool = False
    """Whether no row in scope is a pass (by default it is a failure: nothing was checked)."""

    @property
    def id(self) -> str:
        return self.name or f"{self.table}.{'+'.join(self.columns)}"


@dataclass(frozen=True)
class Index:
    """An index that must exist on a table, optionally unique, primary or with a definition."""

    table: Identifier
    name: Identifier | None = None
    columns: list[Identifier] = field(default_factory=list)
    unique: bool | None = None
    primary_key: bool = False
    schema: Identifier = "public"

    @property
    def id(self) -> str:
        if self.name:
            return self.name
        kind = "primary_key" if self.primary_key else "index"
        return f"{self.table}.{kind}({'+'.join(self.columns)})"


@dataclass(frozen=True)
class Freshness:
    """The newest value of a timestamp column must be younger than ``max_age``."""

    name: Identifier
    table: Identifier
    column: Identifier
    max_age: Duration = "5m"
    where: str | None = None
    schema: Identifier = "public"

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True)
class EcsService:
    """An ECS service that must be stable: active, one deployment, running = desired > 0."""

    name: str
    cluster: str
    service: str

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True)
class LogHeartbeat:
    """A CloudWatch Logs group must hold an event matching ``pattern`` within ``max_age``."""

    name: Identifier
    log_group: str
    pattern: str = ""
    max_age: Duration = "5m"

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True)
class CustomSql:
    """A SELECT that must return no rows; the rows it returns are the evidence."""

    name: Identifier
    sql: str
    description: str = ""

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True)
class Config:
    """The whole invariants file."""

    path: Path
    migrations_dir: Path
    fixtures_dir: Path
    settings: Settings = field(default_factory=Settings)
    ledger: Ledger = field(default_factory=Ledger)
    drift: Drift = field(default_factory=Drift)
    environments: dict[str, Environment] = field(default_factory=dict)
    check_constraints: list[CheckConstraint] = field(default_factory=list)
    unique: list[Unique] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    index_health_tables: list[Identifier] = field(default_factory=list)
    freshness: list[Freshness] = field(default_factory=list)
    custom_sql: list[CustomSql] = field(default_factory=list)
    ecs_services: list[EcsService] = field(default_factory=list)
    log_heartbeats: list[LogHeartbeat] = field(default_factory=list)


_SECTIONS: dict[str, type] = {
    "check_constraints": CheckConstraint,
    "unique": Unique,
    "indexes": Index,
    "freshness": Freshness,
    "custom_sql": CustomSql,
    "ecs_services": EcsService,
    "log_heartbeats": LogHeartbeat,
}


def load(path: Path, migrations_dir: Path | None = None) -> Config:
    """Read and validate the invariants file at ``path``.

    ``migrations_dir`` overrides the file's ``migrations_dir`` (relative to the file).
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None

    where = path.name
    known = {"migrations_dir", "fixtures_dir", "settings", "ledger", "drift", "environments",
             "index_health", *_SECTIONS}
    _reject_unknown(raw, known, where)

    if migrations_dir is None:
        migrations_dir = path.parent / _typed(raw.get("migrations_dir", "../db/migrations"), str,
                                              f"{where}: migrations_dir")
    index_health = raw.get("index_health", {})
    _reject_unknown(_typed(index_health, dict, f"{where}: index_health"), {"tables"},
                    f"{where}: index_health")

    environments = {
        name: _build(Environment, {**_typed(env, dict, f"{where}: environments.{name}"),
                                   "name": name}, f"{where}: environments.{name}")
        for name, env in _typed(raw.get("environments", {}), dict,
                                f"{where}: environments").items()
    }
    sections = {
        key: [
            _build(cls, entry, f"{where}: {key}[{i}]")
            for i, entry in enumerate(_typed(raw.get(key, []), list, f"{where}: {key}"))
        ]
        for key, cls in _SECTIONS.items()
    }
    config = Config(
        path=path,
        migrations_dir=Path(migrations_dir),
        fixtures_dir=path.parent / _typed(raw.get("fixtures_dir", "../db/fixtures"), str,
                                          f"{where}: fixtures_dir"),
        settings=_build(Settings, raw.get("settings", {}), f"{where}: settings"),
        ledger=_build(Ledger, raw.get("ledger", {}), f"{where}: ledger"),
        drift=_build(Drift, raw.get("drift", {}), f"{where}: drift"),
        environments=environments,
        index_health_tables=[
            check_identifier(t, f"{where}: index_health.tables")
            for t in _typed(index_health.get("tables", []), list, f"{where}: index_health.tables")
        ],
        **sections,
    )
    _reject_duplicate_ids(config, where)
    for i, custom in enumerate(config.custom_sql):
        if not _SELECT.match(custom.sql):
            raise ConfigError(f"{where}: custom_sql[{i}].sql: must be a SELECT (or WITH ... "
                              "SELECT) that returns the offending rows")
    return config


def _build(cls: type, raw: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a TOML table, validating keys and value types."""
    raw = _typed(raw, dict, where)
    hints = get_type_hints(cls, include_extras=True)
    names = {f.name for f in fields(cls)}
    _reject_unknown(raw, names, where)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in raw:
            values[f.name] = _value(raw[f.name], hints[f.name], f"{where}.{f.name}")
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(f"{where}: missing required key '{f.name}'")
    return cls(**values)


def _value(value: Any, hint: Any, where: str) -> Any:
    """Validate one value against its annotation (Annotated markers, optionals, lists)."""
    if get_origin(hint) is Annotated:
        base, marker = get_args(hint)[0], get_args(hint)[1]
        value = _value(value, base, where)
        if marker == "identifier":
            check_identifier(value, where)
        elif marker == "duration":
            try:
                duration_ms(value)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        return value
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        return _value(value, options[0], where)
    if origin is list:
        (item,) = get_args(hint)
        return [_value(v, item, f"{where}[{i}]") for i, v in enumerate(_typed(value, list, where))]
    if origin is dict:
        return _typed(value, dict, where)
    if hint is Any:
        return value
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    return _typed(value, hint, where)


def _typed(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: expected {_KIND_NAMES.get(kind, kind.__name__)}, "
                          f"got {type(value).__name__} {value!r}")
    return value


_KIND_NAMES = {dict: "a table", list: "a list", str: "a string", int: "an integer",
               bool: "true or false", float: "a number"}


def _reject_unknown(raw: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' "
                          f"(known: {', '.join(sorted(known))})")


def _reject_duplicate_ids(config: Config, where: str) -> None:
    for key in _SECTIONS:
        seen: set[str] = set()
        for entry in getattr(config, key):
            if entry.id in seen:
                raise ConfigError(f"{where}: {key}: two entries share the id {entry.id!r}")
            seen.add(entry.id)
