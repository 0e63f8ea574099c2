"""Schema drift: the live catalog against the schema the migrations build (or a snapshot)."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from checks import schema
from checks.context import Context
from checks.outcome import Evidence, Outcome, failed, passed


@dataclass(frozen=True)
class ExpectedObject:
    """One object the expected schema has; the live one must match it."""

    id: str
    expected: dict[str, Any]
    allowed: bool = False


@dataclass(frozen=True)
class NoExtraObjects:
    """The live schema has no object of ``kind`` that the expected schema lacks."""

    kind: str
    expected_ids: frozenset[str]
    allow: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.kind


def allowed(object_id: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Whether the config's drift allow-list accepts differences of this object."""
    return any(fnmatchcase(object_id, p) for p in patterns)


def matches(ctx: Context, obj: ExpectedObject) -> Outcome:
    """Passed when the live object exists and matches; evidence is expected vs found."""
    live = ctx.live_schema().get(obj.id)
    note = " (a difference the config allows)"
    if live is None:
        if obj.allowed:
            return passed(f"{obj.id} is missing{note}")
        return failed(f"{obj.id} is missing from the live schema",
                      _evidence([schema.Difference("exists", True, False)]))
    diffs = schema.compare(obj.id, obj.expected, live)
    fatal = [d for d in diffs if d.fatal]
    if fatal and not obj.allowed:
        first = fatal[0]
        return failed(f"{obj.id}: {first.attribute} is {first.found!r}, "
                      f"expected {first.expected!r}"
                      + (f" (+{len(fatal) - 1} more)" if len(fatal) > 1 else ""),
                      _evidence(diffs))
    if diffs:
        shown = ", ".join(f"{d.attribute} {d.found!r} (expected {d.expected!r})" for d in diffs)
        return passed(f"{obj.id} matches; differs in {shown}" + (note if fatal else ""),
                      _evidence(diffs))
    return passed(f"{obj.id} matches")


def no_extra(ctx: Context, spec: NoExtraObjects) -> Outcome:
    """Failed with the live objects of this kind that the migrations do not create."""
    prefix = spec.kind + ":"
    extra = sorted(i for i in ctx.live_schema() if i.startswith(prefix)
                   and i not in spec.expected_ids and not allowed(i, spec.allow))
    if not extra:
        return passed(f"no {spec.kind} beyond what the migrations create")
    return failed(f"{len(extra)} {spec.kind}(s) not created by the migrations: "
                  + ", ".join(i.removeprefix(prefix) for i in extra[:5])
                  + (" ..." if len(extra) > 5 else ""),
                  Evidence(f"Unexpected {spec.kind}s", ("object",), [(i,) for i in extra]))


def _evidence(diffs: list[schema.Difference]) -> Evidence:
    return Evidence("Expected vs found", ("attribute", "expected", "found", "fails"),
                    [(d.attribute, d.expected, d.found, "yes" if d.fatal else "no")
                     for d in diffs])
