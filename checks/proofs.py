"""Prove instead of scan: what PostgreSQL guarantees, checked in the same statement as the
conclusion, and what earlier runs proved, kept per target (``checks.watermarks``).

- **A unique guard proves no duplicates**: a valid, ready, live, immediate unique btree
  index (or the constraint it backs, enforced) on exactly the key, with no predicate or
  one the scope implies, whose key columns compare with the column's own collation and
  default operator class, and every one of those collations at the version the index
  was built with (``pg_collation_actual_version()``; ``datcollversion`` for the
  database's default). A changed collation version is the known way such an index lies.
- **A CHECK's violators can only decrease**: every new row version is checked, so a NOT
  VALID constraint's count of 0, taken for this constraint (oid, catalog row xmin,
  definition) on this target (system identifier where readable, database oid and name)
  and not before it in time (the transaction id counter never goes back, except on a
  restore), stays 0.
- **New rows are the only unknowns** of an unguarded key: rows past a watermark (the
  primary key, or a configured monotonic column) are checked against the whole table
  through an index on the key.

Any premise that fails or cannot be observed reads the rows, as before; ``--deep`` reads
them always. Judges here are pure functions over plain rows; the needs run the SQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from checks.catalog import Catalog
from checks.catalog.arbiters import conjuncts
from checks.context import Context
from checks.gather import Aggregate, Duplicates, Scalar, explained, table_name, user_sql
from checks.need import TableRead
from checks.outcome import CouldNotCheck, human
from checks.watermarks import Store, entry_key

PROVEN, INCREMENTAL, SCANNED, CACHED = "proven", "incremental", "scanned", "cached"


def _json(value: Any) -> Any:
    """A json column: parsed by psycopg, or a string through the db-query Lambda."""
    return json.loads(value) if isinstance(value, str) else value


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _age_s(when: str | None) -> float | None:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(when or "")).total_seconds()
    except ValueError:
        return None


def identity_sql() -> sql.Composable:
    """Columns saying which database answers: its system identifier (where the role may
    read ``pg_control_system()``), oid and name, and the next transaction id (xid8: never
    goes back, except when the database was restored to an earlier point)."""
    return sql.SQL(
        "(SELECT pg_catalog.jsonb_build_object("
        "'system', (SELECT s.system_identifier::text FROM pg_catalog.pg_control_system() s "
        "WHERE pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', "
        "'EXECUTE')), 'database_oid', d.oid::text, 'database', d.datname::text) "
        "FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()"
        ")::text AS __ops_verify_identity, "
        "pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text "
        "AS __ops_verify_next_xid, pg_catalog.pg_is_in_recovery() AS __ops_verify_recovery")


def same_target(recorded: dict[str, Any], now: dict[str, Any]) -> str | None:
    """Why an entry was not recorded on the database that answers now (None: it was)."""
    for name in ("database_oid", "database", "system"):
        if recorded.get(name) != now.get(name):
            return f"recorded on another database ({name} {recorded.get(name)!r}, now " \
                   f"{now.get(name)!r}: a restore, or another target's file)"
    return None


def not_before(recorded_xid: Any, now_xid: Any) -> str | None:
    try:
        if int(now_xid) >= int(recorded_xid):
            return None
    except (TypeError, ValueError):
        return "the transaction counter it was recorded at is unknown"
    return (f"the database's transaction counter ({now_xid}) is behind the one it was "
            f"recorded at ({recorded_xid}): restored to an earlier point")


WINDOW_ROWS = 10_000
"""Up to this many rows past the watermark are always read alone (through the index)."""


def window_too_large(since: Any, high: Any, reltuples: Any) -> str | None:
    """Why the rows past an integer primary key's watermark are better read with the
    whole table (None: they are not): more than :data:`WINDOW_ROWS` and a quarter of the
    table (its planner estimate), as after a burst of inserts or a stretch without runs.
    One index lookup per new row then costs more than one pass over the table, and may not
    finish within ``statement_timeout`` where the pass does. The ids bound the rows added
    (an id skipped is counted too); values that are not integers say nothing of them."""
    try:
        added = int(high) - int(since)
    except (TypeError, ValueError):
        return None
    table = max(float(reltuples or 0), 0.0)
    if added <= max(WINDOW_ROWS, table / 4):
        return None
    return (f"up to {added:,} rows added since the last run (past {since}), more than a "
            "quarter of the table: one pass over it costs less than looking each one up")


def expired(entry: dict[str, Any], store: Store, field: str) -> str | None:
    age = _age_s(entry.get(field))
    if age is None:
        return f"no time of the last full read ({field})"
    if age > store.deep_every_s:
        return f"the last full read was {human(age)} ago, longer than deep_every"
    return None


# ----------------------------------------------------------------- unique guards
def guard_premises(schema: str, table: str, major: int) -> sql.Composable:
    """Every unique index of the table, with what the proof needs to know about it, as
    JSON: read in the statement that concludes from it."""
    default_version = (
        "(SELECT CASE WHEN d.datcollversion IS NOT NULL AND d.datcollversion "
        "OPERATOR(pg_catalog.=) pg_catalog.pg_database_collation_actual_version(d.oid) "
        "THEN NULL WHEN d.datcollate IN ('C', 'POSIX') AND "
        "coalesce(pg_catalog.to_jsonb(d.*) ->> 'datlocprovider'::text, 'c') = 'c' THEN NULL "
        "ELSE 'the database default collation ' || d.datcollate::text || ': recorded version ' "
        "|| coalesce(d.datcollversion, 'none') || ', actual ' || coalesce("
        "pg_catalog.pg_database_collation_actual_version(d.oid), 'none') END "
        "FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())"
        if major >= 15 else
        "(SELECT CASE WHEN d.datcollate IN ('C', 'POSIX') THEN NULL ELSE 'the database "
        "default collation ' || d.datcollate::text || ': its version cannot be read before "
        "PostgreSQL 15' END FROM pg_catalog.pg_database d "
        "WHERE d.datname = pg_catalog.current_database())")
    return sql.SQL(
        "(SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object("
        "'oid', i.indexrelid::text, 'name', ic.relname::text, 'xmin', i.xmin::text, "
        "'unique', i.indisunique AND NOT i.indisexclusion, 'immediate', i.indimmediate, "
        "'valid', i.indisvalid, 'ready', i.indisready, 'live', i.indislive, "
        "'method', am.amname::text, 'predicate', pg_catalog.pg_get_expr(i.indpred, i.indrelid), "
        "'constraint', con.conname::text, 'constraint_xmin', con.xmin::text, "
        "'enforced', (pg_catalog.to_jsonb(con.*) ->> 'conenforced'::text), "
        "'columns', (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.pos) "
        "  FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, pos) "
        "  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid "
        "   AND a.attnum = k.attnum WHERE k.pos <= i.indnkeyatts), "
        "'problems', (SELECT pg_catalog.array_agg(p.problem ORDER BY p.pos) FROM ("
        "  SELECT k.pos, CASE "
        "   WHEN k.attnum = 0 THEN 'an expression in the key' "
        "   WHEN NOT oc.opcdefault THEN 'column ' || a.attname::text || ' compared by operator "
        "class ' || oc.opcname::text || ', not its type''s default' "
        "   WHEN k.coll IS DISTINCT FROM a.attcollation THEN 'column ' || a.attname::text || ' "
        "indexed under another collation than its own' "
        "   WHEN k.coll = '0'::pg_catalog.oid "
        "    OR k.coll IN ('950'::pg_catalog.oid, '951'::pg_catalog.oid) THEN NULL "
        "   WHEN k.coll = '100'::pg_catalog.oid THEN {default_version} "
        "   WHEN co.collversion IS NOT NULL AND co.collversion OPERATOR(pg_catalog.=) "
        "pg_catalog.pg_collation_actual_version(co.oid) THEN NULL "
        "   ELSE 'collation ' || co.collname::text || ': recorded version ' || "
        "coalesce(co.collversion, 'none') || ', actual ' || "
        "coalesce(pg_catalog.pg_collation_actual_version(co.oid), 'none') END AS problem "
        "  FROM (SELECT x.attnum, x.pos, (i.indcollation::pg_catalog.oid[])[x.pos - 1] AS coll,"
        "   (i.indclass::pg_catalog.oid[])[x.pos - 1] AS opc "
        "   FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY x(attnum, pos) "
        "   WHERE x.pos <= i.indnkeyatts) k "
        "  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid "
        "   AND a.attnum = k.attnum "
        "  LEFT JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opc "
        "  LEFT JOIN pg_catalog.pg_collation co ON co.oid = k.coll) p "
        "  WHERE p.problem IS NOT NULL))), '[]'::pg_catalog.json) "
        "FROM pg_catalog.pg_index i "
        "JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
        "JOIN pg_catalog.pg_am am ON am.oid = ic.relam "
        "LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid "
        " AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u') "
        "WHERE i.indrelid = pg_catalog.to_regclass({name})::pg_catalog.oid "
        "AND i.indisunique)::text AS __ops_verify_guards"
    ).format(default_version=sql.SQL(default_version),
             name=sql.Literal(table_name(schema, table).as_string(None)))


@dataclass(frozen=True)
class Guard:
    """A unique index that proves the key has no duplicate, as the evidence names it."""

    name: str
    oid: str
    xmin: str
    constraint: str | None

    def describe(self) -> str:
        by = f"constraint {self.constraint} (index {self.name})" if self.constraint \
            else f"unique index {self.name}"
        return (f"guarded by {by} (valid, ready, immediate, btree on exactly the key; "
                f"collation versions current; oid {self.oid}, catalog xmin {self.xmin})")


def judge_guards(indexes: Sequence[dict[str, Any]], columns: Sequence[str],
                 where: str | None) -> tuple[Guard | None, list[str]]:
    """The first index that proves the key unique in scope, and why each other did not."""
    why_not: list[str] = []
    for index in indexes:
        if not set(index.get("columns") or []) & set(columns) and None not in (
                index.get("columns") or []):
            continue  # on other columns: not worth naming
        problems = guard_problems(index, columns, where)
        if not problems:
            return Guard(index["name"], index["oid"], index["xmin"],
                         index.get("constraint")), why_not
        why_not.append(f"{index['name']}: {'; '.join(problems)}")
    return None, why_not


def guard_problems(index: dict[str, Any], columns: Sequence[str], where: str | None
                   ) -> list[str]:
    problems = [text for ok, text in (
        (index.get("unique") is True, "not unique"),
        (index.get("valid") is True, "INVALID (a failed CREATE INDEX CONCURRENTLY?)"),
        (index.get("ready") is True, "not ready"),
        (index.get("live") is True, "being dropped"),
        (index.get("immediate") is True, "DEFERRABLE (duplicates may exist until commit)"),
        (index.get("method") == "btree", f"a {index.get('method')} index"),
        (index.get("enforced") != "false", "its constraint is NOT ENFORCED"),
    ) if not ok]
    keys = index.get("columns") or []
    if None in keys or sorted(keys) != sorted(columns):
        problems.append(f"on ({', '.join(str(k) for k in keys)}), not exactly on the key")
    problems += index.get("problems") or []
    predicate = index.get("predicate")
    if predicate and not predicate_implied(predicate, columns, where):
        problems.append(f"partial (WHERE {predicate}), not implied by the scope")
    return problems


def predicate_implied(predicate: str, columns: Sequence[str], where: str | None) -> bool:
    """Whether every row in scope satisfies the index predicate, proved the simplest sound
    way: each AND term is ``<key column> IS NOT NULL`` (rows with a NULL key are out of
    scope) or, verbatim, an AND term of ``where``."""
    known = set(conjuncts(where)) if where else set()
    for term in conjuncts(predicate):
        if term in known:
            continue
        bare = term.strip("()").removesuffix(" IS NOT NULL")
        if term.strip("()").endswith(" IS NOT NULL") and (
                bare in columns or bare.strip('"').replace('""', '"') in columns):
            continue
        return False
    return True


# ----------------------------------------------------------------- duplicates
@dataclass(frozen=True)
class ProvenDuplicates(TableRead):
    """Duplicates of a key, proven by a unique guard when one holds, else checked past the
    watermark an earlier run recorded, else scanned in full (``scan``); the result has the
    shape of :class:`Duplicates`' with ``method`` and its evidence."""

    scan: Duplicates
    key: str
    """The check's key in the store."""
    prove: bool
    """Whether a guard may prove it (not for a normalized key, nor a table with children)."""
    watermark: str | None
    """The monotonic column rows are checked past (None: always a full scan)."""
    serves: str | None
    """The index through which new rows' keys are looked up (None: none serves)."""
    major: int = 15
    no_watermark: str | None = None
    """Why no column serves as the watermark (said with the full scan)."""
    ids: bool = False
    """Whether the watermark is the integer primary key, whose values count the rows added
    (at most): a configured column's (a timestamp, epoch milliseconds) do not."""

    def batch(self) -> Hashable:
        return self

    def _premises(self) -> sql.Composable:
        t = table_name(self.schema, self.table)
        parts: list[sql.Composable] = [identity_sql(), sql.SQL(
            "pg_catalog.to_regclass({name})::pg_catalog.oid::text AS __ops_verify_table, "
            "(SELECT c.relkind = 'r' AND NOT c.relhassubclass FROM pg_catalog.pg_class c "
            "WHERE c.oid = pg_catalog.to_regclass({name})::pg_catalog.oid) "
            "AS __ops_verify_plain").format(name=sql.Literal(t.as_string(None)))]
        if self.prove:
            parts += [guard_premises(self.schema, self.table, self.major), sql.SQL(
                "EXISTS (SELECT FROM {} AS r WHERE {}) AS __ops_verify_any_row").format(
                t, self.scan._scope())]
        if self.watermark:
            parts += [sql.SQL("(SELECT max(r.{})::text FROM {} AS r) AS __ops_verify_high, "
                              "(SELECT c.reltuples FROM pg_catalog.pg_class c WHERE c.oid = "
                              "pg_catalog.to_regclass({name})::pg_catalog.oid)::float8 "
                              "AS __ops_verify_reltuples"
                              ).format(sql.Identifier(self.watermark), t,
                                       name=sql.Literal(t.as_string(None))),
                      settled_sql()]
        return sql.SQL("SELECT {}").format(sql.SQL(", ").join(parts))

    def run(self, ctx: Context) -> dict[str, Any]:
        assert ctx.target is not None
        store: Store | None = ctx.proofs
        deep = store is None or store.deep
        statement = self._premises()
        try:
            row = ctx.target.query(statement).dicts()[0]
        except CouldNotCheck as exc:
            raise explained(exc, ctx, self.schema, self.table) from None
        shown = [ctx.target.render(statement)]
        identity = _json(row["__ops_verify_identity"]) or {}
        reason = "--deep" if store is not None and store.deep else \
            "no store of earlier runs' proofs" if store is None else None
        if self.prove and not deep and not row["__ops_verify_plain"]:
            reason = "the table now has partitions or inheritance children"
        elif self.prove and not deep:
            guard, why_not = judge_guards(_json(row["__ops_verify_guards"]) or [],
                                          self.scan.columns, self.scan.where)
            if guard is not None:
                return {"method": PROVEN, "proof": guard.describe(),
                        "any_row": bool(row["__ops_verify_any_row"]), "sql": shown,
                        "scanned": None, "dup_keys": 0, "dup_rows": 0, "sample": []}
            reason = ("no unique guard proves it: " + "; ".join(why_not)) if why_not \
                else "no unique index on the key"
        elif not self.prove:
            reason = reason or "no guard can prove it (normalized key, or a table with " \
                               "children)"
        entry = {"identity": identity, "table": row["__ops_verify_table"]}
        if self.no_watermark and not deep:
            reason = f"{reason}; full scan: {self.no_watermark}" if reason else self.no_watermark
        if self.watermark and store is not None and not deep:
            found = self._incremental(ctx, store, row, entry, shown)
            if isinstance(found, dict):
                return found
            reason = f"{reason}; full scan: {found}" if reason else found
        result = self.scan.run(ctx)
        result = {**result, "method": SCANNED, "reason": reason,
                  "sql": [*result["sql"], *shown]}
        if self.watermark and store is not None and int(result["dup_keys"]) == 0 \
                and (high := row.get("__ops_verify_high")) is not None:
            # the next run reads from the last run's watermark, where there is one of this
            # database's (one run of overlap, as after an incremental run), or from this
            # one's when every transaction in progress as it was read ended before the scan
            before = store.entries.get(self.key) or {}
            previous = before.get("high") if before.get("identity") == entry["identity"] \
                and before.get("table") == entry["table"] and before.get("high") is not None \
                and row.get("__ops_verify_settled") is not True else high
            store.record(self.key, {**entry, "high": high, "previous": previous,
                                    "deep_at": _now(), "checked_at": _now()})
        return result

    def _incremental(self, ctx: Context, store: Store, row: dict[str, Any],
                     entry: dict[str, Any], shown: list[str]) -> dict[str, Any] | str:
        """The incremental result, or why the rows must be read in full."""
        assert ctx.target is not None
        recorded = store.get(self.key)
        if self.serves is None:
            return "no index on the key serves a lookup of new rows' keys"
        if recorded is None:
            return store.problem or "no watermark recorded by an earlier run"
        why = (same_target(recorded.get("identity") or {}, entry["identity"])
               or (None if recorded.get("table") == entry["table"] else
                   "the table was dropped and re-created since")
               or expired(recorded, store, "deep_at"))
        if why:
            return why
        since = recorded.get("previous")
        high_then = recorded.get("high")
        if since is None or high_then is None:
            return "the recorded watermark is incomplete"
        if self.ids and (why := window_too_large(since, row.get("__ops_verify_high"),
                                                 row.get("__ops_verify_reltuples"))):
            return why
        statement = self._past(since, high_then)
        try:
            found = ctx.target.query(statement).dicts()[0]
        except CouldNotCheck as exc:
            raise explained(exc, ctx, self.schema, self.table) from None
        shown.insert(0, ctx.target.render(statement))
        if found["high_known"] is False:
            return (f"the largest {self.watermark} is now below the watermark "
                    f"{high_then} (rows deleted, or the key reset)")
        sample = _json(found["sample"]) or []
        dup_keys = int(found["dup_keys"])
        if len(sample) != min(dup_keys, self.scan.limit):
            raise CouldNotCheck(f"{self.schema}.{self.table}: the answer holds {len(sample)} "
                                f"of the {dup_keys} duplicated keys it sampled (cut short)")
        high = found["high"] if found["high"] is not None else high_then
        if dup_keys == 0:
            store.record(self.key, {**entry, "high": high, "previous": high_then,
                                    "deep_at": recorded["deep_at"], "checked_at": _now()})
        # a failure keeps the entry as it was: the next run reads the same rows again
        return {"method": INCREMENTAL, "since": since, "high": high,
                "watermark": self.watermark, "index": self.serves,
                "deep_age": human(_age_s(recorded["deep_at"])),
                "deep_at": recorded["deep_at"], "scanned": int(found["scanned"]),
                "dup_keys": dup_keys, "dup_rows": int(found["dup_rows"]),
                "sample": [{"key": tuple(s["key"]), "n": s["n"], "row_ids": s["row_ids"],
                            "stored": None} for s in sample], "sql": shown}

    def _past(self, since: str, high_then: str) -> sql.Composable:
        """Rows past ``since`` (in scope), the keys among them that occur more than once in
        the whole table (in scope, found through the key's index), the first of them with
        their row ids, and the largest watermark value now: one statement, one row."""
        d = self.scan
        t = table_name(self.schema, self.table)
        wm = sql.Identifier(self.watermark or "")
        keys = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in d.columns)
        texts = sql.SQL(", ").join(sql.SQL("pg_catalog.format('%s', r.{})").format(
            sql.Identifier(c)) for c in d.columns)
        # pg_catalog's = by name, as the full scan compares (an extension's type keeps its own)
        match = sql.SQL(" AND ").join(sql.SQL("n.{c} {op} r.{c}").format(
            c=sql.Identifier(c), op=sql.SQL("=" if c in d.own_equality
                                            else "OPERATOR(pg_catalog.=)"))
            for c in d.columns)
        new_scope = sql.SQL(" AND ").join(
            [*(sql.SQL("NOT (n.{} IS NULL)").format(sql.Identifier(c)) for c in d.columns),
             *([sql.SQL("({})").format(user_sql(d.where))] if d.where else [])])
        rid = d._row_id()
        ids = (sql.SQL("(pg_catalog.array_agg({rid} ORDER BY {rid}))[1:10]").format(rid=rid)
               if d.row_id else sql.SQL("NULL::text[]"))
        value = sql.Literal(since)
        return sql.SQL(
            "SELECT (SELECT count(*) FROM {t} AS n WHERE n.{wm} > {since} AND {new_scope})"
            "::bigint AS scanned, (SELECT max(r.{wm})::text FROM {t} AS r) AS high, "
            "(SELECT max(r.{wm}) >= {high_then} FROM {t} AS r) AS high_known, "
            "dk.dup_keys::bigint AS dup_keys, coalesce(dk.dup_rows, 0)::bigint AS dup_rows, "
            "coalesce(dk.sample, '[]')::text AS sample FROM (SELECT count(*) AS dup_keys, "
            "sum(g.n) AS dup_rows, pg_catalog.json_agg(pg_catalog.json_build_object("
            "'key', g.key, 'n', g.n, 'row_ids', g.row_ids) ORDER BY g.rank) "
            "FILTER (WHERE g.rank <= {limit}) AS sample FROM ("
            "SELECT ARRAY[{texts}] AS key, count(*) AS n, {ids} AS row_ids, "
            "pg_catalog.row_number() OVER (ORDER BY count(*) DESC, ARRAY[{texts}]) AS rank "
            "FROM {t} AS r WHERE {scope} AND EXISTS (SELECT FROM {t} AS n "
            "WHERE n.{wm} > {since} AND {new_scope} AND {match}) "
            "GROUP BY {keys} HAVING count(*) > 1) AS g) AS dk"
        ).format(t=t, wm=wm, since=value, high_then=sql.Literal(high_then),
                 new_scope=new_scope, keys=keys, texts=texts, match=match, scope=d._scope(),
                 ids=ids, limit=sql.Literal(d.limit))


_INTEGERS = ("smallint", "integer", "bigint")


def settled_sql() -> sql.Composable:
    """``__ops_verify_settled``: no transaction holds a transaction id (none that has
    written anything is in progress, in any database), read in the statement that reads
    the watermark; a standby's locks do not show the primary's, so never there. Then every
    transaction in progress when the watermark was read ended before the next statement
    began, and a full scan in a later statement sees every row below that watermark. (A
    transaction that took a sequence value but has written nothing holds no id: what the
    nightly full scan is for.)"""
    return sql.SQL("(NOT pg_catalog.pg_is_in_recovery() AND NOT EXISTS (SELECT FROM "
                   "pg_catalog.pg_locks AS l WHERE l.locktype OPERATOR(pg_catalog.=) "
                   "'transactionid')) AS __ops_verify_settled")


def plan_duplicates(scan: Duplicates, catalog: Catalog, watermark: str | None
                    ) -> ProvenDuplicates:
    """What may spare the full scan of ``scan``, as far as the captured catalog shows (the
    premises themselves are read again in the statement that concludes)."""
    schema, table = scan.schema, scan.table
    relation = catalog.table(schema, table)
    plain = relation is not None and relation.kind == "r" and not catalog.descendants(
        schema, table)
    indexes = [i for i in catalog.of_table("indexes", schema, table)
               if not i.health_problems and " USING btree " in (i.definition or "")]
    column, why = watermark, None
    if column is None:
        primary = next((i for i in indexes if i.primary), None)
        pk = catalog.column(schema, table, primary.columns[0]) \
            if primary and len(primary.columns) == 1 and primary.columns[0] else None
        column = pk.name if pk is not None and pk.type in _INTEGERS else None
        why = None if column else ("no watermark: the primary key is not one integer column "
                                   "(set watermark = \"<column>\")")
    elif not ((c := catalog.column(schema, table, column)) and c.not_null and any(
            i.columns and i.columns[0] == column and not i.partial for i in indexes)):
        why = (f"watermark {column} is not a NOT NULL column that a valid btree index (not "
               "partial) leads with")
        column = None
    serves = next((i.name for i in indexes if i.columns and i.columns[0] in scan.columns
                   and (not i.predicate or predicate_implied(i.predicate, scan.columns,
                                                             scan.where))), None)
    session = catalog.session
    return ProvenDuplicates(
        schema, table, scan=scan,
        key=entry_key("no_duplicates", schema, table, scan.columns, scan.where,
                      scan.normalize, column),
        prove=plain and not scan.normalize, watermark=column if plain else None,
        serves=None if scan.normalize else serves,
        major=session.major if session else 15,
        no_watermark=why if plain else "a table with partitions or children is read in full",
        ids=watermark is None and column is not None)


# ----------------------------------------------------------------- NOT VALID counts
def constraint_premises(schema: str, table: str, names: Sequence[str]) -> sql.Composable:
    t = table_name(schema, table).as_string(None)
    return sql.SQL(
        "SELECT {identity}, (SELECT coalesce(pg_catalog.json_agg("
        "pg_catalog.json_build_object('name', c.conname::text, 'oid', c.oid::text, "
        "'xmin', c.xmin::text, 'definition', pg_catalog.pg_get_constraintdef(c.oid), "
        "'validated', c.convalidated, 'enforced', (pg_catalog.to_jsonb(c.*) ->> "
        "'conenforced'::text), 'children', (SELECT r.relhassubclass FROM pg_catalog.pg_class r "
        "WHERE r.oid = c.conrelid))), '[]'::pg_catalog.json) "
        "FROM pg_catalog.pg_constraint c WHERE c.conrelid = pg_catalog.to_regclass({t})"
        "::pg_catalog.oid AND c.contype = 'c' AND c.conname = ANY ({names}::text[]))::text "
        "AS __ops_verify_constraints").format(identity=identity_sql(), t=sql.Literal(t),
                                              names=sql.Literal(list(names)))


def count_still_holds(entry: dict[str, Any] | None, now: dict[str, Any],
                      identity: dict[str, Any], next_xid: Any, store: Store) -> str | None:
    """Why a recorded count of 0 no longer proves anything (None: it does)."""
    if entry is None:
        return store.problem or "not counted by an earlier run"
    for name, what in (("oid", "the constraint was re-created"),
                       ("definition", "its definition changed"),
                       ("xmin", "its catalog row was changed (ALTER, or a catalog edit)")):
        if entry.get(name) != now.get(name):
            return what
    if now.get("enforced") == "false":
        return "it is NOT ENFORCED"
    if now.get("children"):
        return "the table has children (their rows are counted, and may be new)"
    return (same_target(entry.get("identity") or {}, identity)
            or not_before(entry.get("next_xid"), next_xid)
            or expired(entry, store, "counted_at"))


@dataclass(frozen=True)
class Counted(Scalar):
    """A count of violating rows, and when it was taken if an earlier run took it."""

    counted_at: str | None = None
    method: str = SCANNED
    reason: str | None = None


@dataclass(frozen=True)
class Violators(TableRead):
    """A NOT VALID CHECK's violating rows: an earlier run's count of 0 where it still
    proves the count (see :func:`count_still_holds`), else counted (every count of a
    table in one scan, as :class:`Aggregate`)."""

    name: str
    expression: str
    key: str

    def batch(self) -> Hashable:
        return (self.schema, self.table)

    def aggregate(self) -> Aggregate:
        return Aggregate(self.schema, self.table, self.expression)

    @classmethod
    def runner(cls) -> type[Aggregate]:
        return Aggregate  # counted in the table's one scan with its other aggregates

    @classmethod
    def before_counting(cls, needs: list[Violators], ctx: Context) -> tuple[
            dict[Violators, Counted], list[Aggregate],
            Callable[[dict[Aggregate, Any]], dict[Violators, Any]]]:
        """The counts an earlier run's 0 still proves; the aggregates to count for the
        rest; and what records each new count (see :class:`Aggregate`)."""
        assert ctx.target is not None
        first = needs[0]
        store: Store | None = ctx.proofs
        statement = constraint_premises(first.schema, first.table, [n.name for n in needs])
        try:
            row = ctx.target.query(statement).dicts()[0]
        except CouldNotCheck as exc:
            raise explained(exc, ctx, first.schema, first.table) from None
        identity = _json(row["__ops_verify_identity"]) or {}
        next_xid = row["__ops_verify_next_xid"]
        live = {c["name"]: c for c in _json(row["__ops_verify_constraints"]) or []}
        answered: dict[Violators, Counted] = {}
        to_count: dict[Violators, str] = {}
        for need in needs:
            now = live.get(need.name) or {}
            why = ("--deep" if store is not None and store.deep else
                   "no store of earlier runs' proofs" if store is None else
                   count_still_holds(store.get(need.key), now, identity, next_xid, store))
            if why is None:
                assert store is not None
                entry = store.get(need.key) or {}
                answered[need] = Counted(0, need.aggregate().alone(),
                                         counted_at=entry.get("counted_at"), method=CACHED)
            else:
                to_count[need] = why

        def finish(counted: dict[Aggregate, Any]) -> dict[Violators, Any]:
            results: dict[Violators, Any] = {}
            for need, why in to_count.items():
                found = counted[need.aggregate()]
                if isinstance(found, CouldNotCheck):
                    results[need] = found
                    continue
                results[need] = Counted(found.value, found.sql, reason=why)
                now = live.get(need.name)
                if store is not None and now and int(found.value) == 0:
                    store.record(need.key, {"identity": identity, "next_xid": next_xid,
                                            "oid": now["oid"], "xmin": now["xmin"],
                                            "definition": now["definition"],
                                            "counted_at": _now()})
                elif store is not None:
                    store.forget(need.key)
            return results

        return answered, [n.aggregate() for n in to_count], finish


__all__ = ["CACHED", "INCREMENTAL", "PROVEN", "SCANNED", "Counted", "ProvenDuplicates",
           "Violators", "judge_guards", "plan_duplicates", "predicate_implied"]
