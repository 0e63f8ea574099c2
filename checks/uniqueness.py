"""No duplicate values (e.g. one Alpaca order id opening two positions)."""

from __future__ import annotations

from psycopg import sql

from checks import catalog
from checks.config import Unique
from checks.context import Context
from checks.indexes import unique_guards
from checks.outcome import Evidence, Outcome, failed, passed


def no_duplicates(ctx: Context, u: Unique) -> Outcome:
    """Failed with the exact number of duplicated values and rows, the first values with
    their counts and row ids, and the SQL; rows with a NULL key are not compared."""
    target = ctx.target
    statement, params = _query(ctx, u)
    row = target.query(statement, params).dicts()[0]
    shown = [target.render(statement, params)]
    columns = ", ".join(u.columns)
    guards = unique_guards(ctx, u.schema, u.table, u.columns)
    guard = (f"database-level unique guard: {', '.join(guards)}" if guards else
             "no database-level unique guard (only the service prevents duplicates)")
    if int(row["scanned"]) == 0 and not u.allow_empty:
        return failed(f"no row with a {columns} in {u.table}"
                      + (f" where {u.where}" if u.where else "")
                      + ": nothing was checked (set allow_empty = true if that is expected)",
                      sql=shown)
    if int(row["dup_keys"]) == 0:
        return passed(f"no duplicate {columns} among {row['scanned']} rows in scope; {guard}",
                      sql=shown)
    sample = [(*(r[c] for c in u.columns), r["n"], ", ".join(map(str, r["row_ids"])))
              for r in row["sample"]]
    return failed(
        f"{row['dup_keys']} duplicated {columns} value(s) across {row['dup_rows']} rows "
        f"(of {row['scanned']} in scope); {guard}",
        Evidence(f"Duplicated {columns}", (*u.columns, "rows", "row ids (first 10)"), sample,
                 total=row["dup_keys"]),
        sql=shown,
    )


def _query(ctx: Context, u: Unique) -> tuple[sql.Composed, dict[str, int]]:
    """One statement, one scan: totals and a capped sample of the duplicated keys."""
    pk = ctx.target.query(catalog.load("primary_key"),
                          {"schema": u.schema, "table": u.table}).rows
    row_id = sql.Identifier(pk[0][0]) if len(pk) == 1 else sql.SQL("ctid")
    keys = sql.SQL(", ").join(map(sql.Identifier, u.columns))
    not_null = sql.SQL(" AND ").join(
        sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in u.columns)
    scope = sql.SQL(" AND ({})").format(sql.SQL(u.where)) if u.where else sql.SQL("")
    statement = sql.SQL(
        "WITH scope AS (SELECT {keys}, {row_id}::text AS row_id FROM {table} "
        "WHERE {not_null}{scope}), "
        "dup AS (SELECT {keys}, count(*) AS n, "
        "(array_agg(row_id ORDER BY row_id))[1:10] AS row_ids "
        "FROM scope GROUP BY {keys} HAVING count(*) > 1), "
        "sample AS (SELECT * FROM dup ORDER BY n DESC, {keys} LIMIT %(limit)s) "
        "SELECT (SELECT count(*) FROM scope) AS scanned, "
        "(SELECT count(*) FROM dup) AS dup_keys, "
        "(SELECT coalesce(sum(n), 0) FROM dup) AS dup_rows, "
        "(SELECT coalesce(json_agg(sample), '[]'::json) FROM sample) AS sample"
    ).format(keys=keys, row_id=row_id, table=sql.Identifier(u.schema, u.table),
             not_null=not_null, scope=scope)
    return statement, {"limit": ctx.settings.sample_rows}
