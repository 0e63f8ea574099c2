"""No duplicate values (e.g. one Alpaca order id opening two positions)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from psycopg import sql

from checks.catalog import Catalog
from checks.catalog.arbiters import (
    candidates,
    column_types,
    conjuncts,
    create_statement,
    implied_by,
    to_normalize,
)
from checks.catalog.model import Column, Index
from checks.config import Common, ConfigError, Identifier
from checks.gather import NORMALIZED, Duplicates, Normalized
from checks.kinds.base import Facts, Kind, Need
from checks.outcome import CouldNotCheck, Evidence, Outcome, accepted, failed, passed
from checks.proofs import INCREMENTAL, PROVEN, ProvenDuplicates, plan_duplicates
from checks.redact import MASK
from checks.selftest import faults as f

_NOT_NULL = re.compile(r'^\(*("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*) IS NOT NULL\)*$')


@dataclass(frozen=True)
class Unique(Common):
    """Columns whose values must not repeat (in the rows matching ``where``)."""

    table: Identifier
    columns: list[Identifier]
    where: str | None = None
    schema: Identifier = "public"
    name: str | None = None
    allow_empty: bool = False
    """Whether no row in scope is a pass (by default it is a failure: nothing was checked)."""
    require_guard: bool = False
    """Fail unless a unique index guards every row in scope (the database, not only the
    service, stops the next duplicate). A guard is not always an arbiter: for a service's
    ``ON CONFLICT`` declare an ``[[upserts]]`` entry."""
    normalize: Literal["lower", "trim", "lower_trim"] | None = None
    """Compare text keys lower-cased, trimmed of surrounding whitespace, or both: Alpaca
    order ids are UUIDs, so ``ORD-1`` and ``'ord-1 '`` are one order opened twice. The
    duplicates are shown as stored; no index on the column as stored guards such a key."""
    watermark: Identifier | None = None
    """A column whose values only grow (a btree index leads with it, NOT NULL): later runs
    check only rows past the last run's largest value. Default: the primary key, when it is
    one integer column."""

    def __post_init__(self) -> None:
        if not self.columns:
            raise ConfigError("columns: name at least one column")

    @property
    def id(self) -> str:
        return self.name or f"{self.table}.{'+'.join(self.columns)}"


def guards(catalog: Catalog, schema: str, table: str, columns: list[str],
           where: str | None = None, normalized: Callable[[str], str] | None = None
           ) -> list[Index]:
    """Unique indexes that really guard every row in scope: those PostgreSQL would take as
    the arbiter of ``ON CONFLICT (columns)`` (``checks.catalog.arbiters``: unique, valid,
    on exactly these columns), checked at once (not deferrable), and whose predicate, if
    any, holds for every row in scope: it is implied by ``where`` (normalized by
    ``normalized``) together with the key being NOT NULL (rows with a NULL key are never
    compared). A plain table's index guards none of its inheritance children's rows (a
    partitioned one's does)."""
    relation = catalog.table(schema, table)
    if relation and relation.kind != "p" and catalog.descendants(schema, table):
        return []

    def implied(index: Index) -> str | None:
        if _only_not_null(index.predicate, columns):
            return None
        if where and normalized is not None:
            known = [normalized(where), *(normalized(f"{_quoted(c)} IS NOT NULL")
                                          for c in columns)]
            if implied_by(normalized(index.predicate or ""), known):
                return None
        return f"partial (WHERE {index.predicate}): does not hold for every row in scope"

    return [c.index for c in candidates(catalog, schema, table, columns, implied)
            if c.qualifies and c.index.immediate]


def _quoted(column: str) -> str:
    return sql.Identifier(column).as_string(None)


def _only_not_null(predicate: str | None, columns: list[str]) -> bool:
    if not predicate:
        return False
    terms = conjuncts(predicate)
    names = []
    for term in terms:
        match = _NOT_NULL.match(term)
        if not match:
            return False
        names.append(match.group(1).strip('"').replace('""', '"'))
    return set(names) <= set(columns)


def _missing(u: Unique, catalog: Catalog) -> Outcome | None:
    if catalog.table(u.schema, u.table) is None:
        return failed(f"table {u.schema}.{u.table} does not exist")
    absent = [c for c in u.columns if catalog.column(u.schema, u.table, c) is None]
    if absent:
        return failed(f"{u.schema}.{u.table} has no column {', '.join(absent)}")
    if u.normalize and (other := [f"{c.name} ({c.type})" for c in (
            catalog.column(u.schema, u.table, name) for name in u.columns)
            if c is not None and c.category != "S"]):
        raise CouldNotCheck(f"normalize = {u.normalize!r} compares text, but {u.schema}."
                            f"{u.table} has {', '.join(other)}")
    return None


def _normalized(u: Unique, catalog: Catalog) -> list[Normalized]:
    """The texts to normalize for a partial unique index that only ``where`` can prove."""
    if not u.where:
        return []
    partial = [i for i in to_normalize(catalog, u.schema, u.table, u.columns)
               if not _only_not_null(i.predicate, u.columns)]
    if not partial:
        return []
    types = column_types(catalog, u.schema, u.table)
    texts = [u.where.strip().rstrip(";"), *(f"{_quoted(c)} IS NOT NULL" for c in u.columns),
             *(i.predicate or "" for i in partial)]
    return [Normalized(types, text) for text in texts]


def _need(u: Unique, facts: Facts) -> ProvenDuplicates:
    catalog = facts.catalog
    primary = next((i for i in catalog.of_table("indexes", u.schema, u.table)
                    if i.primary and all(i.columns)), None)
    own = tuple(c.name for c in catalog.of_table("columns", u.schema, u.table)
                if c.name in u.columns and c.user_type and c.type_kind == "b")
    scan = Duplicates(u.schema, u.table, tuple(u.columns), u.where,
                      tuple(c for c in primary.columns if c) if primary else (),
                      facts.settings.sample_rows, u.normalize, own)
    return plan_duplicates(scan, catalog, u.watermark)


def _normalized_index(u: Unique) -> str:
    """A unique index on the normalized key, built without blocking writers."""
    assert u.normalize is not None
    text = sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY ON {} ({})").format(
        sql.Identifier(u.schema, u.table), sql.SQL(", ").join(
            sql.SQL("({})").format(sql.SQL(NORMALIZED[u.normalize]).format(sql.Identifier(c)))
            for c in u.columns)).as_string(None)
    return f"{text} WHERE {u.where.strip().rstrip(';')}" if u.where else text


def needs(u: Unique, facts: Facts) -> list[Need]:
    if _missing(u, facts.catalog):
        return []
    return [_need(u, facts), *([] if u.normalize else _normalized(u, facts.catalog))]


def no_duplicates(u: Unique, facts: Facts) -> Outcome:
    """Failed with the exact number of duplicated values and rows, the first values with
    their counts and row ids, and the SQL; rows with a NULL key are not compared."""
    if missing := _missing(u, facts.catalog):
        return missing
    found = facts[_need(u, facts)]
    shown = found["sql"]
    columns = ", ".join(u.columns)
    method = found.get("method")
    if method == PROVEN:
        if not found["any_row"] and not u.allow_empty:
            return failed(f"no row with a {columns} in {u.table}"
                          f"{f' where {u.where}' if u.where else ''}: nothing was checked "
                          "(set allow_empty = true if that is expected)", sql=shown).by(method)
        return passed(f"no duplicate {columns} in scope, proven without reading a row: "
                      f"{found['proof']}", sql=shown).with_figures(
            duplicated_values=0).by(method)
    types = column_types(facts.catalog, u.schema, u.table)
    # a unique index compares values as stored: it lets 'ORD-1' and 'ord-1' both in
    guarded = [] if u.normalize else [i.name for i in guards(
        facts.catalog, u.schema, u.table, u.columns, u.where,
        lambda text: facts[Normalized(types, text.strip().rstrip(";"))])]
    guard = (f"database-level unique guard: {', '.join(guarded)}" if guarded else
             f"no database-level unique guard of the key {u.normalize}-normalized (an index "
             "on the values as stored lets other spellings in)" if u.normalize else
             "no database-level unique guard (only the service prevents duplicates)")
    scope = f" where {u.where}" if u.where else ""
    compared = f"{columns} ({u.normalize})" if u.normalize else columns
    figures = {"duplicated_values": int(found["dup_keys"]), "rows": int(found["scanned"])}
    how = _how(found)
    if int(found["dup_keys"]):
        if u.normalize:  # each row's value as it is stored, beside its id
            hidden = set(u.columns) & set(facts.settings.sensitive_columns)
            header = (*u.columns, "rows", "row ids and values as stored (first 10)")
            sample = [(*r["key"], r["n"], ", ".join(
                f"{i}: {MASK if hidden else v}" if i else MASK if hidden else v
                for i, v in zip(r["row_ids"] or [""] * len(r["stored"]), r["stored"],
                                strict=True)))
                for r in found["sample"]]
        else:
            header = (*u.columns, "rows", "row ids (first 10)")
            sample = [(*r["key"], r["n"], ", ".join(r["row_ids"] or []))
                      for r in found["sample"]]
        return failed(
            f"{found['dup_keys']} duplicated {compared} value(s) across {found['dup_rows']} "
            f"rows (of {found['scanned']} {how}); {guard}{_read(found)}",
            Evidence(f"Duplicated {compared}", header, sample, total=int(found["dup_keys"])),
            sql=shown).with_figures(**figures).fixed_by(
            f"keep one row per {compared} (the evidence names the rows), then "
            + (f"rebuild the guard, which let them in (REINDEX INDEX CONCURRENTLY "
               f"{guarded[0]}: a collation whose version changed can corrupt it)" if guarded
               else "guard it: " + (_normalized_index(u) if u.normalize else
                                    create_statement(u.schema, u.table, u.columns, u.where)))
            ).by(method)
    if method == INCREMENTAL:
        return passed(f"no duplicate {columns} among {found['scanned']} {how}; {guard}",
                      sql=shown).with_figures(**figures).by(method)
    how = f"rows {how}"
    if int(found["scanned"]) == 0:
        message = (f"no row with a {columns} in {u.table}{scope}: nothing was checked")
        if not u.allow_empty:
            return failed(message + " (set allow_empty = true if that is expected)", sql=shown)
        return accepted(message + "; accepted by allow_empty", sql=shown)
    if u.require_guard and not guarded:
        return failed(f"no duplicate {columns} among {found['scanned']} rows, but {guard}: "
                      f"the database does not stop the next one (require_guard)", sql=shown
                      ).by(method)
    return passed(f"no duplicate {columns} among {found['scanned']} {how}; {guard}"
                  f"{_read(found)}", sql=shown).with_figures(**figures).by(method)


def _read(found: dict) -> str:
    """Why every row was read (nothing proved it, no watermark served), if they were."""
    return f" (read in full: {found['reason']})" if found.get("reason") else ""


def _how(found: dict) -> str:
    """Which rows were read, and why not fewer."""
    if found.get("method") == INCREMENTAL:
        return (f"rows added since {found['watermark']} {found['since']} (each checked "
                f"against the whole table through index {found['index']}); keys changed by "
                "UPDATE, and rows that commit late or are given a lower "
                f"{found['watermark']}, are checked by the full scan, last "
                f"{found['deep_age']} ago ({found['deep_at']}; --deep, [settings] deep_every)")
    return "in scope"


# ---------------------------------------------------------------- self-test faults
def _fresh(table: sql.Identifier, column: Column) -> sql.Composable:
    """A value of the column no row has (for a key that is not the one duplicated)."""
    name = sql.Identifier(column.name)
    if column.category == "N":
        return sql.SQL("(SELECT coalesce(max(x.{}), 0) + 1 FROM {} AS x)").format(name, table)
    if column.base_type == "uuid":
        return sql.SQL("pg_catalog.gen_random_uuid()")
    if column.category == "S":
        width = column.typmod - 4 if column.typmod > 4 else 64
        return sql.SQL("pg_catalog.left({} || pg_catalog.md5(pg_catalog.random()::text), {})"
                       ).format(sql.Literal(f.INJECTED), sql.Literal(width))
    if column.category == "D":
        return sql.SQL("pg_catalog.clock_timestamp()")
    raise f.NotProven(f"no fresh value can be made for {column.name} ({column.type}), a key "
                      "of another unique index")


_CASE = "CASE WHEN upper({c}) <> {c} THEN upper({c}) ELSE lower({c}) END"
_RESPELLED = {"lower": _CASE, "trim": "' ' || {c} || ' '", "lower_trim": f"' ' || {_CASE} || ' '"}
"""With ``normalize``: the key as another spelling the comparison takes for the same (its
case changed, surrounded by spaces)."""
_COMPARED = {None: "{c}::text", "lower": "lower({c})", "trim": "btrim({c})",
             "lower_trim": "lower(btrim({c}))"}


def _duplicate(u: Unique, copy: f.DatabaseCopy) -> list[str]:
    """A copy of a row in scope with the same key (with ``normalize``, the key spelled
    otherwise): every unique index (or exclusion constraint) that would refuse it is
    dropped first, and the columns of the other keys get fresh values. Triggers are off,
    so that what is written is what lands."""
    normalize = u.normalize
    catalog = copy.catalog
    table = sql.Identifier(u.schema, u.table)
    keyed = " AND ".join(f"NOT ({sql.Identifier(c).as_string(None)} IS NULL)" for c in u.columns)
    f.scope_rows(copy, u.schema, u.table, u.where, keyed)
    fresh: set[str] = set()
    for index in catalog.of_table("indexes", u.schema, u.table):
        if not (index.unique or index.exclusion):
            continue
        plain = {c for c in index.columns if c}
        if plain <= set(u.columns):  # it would refuse the duplicate: the guard goes
            copy.execute(f.drop_index(catalog, index))
        else:
            fresh |= plain - set(u.columns)
    columns = [c for c in catalog.of_table("columns", u.schema, u.table) if not c.generated]
    values = [_fresh(table, c) if (c.name in fresh or c.identity) and c.name not in u.columns
              else sql.SQL(_RESPELLED[normalize]).format(c=sql.Identifier(c.name))
              if normalize and c.name in u.columns else sql.Identifier(c.name)
              for c in columns]
    scope = sql.SQL(" AND ").join([sql.SQL(keyed), *([sql.SQL("({})").format(
        sql.SQL(u.where.strip().rstrip(";") + "\n"))] if u.where else [])])
    compared = [sql.SQL(_COMPARED[normalize]).format(c=sql.Identifier(c)) for c in u.columns]
    key = sql.SQL(", ").join(compared)
    written = copy.execute(sql.SQL(
        "INSERT INTO {t} ({names}) {overriding}SELECT {values} FROM {t} WHERE {scope} LIMIT 1 "
        "RETURNING {key}").format(
        t=table, names=sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
        overriding=sql.SQL("OVERRIDING SYSTEM VALUE " if any(c.identity == "a" for c in columns)
                           else ""),
        values=sql.SQL(", ").join(values), scope=scope, key=key), triggers=False)
    same = sql.SQL(" AND ").join(sql.SQL("{} = {}").format(c, sql.Literal(v))
                                 for c, v in zip(compared, written[0], strict=True))
    if copy.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} AND {}").format(
            table, scope, same))[0][0] < 2:
        raise f.NotProven(f"the copied row falls outside the scope {u.where!r} (a fresh key "
                          "value changed what it matches)")
    return list(written[0])


def _faults(u: Unique, base: f.Base) -> f.Faults:
    if _missing(u, base.catalog):
        return f.already_broken(f"the expected database has no {u.schema}.{u.table} "
                                f"({', '.join(u.columns)})", u.table)
    guarded = [i.name for i in guards(base.catalog, u.schema, u.table, u.columns)]
    dropped = f" (its guard {', '.join(guarded)} dropped)" if guarded else ""
    scope = f" where {u.where}" if u.where else ""
    normalize = u.normalize
    spelled = f", spelled otherwise (normalize = {normalize})" if normalize else ""
    return f.of(f.Fault(f"insert a row with the {', '.join(u.columns)} of a row in scope"
                        f"{scope}{spelled}{dropped}", partial(_duplicate, u),
                        names=("duplicated",)))


UNIQUE = Kind("no_duplicates", "data integrity", no_duplicates, needs, section="unique",
              spec=Unique, faults=_faults)
