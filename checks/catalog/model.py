"""The catalog as typed, frozen objects: one class per kind of object, one row each.

Built from the rows of the ``.sql`` files beside this module (through any target), saved
as JSON for the expected-schema cache and snapshots, and read by pure functions.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from functools import cache, cached_property
from typing import Any


@dataclass(frozen=True)
class Session:
    """Who and what answered the capture."""

    server_version: str
    server_version_num: int
    database: str
    user: str
    superuser: bool
    bypass_rls: bool
    in_recovery: bool
    timezone: str
    now: str
    locked: tuple[int, ...] = ()
    overridden: tuple[str, ...] = ()
    """The timeouts the session began with that the suite's pins override (a role's or a
    database's own), as sentences for the report."""

    @property
    def major(self) -> int:
        return self.server_version_num // 10000


@dataclass(frozen=True)
class Relation:
    oid: int
    schema: str
    name: str
    kind: str
    """r table, p partitioned, f foreign, v view, m materialized view, S sequence."""
    persistence: str
    rls_enabled: bool
    rls_forced: bool
    options: tuple[str, ...]
    definition: str | None
    partition_key: str | None
    partition_bound: str | None
    parents: tuple[str, ...]
    extension: str | None
    locked: bool
    replica_identity: str = "d"
    """d default (the key), n nothing, f full, i an index."""
    publications: tuple[str, ...] = ()
    """The publications that take it, with their actions, row filter and columns."""
    pages: int = 0
    """The planner's size estimate (pg_class.relpages): which tables to read first.
    Not compared; absent from catalogs captured before it was."""
    insert_calls: tuple[str, ...] = ()
    """Functions not built in (``schema.name(types)``) that an INSERT of a row with every
    value given runs, besides triggers and rules: its constraints, its columns' domains,
    generated columns, index expressions and predicates, the partition key."""

    @property
    def is_table(self) -> bool:
        return self.kind in ("r", "p", "f")


@dataclass(frozen=True)
class Column:
    relation: int
    schema: str
    table: str
    name: str
    position: int
    type: str
    base_type: str
    typmod: int
    category: str
    type_kind: str
    user_type: bool
    """Created after initdb (an enum, domain, extension type): not on an empty server."""
    not_null: bool
    has_default: bool
    default: str | None
    identity: str
    generated: str
    collation: str | None
    volatile_calls: tuple[str, ...] = ()
    """Non-IMMUTABLE functions the CHECKs of its domain (and base domains) call."""


@dataclass(frozen=True)
class Constraint:
    oid: int
    schema: str
    table: str
    name: str
    type: str
    """c check, f foreign key, p primary key, u unique, x exclusion, t constraint trigger."""
    definition: str | None
    validated: bool
    enforced: bool
    deferrable: bool
    deferred: bool
    no_inherit: bool
    columns: tuple[str, ...]
    references: str | None
    volatile_calls: tuple[str, ...]
    user_calls: tuple[str, ...] = ()
    """Functions not built in (``schema.name(types)``) it calls, through operators, casts
    and domains too: a later redefinition changes the rule without re-checking any row,
    and evaluating it runs its author's code, whatever its volatility label says."""


@dataclass(frozen=True)
class Index:
    oid: int
    schema: str
    name: str
    table: str
    definition: str | None
    unique: bool
    primary: bool
    exclusion: bool
    immediate: bool
    valid: bool
    ready: bool
    live: bool
    partial: bool
    predicate: str | None
    nulls_not_distinct: bool
    columns: tuple[str | None, ...]
    extension: str | None

    @property
    def health_problems(self) -> list[str]:
        return [text for ok, text in ((self.valid, "INVALID"), (self.ready, "not ready"),
                                      (self.live, "being dropped")) if not ok]


@dataclass(frozen=True)
class Trigger:
    schema: str
    table: str
    name: str
    definition: str | None
    enabled: str
    function: str


@dataclass(frozen=True)
class Rule:
    schema: str
    table: str
    name: str
    definition: str | None
    event: str
    enabled: str


@dataclass(frozen=True)
class Policy:
    schema: str
    table: str
    name: str
    command: str
    permissive: bool
    roles: tuple[str, ...]
    using_expr: str | None
    check_expr: str | None


@dataclass(frozen=True)
class SequenceDef:
    """A sequence (not ``collections.abc.Sequence``): its type, bounds and owner."""

    schema: str
    name: str
    type: str
    start: str
    increment: str
    min: str
    max: str
    cycle: bool
    owned_by: str | None


@dataclass(frozen=True)
class Function:
    schema: str
    name: str
    kind: str
    definition: str | None
    volatility: str
    security_definer: bool
    extension: str | None


@dataclass(frozen=True)
class Type:
    schema: str
    name: str
    kind: str
    """e enum, d domain, r range, c composite."""
    labels: tuple[str, ...]
    base_type: str | None
    not_null: bool
    default: str | None
    checks: tuple[str, ...]
    extension: str | None


@dataclass(frozen=True)
class Extension:
    name: str
    version: str
    schema: str


@dataclass(frozen=True)
class Setting:
    """One ALTER DATABASE / ALTER ROLE ... SET that applies to sessions of this database."""

    scope: str
    """``database``, ``role <name>``, ``role <name> in database`` or ``all roles``."""
    name: str
    value: str


@dataclass(frozen=True)
class Operator:
    schema: str
    name: str
    """``=(text, text)``: the name and its argument types (``NONE`` for a prefix one)."""
    function: str
    result: str
    commutator: str | None
    negator: str | None
    restrict: str | None
    join: str | None
    merges: bool
    hashes: bool
    extension: str | None


@dataclass(frozen=True)
class Cast:
    source: str
    target: str
    function: str | None
    context: str
    """e explicit only, a in assignments, i implicitly in expressions."""
    method: str
    """f a function, i I/O conversion, b binary-coercible."""
    extension: str | None


@dataclass(frozen=True)
class EventTrigger:
    name: str
    event: str
    function: str
    enabled: str
    tags: tuple[str, ...]
    extension: str | None


KINDS: dict[str, type] = {
    "relations": Relation, "columns": Column, "constraints": Constraint, "indexes": Index,
    "triggers": Trigger, "rules": Rule, "policies": Policy, "sequences": SequenceDef,
    "functions": Function, "types": Type, "extensions": Extension, "settings": Setting,
    "operators": Operator, "casts": Cast, "event_triggers": EventTrigger,
}
"""Each kind's ``.sql`` file (``<kind>.sql``) and the class its rows become."""
NOT_SAVED = frozenset({"pages"})
"""Fields that describe the data, not the schema: a saved catalog stays the same."""


def from_row(cls: type, row: dict[str, Any]) -> Any:
    """An object from one row; lists become tuples so that objects are hashable."""
    names, required = _fields_of(cls)
    if not required <= row.keys() <= names:
        missing, extra = sorted(required - set(row)), sorted(set(row) - names)
        raise ValueError(f"{cls.__name__} row does not fit: missing {missing}, extra {extra}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in row.items()})


@cache
def _fields_of(cls: type) -> tuple[frozenset[str], frozenset[str]]:
    """A row class's field names, and those without a default (asked once per class: a
    catalog has thousands of rows)."""
    return (frozenset(f.name for f in fields(cls)),
            frozenset(f.name for f in fields(cls) if f.default is MISSING))


def _identity(obj: Any) -> tuple[Any, ...]:
    """Sort key: schema, table, then position (columns) or name."""
    return tuple(getattr(obj, name) for name in ("schema", "table", "position", "name")
                 if hasattr(obj, name))


@dataclass(frozen=True)
class Catalog:
    """Every captured object, with lookups by name."""

    session: Session | None
    relations: tuple[Relation, ...] = ()
    columns: tuple[Column, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    rules: tuple[Rule, ...] = ()
    policies: tuple[Policy, ...] = ()
    sequences: tuple[SequenceDef, ...] = ()
    functions: tuple[Function, ...] = ()
    types: tuple[Type, ...] = ()
    extensions: tuple[Extension, ...] = ()
    settings: tuple[Setting, ...] = ()
    operators: tuple[Operator, ...] = ()
    casts: tuple[Cast, ...] = ()
    event_triggers: tuple[EventTrigger, ...] = ()

    @classmethod
    def from_rows(cls, session: Session | None, rows: dict[str, list[dict[str, Any]]]
                  ) -> Catalog:
        return cls(session, **{kind: tuple(sorted((from_row(KINDS[kind], r) for r in rows[kind]),
                                                  key=_identity))
                               for kind in KINDS})

    def to_json(self) -> dict[str, Any]:
        return {
            "session": asdict(self.session) if self.session else None,
            **{kind: [{k: v for k, v in asdict(o).items() if k not in NOT_SAVED}
                      for o in getattr(self, kind)] for kind in KINDS},
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Catalog:
        session = document.get("session")
        return cls.from_rows(from_row(Session, session) if session else None,
                             {kind: document.get(kind, []) for kind in KINDS})

    # ---------------------------------------------------------------- lookups
    @cached_property
    def _relations(self) -> dict[tuple[str, str], Relation]:
        return {(r.schema, r.name): r for r in self.relations}

    @cached_property
    def _by_table(self) -> dict[str, dict[tuple[str, str], list[Any]]]:
        grouped: dict[str, dict[tuple[str, str], list[Any]]] = {}
        for kind in ("columns", "constraints", "indexes", "triggers", "rules", "policies"):
            table: dict[tuple[str, str], list[Any]] = {}
            for o in getattr(self, kind):
                table.setdefault((o.schema, o.table), []).append(o)
            grouped[kind] = table
        return grouped

    def relation(self, schema: str, name: str) -> Relation | None:
        return self._relations.get((schema, name))

    def table(self, schema: str, name: str) -> Relation | None:
        """The table (not a view or sequence) of that name, if it exists."""
        found = self.relation(schema, name)
        return found if found is not None and found.is_table else None

    def of_table(self, kind: str, schema: str, table: str) -> list[Any]:
        """Objects of ``kind`` (columns, constraints, indexes, ...) on one table, in order."""
        return self._by_table[kind].get((schema, table), [])

    def constraint(self, schema: str, table: str, name: str) -> Constraint | None:
        return next((c for c in self.of_table("constraints", schema, table) if c.name == name),
                    None)

    def column(self, schema: str, table: str, name: str) -> Column | None:
        return next((c for c in self.of_table("columns", schema, table) if c.name == name), None)

    def descendants(self, schema: str, table: str) -> list[Relation]:
        """Its partitions and inheritance children, and theirs: the tables a row written
        to it may land in, and whose rows a read of it returns."""
        found: list[Relation] = []
        parents = {f"{schema}.{table}"}
        while True:
            children = [r for r in self.relations if set(r.parents) & parents
                        and r not in found]
            if not children:
                return found
            found += children
            parents = {f"{r.schema}.{r.name}" for r in children}

    def sequences_of(self, schema: str, table: str) -> list[SequenceDef]:
        prefix = f"{schema}.{table}."
        return [s for s in self.sequences if s.owned_by and s.owned_by.startswith(prefix)]
