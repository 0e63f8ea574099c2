"""The release manifest (``--release-manifest FILE``, JSON or TOML, written by the deploy
job): what the release deployed, so that each entry becomes a check.

    {"release": "v2026.11.28",
     "lambda_functions": [{"name": "ops-pipeline-db-query", "code_sha256": "...",
                           "version": "12", "alias": "live"}],
     "ecs_services": [{"cluster": "ops-pipeline-cluster", "service": "trade-stream",
                       "task_definition": "trade-stream:42",
                       "images": {"trade-stream": "<registry>/trade-stream:v2026.11.28"}}],
     "migrations": ["2026_02_02_0003_add_constraints_no_do"]}
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks.config import ConfigError, from_table, typed
from checks.config.fields import reject_unknown


@dataclass(frozen=True)
class LambdaRelease:
    """A Lambda function as the release deployed it."""

    name: str
    code_sha256: str | None = None
    version: str | None = None
    """The published version it must be (or, with ``alias``, the alias must point to)."""
    alias: str | None = None

    @property
    def id(self) -> str:
        return f"{self.name}:{self.alias}" if self.alias else self.name


@dataclass(frozen=True)
class EcsRelease:
    """An ECS service as the release deployed it."""

    service: str
    cluster: str = "ops-pipeline-cluster"
    task_definition: str | None = None
    """``family:revision``."""
    images: dict[str, str] = field(default_factory=dict)
    """Container name -> image (``repository:tag``), or only the tag."""

    @property
    def id(self) -> str:
        return f"{self.cluster}/{self.service}"


@dataclass(frozen=True)
class MigrationRelease:
    """A migration the release brings: the ledger must record it."""

    version: str

    @property
    def id(self) -> str:
        return self.version


@dataclass(frozen=True)
class Manifest:
    release: str | None = None
    lambda_functions: tuple[LambdaRelease, ...] = ()
    ecs_services: tuple[EcsRelease, ...] = ()
    migrations: tuple[MigrationRelease, ...] = ()

    @property
    def needs_aws(self) -> bool:
        return bool(self.lambda_functions or self.ecs_services)


def load(path: Path) -> Manifest:
    """Read and validate a manifest; any problem is one ConfigError line."""
    where = f"--release-manifest {path.name}"
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'}:"
                          f" {exc}") from None
    raw = typed(raw, dict, where)
    reject_unknown(raw, {"release", "lambda_functions", "ecs_services", "migrations"}, where)
    release = raw.get("release")
    if release is not None:
        typed(release, str, f"{where}: release")
    found = Manifest(
        release=release,
        lambda_functions=tuple(_entries(raw, "lambda_functions", LambdaRelease, where)),
        ecs_services=tuple(_entries(raw, "ecs_services", EcsRelease, where)),
        migrations=tuple(MigrationRelease(typed(v, str, f"{where}: migrations[{i}]"))
                         for i, v in enumerate(typed(raw.get("migrations", []), list,
                                                     f"{where}: migrations"))),
    )
    # An entry with nothing to compare would pass as "the release": a deploy job that lost
    # the hash or the tag must not turn into an existence check.
    for i, fn in enumerate(found.lambda_functions):
        if not (fn.code_sha256 or fn.version):
            raise ConfigError(f"{where}: lambda_functions[{i}] ({fn.name}) names neither "
                              "code_sha256 nor version")
    for i, svc in enumerate(found.ecs_services):
        if not (svc.task_definition or svc.images):
            raise ConfigError(f"{where}: ecs_services[{i}] ({svc.service}) names neither "
                              "task_definition nor images")
    if not (found.lambda_functions or found.ecs_services or found.migrations):
        raise ConfigError(f"{where}: names nothing the release deployed")
    seen: set[str] = set()
    for entry in (*found.lambda_functions, *found.ecs_services, *found.migrations):
        if entry.id in seen:
            raise ConfigError(f"{where}: {entry.id} is listed twice")
        seen.add(entry.id)
    return found


def _entries(raw: dict[str, Any], key: str, cls: type, where: str) -> list[Any]:
    entries = typed(raw.get(key, []), list, f"{where}: {key}")
    return [from_table(cls, entry, f"{where}: {key}[{i}]") for i, entry in enumerate(entries)]
