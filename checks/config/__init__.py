"""Load and validate the invariants file (TOML).

The settings sections are fixed (``checks.config.model``); every invariant section comes
from the registry of kinds, so a new kind brings its own section and spec.
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from checks.config.fields import (
    ConfigError,
    Duration,
    Identifier,
    Range,
    build,
    check_identifier,
    duration_ms,
    one_of,
    reject_unknown,
    typed,
)
from checks.config.model import (
    Aws,
    Common,
    Config,
    Drift,
    Environment,
    Ledger,
    Schedule,
    Settings,
)

__all__ = ["Aws", "Common", "Config", "ConfigError", "Drift", "Duration", "Environment",
           "Identifier", "Ledger", "Range", "Schedule", "Settings", "build", "check_identifier",
           "duration_ms", "load", "one_of"]

_FIXED = {"migrations_dir", "fixtures_dir", "settings", "ledger", "drift", "aws",
          "environments"}


def load(path: Path, migrations_dir: Path | None = None) -> Config:
    """Read and validate the invariants file at ``path``.

    ``migrations_dir`` overrides the file's ``migrations_dir`` (relative to the file).
    """
    from checks.kinds import REGISTRY

    raw = _read(path)
    where = path.name
    parsers = {k.section: k.parse_section for k in REGISTRY.values() if k.section}
    reject_unknown(raw, _FIXED | set(parsers), where)
    if migrations_dir is None:
        migrations_dir = path.parent / typed(raw.get("migrations_dir", "../db/migrations"), str,
                                             f"{where}: migrations_dir")
    environments = {
        name: build(Environment, env, f"{where}: environments.{name}", name=name)
        for name, env in typed(raw.get("environments", {}), dict,
                               f"{where}: environments").items()
    }
    sections = {name: parse(raw.get(name), f"{where}: {name}") for name, parse in parsers.items()}
    for name, entries in sections.items():
        _reject_duplicate_ids(entries, f"{where}: {name}")
    specs = {k.section: k.spec for k in REGISTRY.values() if k.section and k.spec}
    overridden = {name: _overrides(env, raw, sections, specs, f"{where}: environments.{name}")
                  for name, env in environments.items()}
    return Config(
        path=path,
        migrations_dir=Path(migrations_dir),
        fixtures_dir=path.parent / typed(raw.get("fixtures_dir", "../db/fixtures"), str,
                                         f"{where}: fixtures_dir"),
        settings=build(Settings, raw.get("settings", {}), f"{where}: settings"),
        ledger=build(Ledger, raw.get("ledger", {}), f"{where}: ledger"),
        drift=build(Drift, raw.get("drift", {}), f"{where}: drift"),
        aws=build(Aws, raw.get("aws", {}), f"{where}: aws"),
        environments=environments,
        sections=sections,
        overridden=overridden,
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _overrides(env: Environment, raw: dict[str, Any], sections: dict[str, list[Any]],
               specs: dict[str, type], where: str) -> dict[tuple[str, str], Any]:
    """An environment's own entries: each override merged into the entry it names and
    validated like it; every override and skip pattern must name an entry."""
    found: dict[tuple[str, str], Any] = {}
    for key, values in env.overrides.items():
        section, _, entry_id = key.partition(".")
        ids = [e.id for e in sections.get(section, [])]
        if section not in specs or entry_id not in ids:
            raise ConfigError(f"{where}.overrides: {key!r} names no [[{section}]] entry "
                              f"(use \"<section>.<entry id>\")")
        entry = raw[section][ids.index(entry_id)]
        merged = {**entry, **typed(values, dict, f"{where}.overrides.{key}")}
        found[(section, entry_id)] = build(specs[section], merged, f"{where}.overrides.{key}")
        if found[(section, entry_id)].id != entry_id:
            raise ConfigError(f"{where}.overrides.{key}: an override cannot change the id")
    every = [f"{section}.{e.id}" for section, entries in sections.items() for e in entries]
    for pattern in env.skip:
        if not any(fnmatchcase(name, pattern) for name in every):
            raise ConfigError(f"{where}.skip: {pattern!r} matches no check entry")
    return found


def _reject_duplicate_ids(entries: list[Any], where: str) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise ConfigError(f"{where}: two entries share the id {entry.id!r}")
        seen.add(entry.id)
