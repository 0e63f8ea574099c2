"""Which unique index guards these columns under this predicate, judged from the catalog.

The rules are PostgreSQL's own (``infer_arbiter_indexes`` in the planner, then the
executor), so that the catalog answers as ``INSERT ... ON CONFLICT (columns) [WHERE
predicate] DO NOTHING`` would be answered by the server:

- only a unique index counts: ``ON CONFLICT (columns)`` never infers a non-unique index
  or an exclusion constraint (those serve only ``ON CONFLICT ON CONSTRAINT`` with DO
  NOTHING);
- the index must be valid (a failed ``CREATE INDEX CONCURRENTLY`` leaves one that is
  not), and here also ready and live;
- its plain key columns are exactly the conflict columns, in any order, with no
  expression among them (INCLUDE columns do not count);
- a partial index counts only when the ON CONFLICT's WHERE implies its predicate. The
  planner proves implication in general; this judge accepts the simplest sound case:
  every AND term of the predicate, normalized by PostgreSQL, is an AND term of the WHERE
  (or the two are the same). What it cannot prove it does not accept;
- the executor then refuses every statement whose inferred arbiters include a deferrable
  one (SQLSTATE 55000), also when an immediate one is inferred beside it;
- a table with INSERT or UPDATE rules refuses every ON CONFLICT (SQLSTATE 0A000).

``[[unique]] require_guard`` and ``[[upserts]]`` both ask these questions through
:func:`candidates`; they differ only in what they know holds for the rows in question.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from psycopg import sql

from checks.catalog.model import Catalog, Index, Rule
from checks.outcome import CouldNotCheck

ColumnTypes = tuple[tuple[str, str, bool], ...]
"""A table's columns as the normalizer takes them: name, SQL type, user-defined type."""


@dataclass(frozen=True)
class Candidate:
    """An index on the table that involves the columns, and why it is not their arbiter
    (no problems: it is)."""

    index: Index
    problems: tuple[str, ...]

    @property
    def qualifies(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        return "arbiter" if self.qualifies else "; ".join(self.problems)


Implied = Callable[[Index], str | None]
"""For a partial index that qualifies otherwise: why its predicate is not implied, or None."""


def candidates(catalog: Catalog, schema: str, table: str, columns: Iterable[str],
               implied: Implied) -> list[Candidate]:
    """Every index on ``schema.table`` whose key involves one of ``columns`` or an
    expression, with why it is not the arbiter of ``ON CONFLICT (columns)``."""
    wanted = set(columns)
    relation = catalog.relation(schema, table)
    if relation is not None and relation.locked:
        raise CouldNotCheck(f"{schema}.{table} is locked by another session: its indexes "
                            "were not read (the capture does not wait for a lock)")
    found = []
    for index in catalog.of_table("indexes", schema, table):
        keys = {c for c in index.columns if c}
        if not keys & wanted and all(index.columns):
            continue  # on other columns only: not worth showing
        found.append(Candidate(index, tuple(_problems(index, keys, wanted, implied))))
    return found


def _problems(index: Index, keys: set[str], wanted: set[str], implied: Implied
              ) -> list[str]:
    problems = []
    if index.exclusion:
        problems.append("an exclusion constraint (ON CONFLICT (columns) infers only unique "
                        "indexes)")
    elif not index.unique:
        problems.append("not unique")
    if not all(index.columns):
        problems.append("on an expression, not only on the plain columns")
    elif keys != wanted:
        problems.append(f"on ({', '.join(c or '' for c in index.columns)}), not exactly on "
                        f"({', '.join(sorted(wanted))})")
    problems += index.health_problems
    if problems and index.partial:
        problems.append(f"partial (WHERE {index.predicate})")
    elif index.partial:
        if index.predicate is None:
            raise CouldNotCheck(f"the predicate of {index.name} was not read (locked)")
        if why := implied(index):
            problems.append(why)
    return problems


def to_normalize(catalog: Catalog, schema: str, table: str, columns: Iterable[str]
                 ) -> list[Index]:
    """The partial indexes that qualify but for their predicate: only theirs need to be
    normalized (on the suite's throwaway server) to judge implication."""
    relation = catalog.relation(schema, table)
    if relation is None or relation.locked:
        return []
    wanted = set(columns)
    return [i for i in catalog.of_table("indexes", schema, table)
            if i.partial and i.predicate and i.unique and not i.exclusion and all(i.columns)
            and {c for c in i.columns if c} == wanted and not i.health_problems]


def conjuncts(expression: str) -> list[str]:
    """The top-level AND terms of a printed expression, outer parentheses removed:
    ``((a = 1) AND ((b > 2) AND c))`` -> ``["a = 1", "b > 2", "c"]``."""
    text = _unwrapped(expression.strip())
    parts = _split_and(text)
    if len(parts) == 1:
        return [text]
    return [term for part in parts for term in conjuncts(part)]


def implied_by(predicate: str, known: Iterable[str]) -> bool:
    """Whether every AND term of ``predicate`` is one of the ``known`` terms (all texts
    normalized the same way)."""
    have = {term for text in known for term in conjuncts(text)}
    return all(term in have for term in conjuncts(predicate))


def rules_refusing_on_conflict(catalog: Catalog, schema: str, table: str) -> list[Rule]:
    """INSERT or UPDATE rules that fire for a normal session: PostgreSQL refuses every
    ON CONFLICT on their table."""
    return [r for r in catalog.of_table("rules", schema, table)
            if r.event in ("2", "3") and r.enabled in ("O", "A")]


def column_types(catalog: Catalog, schema: str, table: str) -> ColumnTypes:
    return tuple((c.name, c.type, c.user_type)
                 for c in catalog.of_table("columns", schema, table))


def create_statement(schema: str, table: str, columns: list[str], where: str | None) -> str:
    """The index the service needs, built without blocking writers."""
    name = f"{table}_{'_'.join(columns)}_key"[:63]
    text = sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ({})").format(
        sql.Identifier(name), sql.Identifier(schema, table),
        sql.SQL(", ").join(map(sql.Identifier, columns))).as_string(None)
    return f"{text} WHERE {where.strip().rstrip(';')}" if where else text


def _unwrapped(text: str) -> str:
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _closing(text: str, start: int) -> int:
    """Where the parenthesis opened at ``start`` closes (-1: never), skipping quotes."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split_and(text: str) -> list[str]:
    parts, depth, quote, last, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(" OR ", i):
            return [text]  # AND binds tighter than OR: no AND term holds alone
        elif depth == 0 and text.startswith(" AND ", i):
            parts.append(text[last:i].strip())
            last = i = i + len(" AND ")
            continue
        i += 1
    parts.append(text[last:].strip())
    return parts
