"""The registry of kinds of check, found in this package: every ``Kind(...)`` a module of
``checks/kinds/`` declares at its top level.

Adding a kind is writing its module (spec, needs, judge, ``NAME = Kind(...)`` with its
section, area and item docstring); its ``verify/`` item, config section and area come
from there. Then its entries in ``verify/invariants.toml``, its README row and a test.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path
from typing import Any

from checks.config import Config, Section, load
from checks.kinds.base import AREAS, Kind

REGISTRY: dict[str, Kind]
"""Every kind by name, in the order areas are read (see :func:`registry`)."""


@cache
def registry() -> dict[str, Kind]:
    """Every kind declared in this package, by name, in the order areas are read; found
    on first use, so that importing one kind's module does not import them all."""
    found: dict[str, Kind] = {}
    for module in pkgutil.iter_modules(__path__):
        namespace = vars(importlib.import_module(f"{__name__}.{module.name}"))
        for kind in (value for value in namespace.values() if isinstance(value, Kind)):
            other = found.setdefault(kind.name, kind)
            if other is not kind:
                raise ValueError(f"two kinds are named {kind.name!r} (in {module.name})")
    return dict(sorted(found.items(), key=lambda item: AREAS.index(item[1].area)))


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":
        return registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def sections() -> dict[str, Section]:
    """The invariant sections of the config file, each read by its kind's parser."""
    return {k.section: s for k in registry().values()
            if k.section is not None and (s := k.config_section) is not None}


def load_config(path: Path, migrations_dir: Path | None = None) -> Config:
    """The invariants file at ``path``, with every registered kind's section."""
    return load(path, sections(), migrations_dir)
