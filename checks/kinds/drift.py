"""Schema drift: the live catalog against the schema the migrations build (or a snapshot).

One item per expected object, one per kind for objects nobody expected. When the
migrations do not replay, the expected schema is incomplete: drift is then one item
that says so and names the failing migration, not hundreds of bogus differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

import psycopg
from psycopg import sql

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
from checks.selftest import faults as f

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


# ---------------------------------------------------------------- self-test faults
_DROPS: dict[int, tuple[Catalog, dict[str, sql.Composable]]] = {}


def _drops(catalog: Catalog) -> dict[str, sql.Composable]:
    """How to drop each object of the catalog (by the id :func:`objects` gives it), with
    whatever depends on it; computed once per catalog."""
    found = _DROPS.get(id(catalog))
    if found is None or found[0] is not catalog:
        found = _DROPS[id(catalog)] = (catalog, _drop_statements(catalog))
    return found[1]


def _drop_statements(catalog: Catalog) -> dict[str, sql.Composable]:
    i = sql.Identifier
    found: dict[str, sql.Composable] = {}
    for r in catalog.relations:
        what = {"r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE", "v": "VIEW",
                "m": "MATERIALIZED VIEW"}.get(r.kind)
        if what:
            kind = "view" if r.kind in ("v", "m") else "table"
            found[f"{kind}:{r.schema}.{r.name}"] = sql.SQL("DROP {} IF EXISTS {} CASCADE").format(
                sql.SQL(what), i(r.schema, r.name))
    for c in catalog.columns:
        found[f"column:{c.schema}.{c.table}.{c.name}"] = sql.SQL(
            "ALTER TABLE IF EXISTS {} DROP COLUMN IF EXISTS {} CASCADE").format(
            i(c.schema, c.table), i(c.name))
    for k in catalog.constraints:
        found[f"constraint:{k.schema}.{k.table}.{k.name}"] = sql.SQL(
            "ALTER TABLE IF EXISTS {} DROP CONSTRAINT IF EXISTS {} CASCADE").format(
            i(k.schema, k.table), i(k.name))
    for x in catalog.indexes:
        found[f"index:{x.schema}.{x.name}"] = f.drop_index(catalog, x)
    for kind, objects_ in (("TRIGGER", catalog.triggers), ("RULE", catalog.rules),
                           ("POLICY", catalog.policies)):
        for o in objects_:
            found[f"{kind.lower()}:{o.schema}.{o.table}.{o.name}"] = sql.SQL(
                "DROP {} IF EXISTS {} ON {}").format(sql.SQL(kind), i(o.name),
                                                     i(o.schema, o.table))
    identity = {f"{c.schema}.{c.table}.{c.name}": c for c in catalog.columns if c.identity}
    for q in catalog.sequences:
        column = identity.get(q.owned_by or "")
        found[f"sequence:{q.schema}.{q.name}"] = sql.SQL(
            "ALTER TABLE IF EXISTS {} ALTER COLUMN {} DROP IDENTITY IF EXISTS").format(
            i(column.schema, column.table), i(column.name)) if column else sql.SQL(
            "DROP SEQUENCE IF EXISTS {} CASCADE").format(i(q.schema, q.name))
    for fn in catalog.functions:
        name, _, arguments = fn.name.partition("(")
        found[f"function:{fn.schema}.{fn.name}"] = sql.SQL(
            "DROP ROUTINE IF EXISTS {}({} CASCADE").format(i(fn.schema, name),
                                                            sql.SQL(arguments))
    for t in catalog.types:
        found[f"type:{t.schema}.{t.name}"] = sql.SQL("DROP {} IF EXISTS {} CASCADE").format(
            sql.SQL("DOMAIN" if t.kind == "d" else "TYPE"), i(t.schema, t.name))
    for e in catalog.extensions:
        found[f"extension:{e.name}"] = sql.SQL("DROP EXTENSION IF EXISTS {} CASCADE").format(
            i(e.name))
    for o in catalog.operators:
        symbol, _, arguments = o.name.partition("(")
        found[f"operator:{o.schema}.{o.name}"] = sql.SQL(
            "DROP OPERATOR IF EXISTS {}.{} ({} CASCADE").format(
            i(o.schema), sql.SQL(symbol), sql.SQL(arguments))
    for c in catalog.casts:
        found[f"cast:{c.source} AS {c.target}"] = sql.SQL(
            "DROP CAST IF EXISTS ({} AS {}) CASCADE").format(sql.SQL(c.source),
                                                             sql.SQL(c.target))
    for v in catalog.event_triggers:
        found[f"event_trigger:{v.name}"] = sql.SQL("DROP EVENT TRIGGER IF EXISTS {}").format(
            i(v.name))
    for s in catalog.settings:
        # the copy's own (a database's, a role's in it): reset on the copy it is run on
        name = sql.Literal(i(s.name).as_string(None))
        if s.scope == "database":
            found[f"setting:{s.scope}:{s.name}"] = sql.SQL(
                "DO $reset$ BEGIN EXECUTE pg_catalog.format('ALTER DATABASE %I RESET %s', "
                "pg_catalog.current_database(), {}); END $reset$").format(name)
        elif s.scope.startswith("role ") and s.scope.endswith(" in database"):
            role = s.scope.removeprefix("role ").removesuffix(" in database")
            found[f"setting:{s.scope}:{s.name}"] = sql.SQL(
                "DO $reset$ BEGIN EXECUTE pg_catalog.format('ALTER ROLE %I IN DATABASE %I "
                "RESET %s', {}, pg_catalog.current_database(), {}); END $reset$").format(
                sql.Literal(role), name)
    return found


def _drop(object_id: str, copy: f.DatabaseCopy) -> None:
    statement = _drops(copy.catalog).get(object_id)
    if statement is None:
        raise f.NotProven(f"{object_id} is not in the expected database")
    copy.execute(statement)


def _object_faults(obj: ExpectedObject, base: f.Base) -> f.Faults:
    if allowed := allowed_by(obj.id, base.config.drift.allow):
        return f.not_applicable(f"its differences are allowed by [drift] allow {allowed!r}")
    if obj.id.startswith(("setting:role ", "setting:all roles:")) \
            and not obj.id.split(":", 2)[1].endswith(" in database"):
        return f.unproven(f"{obj.id} applies to every database of the server, so the "
                          "self-test cannot remove it from one copy (only a database's own "
                          "settings can be)")
    if obj.id not in _drops(base.catalog):
        known = obj.id in _objects(base.catalog)
        return f.unproven(f"no way to drop a {kind_of(obj.id)} is known to the self-test" if known
                          else f"{obj.id} is not in the expected database, so it cannot be "
                          "dropped")
    # Each of these checks reads its own object alone: the drops share one copy.
    return f.of(f.Fault(f"drop {obj.id}", partial(_drop, obj.id), names=(obj.id, "missing"),
                        family="drift: drop an expected object"))


_EXTENSIONS = ("tcn", "insert_username", "moddatetime", "autoinc", "refint", "lo",
               "tsm_system_rows", "fuzzystrmatch", "pg_trgm", "hstore", "citext")
"""Extensions to add as an unexpected one, the smallest first (the first one available)."""


def _host(catalog: Catalog, settings_path: list[str]) -> tuple[str, str] | None:
    """A plain table to add columns, constraints, indexes, triggers, rules, policies to."""
    tables = sorted(((r.schema, r.name) for r in catalog.relations
                     if r.kind == "r" and r.extension is None),
                    key=lambda t: (t[0] not in settings_path, t))
    return tables[0] if tables else None


def _add(kind: str, schema: str, host: tuple[str, str] | None, copy: f.DatabaseCopy
         ) -> list[str]:
    i, name = sql.Identifier, f"{f.INJECTED}_{kind}"
    table = i(*host) if host else None
    if kind in ("column", "constraint", "index", "trigger", "rule", "policy") and not table:
        raise f.NotProven(f"the expected database has no plain table to add a {kind} to")
    copy.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(i(schema)))
    statements = {
        "table": sql.SQL("CREATE TABLE {} (id integer)").format(i(schema, name)),
        "view": sql.SQL("CREATE VIEW {} AS SELECT 1 AS one").format(i(schema, name)),
        "column": sql.SQL("ALTER TABLE {} ADD COLUMN {} integer").format(table, i(name)),
        "constraint": sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (true)").format(
            table, i(name)),
        "index": sql.SQL("CREATE INDEX {} ON {} ((1))").format(i(name), table),
        "rule": sql.SQL("CREATE RULE {} AS ON UPDATE TO {} DO ALSO NOTHING").format(
            i(name), table),
        "policy": sql.SQL("CREATE POLICY {} ON {} USING (true)").format(i(name), table),
        "sequence": sql.SQL("CREATE SEQUENCE {}").format(i(schema, name)),
        "function": sql.SQL("CREATE FUNCTION {}() RETURNS integer LANGUAGE sql AS "
                            "'SELECT 1'").format(i(schema, name)),
        "type": sql.SQL("CREATE TYPE {} AS ENUM ('a')").format(i(schema, name)),
        # an operator no built-in has (integer ### integer), by a built-in function
        "operator": sql.SQL("CREATE OPERATOR {}.### (LEFTARG = integer, RIGHTARG = integer, "
                            "FUNCTION = pg_catalog.int4eq)").format(i(schema)),
        # a database's own setting (a custom one, which changes nothing): on this copy alone,
        # where a role's would reach every database of the server
        "setting": sql.SQL("DO $set$ BEGIN EXECUTE pg_catalog.format('ALTER DATABASE %I SET "
                           "{}.injected = %L', pg_catalog.current_database(), 'on'); END $set$"
                           ).format(sql.SQL(name)),
    }
    if kind not in (*statements, "trigger", "extension", "cast", "event_trigger"):
        raise f.NotProven(f"no way to add an unexpected {kind} is known to the self-test")
    if kind == "cast":  # from a type of its own (casts between built-in types all exist)
        source = i(schema, name)
        copy.execute(sql.SQL("CREATE TYPE {} AS ENUM ('a')").format(source))
        copy.execute(sql.SQL("CREATE CAST ({} AS integer) WITH INOUT").format(source))
    elif kind == "event_trigger":  # it does nothing, and fires on the copy's DDL alone
        function = i(schema, f"{name}_function")
        copy.execute(sql.SQL("CREATE FUNCTION {}() RETURNS event_trigger LANGUAGE plpgsql AS "
                             "'BEGIN END'").format(function))
        copy.execute(sql.SQL("CREATE EVENT TRIGGER {} ON ddl_command_end EXECUTE FUNCTION {}()"
                             ).format(i(name), function))
    elif kind == "trigger":
        function = i(schema, f"{name}_function")
        copy.execute(sql.SQL("CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS "
                             "'BEGIN RETURN NEW; END'").format(function))
        copy.execute(sql.SQL("CREATE TRIGGER {} BEFORE INSERT ON {} FOR EACH ROW EXECUTE "
                             "FUNCTION {}()").format(i(name), table, function))
    elif kind == "extension":
        found = copy.execute("SELECT name FROM pg_catalog.pg_available_extensions WHERE "
                             "installed_version IS NULL AND name = ANY (%s) ORDER BY "
                             "array_position(%s, name::text) LIMIT 1",
                             (list(_EXTENSIONS), list(_EXTENSIONS)))
        if not found:
            raise f.NotProven("no extension is available to add on the suite's server")
        copy.execute(sql.SQL("CREATE EXTENSION {} SCHEMA {}").format(i(found[0][0]), i(schema)))
        return [found[0][0]]
    else:
        copy.execute(statements[kind])
    return []


def _extra_faults(spec: NoExtraObjects, base: f.Base) -> f.Faults:
    settings_path = base.settings.search_path
    host = _host(base.catalog, settings_path)
    schema = host[0] if host else settings_path[0]
    names = () if spec.kind == "extension" else ("###",) if spec.kind == "operator" else \
        (f"{f.INJECTED}_{spec.kind}",)
    # Each adds its own object, and each check reads only the objects of its kind.
    return f.of(f.Fault(f"add an unexpected {spec.kind}" + (f" ({names[0]})" if names else ""),
                        partial(_add, spec.kind, schema, host), names=(*names, spec.kind),
                        family="drift: add an unexpected object"))


SCHEMA_OBJECT = Kind("schema_object", "drift", matches, matches_needs, items=_object_items,
                     reads=frozenset({"target", "catalog", "expected"}), faults=_object_faults)
NO_UNEXPECTED = Kind("no_unexpected_objects", "drift", no_extra, items=_kind_items,
                     reads=frozenset({"target", "catalog", "expected"}), faults=_extra_faults)
