"""Drift: a catalog as comparable objects, and how two of them differ. Pure functions.

Every attribute here changes what the database accepts, keeps, or shows a reader; what
is left out, and why that is safe, is listed in the README ("What drift compares").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks.catalog.expressions import strip_suffixes
from checks.catalog.model import Catalog

KINDS = ("table", "view", "column", "constraint", "index", "trigger", "rule", "policy",
         "sequence", "function", "type", "extension", "setting", "operator", "cast",
         "event_trigger")
_CONSTRAINT_FLAGS = (" NOT VALID", " NOT ENFORCED")
DEFINITIONS = {("view", "definition"), ("constraint", "definition"), ("index", "definition"),
               ("trigger", "definition"), ("rule", "definition"), ("policy", "using"),
               ("policy", "check"), ("function", "definition"), ("column", "default"),
               ("table", "partition_bound")}
"""Attributes PostgreSQL prints from a parsed tree: their text may change with the major
version although the object does not."""


@dataclass(frozen=True)
class Difference:
    """One attribute that differs; ``fatal`` ones fail the check, the others are shown."""

    attribute: str
    expected: Any
    found: Any
    fatal: bool = True


def objects(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """Every object by id (``kind:schema.name``), with the attributes drift compares.

    Members of an extension are compared as part of it (its version and member list). A
    member of an extension the capture leaves out (``plpgsql``, made by initdb) is compared
    as an object of its own: ``ALTER EXTENSION plpgsql ADD TABLE`` must not hide a table.
    """
    found: dict[str, dict[str, Any]] = {}
    members: dict[str, list[str]] = {}
    compared = {e.name for e in catalog.extensions}

    def add(object_id: str, extension: str | None, attrs: dict[str, Any]) -> None:
        if extension in compared:
            members.setdefault(extension, []).append(object_id)
        else:
            found[object_id] = attrs

    for r in catalog.relations:
        if r.kind == "S":
            continue  # a sequence's attributes come from pg_sequence, below
        if r.kind in ("v", "m"):
            add(f"view:{r.schema}.{r.name}", r.extension, {
                "kind": r.kind, "definition": _text(r.definition),
                "options": sorted(r.options)})
        else:
            add(f"table:{r.schema}.{r.name}", r.extension, {
                "kind": r.kind, "persistence": r.persistence, "rls_enabled": r.rls_enabled,
                "rls_forced": r.rls_forced, "partition_key": r.partition_key,
                "partition_bound": r.partition_bound, "parents": list(r.parents),
                # only when not the default, so a snapshot taken before they were read
                # still compares equal on a table that has none
                **({"replica_identity": r.replica_identity}
                   if r.replica_identity != "d" else {}),
                **({"publications": list(r.publications)} if r.publications else {})})
    extension_tables = {f"{r.schema}.{r.name}" for r in catalog.relations
                        if r.extension in compared}
    for c in catalog.columns:
        if f"{c.schema}.{c.table}" in extension_tables:
            continue
        found[f"column:{c.schema}.{c.table}.{c.name}"] = {
            "type": c.type, "not_null": c.not_null, "default": _text(c.default),
            "identity": c.identity, "generated": c.generated, "collation": c.collation}
    for k in catalog.constraints:
        found[f"constraint:{k.schema}.{k.table}.{k.name}"] = {
            "type": k.type, "definition": _strip_flags(k.definition), "validated": k.validated,
            "enforced": k.enforced, "deferrable": k.deferrable, "deferred": k.deferred}
    for i in catalog.indexes:
        add(f"index:{i.schema}.{i.name}", i.extension, {
            "table": i.table, "definition": _text(i.definition), "unique": i.unique,
            "primary": i.primary, "valid": i.valid, "ready": i.ready, "live": i.live})
    for t in catalog.triggers:
        found[f"trigger:{t.schema}.{t.table}.{t.name}"] = {
            "definition": _text(t.definition), "enabled": t.enabled}
    for u in catalog.rules:
        found[f"rule:{u.schema}.{u.table}.{u.name}"] = {
            "definition": _text(u.definition), "enabled": u.enabled}
    for p in catalog.policies:
        found[f"policy:{p.schema}.{p.table}.{p.name}"] = {
            "command": p.command, "permissive": p.permissive, "roles": list(p.roles),
            "using": _text(p.using_expr), "check": _text(p.check_expr)}
    for s in catalog.sequences:
        found[f"sequence:{s.schema}.{s.name}"] = {
            "type": s.type, "start": s.start, "increment": s.increment, "min": s.min,
            "max": s.max, "cycle": s.cycle, "owned_by": s.owned_by}
    for f in catalog.functions:
        add(f"function:{f.schema}.{f.name}", f.extension, {
            "kind": f.kind, "definition": _text(f.definition)})
    for t in catalog.types:
        add(f"type:{t.schema}.{t.name}", t.extension, {
            "kind": t.kind, "labels": list(t.labels), "base_type": t.base_type,
            "not_null": t.not_null, "default": t.default, "checks": list(t.checks)})
    for s in catalog.settings:
        found[f"setting:{s.scope}:{s.name}"] = {"value": s.value}
    for o in catalog.operators:
        add(f"operator:{o.schema}.{o.name}", o.extension, {
            "function": o.function, "result": o.result, "commutator": o.commutator,
            "negator": o.negator, "restrict": o.restrict, "join": o.join,
            "merges": o.merges, "hashes": o.hashes})
    for c in catalog.casts:
        add(f"cast:{c.source} AS {c.target}", c.extension, {
            "function": c.function, "context": c.context, "method": c.method})
    for v in catalog.event_triggers:
        add(f"event_trigger:{v.name}", v.extension, {
            "event": v.event, "function": v.function, "enabled": v.enabled,
            "tags": list(v.tags)})
    for e in catalog.extensions:
        found[f"extension:{e.name}"] = {"version": e.version, "schema": e.schema,
                                        "members": sorted(members.get(e.name, []))}
    return found


def kind_of(object_id: str) -> str:
    return object_id.split(":", 1)[0]


def compare(object_id: str, expected: dict[str, Any], found: dict[str, Any]
            ) -> list[Difference]:
    """How a live object differs from the expected one."""
    kind = kind_of(object_id)
    diffs = []
    for attr in sorted(set(expected) | set(found)):
        want, have = expected.get(attr), found.get(attr)
        if want != have:
            diffs.append(_judge(kind, attr, _plain(want), _plain(have)))
    return diffs


def _judge(kind: str, attr: str, want: Any, have: Any) -> Difference:
    # Health and validation only matter in one direction: better than expected is shown.
    if kind == "constraint" and attr == "validated":
        return Difference(attr, want, have, fatal=bool(want) and not have)
    if kind == "index" and attr in ("valid", "ready", "live"):
        return Difference(attr, want, have, fatal=bool(want) and not have)
    return Difference(attr, want, have)


class Printed(str):
    """A definition with its whitespace folded (what drift compares); ``raw`` keeps the
    text as the server printed it (what a reprint creates: a function body's ``--``
    comment ends at its newline)."""

    raw: str

    def __new__(cls, raw: str) -> Printed:
        printed = super().__new__(cls, " ".join(raw.split()))
        printed.raw = raw
        return printed


def as_compared(kind: str, attribute: str, text: str | None) -> str | None:
    """A definition as :func:`objects` holds it, e.g. one reprinted by another engine."""
    if kind == "constraint" and attribute == "definition":
        return _strip_flags(text)
    return _text(text)


def raw_text(value: Any) -> Any:
    """The text as the server printed it, for a :class:`Printed` value."""
    return value.raw if isinstance(value, Printed) else value


def _strip_flags(definition: str | None) -> str | None:
    return _text(strip_suffixes(definition, _CONSTRAINT_FLAGS)) if definition else definition


def _text(value: str | None) -> str | None:
    return Printed(value) if value is not None else None


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Printed) else value
