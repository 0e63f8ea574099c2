"""Enforcement probes that conclude: a row that breaks exactly one CHECK and nothing else.

The row starts from an existing row that satisfies every CHECK of the table (so NOT NULL,
lengths, precision, enums, other rules and foreign keys hold as they do in real data), or
from synthesized values when the table is empty. Its key columns get fresh values, so an
unenforced rule is not masked by a unique violation. The broken rule's columns get values
searched for on the target itself, in one read-only query: the first candidate (from the
rule's own literals, the column type's range and the existing value) for which the rule
is false, every other rule is not false, and which fits the column's type.

Every column gets an explicit value, so no default (and no ``nextval``) is evaluated; the
INSERT then runs in a savepoint of a transaction that is always rolled back.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from checks.catalog import Catalog
from checks.catalog.expressions import check_expression
from checks.gather import explained
from checks.need import Env, TableRead
from checks.outcome import CouldNotCheck
from checks.redact import MASK
from checks.targets.base import LOCK_TIMEOUT, STATEMENT_TIMEOUT, ProbeResult, QueryError

MARKER = "__ops_verify_probe__"
MAX_CANDIDATES = 2000
_STRING = re.compile(r"'((?:[^']|'')*)'")
_NUMBER = re.compile(r"(?<![\w.$'])-?\d+(?:\.\d+)?(?![\w.'])")
_INT_RANGE = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class ProbeColumn:
    """What a probe must know of one column."""

    name: str
    type: str
    """The full type (``character varying(10)``): candidates are evaluated as it."""
    cast: str
    """The type without its length or precision: the INSERT casts to it, so a value that
    does not fit is an error, never silently cut."""
    category: str
    nullable: bool
    typmod: int
    identity: str
    generated: str
    labels: tuple[str, ...]
    fresh: bool
    """Part of a primary key or unique index: given a value no row has."""
    reference: tuple[str, str] | None
    """``(qualified table, column)`` of a single-column foreign key."""


@dataclass(frozen=True)
class Rule:
    name: str
    expression: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Probe(TableRead):
    """One CHECK's enforcement probe; every probe of a table runs in one transaction."""

    constraint: str
    columns: tuple[ProbeColumn, ...]
    rules: tuple[Rule, ...]
    values: tuple[tuple[str, Any], ...] = ()
    """Configured ``probe_values``: used instead of derived values."""
    violation: tuple[tuple[str, Any], ...] = ()
    """A configured violation: used instead of searching for one."""
    sequences: tuple[tuple[str, str], ...] = ()
    user_code: bool = False
    """Whether the INSERT may run code of the database's own (a user function in a CHECK,
    a domain's CHECK, a trigger or rule): then every sequence it could move is watched."""

    def batch(self) -> Hashable:
        return (self.schema, self.table)

    @property
    def rule(self) -> Rule:
        return next(r for r in self.rules if r.name == self.constraint)

    @property
    def searchable(self) -> bool:
        """Whether values that break the rule are to be searched for (none configured, and
        the rule names columns that are not generated)."""
        generated = {c.name for c in self.columns if c.generated}
        return (not self.violation and bool(self.rule.columns)
                and not generated & set(self.rule.columns))

    @classmethod
    def run_batch(cls, needs: list[Probe], env: Env) -> dict[Any, Any]:
        assert env.target is not None
        picks, base = _derive(needs, env)
        reports: dict[Probe, Any] = {}
        inserts = []
        for need in needs:
            found = picks[need]
            if isinstance(found, CouldNotCheck):
                reports[need] = found
                continue
            inserts.append((need, *_insert(need, base, found)))
        first = needs[0]
        try:
            batch = env.target.probe([(s, p) for _, s, _, p in inserts], first.sequences,
                                     watch_all=first.user_code)
        except CouldNotCheck as exc:
            raise explained(exc, env, first.schema, first.table) from None
        hidden = set(env.settings.sensitive_columns)  # the base row is a real one
        for (need, statement, names, params), result in zip(inserts, batch.results,
                                                            strict=True):
            if result.sqlstate in (LOCK_TIMEOUT, STATEMENT_TIMEOUT):  # not an answer
                reports[need] = explained(QueryError(f"the probe's INSERT: {result.message}",
                                                     result.sqlstate),
                                          env, need.schema, need.table)
                continue
            shown = [MASK if name in hidden else value for name, value in zip(names, params,
                                                                               strict=True)]
            reports[need] = ProbeReport(env.target.render(statement, shown), result,
                                        tuple(batch.advanced_sequences))
        return reports


@dataclass(frozen=True)
class ProbeReport:
    """What one probe did: the INSERT it ran, how PostgreSQL answered, what it moved."""

    insert: str
    result: ProbeResult
    advanced_sequences: tuple[str, ...] = ()


def plan(catalog: Catalog, schema: str, table: str, constraint: str,
         values: dict[str, Any], violation: dict[str, Any]) -> Probe:
    """The probe of ``constraint``, from the catalog alone."""
    constraints = catalog.of_table("constraints", schema, table)
    fresh = {c for i in catalog.of_table("indexes", schema, table) if i.unique or i.primary
             for c in i.columns if c}
    references = {k.columns[0]: (k.references, _referenced_column(catalog, k))
                  for k in constraints if k.type == "f" and len(k.columns) == 1 and k.references}
    labels = {f"{t.schema}.{t.name}": t.labels for t in catalog.types if t.kind == "e"}
    columns = tuple(
        ProbeColumn(c.name, c.type, c.base_type, c.category, not c.not_null, c.typmod,
                    c.identity, c.generated, _enum_labels(labels, c.base_type),
                    c.name in fresh or bool(c.identity), references.get(c.name))
        for c in catalog.of_table("columns", schema, table))
    rules = tuple(Rule(k.name, check_expression(k.definition or ""), k.columns)
                  for k in constraints if k.type == "c" and k.definition)
    tables = [(schema, table), *((r.schema, r.name) for r in catalog.descendants(schema, table))]
    user_code = any(
        any(k.user_calls for k in catalog.of_table("constraints", s, t))
        or ((relation := catalog.table(s, t)) is not None and relation.insert_calls)
        or catalog.of_table("triggers", s, t) or catalog.of_table("rules", s, t)
        or any(c.type_kind == "d" for c in catalog.of_table("columns", s, t))
        for s, t in tables)
    return Probe(schema, table, constraint, columns, rules,
                 tuple(sorted(values.items())), tuple(sorted(violation.items())),
                 tuple((s.schema, s.name) for s in catalog.sequences_of(schema, table)),
                 bool(user_code))


def _referenced_column(catalog: Catalog, k: Any) -> str:
    # "FOREIGN KEY (x) REFERENCES t(y) ..." -> y
    match = re.search(r"REFERENCES [^(]+\(([^)]+)\)", k.definition or "")
    return match.group(1).strip().strip('"') if match else "id"


def _enum_labels(labels: dict[str, tuple[str, ...]], type_name: str) -> tuple[str, ...]:
    return labels.get(type_name) or labels.get(f"public.{type_name}") or ()


def violating_insert(probe: Probe, env: Env
                     ) -> tuple[sql.Composable, list[str], list[Any], dict[str, Any]]:
    """The probe's INSERT without running it: statement, columns, values, and the values
    that break its rule (the self-test commits such a row on a throwaway copy)."""
    picks, base = _derive([probe], env)
    found = picks[probe]
    if isinstance(found, CouldNotCheck):
        raise found
    return (*_insert(probe, base, found), found)


# ---------------------------------------------------------------- derivation
def _derive(needs: list[Probe], env: Env) -> tuple[dict[Probe, Any], dict[str, Any]]:
    """A base row and each probe's violating values, in one read-only query; for an empty
    table whose synthesized row breaks another rule, a second query searches the other
    required columns' values too."""
    columns = [c for c in needs[0].columns if not c.generated]
    base, refs, results = _search(needs, columns, env, widen=False)
    stuck = [n for n in needs if isinstance(results[n], CouldNotCheck) and n.searchable]
    if stuck and not base:
        results.update(_search(stuck, columns, env, widen=True)[2])
    return results, {**refs, **base}


def _search(needs: list[Probe], columns: list[ProbeColumn], env: Env, widen: bool
            ) -> tuple[dict[str, Any], dict[str, Any], dict[Probe, Any]]:
    assert env.target is not None
    first = needs[0]
    table = sql.Identifier(first.schema, first.table)
    satisfied = sql.SQL(" AND ").join(
        [sql.SQL("({}) IS NOT FALSE").format(sql.SQL(r.expression)) for r in first.rules]
        or [sql.SQL("true")])
    base = sql.SQL(
        "SELECT pg_catalog.to_jsonb(b) FROM (SELECT {cols} FROM {table} WHERE {ok} LIMIT 1) AS b"
    ).format(cols=sql.SQL(", ").join(sql.SQL("{c}::text AS {c}").format(c=sql.Identifier(c.name))
                                     for c in columns), table=table, ok=satisfied)
    refs = sql.SQL("pg_catalog.jsonb_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, (SELECT r.{}::text FROM {} AS r LIMIT 1)").format(
            sql.Literal(c.name), sql.Identifier(c.reference[1]),
            sql.SQL(_quoted(c.reference[0])))
        for c in columns if c.reference))
    picks: list[sql.Composable] = []
    searched: list[tuple[Probe, list[str], list[tuple[Any, ...]]]] = []
    for need in needs:
        if not need.searchable:
            continue
        involved = [c for c in columns if c.name in need.rule.columns]
        texts = {c.name: need.rule.expression for c in involved}
        if widen:  # the other required columns that another rule constrains
            for c in columns:
                mentioned = [r.expression for r in need.rules
                             if c.name in r.columns and r.name != need.constraint]
                if c not in involved and mentioned and not (c.nullable or c.fresh
                                                            or c.reference):
                    involved.append(c)
                    texts[c.name] = " ".join(mentioned)
        candidates = _combinations(involved, texts)
        searched.append((need, [c.name for c in involved], candidates))
        picks.append(_pick(need, columns, involved, candidates))
    statement = sql.SQL(
        "SELECT b.__ops_verify_base, b.__ops_verify_refs{picks} FROM (SELECT ({base}) AS "
        "__ops_verify_base, {refs} AS __ops_verify_refs) AS b"
    ).format(base=base, refs=refs,
             picks=sql.SQL("").join(sql.SQL(", ({})").format(p) for p in picks))
    try:
        row = env.target.query(statement).single()
    except CouldNotCheck as exc:
        if getattr(exc, "sqlstate", None) in (LOCK_TIMEOUT, STATEMENT_TIMEOUT):
            raise explained(exc, env, first.schema, first.table) from None
        raise CouldNotCheck(f"cannot derive probe rows for {first.schema}.{first.table}: "
                            f"{exc}") from None
    results: dict[Probe, Any] = {}
    for (need, names, candidates), index in zip(searched, row[2:], strict=True):
        if index is None:
            before = [r.name for r in need.rules if r.name < need.constraint]
            results[need] = CouldNotCheck(
                f"inconclusive: no value found that breaks {need.constraint} and fits the "
                f"column types while the rules PostgreSQL checks before it hold ("
                f"{', '.join(before) or 'none'}; tried {len(candidates)}); set violation = "
                "{column = value}, or probe = false")
        else:
            results[need] = dict(zip(names, candidates[index], strict=True))
    for need in needs:
        if need.violation:
            results[need] = dict(need.violation)
        elif need not in results:
            results[need] = CouldNotCheck(
                f"cannot probe {need.constraint}: it involves no column, or a generated "
                "one; set violation = {column = value} for it")
    return _object(row[0]), _object(row[1]), results


def _object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return {k: v for k, v in (value or {}).items() if v is not None}


def _quoted(qualified: str) -> str:
    return sql.Identifier(*qualified.split(".", 1)).as_string(None)


def _pick(need: Probe, columns: list[ProbeColumn], involved: list[ProbeColumn],
          candidates: list[tuple[Any, ...]]) -> sql.Composable:
    """The index of the first candidate that breaks the rule, and only it. Values are
    inlined as literals: a rule's text may hold a ``%``."""
    names = [f"__ops_verify_v{i}" for i in range(len(involved))]
    rows = sql.SQL(", ").join(
        sql.SQL("({})").format(sql.SQL(", ").join(
            [sql.Literal(i), *(sql.SQL("{}::{}").format(sql.Literal(value), sql.SQL(col.type))
                               for col, value in zip(involved, candidate, strict=True))]))
        for i, candidate in enumerate(candidates))
    overridden = {c.name: names[i] for i, c in enumerate(involved)}
    given = dict(need.values)
    row = sql.SQL(", ").join(
        sql.SQL("v.{} AS {}").format(sql.Identifier(overridden[c.name]), sql.Identifier(c.name))
        if c.name in overridden else
        sql.SQL("{} AS {}").format(_typed_value(c, given), sql.Identifier(c.name))
        for c in columns)
    # PostgreSQL checks a table's CHECKs in name order (strcmp) and stops at the first that
    # fails:
    # every rule before this one must hold; of the rest, as few as possible may be broken
    # (an unenforced rule then shows as a row rejected by another, an error, never a pass).
    before = [r for r in need.rules if r.name < need.constraint]
    after = [r for r in need.rules if r.name > need.constraint]
    condition = sql.SQL(" AND ").join(
        [sql.SQL("({}) IS FALSE").format(sql.SQL(need.rule.expression)),
         *(sql.SQL("({}) IS NOT FALSE").format(sql.SQL(r.expression)) for r in before)])
    order = [sql.SQL(" + ").join(sql.SQL("(({}) IS FALSE)::int").format(sql.SQL(r.expression))
                                 for r in after)] if after else []
    return sql.SQL(
        "SELECT x.__ops_verify_i FROM (VALUES {rows}) AS v(__ops_verify_i, {names}) "
        "CROSS JOIN LATERAL (SELECT v.__ops_verify_i, {row}) AS x WHERE {condition} "
        "ORDER BY {order} LIMIT 1"
    ).format(rows=rows, names=sql.SQL(", ").join(map(sql.Identifier, names)), row=row,
             condition=condition,
             order=sql.SQL(", ").join([*order, sql.SQL("x.__ops_verify_i")]))


def _typed_value(col: ProbeColumn, given: dict[str, Any]) -> sql.Composable:
    """A non-probed column's value inside the search: configured, fresh, from the base row
    or a referenced row, or synthesized; as the column's full type."""
    if col.name in given:
        return sql.SQL("{}::{}").format(sql.Literal(_text(given[col.name])), sql.SQL(col.type))
    if col.fresh:
        return sql.SQL("{}::{}").format(sql.Literal(_fresh(col)), sql.SQL(col.type))
    return sql.SQL("coalesce(b.__ops_verify_base ->> {name}::text, "  # (jsonb, text): exact
                   "b.__ops_verify_refs ->> {name}::text, {synthesized})::{type}").format(
        name=sql.Literal(col.name), synthesized=sql.Literal(_synthesized(col)),
        type=sql.SQL(col.type))


def _insert(need: Probe, base: dict[str, Any], violation: dict[str, Any]
            ) -> tuple[sql.Composable, list[str], list[Any]]:
    """``INSERT`` of the base row with fresh keys, configured values and the violation;
    the columns it names, and their values."""
    given = dict(need.values)
    names, values, overriding = [], [], False
    for col in need.columns:
        if col.generated:
            continue
        if col.name in violation:
            value = violation[col.name]
        elif col.name in given:
            value = given[col.name]
        elif col.fresh:
            value = _fresh(col)
        elif col.name in base:
            value = base[col.name]
        else:
            value = _synthesized(col)
        names.append(col.name)
        values.append(_text(value))
        overriding = overriding or col.identity == "a"
    statement = sql.SQL("INSERT INTO {} ({}) {}VALUES ({})").format(
        sql.Identifier(need.schema, need.table),
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL("OVERRIDING SYSTEM VALUE " if overriding else ""),
        sql.SQL(", ").join(sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(c.cast))
                           for c in need.columns if c.name in names))
    return statement, names, values


# ---------------------------------------------------------------- candidates
def _combinations(columns: Sequence[ProbeColumn], texts: dict[str, str]
                  ) -> list[tuple[Any, ...]]:
    """Candidate rows over ``columns``: each column's pool from the rules that name it."""
    pools = [_pool(c, texts[c.name]) for c in columns]
    per_column = max(2, int(MAX_CANDIDATES ** (1 / max(1, len(pools)))))
    return list(itertools.islice(itertools.product(*(p[:per_column] for p in pools)),
                                 MAX_CANDIDATES))


def _pool(col: ProbeColumn, expression: str) -> list[Any]:
    """Values worth trying for a column: the rule's literals and their neighbours, then
    values typical of the type; only those that fit; NULL last when allowed."""
    strings = [s.replace("''", "'") for s in _STRING.findall(expression)]
    numbers = _NUMBER.findall(_STRING.sub("", expression))
    if col.labels:
        found: list[Any] = list(col.labels)
    elif col.category == "S":
        found = [MARKER, "x", "", "0", "~", *(s + "x" for s in strings), *strings,
                 *(s[:-1] for s in strings if s), *(s.upper() for s in strings)]
    elif col.category == "N":
        found = [*numbers, *(_step(n, d) for n in numbers for d in (-1, 1)),
                 "-1", "0", "1", "-1000000", "1000000", "0.5"]
    elif col.category == "B":
        found = ["false", "true"]
    elif col.category == "D":
        found = [*(s for s in strings if _DATE.match(s)), "1970-01-01", "2000-01-01",
                 "2999-12-31", "1900-01-01"]
    elif col.cast == "uuid":
        found = [str(uuid.UUID(int=0)), *(s for s in strings if _UUID.fullmatch(s))]
    elif col.category == "U" and col.cast in ("json", "jsonb"):
        found = ["{}", "[]", "null", "0", '""']
    else:
        found = []  # a literal of unknown shape could fail its cast and the whole search
    fitting = [v for v in dict.fromkeys(found) if _fits(col, v)]
    return fitting + ([None] if col.nullable else [])


def _step(number: str, delta: int) -> str:
    return str(int(number) + delta) if "." not in number else str(float(number) + delta)


def _fits(col: ProbeColumn, value: str) -> bool:
    if col.category == "S" and col.typmod > 4:  # varchar(n) / char(n): typmod = n + 4
        return len(value) <= col.typmod - 4
    if col.category == "N":
        try:
            number = float(value)
        except ValueError:
            return False
        if col.cast in _INT_RANGE:
            limit = _INT_RANGE[col.cast]
            return number == int(number) and -limit <= number < limit
        if col.cast == "numeric" and col.typmod > 4:  # numeric(p, s)
            precision, scale = (col.typmod - 4) >> 16, (col.typmod - 4) & 0xFFFF
            return abs(number) < 10 ** (precision - scale)
    return True


def _fresh(col: ProbeColumn) -> str:
    """A key value no row has: the type's minimum for integers (sequences count up)."""
    if col.cast in _INT_RANGE:
        return str(-_INT_RANGE[col.cast])
    if col.cast == "uuid":
        return str(uuid.uuid4())
    if col.category == "S":
        marker = f"{MARKER}{uuid.uuid4().hex}"
        return marker[: col.typmod - 4] if col.typmod > 4 else marker
    if col.category == "N":
        return "-1"
    return MARKER


def _synthesized(col: ProbeColumn) -> str | None:
    """A value for a required column of an empty table (NULL where allowed)."""
    if col.nullable and not col.fresh:
        return None
    if col.labels:
        return col.labels[0]
    if col.reference is not None:
        return None  # taken from a row of the referenced table, when it has one
    return {"S": "x", "N": "1", "B": "false", "D": "2000-01-01"}.get(col.category) or (
        str(uuid.UUID(int=0)) if col.cast == "uuid" else "{}" if col.cast in ("json", "jsonb")
        else None)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
