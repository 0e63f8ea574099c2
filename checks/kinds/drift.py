"""Schema drift: the live catalog against the schema the migrations build (or a snapshot).

One item per expected object, one per kind for objects nobody expected. When the
migrations do not replay, the expected schema is incomplete: drift is then one item
that says so and names the failing migration, not hundreds of bogus differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import psycopg

from checks.catalog import Catalog
from checks.catalog.compare import (
    DEFINITIONS,
    KINDS,
    Difference,
    as_compared,
    compare,
    kind_of,
    objects,
    raw_text,
)
from checks.catalog.reprint import reprint
from checks.kinds.base import Facts, Inputs, Kind, Unavailable
from checks.need import Env, Need
from checks.outcome import CouldNotCheck, Evidence, Outcome, failed, passed, skipped

SNAPSHOT_HINT = ("fix the migrations, or compare against a snapshot of a known-good "
                 "database ([drift] snapshot; python -m checks.snapshot)")


@dataclass(frozen=True)
class ExpectedObject:
    """One object the expected schema has; the live one must match it."""

    id: str


@dataclass(frozen=True)
class NoExtraObjects:
    """The live schema has no object of ``kind`` that the expected schema lacks."""

    kind: str

    @property
    def id(self) -> str:
        return self.kind


@dataclass(frozen=True)
class Reprinted(Need):
    """A live definition as the expected schema's engine prints it (see
    :mod:`checks.catalog.reprint`), when the live server is of another major version."""

    reads = "scratch"
    object_id: str
    attribute: str
    text: str
    parents: tuple[str, ...] = ()

    def run(self, env: Env) -> str | None:
        assert env.expected is not None
        try:
            with psycopg.connect(env.expected.replay_database(), autocommit=True) as conn, \
                    conn.transaction(force_rollback=True):
                found = reprint(conn, self.object_id, self.attribute, self.text, self.parents)
        except (psycopg.Error, ValueError) as exc:
            cause = exc.diag.message_primary if isinstance(exc, psycopg.Error) else str(exc)
            raise CouldNotCheck(
                f"{self.object_id}: its {self.attribute} differs from the expected schema's, "
                f"which was built on another major version, and the live text cannot be "
                f"created there to compare them ({cause}); install the live server's major "
                "(or give --pg-bin) to compare exactly") from None
        return as_compared(kind_of(self.object_id), self.attribute, found)


def allowed_by(object_id: str, patterns: list[str]) -> str | None:
    """The allow-list pattern that accepts differences of this object, if any."""
    return next((p for p in patterns if fnmatchcase(object_id, p)), None)


_OBJECTS: dict[int, tuple[Catalog, dict[str, dict[str, Any]]]] = {}


def _objects(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """``objects(catalog)``, computed once per catalog."""
    found = _OBJECTS.get(id(catalog))
    if found is None or found[0] is not catalog:
        found = _OBJECTS[id(catalog)] = (catalog, objects(catalog))
    return found[1]


def _expected_items(inputs: Inputs, make: Any) -> list[Any]:
    expected = inputs.expected
    try:
        catalog = expected.catalog()
        if expected.snapshot is None and (failures := expected.replayed().failures):
            first = failures[0]
            return [Unavailable(
                "expected-schema",
                f"the migrations do not replay ({len(failures)} of {len(inputs.migrations)} "
                f"files fail; first {first.version}: {first.error}): the expected schema is "
                f"incomplete, so drift is not judged; {SNAPSHOT_HINT}",
                blocked_by=f"test_migration_replays[{first.version}]")]
    except CouldNotCheck as exc:
        return [Unavailable("expected-schema", str(exc))]
    return make(catalog)


def _reprints(obj: ExpectedObject, facts: Facts) -> list[Reprinted]:
    """One per printed definition that differs while the live server is of another major
    version than the expected schema's: compared only once both engines agree."""
    if facts.catalog.session is None or not _other_major(facts):
        return []
    expected = _objects(facts.expected).get(obj.id)
    live = _objects(facts.catalog).get(obj.id)
    if not expected or not live:
        return []
    kind = kind_of(obj.id)
    return [Reprinted(obj.id, attr, raw_text(live[attr]), tuple(live.get("parents", ())))
            for attr in sorted(live) if (kind, attr) in DEFINITIONS
            and live[attr] and expected.get(attr) and live[attr] != expected[attr]]


def matches_needs(obj: ExpectedObject, facts: Facts) -> list[Need]:
    return list(_reprints(obj, facts))


def matches(obj: ExpectedObject, facts: Facts) -> Outcome:
    """Passed when the live object exists and matches; evidence is expected vs found."""
    patterns = facts.inputs.config.drift.allow
    allowed = allowed_by(obj.id, patterns)
    expected = _objects(facts.expected).get(obj.id)
    if expected is None:
        return skipped(f"{obj.id} is not in the expected schema built on PostgreSQL "
                       f"{facts.expected_version}")
    live = _objects(facts.catalog).get(obj.id)
    if live is None:
        if allowed:
            return skipped(f"{obj.id} is missing; allowed by [drift] allow {allowed!r}")
        return failed(f"{obj.id} is missing from the live schema",
                      _evidence([Difference("exists", True, False)]))
    if _locked(obj.id, facts.catalog):
        raise CouldNotCheck(f"{obj.id}: its table is locked by another session, so its "
                            "definition was not read")
    live = {**live, **{r.attribute: facts[r] for r in _reprints(obj, facts)}}
    diffs = compare(obj.id, expected, live)
    fatal = [d for d in diffs if d.fatal]
    if fatal and allowed:
        return skipped(f"{obj.id} differs ({_listed(fatal)}); allowed by [drift] allow "
                       f"{allowed!r}")
    if fatal:
        first = fatal[0]
        return failed(f"{obj.id}: {first.attribute} is {first.found!r}, expected "
                      f"{first.expected!r}" + (f" (+{len(fatal) - 1} more)" if len(fatal) > 1
                                               else ""), _evidence(diffs))
    if diffs:
        return passed(f"{obj.id} matches; differs in {_listed(diffs)} (not a fault)",
                      _evidence(diffs))
    return passed(f"{obj.id} matches")


def no_extra(spec: NoExtraObjects, facts: Facts) -> Outcome:
    """Failed with the live objects of this kind that the expected schema lacks."""
    expected = _objects(facts.expected)
    patterns = facts.inputs.config.drift.allow
    extra = sorted(i for i in _objects(facts.catalog)
                   if kind_of(i) == spec.kind and i not in expected)
    allowed = [i for i in extra if allowed_by(i, patterns)]
    problems = [i for i in extra if i not in allowed]
    prefix = spec.kind + ":"
    evidence = Evidence(f"Unexpected {spec.kind}s", ("object", "status"),
                        [(i, f"allowed by {allowed_by(i, patterns)!r}" if i in allowed
                          else "unexpected") for i in extra])
    absent, source = _absent_from(facts)
    if problems:
        return failed(f"{len(problems)} {spec.kind}(s) {absent}: "
                      + ", ".join(i.removeprefix(prefix) for i in problems[:5])
                      + (" ..." if len(problems) > 5 else ""), evidence)
    if allowed:
        return skipped(f"{len(allowed)} {spec.kind}(s) {absent}, allowed by [drift] allow: "
                       + ", ".join(f"{i.removeprefix(prefix)} ({allowed_by(i, patterns)!r})"
                                   for i in allowed[:5]))
    return passed(f"no {spec.kind} beyond what {source}")


def _absent_from(facts: Facts) -> tuple[str, str]:
    """How to name objects the expected schema lacks, and the expected schema itself: a
    snapshot is what a database held, not what the migrations create."""
    if facts.inputs.expected.snapshot is not None:
        return "not in the snapshot", "the snapshot holds"
    return "not created by the migrations", "the migrations create"


def _other_major(facts: Facts) -> bool:
    """Whether the live server is of another major version than the expected schema's."""
    live = facts.catalog.session
    return bool(live and facts.expected_version
                and live.major != int(facts.expected_version.split(".")[0]))


def _locked(object_id: str, catalog: Catalog) -> bool:
    kind, name = object_id.split(":", 1)
    if kind not in ("view", "column", "constraint", "index", "trigger", "rule", "policy",
                    "table"):
        return False
    parts = name.split(".")
    relation = catalog.relation(parts[0], parts[1]) if kind != "index" else next(
        (catalog.relation(i.schema, i.table) for i in catalog.indexes
         if i.schema == parts[0] and i.name == parts[1]), None)
    return bool(relation and relation.locked)


def _listed(diffs: list[Difference]) -> str:
    return ", ".join(f"{d.attribute} {d.found!r} (expected {d.expected!r})" for d in diffs)


def _evidence(diffs: list[Difference]) -> Evidence:
    return Evidence("Expected vs found", ("attribute", "expected", "found", "fails"),
                    [(d.attribute, d.expected, d.found, "yes" if d.fatal else "no")
                     for d in diffs])


def _object_items(inputs: Inputs) -> list[Any]:
    return _expected_items(inputs, lambda catalog: [ExpectedObject(i)
                                                    for i in sorted(_objects(catalog))])


def _kind_items(inputs: Inputs) -> list[Any]:
    return _expected_items(inputs, lambda catalog: [NoExtraObjects(k) for k in KINDS])


SCHEMA_OBJECT = Kind("schema_object", "drift", matches, matches_needs, items=_object_items,
                     reads=frozenset({"target", "catalog", "expected"}))
NO_UNEXPECTED = Kind("no_unexpected_objects", "drift", no_extra, items=_kind_items,
                     reads=frozenset({"target", "catalog", "expected"}))
