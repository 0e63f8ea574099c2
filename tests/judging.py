"""A kind's judge on plain objects: its needs named for a spec, and results given by name
as a test makes them (no server, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.catalog import Catalog
from checks.config import Config, Settings
from checks.context import Context, Inputs
from checks.kinds.base import Kind
from checks.need import Found
from checks.outcome import Outcome

NOW = datetime(2026, 3, 2, 15, 30, 20, tzinfo=UTC)


def context(catalog: Catalog | None = None, *, now: datetime = NOW, **fields: Any) -> Context:
    """A target's context with ``catalog`` as its live catalog; the run's inputs are an
    empty config and no migration file unless given."""
    empty = Config(path=Path("invariants.toml"), migrations_dir=Path("migrations"),
                   fixtures_dir=Path("fixtures"))
    inputs = fields.pop("inputs", Inputs(empty, [], None))  # type: ignore[arg-type]
    return Context(fields.pop("settings", Settings()), inputs, now, live=catalog, **fields)


def found(kind: Kind, spec: Any, ctx: Context, **results: Any) -> Found:
    """What was gathered for ``spec``'s needs: each result under its need's name."""
    named = kind.needs(spec, ctx)
    unknown = set(results) - set(named)
    assert not unknown, f"{kind.name} names no need {sorted(unknown)} (it names {sorted(named)})"
    return Found(named, {named[name]: value for name, value in results.items()})


def judged(kind: Kind, spec: Any, ctx: Context | None = None, **results: Any) -> Outcome:
    """``kind``'s verdict on ``spec`` from ``results`` alone."""
    ctx = ctx or context()
    return kind.judge(spec, ctx, found(kind, spec, ctx, **results))
