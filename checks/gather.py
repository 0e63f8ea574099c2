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
from concurrent.futures import ALL_COMPLETED, FIRST_EXCEPTION, Executor, Future, wait
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from checks.context import Context
from checks.need import Need, TableRead
from checks.outcome import CouldNotCheck
from checks.targets.base import (
    LOCK_TIMEOUT,
    RLS_WOULD_APPLY,
    STATEMENT_TIMEOUT,
    QueryError,
    Rows,
)

TOTAL = "__ops_verify_total"


def gather(needs: Iterable[Need], ctx: Context, pool: Executor) -> dict[Need, Any]:
    """Every need's result, or the CouldNotCheck that stopped it."""
    batches: dict[Hashable, list[Need]] = defaultdict(list)
    for need in dict.fromkeys(needs):  # distinct, in order
        batches[(need.runner(), need.batch())].append(need)
    # The largest tables first: on a few cores, the longest scan must not start last.
    ordered = sorted(batches.values(), key=lambda batch: -_pages(batch, ctx))
    futures: dict[Future[dict[Need, Any]], list[Need]] = {}
    results: dict[Need, Any] = {}
    try:  # an interrupt while batches are still being submitted cancels the running ones too
        for batch in ordered:
            futures[pool.submit(_run_batch, batch, ctx)] = batch
        wait_interruptibly(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            results.update(future.result())
    except BaseException:
        for future in futures:
            future.cancel()
        if ctx.target is not None and hasattr(ctx.target, "cancel"):
            ctx.target.cancel()  # the pool's threads end now, not after their queries
        raise
    return results


SIGNAL_STEP_S = 0.2
"""How long the main thread waits at a time (so a pending signal's handler runs soon)."""


def wait_interruptibly(futures: Iterable[Future[Any]], return_when: str = ALL_COMPLETED
                       ) -> None:
    """:func:`concurrent.futures.wait`, in steps of :data:`SIGNAL_STEP_S`. A signal
    (SIGTERM, Ctrl-C) that the kernel delivers to another thread of the process does not
    wake the main thread from a lock wait with no timeout: its handler would run only when
    the longest query ends (seen: a SIGTERM ignored for as long as a pg_sleep(3600) ran)."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=SIGNAL_STEP_S, return_when=return_when)
        if return_when == FIRST_EXCEPTION and any(
                not f.cancelled() and f.exception() is not None for f in done):
            return


def _pages(batch: list[Need], ctx: Context) -> int:
    """The planner's size estimate of the largest table the batch reads (0: none)."""
    sizes = [relation.pages for need in batch if isinstance(need, TableRead) and ctx.live
             and (relation := ctx.live.relation(need.schema, need.table))]
    return max(sizes, default=0)


def _run_batch(batch: list[Need], ctx: Context) -> dict[Need, Any]:
    try:
        return batch[0].runner().run_batch(batch, ctx)
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


def explained(exc: CouldNotCheck, ctx: Context, schema: str, table: str) -> CouldNotCheck:
    """A query error on a table, told the way an operator can act on it."""
    sqlstate = getattr(exc, "sqlstate", None)
    where = f"{schema}.{table}"
    s = ctx.settings
    if sqlstate == LOCK_TIMEOUT:
        return CouldNotCheck(f"{where} is locked by another session: gave up after "
                             f"lock_timeout {s.lock_timeout} ({exc})")
    if sqlstate == STATEMENT_TIMEOUT:
        return CouldNotCheck(f"reading {where} took longer than statement_timeout "
                             f"{s.statement_timeout} ({exc})")
    if sqlstate == RLS_WOULD_APPLY and "row-level security" in str(exc):
        names = [p.name for p in ctx.live.of_table("policies", schema, table)] \
            if ctx.live else []
        user = ctx.live.session.user if ctx.live and ctx.live.session else "the role"
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
    of a table shares one scan, also those of needs that run with it (their
    :meth:`runner` is Aggregate) and may answer without counting: such a need's class
    has ``before_counting(needs, ctx)``, which gives back the answered needs, the
    aggregates still to count, and what turns the counts into the rest of its answers."""

    expression: str
    """SQL text of the aggregate, over the table's own column names."""
    scope: str | None = None
    """SQL of the only rows the aggregate counts (its FILTER), if it says: when every
    aggregate of a scan does, the statement reads only rows in one of their scopes, which
    an index on them can find (a FILTER alone reads every row)."""

    def batch(self) -> Hashable:
        return (self.schema, self.table)

    def alone(self) -> str:
        return f"SELECT {self.expression} FROM {_qualified(self.schema, self.table)}"

    @classmethod
    def run_batch(cls, needs: list[Any], ctx: Context) -> dict[Any, Any]:
        results: dict[Any, Any] = {}
        counting = [n for n in needs if type(n) is Aggregate]
        finishes = []
        for kind in dict.fromkeys(type(n) for n in needs if type(n) is not Aggregate):
            group = [n for n in needs if type(n) is kind]
            try:
                answered, more, finish = kind.before_counting(group, ctx)
            except CouldNotCheck as exc:  # the others are still counted
                results.update(dict.fromkeys(group, exc))
                continue
            results.update(answered)
            counting += more
            finishes.append(finish)
        try:
            counted = cls.count(list(dict.fromkeys(counting)), ctx) if counting else {}
        except CouldNotCheck as exc:  # what was answered without counting stands
            counted = dict.fromkeys(counting, exc)
        for finish in finishes:
            results.update(finish(counted))
        return {**{n: counted[n] for n in needs if type(n) is Aggregate}, **results}

    @classmethod
    def count(cls, needs: list[Aggregate], ctx: Context) -> dict[Aggregate, Any]:
        """Every one of ``needs`` (aggregates of one table) in one statement."""
        assert ctx.target is not None
        first = needs[0]
        columns = sql.SQL(", ").join(sql.SQL("{} AS {}").format(sql.SQL(n.expression),
                                                                sql.Identifier(f"a{i}"))
                                     for i, n in enumerate(needs))
        scopes = [n.scope for n in needs]
        where = sql.SQL(" WHERE {}").format(sql.SQL(" OR ").join(
            sql.SQL("({})").format(sql.SQL(s)) for s in scopes if s)) \
            if all(scopes) else sql.SQL("")
        statement = sql.SQL("SELECT {} FROM {}{}").format(
            columns, table_name(first.schema, first.table), where)
        try:
            row = ctx.target.query(statement).single()
        except CouldNotCheck as exc:
            if len(needs) > 1 and _isolatable(exc):
                results: dict[Aggregate, Any] = {}
                for need in needs:
                    results.update(_run_batch([need], ctx))
                return results
            raise explained(exc, ctx, first.schema, first.table) from None
        return {n: Scalar(row[i], n.alone()) for i, n in enumerate(needs)}


@dataclass(frozen=True)
class Newest(TableRead):
    """The newest value of a timestamp column (an index answers it), and whether any
    row is in scope at all."""

    column: str
    where: str | None = None

    def run(self, ctx: Context) -> dict[str, Any]:
        assert ctx.target is not None
        scope = sql.SQL(" WHERE ({})").format(user_sql(self.where)) if self.where else sql.SQL("")
        table = table_name(self.schema, self.table)
        statement = sql.SQL(
            "SELECT max({col})::text AS newest, "
            # (timestamptz, timestamp) has no exact operator: pg_catalog's, by name
            "extract(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) max({col}))::float8 "
            "AS age_s, "
            "pg_catalog.now()::text AS checked_at, "
            "EXISTS (SELECT 1 FROM {table}{scope}) AS any_row FROM {table}{scope}"
        ).format(col=sql.Identifier(self.column), table=table, scope=scope)
        try:
            row = ctx.target.query(statement).one()
        except CouldNotCheck as exc:
            raise explained(exc, ctx, self.schema, self.table) from None
        return {**row, "sql": ctx.target.render(statement)}


NORMALIZED = {"lower": "pg_catalog.lower({})",
              "trim": "pg_catalog.btrim({}, E' \\t\\r\\n')",
              "lower_trim": "pg_catalog.lower(pg_catalog.btrim({}, E' \\t\\r\\n'))"}
"""How a ``[[unique]] normalize`` key is computed from a text column as stored."""
ROW_IDS = 10
"""Row ids shown per duplicated key."""


@dataclass(frozen=True)
class Duplicates(TableRead):
    """Keys that occur more than once, in one pass: a GROUP BY over the key alone, with
    row ids for the first duplicated keys only; for a normalized key, a second statement,
    only when there are duplicates, reads their rows' ids and values as stored."""

    columns: tuple[str, ...]
    where: str | None
    row_id: tuple[str, ...]
    """The primary key columns, to name the rows; empty: the rows are not named."""
    limit: int
    normalize: str | None = None
    """``lower``, ``trim`` or ``lower_trim``: duplicates are found on the key so computed."""
    own_equality: tuple[str, ...] = ()
    """Key columns of a type an extension brings (citext): matched with that type's own
    ``=``; every other column with pg_catalog's, whatever a schema on the path holds."""

    def run(self, ctx: Context) -> dict[str, Any]:
        assert ctx.target is not None
        where = f"{self.schema}.{self.table}"
        statement = self._statement()
        try:
            rows = ctx.target.query(statement).rows
        except CouldNotCheck as exc:
            raise explained(exc, ctx, self.schema, self.table) from None
        if not rows:  # the grand total's row is always there
            raise CouldNotCheck(f"{where}: the duplicates query answered no row at all, not "
                                "even its totals (cut short on the way)")
        scanned, dup_keys, dup_rows = rows[0][:3]  # the grand total's row comes first
        sample = [{"key": tuple(r[5:]), "n": r[3], "row_ids": r[4], "stored": None}
                  for r in rows[1:]]
        expected = min(int(dup_keys), self.limit)
        if len(sample) != expected:
            raise CouldNotCheck(f"{where}: the answer holds {len(sample)} of the {expected} "
                                "duplicated keys it sampled (cut short on the way)")
        shown = [ctx.target.render(statement)]
        if self.normalize and sample:
            stored = self._stored([s["key"] for s in sample])
            try:
                _, found, _ = received(ctx.target.query(stored), f"reading {where}")
            except CouldNotCheck as exc:
                raise explained(exc, ctx, self.schema, self.table) from None
            by_key = {tuple(r[3:]): r for r in found}
            for s in sample:
                if (row := by_key.get(s["key"])) is not None:
                    s["n_stored"], s["row_ids"], s["stored"] = row[0], row[1], row[2] or []
            shown.append(ctx.target.render(stored))
        for s in sample:
            n = int(s.get("n_stored", s["n"]))
            for name in ("row_ids", "stored"):
                if s[name] is not None and len(s[name]) != min(n, ROW_IDS):
                    raise CouldNotCheck(f"{where}: the answer lists {len(s[name])} of the "
                                        f"rows of a duplicated key that has {n} (cut short "
                                        "on the way)")
        return {"scanned": scanned, "dup_keys": dup_keys, "dup_rows": dup_rows,
                "sample": sample, "sql": shown}

    def _key(self, column: str) -> sql.Composable:
        """A key column as compared: normalized, or as stored."""
        ref = sql.SQL("r.{}").format(sql.Identifier(column))
        return sql.SQL(NORMALIZED[self.normalize]).format(ref) if self.normalize else ref

    def _scope(self) -> sql.Composable:
        return sql.SQL(" AND ").join(
            # NOT (x IS NULL): a composite key with one NULL field is a key all the same
            [*(sql.SQL("NOT (r.{} IS NULL)").format(sql.Identifier(c)) for c in self.columns),
             *([sql.SQL("({})").format(user_sql(self.where))] if self.where else [])])

    def _row_id(self) -> sql.Composable:
        return (sql.SQL(" || ',' || ").join(_text(sql.SQL("r.{}").format(sql.Identifier(c)))
                                            for c in self.row_id)
                if self.row_id else sql.SQL("NULL::text"))

    def _statement(self) -> sql.Composable:
        """Rows (scanned, dup_keys, dup_rows, n, row_ids, *key): the grand total's, then one
        per sampled key, the most repeated first.

        ROLLUP adds the grand total (the rows scanned) to the same sorted pass, and HAVING
        keeps only it and the duplicated keys: no second aggregate over every key, and no
        second scan for the sample. One plain SELECT (no WITH): the db-query Lambda runs
        nothing else.
        """
        k = [sql.Identifier(f"__ops_verify_k{i}") for i in range(len(self.columns))]
        keys = sql.SQL(", ").join(k)
        table = table_name(self.schema, self.table)
        # pg_catalog's = by name: a user's = for character varying in public would be
        # chosen over it; an extension's type (citext) keeps its own
        match = sql.SQL(" AND ").join(
            sql.SQL("r.{} {} d.{}").format(
                sql.Identifier(c), sql.SQL("=" if c in self.own_equality
                                           else "OPERATOR(pg_catalog.=)"), key)
            for c, key in zip(self.columns, k, strict=True))
        # a normalized key's rows have no index to be found by: read apart, when needed
        ids = (sql.SQL(
            "(SELECT pg_catalog.array_agg(x.id ORDER BY x.id) FROM (SELECT {pk} AS id "
            "FROM {table} AS r WHERE {match} AND ({scope}) ORDER BY 1 LIMIT {cap}) AS x)"
        ).format(pk=self._row_id(), table=table, match=match, scope=self._scope(),
                 cap=sql.Literal(ROW_IDS)) if self.row_id and not self.normalize
            else sql.SQL("NULL::text[]"))
        name = {n: sql.Identifier(f"__ops_verify_{n}")
                for n in ("grand", "n", "scanned", "dup_keys", "dup_rows")}
        return sql.SQL(
            "SELECT d.{scanned}, d.{dup_keys}, d.{dup_rows}, d.{n}, {ids} AS {row_ids}, "
            "{key_text} FROM ("
            "SELECT g.*, (sum(g.{n}) FILTER (WHERE g.{grand}) OVER ())::bigint AS {scanned}, "
            "(count(*) FILTER (WHERE NOT g.{grand}) OVER ())::bigint AS {dup_keys}, "
            "coalesce(sum(g.{n}) FILTER (WHERE NOT g.{grand}) OVER (), 0)::bigint AS {dup_rows} "
            "FROM (SELECT GROUPING({keys}) <> 0 AS {grand}, {keys}, count(*)::bigint AS {n} "
            "FROM (SELECT {computed} FROM {table} AS r WHERE {scope}) AS s "
            "GROUP BY ROLLUP (({keys})) "
            "HAVING count(*) > 1 OR GROUPING({keys}) <> 0) AS g "
            "ORDER BY g.{grand} DESC, g.{n} DESC, {keys} LIMIT {limit}) AS d "
            "ORDER BY d.{grand} DESC, d.{n} DESC, {order}"
        ).format(keys=keys, table=table, scope=self._scope(), ids=ids,
                 limit=sql.Literal(self.limit + 1),
                 computed=sql.SQL(", ").join(sql.SQL("{} AS {}").format(self._key(c), key)
                                             for c, key in zip(self.columns, k, strict=True)),
                 key_text=_named_texts("d", k), row_ids=sql.Identifier("__ops_verify_ids"),
                 order=sql.SQL(", ").join(sql.SQL("d.{}").format(key) for key in k), **name)

    def _stored(self, keys: list[tuple[Any, ...]]) -> sql.Composable:
        """The rows of the sampled normalized ``keys``: per key (counted), its rows in all,
        the first row ids and each one's values as stored, then the key."""
        k = [sql.Identifier(f"__ops_verify_k{i}") for i in range(len(self.columns))]
        wanted = sql.SQL(" OR ").join(
            sql.SQL("({})").format(sql.SQL(" AND ").join(
                sql.SQL("{} OPERATOR(pg_catalog.=) {}").format(self._key(c), sql.Literal(v))
                for c, v in zip(self.columns, key, strict=True)))
            for key in keys)
        first = sql.SQL("(pg_catalog.array_agg(w.{} ORDER BY w.__ops_verify_o))[1:{}]")
        return counted(sql.SQL(
            "SELECT pg_catalog.row_number() OVER (ORDER BY {keys}) AS {row}, "
            "count(*)::bigint AS __ops_verify_n, {ids} AS __ops_verify_ids, {stored} AS "
            "__ops_verify_stored, {key_text} FROM (SELECT {computed}, {pk} AS "
            "__ops_verify_o, pg_catalog.concat_ws(', ', {values}) AS __ops_verify_v "
            "FROM {table} AS r WHERE ({wanted}) AND {scope}) AS w GROUP BY {keys}").format(
            keys=sql.SQL(", ").join(sql.SQL("w.{}").format(key) for key in k),
            row=sql.Identifier(ROW),
            ids=first.format(sql.Identifier("__ops_verify_o"), sql.Literal(ROW_IDS))
            if self.row_id else sql.SQL("NULL::text[]"),
            stored=first.format(sql.Identifier("__ops_verify_v"), sql.Literal(ROW_IDS)),
            key_text=_named_texts("w", k),
            computed=sql.SQL(", ").join(sql.SQL("{} AS {}").format(self._key(c), key)
                                        for c, key in zip(self.columns, k, strict=True)),
            pk=self._row_id() if self.row_id else sql.SQL("''"),
            values=sql.SQL(", ").join(sql.SQL("pg_catalog.quote_literal(r.{})").format(
                sql.Identifier(c)) for c in self.columns),
            table=table_name(self.schema, self.table), wanted=wanted, scope=self._scope()))


def _named_texts(alias: str, keys: list[sql.Identifier]) -> sql.Composable:
    """Each key column of ``alias`` as text, named apart (the Lambda answers objects)."""
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(_text(sql.SQL("{}.{}").format(sql.Identifier(alias), key)),
                                   sql.Identifier(f"__ops_verify_key{i}"))
        for i, key in enumerate(keys))


def _text(value: sql.Composable) -> sql.Composable:
    """A value that is never NULL as text, through its type's output function (``::text``
    would run a cast a user may have created for the type)."""
    return sql.SQL("pg_catalog.format('%s', {})").format(value)


def user_sql(text: str) -> sql.SQL:
    """SQL from the config, to be wrapped in the suite's own: no trailing semicolon, and a
    line end, so that a trailing ``--`` comment cannot swallow what follows it."""
    return sql.SQL(text.strip().rstrip(";").rstrip() + "\n")


ROW = "__ops_verify_row"
"""The first column of a :func:`counted` statement's inner SELECT: its rows, numbered."""


def counted(select: sql.Composable, limit: int | None = None) -> sql.Composable:
    """``select`` (whose first column, ``__ops_verify_row``, numbers its rows in order)
    with the number of its rows in all beside each, computed by the same statement, and a
    row of NULLs when it has none: an answer cut short on the way (a proxy that drops rows
    and rewrites the count it gives) then holds fewer rows than its total, or none at all,
    never just fewer rows."""
    return sql.SQL(
        "SELECT q.*, pg_catalog.count(q.{row}) OVER () AS {total} FROM (SELECT) AS one "
        "LEFT JOIN ({select}) AS q ON true ORDER BY q.{row}{limit}").format(
        row=sql.Identifier(ROW), total=sql.Identifier(TOTAL), select=select,
        limit=sql.SQL(" LIMIT {}").format(sql.Literal(limit)) if limit else sql.SQL(""))


def received(rows: Rows, what: str, limit: int | None = None
             ) -> tuple[tuple[str, ...], list[tuple[Any, ...]], int]:
    """The columns and rows of a :func:`counted` statement's answer (without its own two
    columns) and how many rows it counted; any other number of rows received is an error."""
    if not rows.rows:
        raise CouldNotCheck(f"{what}: the answer holds no row, not even the count the "
                            "statement carries (cut short on the way)")
    total = rows.rows[0][-1]
    data = [r[1:-1] for r in rows.rows if r[0] is not None]
    expected = min(int(total), limit) if limit else int(total)
    if (len(data) != expected or len(rows.rows) != max(expected, 1)
            or any(r[-1] != total for r in rows.rows)):
        raise CouldNotCheck(f"{what}: the answer holds {len(data)} of the {expected} rows "
                            "the statement counted (cut short on the way)")
    return rows.columns[1:-1], data, int(total)


@dataclass(frozen=True)
class SelectRows(Need):
    """A configured SELECT: its first ``limit`` rows and how many there are in all."""

    text: str
    limit: int

    def run(self, ctx: Context) -> dict[str, Any]:
        assert ctx.target is not None
        statement = counted(sql.SQL(
            "SELECT pg_catalog.row_number() OVER () AS {}, x.* FROM ({}) AS x").format(
            sql.Identifier(ROW), user_sql(self.text)), self.limit)
        columns, rows, total = received(ctx.target.query(statement), "the configured SELECT",
                                        self.limit)
        return {"columns": columns, "rows": rows, "total": total}


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

    def run(self, ctx: Context) -> dict[str, Any]:
        assert ctx.target is not None
        explain = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(self.statement())
        shown = ctx.target.render(explain)
        found = {"arbiters": None, "refusal": None, "not_asked": None, "sql": shown}
        if ctx.target.kind == "lambda":
            return {**found, "not_asked": "the db-query Lambda runs only SELECT"}
        try:
            plan = ctx.target.query(explain).rows[0][0]
        except QueryError as exc:
            state = getattr(exc, "sqlstate", None)
            if state == NO_ARBITER or _REFUSED_BY_RULES in str(exc):
                return {**found, "refusal": f"{exc} (SQLSTATE {state})"}
            if state in _NOT_ASKED:
                return {**found, "not_asked": f"PostgreSQL would not plan it for this session: "
                                              f"{exc} (SQLSTATE {state})"}
            raise explained(exc, ctx, self.schema, self.table) from None
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

    def run(self, ctx: Context) -> dict[str, Any]:
        assert ctx.target is not None
        version = sql.Identifier(self.version_column)
        applied = (sql.Identifier(self.applied_at_column) if self.applied_at_column
                   else sql.SQL("NULL"))
        statement = counted(sql.SQL(
            "SELECT pg_catalog.row_number() OVER (ORDER BY {a}, {v}) AS {row}, "
            "{v}::text AS version, {a}::text AS applied_at FROM {t}").format(
            v=version, a=applied, row=sql.Identifier(ROW),
            t=table_name(self.schema, self.table)))
        where = f"{self.schema}.{self.table}"
        try:
            _, rows, _ = received(ctx.target.query(statement), f"reading {where}")
        except CouldNotCheck as exc:
            raise explained(exc, ctx, self.schema, self.table) from None
        return {"rows": [(str(v), a) for v, a in rows], "sql": ctx.target.render(statement)}


@dataclass(frozen=True)
class Normalized(Need):
    """A CHECK expression's fixed point on the scratch server (for these column types)."""

    reads = "scratch"
    columns: tuple[tuple[str, str, bool], ...]
    expression: str

    def run(self, ctx: Context) -> str:
        assert ctx.normalizer is not None
        return ctx.normalizer.check(self.columns, self.expression)


@dataclass(frozen=True)
class Replay(Need):
    """How each migration file went when replayed into an empty database."""

    reads = "scratch"

    def run(self, ctx: Context) -> Any:
        assert ctx.inputs.expected is not None
        return ctx.inputs.expected.replayed()


def _qualified(schema: str, table: str) -> str:
    return sql.Identifier(schema, table).as_string(None)


__all__ = ["Aggregate", "ArbiterPlan", "Duplicates", "LedgerRows", "Newest", "Normalized",
           "QueryError", "Replay", "Scalar", "SelectRows", "explained", "gather"]
