"""Load and validate the invariants file (TOML).

The settings sections are fixed (``checks.config.model``); the invariant sections are
given by the caller (:func:`checks.kinds.load_config` passes the registry's), so a new
kind brings its own section and spec, and this package knows nothing of kinds.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from checks.config.fields import (
    ConfigError,
    Duration,
    Identifier,
    Range,
    check_identifier,
    duration_ms,
    from_table,
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
           "Identifier", "Ledger", "Range", "Schedule", "Section", "Settings", "check_identifier",
           "duration_ms", "from_table", "load", "one_of", "typed"]

_FIXED = {"migrations_dir", "fixtures_dir", "settings", "ledger", "drift", "aws",
          "environments"}


@dataclass(frozen=True)
class Section:
    """How one invariant section is read: its entries, and the spec an environment's
    override of one entry is validated as (None: its entries cannot be overridden)."""

    parse: Callable[[Any, str], list[Any]]
    """``(raw TOML value or None, where) -> entries``, each with an ``id``."""
    spec: type | None = None


def load(path: Path, sections: Mapping[str, Section],
         migrations_dir: Path | None = None) -> Config:
    """Read and validate the invariants file at ``path``, whose invariant sections are
    ``sections`` (by name).

    ``migrations_dir`` overrides the file's ``migrations_dir`` (relative to the file).
    """
    raw = _read(path)
    where = path.name
    reject_unknown(raw, _FIXED | set(sections), where)
    if migrations_dir is None:
        migrations_dir = path.parent / typed(raw.get("migrations_dir", "../db/migrations"), str,
                                             f"{where}: migrations_dir")
    environments = {
        name: from_table(Environment, env, f"{where}: environments.{name}", name=name)
        for name, env in typed(raw.get("environments", {}), dict,
                               f"{where}: environments").items()
    }
    entries = {name: section.parse(raw.get(name), f"{where}: {name}")
               for name, section in sections.items()}
    for name, found in entries.items():
        _reject_duplicate_ids(found, f"{where}: {name}")
    specs = {name: section.spec for name, section in sections.items() if section.spec}
    overridden = {name: _overrides(env, raw, entries, specs, f"{where}: environments.{name}")
                  for name, env in environments.items()}
    return Config(
        path=path,
        migrations_dir=Path(migrations_dir),
        fixtures_dir=path.parent / typed(raw.get("fixtures_dir", "../db/fixtures"), str,
                                         f"{where}: fixtures_dir"),
        settings=from_table(Settings, raw.get("settings", {}), f"{where}: settings"),
        ledger=from_table(Ledger, raw.get("ledger", {}), f"{where}: ledger"),
        drift=from_table(Drift, raw.get("drift", {}), f"{where}: drift"),
        aws=from_table(Aws, raw.get("aws", {}), f"{where}: aws"),
        environments=environments,
        sections=entries,
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
        found[(section, entry_id)] = from_table(specs[section], merged, f"{where}.overrides.{key}")
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
