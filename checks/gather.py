"""Gathering what the selected checks need: merged, then run concurrently.

Needs that share a batch key run as one statement (every aggregate of a table in one
scan); the batches run on a small pool, so a run takes about as long as its longest
query, not the sum. A batch that fails gives each of its needs the same cause; one that
fails for a reason an entry might have caused alone (a bad expression) is split up, so
one bad entry cannot take the others with it.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections import defaultdict
from collections.abc import Hashable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, wait
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from checks.need import Env, Need, TableRead
from checks.outcome import CouldNotCheck
from checks.targets.base import (
    LOCK_TIMEOUT,
    RLS_WOULD_APPLY,
    STATEMENT_TIMEOUT,
    QueryError,
)

TOTAL = "__ops_verify_total"


def gather(needs: Iterable[Need], env: Env, pool: Executor) -> dict[Need, Any]:
    """Every need's result, or the CouldNotCheck that stopped it."""
    batches: dict[Hashable, list[Need]] = defaultdict(list)
    for need in dict.fromkeys(needs):  # distinct, in order
        batches[(type(need), need.batch())].append(need)
    # The largest tables first: on a few cores, the longest scan must not start last.
    ordered = sorted(batches.values(), key=lambda batch: -_pages(batch, env))
    futures: dict[Future[dict[Need, Any]], list[Need]] = {
        pool.submit(_run_batch, batch, env): batch for batch in ordered}
    results: dict[Need, Any] = {}
    try:
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            results.update(future.result())
    except BaseException:
        for future in futures:
            future.cancel()
        if env.target is not None:
            env.target.cancel()  # the pool's threads end now, not after their queries
        raise
    return results


def _pages(batch: list[Need], env: Env) -> int:
    """The planner's size estimate of the largest table the batch reads (0: none)."""
    sizes = [relation.pages for need in batch if isinstance(need, TableRead) and env.catalog
             and (relation := env.catalog.relation(need.schema, need.table))]
    return max(sizes, default=0)


def _run_batch(batch: list[Need], env: Env) -> dict[Need, Any]:
    try:
        return type(batch[0]).run_batch(batch, env)
    except CouldNotCheck as exc:
        return dict.fromkeys(batch, exc)
    except Exception as exc:  # a bug must not pass for a result: each need errors
        return dict.fromkeys(batch, unexpected(exc))


def unexpected(exc: Exception) -> CouldNotCheck:
    """A bug in the suite, as a could-not-check (its traceback goes to stderr once)."""
    traceback.print_exception(exc, file=sys.stderr)
    first = str(exc).splitlines()[0] if str(exc) else ""
    return CouldNotCheck(f"the check itself failed: {type(exc).__name__}: {first}")


def table_name(schema: str, table: str) -> sql.Identifier:
    return sql.Identifier(schema, table)


def explained(exc: CouldNotCheck, env: Env, schema: str, table: str) -> CouldNotCheck:
    """A query error on a table, told the way an operator can act on it."""
    sqlstate = getattr(exc, "sqlstate", None)
    where = f"{schema}.{table}"
    s = env.settings
    if sqlstate == LOCK_TIMEOUT:
        return CouldNotCheck(f"{where} is locked by another session: gave up after "
                             f"lock_timeout {s.lock_timeout} ({exc})")
    if sqlstate == STATEMENT_TIMEOUT:
        return CouldNotCheck(f"reading {where} took longer than statement_timeout "
                             f"{s.statement_timeout} ({exc})")
    if sqlstate == RLS_WOULD_APPLY and "row-level security" in str(exc):
        names = [p.name for p in env.catalog.of_table("policies", schema, table)] \
            if env.catalog else []
        user = env.catalog.session.user if env.catalog and env.catalog.session else "the role"
        return CouldNotCheck(
            f"row-level security on {where} would hide rows from {user} (policies: "
            f"{', '.join(names) or 'unknown'}): the check would not see every row; exempt "
            "the verify role (BYPASSRLS) or grant it a policy that shows all rows")
    if sqlstate == RLS_WOULD_APPLY:
        return CouldNotCheck(f"permission denied on {where}: {exc} (see sql/verify_role.sql)")
    return exc


def _isolatable(exc: CouldNotCheck) -> bool:
    """Whether one entry of a merged statement may alone have caused the error."""
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate is not None and sqlstate not in (LOCK_TIMEOUT, STATEMENT_TIMEOUT,
                                                     RLS_WOULD_APPLY, "42P01", "57P01")


@dataclass(frozen=True)
class Scalar:
    """One value a query produced, and the SQL that reproduces it alone."""

    value: Any
    sql: str


@dataclass(frozen=True)
class Aggregate(TableRead):
    """One aggregate over a whole table (e.g. a CHECK's violating rows); every aggregate
    of a table shares one scan."""

    expression: str
    """SQL text of the aggregate, over the table's own column names."""

    def batch(self) -> Hashable:
        return (self.schema, self.table)

    def alone(self) -> str:
        return f"SELECT {self.expression} FROM {_qualified(self.schema, self.table)}"

    @classmethod
    def run_batch(cls, needs: list[Aggregate], env: Env) -> dict[Any, Any]:
        assert env.target is not None
        first = needs[0]
        columns = sql.SQL(", ").join(sql.SQL("{} AS {}").format(sql.SQL(n.expression),
                                                                sql.Identifier(f"a{i}"))
                                     for i, n in enumerate(needs))
        statement = sql.SQL("SELECT {} FROM {}").format(columns,
                                                        table_name(first.schema, first.table))
        try:
            row = env.target.query(statement).rows[0]
        except CouldNotCheck as exc:
            if len(needs) > 1 and _isolatable(exc):
                results: dict[Any, Any] = {}
                for need in needs:
                    results.update(_run_batch([need], env))
                return results
            raise explained(exc, env, first.schema, first.table) from None
        return {n: Scalar(row[i], n.alone()) for i, n in enumerate(needs)}


@dataclass(frozen=True)
class Newest(TableRead):
    """The newest value of a timestamp column (an index answers it), and whether any
    row is in scope at all."""

    column: str
    where: str | None = None

    def run(self, env: Env) -> dict[str, Any]:
        assert env.target is not None
        scope = sql.SQL(" WHERE ({})").format(user_sql(self.where)) if self.where else sql.SQL("")
        table = table_name(self.schema, self.table)
        statement = sql.SQL(
            "SELECT max({col})::text AS newest, "
            "extract(epoch FROM pg_catalog.now() - max({col}))::float8 AS age_s, "
            "pg_catalog.now()::text AS checked_at, "
            "EXISTS (SELECT 1 FROM {table}{scope}) AS any_row FROM {table}{scope}"
        ).format(col=sql.Identifier(self.column), table=table, scope=scope)
        try:
            row = env.target.query(statement).one()
        except CouldNotCheck as exc:
            raise explained(exc, env, self.schema, self.table) from None
        return {**row, "sql": env.target.render(statement)}


@dataclass(frozen=True)
class Duplicates(TableRead):
    """Keys that occur more than once, in one pass: a GROUP BY over the key alone, with
    row ids for the first duplicated keys only."""

    columns: tuple[str, ...]
    where: str | None
    row_id: tuple[str, ...]
    """The primary key columns, to name the rows; empty: the rows are not named."""
    limit: int

    def run(self, env: Env) -> dict[str, Any]:
        assert env.target is not None
        statement = self._statement()
        try:
            rows = env.target.query(statement).rows
        except CouldNotCheck as exc:
            raise explained(exc, env, self.schema, self.table) from None
        scanned, dup_keys, dup_rows = rows[0][:3]  # the grand total's row comes first
        sample = [{"key": tuple(r[5:]), "n": r[3], "row_ids": r[4]} for r in rows[1:]]
        return {"scanned": scanned, "dup_keys": dup_keys, "dup_rows": dup_rows,
                "sample": sample, "sql": [env.target.render(statement)]}

    def _statement(self) -> sql.Composable:
        """Rows (scanned, dup_keys, dup_rows, n, row_ids, *key): the grand total's, then
        one per sampled key, the most repeated first.

        ROLLUP adds the grand total (the rows scanned) to the same sorted pass, and HAVING
        keeps only it and the duplicated keys: no second aggregate over every key, and no
        second scan for the sample. One plain SELECT (no WITH): the db-query Lambda runs
        nothing else.
        """
        keys = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        scope = sql.SQL(" AND ").join(
            # NOT (x IS NULL): a composite key with one NULL field is a key all the same
            [*(sql.SQL("NOT ({} IS NULL)").format(sql.Identifier(c)) for c in self.columns),
             *([sql.SQL("({})").format(user_sql(self.where))] if self.where else [])])
        table = table_name(self.schema, self.table)
        match = sql.SQL(" AND ").join(sql.SQL("r.{c} = d.{c}").format(c=sql.Identifier(c))
                                      for c in self.columns)
        ids = (sql.SQL("(SELECT pg_catalog.array_agg(x.id ORDER BY x.id) FROM (SELECT "
                       "({pk})::text AS id FROM {table} AS r WHERE {match} AND ({scope}) "
                       "ORDER BY 1 LIMIT 10) AS x)").format(
                   pk=sql.SQL(" || ',' || ").join(
                       sql.SQL("r.{}::text").format(sql.Identifier(c)) for c in self.row_id),
                   table=table, match=match, scope=scope)
               if self.row_id else sql.SQL("NULL::text[]"))
        name = {k: sql.Identifier(f"__ops_verify_{k}")
                for k in ("grand", "n", "scanned", "dup_keys", "dup_rows")}
        return sql.SQL(
            "SELECT d.{scanned}, d.{dup_keys}, d.{dup_rows}, d.{n}, {ids}, {key_text} FROM ("
            "SELECT g.*, (sum(g.{n}) FILTER (WHERE g.{grand}) OVER ())::bigint AS {scanned}, "
            "(count(*) FILTER (WHERE NOT g.{grand}) OVER ())::bigint AS {dup_keys}, "
            "coalesce(sum(g.{n}) FILTER (WHERE NOT g.{grand}) OVER (), 0)::bigint AS {dup_rows} "
            "FROM (SELECT GROUPING({keys}) <> 0 AS {grand}, {keys}, count(*)::bigint AS {n} "
            "FROM {table} WHERE {scope} GROUP BY ROLLUP (({keys})) "
            "HAVING count(*) > 1 OR GROUPING({keys}) <> 0) AS g "
            "ORDER BY g.{grand} DESC, g.{n} DESC, {keys} LIMIT {limit}) AS d "
            "ORDER BY d.{grand} DESC, d.{n} DESC, {order}"
        ).format(keys=keys, table=table, scope=scope, ids=ids, limit=sql.Literal(self.limit + 1),
                 key_text=sql.SQL(", ").join(sql.SQL("d.{}::text").format(sql.Identifier(c))
                                             for c in self.columns),
                 order=sql.SQL(", ").join(sql.SQL("d.{}").format(sql.Identifier(c))
                                          for c in self.columns), **name)


def user_sql(text: str) -> sql.SQL:
    """SQL from the config, to be wrapped in the suite's own: no trailing semicolon, and a
    line end, so that a trailing ``--`` comment cannot swallow what follows it."""
    return sql.SQL(text.strip().rstrip(";").rstrip() + "\n")


@dataclass(frozen=True)
class SelectRows(Need):
    """A configured SELECT: its first ``limit`` rows and how many there are in all."""

    text: str
    limit: int

    def run(self, env: Env) -> dict[str, Any]:
        assert env.target is not None
        statement = sql.SQL("SELECT q.*, count(*) OVER () AS {} FROM ({}) AS q LIMIT {}").format(
            sql.Identifier(TOTAL), user_sql(self.text),
            sql.Literal(self.limit))
        rows = env.target.query(statement)
        total = rows.rows[0][-1] if rows.rows else 0
        return {"columns": rows.columns[:-1], "rows": [r[:-1] for r in rows.rows],
                "total": int(total)}


NO_ARBITER = "42P10"
"""PostgreSQL's answer when no unique index or constraint matches an ON CONFLICT target."""
_REFUSED_BY_RULES = "cannot be used with table that has INSERT or UPDATE rules"
_NOT_ASKED = ("42501", "25006")
"""Errors that say nothing about arbiters (no INSERT privilege, a policy under
row_security = off, a read-only transaction): the catalog answers instead."""


@dataclass(frozen=True)
class ArbiterPlan(TableRead):
    """PostgreSQL's own answer to which index arbitrates ``INSERT ... ON CONFLICT
    (columns) [WHERE ...] DO NOTHING``: the statement is EXPLAINed, never executed (no
    trigger fires, no default or ``nextval`` is evaluated: every column is given a NULL of
    its type), in the suite's ordinary read-only transaction, under lock_timeout.

    ``arbiters`` are the index names the plan shows; ``refusal`` is PostgreSQL's message
    when it refuses the statement itself (no arbiter, rules on the table); ``not_asked``
    says why the server could not be asked (the db-query Lambda, no INSERT privilege)."""

    columns: tuple[str, ...]
    where: str | None
    values: tuple[tuple[str, str], ...]
    """Every column that takes a value (not generated), with its type."""

    def statement(self) -> sql.Composable:
        names = sql.SQL(", ").join(sql.Identifier(n) for n, _ in self.values)
        nulls = sql.SQL(", ").join(sql.SQL("NULL::{}").format(sql.SQL(t)) for _, t in self.values)
        scope = sql.SQL(" WHERE ({})").format(user_sql(self.where)) if self.where else sql.SQL("")
        return sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({}) "
                       "ON CONFLICT ({}){} DO NOTHING").format(
            table_name(self.schema, self.table), names, nulls,
            sql.SQL(", ").join(map(sql.Identifier, self.columns)), scope)

    def run(self, env: Env) -> dict[str, Any]:
        assert env.target is not None
        explain = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(self.statement())
        shown = env.target.render(explain)
        found = {"arbiters": None, "refusal": None, "not_asked": None, "sql": shown}
        if env.target.kind == "lambda":
            return {**found, "not_asked": "the db-query Lambda runs only SELECT"}
        try:
            plan = env.target.query(explain).rows[0][0]
        except QueryError as exc:
            state = getattr(exc, "sqlstate", None)
            if state == NO_ARBITER or _REFUSED_BY_RULES in str(exc):
                return {**found, "refusal": f"{exc} (SQLSTATE {state})"}
            if state in _NOT_ASKED:
                return {**found, "not_asked": f"PostgreSQL would not plan it for this session: "
                                              f"{exc} (SQLSTATE {state})"}
            raise explained(exc, env, self.schema, self.table) from None
        if isinstance(plan, str):
            plan = json.loads(plan)
        top = plan[0]["Plan"]
        if top.get("Conflict Resolution") != "NOTHING":
            raise CouldNotCheck(f"the plan of the upsert on {self.schema}.{self.table} shows "
                                "no ON CONFLICT DO NOTHING: " + json.dumps(top)[:200])
        return {**found, "arbiters": list(top.get("Conflict Arbiter Indexes") or [])}


@dataclass(frozen=True)
class LedgerRows(TableRead):
    """Every row of the migration ledger, oldest application first."""

    version_column: str
    applied_at_column: str | None

    def run(self, env: Env) -> dict[str, Any]:
        assert env.target is not None
        version = sql.Identifier(self.version_column)
        applied = (sql.Identifier(self.applied_at_column) if self.applied_at_column
                   else sql.SQL("NULL"))
        statement = sql.SQL("SELECT {v}::text AS version, {a}::text AS applied_at FROM {t} "
                            "ORDER BY {a}, {v}").format(v=version, a=applied,
                                                        t=table_name(self.schema, self.table))
        try:
            rows = env.target.query(statement).rows
        except CouldNotCheck as exc:
            raise explained(exc, env, self.schema, self.table) from None
        return {"rows": [(str(v), a) for v, a in rows], "sql": env.target.render(statement)}


@dataclass(frozen=True)
class Normalized(Need):
    """A CHECK expression's fixed point on the scratch server (for these column types)."""

    reads = "scratch"
    columns: tuple[tuple[str, str, bool], ...]
    expression: str

    def run(self, env: Env) -> str:
        assert env.normalizer is not None
        return env.normalizer.check(self.columns, self.expression)


@dataclass(frozen=True)
class Replay(Need):
    """How each migration file went when replayed into an empty database."""

    reads = "scratch"

    def run(self, env: Env) -> Any:
        assert env.expected is not None
        return env.expected.replayed()


def _qualified(schema: str, table: str) -> str:
    return sql.Identifier(schema, table).as_string(None)


__all__ = ["Aggregate", "ArbiterPlan", "Duplicates", "LedgerRows", "Newest", "Normalized",
           "QueryError", "Replay", "Scalar", "SelectRows", "explained", "gather"]
