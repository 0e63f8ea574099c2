"""CHECK constraints: they exist, say the right thing, and PostgreSQL really enforces them."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from checks import catalog
from checks.config import CheckConstraint
from checks.context import Context
from checks.normalize import check_expression
from checks.outcome import CouldNotCheck, Evidence, Outcome, failed, passed, skipped
from checks.targets.base import QueryError

PROBE_TEXT = "__ops_verify_probe__"
_INT_MIN = {"smallint": -32768, "integer": -2147483648, "bigint": -9223372036854775808}
_FILLERS = {"S": "x", "N": "0", "B": "false", "D": "now", "A": "{}"}
_FILLERS_BY_TYPE = {"uuid": "00000000-0000-0000-0000-000000000000", "jsonb": "{}",
                    "json": "{}", "inet": "127.0.0.1"}


def definition(ctx: Context, c: CheckConstraint) -> Outcome:
    """Passed when the constraint exists under its name with the declared rule (compared
    after PostgreSQL normalizes both), and is enforced; NOT VALID is reported with the
    number of existing rows that violate it."""
    target = ctx.target
    found, shown = _find(ctx, c)
    where = f"{c.schema}.{c.table}"
    if not found["table_exists"]:
        return failed(f"table {where} does not exist", sql=shown)
    if found["name"] is None:
        existing = target.query(catalog.load("table_checks"),
                                {"schema": c.schema, "table": c.table})
        return failed(f"constraint {c.name} does not exist on {where}",
                      Evidence(f"CHECK constraints on {where}", existing.columns,
                               existing.rows), sql=shown)
    if found["type"] != "c":
        return failed(f"{c.name} on {where} is not a CHECK constraint "
                      f"(type {found['type']!r}): {found['definition']}", sql=shown)
    columns = [(col["name"], col["type"]) for col in _columns(ctx, c)]
    expected = ctx.normalizer.check(columns, c.expression)
    live = check_expression(found["definition"])
    actual = ctx.normalizer.check(columns, live)
    compare = Evidence("Definition", ("", "as declared", "normalized by PostgreSQL"), [
        ("expected", f"CHECK ({c.expression})", f"CHECK ({expected})"),
        ("found", found["definition"], f"CHECK ({actual})"),
    ])
    if expected != actual:
        return failed(f"{c.name} exists but says something else: expected CHECK "
                      f"({c.expression}), found {found['definition']}", compare, sql=shown)
    if found["enforced"] is False:
        return failed(f"{c.name} is NOT ENFORCED: PostgreSQL does not apply it", compare,
                      sql=shown)
    if found["validated"]:
        return passed(f"{c.name} matches and is validated", compare, sql=shown)
    violators, count_sql = _count_violators(ctx, c, live)
    return passed(f"{c.name} matches; NOT VALID: {violators}", compare,
                  sql=[*shown, count_sql])


def enforced(ctx: Context, c: CheckConstraint) -> Outcome:
    """Passed only when an INSERT that breaks just this constraint is rejected with
    SQLSTATE 23514 naming it; the probe is always rolled back and never uses a sequence."""
    target = ctx.target
    if target.probe_block:
        return skipped(f"enforcement probe not run: {target.probe_block}")
    found, shown = _find(ctx, c)
    if not found["table_exists"]:
        return failed(f"table {c.schema}.{c.table} does not exist", sql=shown)
    columns = _columns(ctx, c)
    if found["name"] is None and not c.violation:
        return failed(f"constraint {c.name} does not exist on {c.schema}.{c.table}: "
                      "nothing enforces it", sql=shown)
    statement, params = _probe_insert(c, columns)
    tried = [target.render(statement, params)]
    result = target.probe(statement, params)
    if not result.rejected:
        return failed(f"PostgreSQL accepted a row that breaks {c.name}: the rule is not "
                      "enforced (the probe was rolled back)", sql=tried)
    if result.sqlstate == "23514" and result.constraint == c.name:
        return passed(f"a row breaking {c.name} was rejected by it (SQLSTATE 23514); "
                      "rolled back", sql=tried)
    raise CouldNotCheck(
        f"inconclusive probe: the row was rejected for another reason (SQLSTATE "
        f"{result.sqlstate}: {result.message}); set probe_values for {c.name} in the config",
        sql=tried)


def _find(ctx: Context, c: CheckConstraint) -> tuple[dict[str, Any], list[str]]:
    params = {"schema": c.schema, "table": c.table, "name": c.name}
    query = catalog.load("check_constraints")
    rows = ctx.target.query(query, params).dicts()
    return rows[0], [ctx.target.render(query, params)]


def _columns(ctx: Context, c: CheckConstraint) -> list[dict[str, Any]]:
    params = {"schema": c.schema, "table": c.table, "constraint": c.name}
    return ctx.target.query(catalog.load("columns"), params).dicts()


def _count_violators(ctx: Context, c: CheckConstraint, live_expr: str) -> tuple[str, str]:
    """How many existing rows break a NOT VALID constraint (bounded by statement_timeout)."""
    statement = sql.SQL("SELECT count(*) FROM {} WHERE NOT ({})").format(
        sql.Identifier(c.schema, c.table), sql.SQL(live_expr))
    shown = ctx.target.render(statement)
    try:
        count = ctx.target.query(statement).scalar()
    except QueryError as exc:
        return f"violating rows unknown ({exc})", shown
    if count == 0:
        return "0 existing rows violate it (VALIDATE CONSTRAINT would succeed)", shown
    return f"{count} existing rows violate it (VALIDATE CONSTRAINT would fail)", shown


def _probe_insert(c: CheckConstraint,
                  columns: list[dict[str, Any]]) -> tuple[sql.Composed, list[Any]]:
    """An INSERT that breaks only ``c``: the violation, required columns filled, sequence
    and identity columns given explicit values so that no sequence advances."""
    violation = dict(c.violation) or _derived_violation(c, columns)
    values: dict[str, Any] = {}
    overriding = False
    for col in columns:
        name = col["name"]
        if name in violation or col["generated"]:
            continue
        if name in c.probe_values:
            values[name] = c.probe_values[name]
        elif col["identity"] or "nextval(" in (col["default_expr"] or ""):
            values[name] = _explicit_key(col, c)
            overriding = overriding or col["identity"] == "a"
        elif col["not_null"] and col["default_expr"] is None:
            values[name] = _filler(col, c)
    values.update(violation)
    names = list(values)
    statement = sql.SQL("INSERT INTO {} ({}) {}VALUES ({})").format(
        sql.Identifier(c.schema, c.table),
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL("OVERRIDING SYSTEM VALUE " if overriding else ""),
        sql.SQL(", ").join(sql.Placeholder() * len(names)),
    )
    return statement, [values[n] for n in names]


def _derived_violation(c: CheckConstraint, columns: list[dict[str, Any]]) -> dict[str, Any]:
    involved = [col for col in columns if col["in_constraint"]]
    if len(involved) == 1 and involved[0]["category"] == "S":
        return {involved[0]["name"]: PROBE_TEXT}
    raise CouldNotCheck(f"cannot derive a row that breaks {c.name}: set "
                        "violation = {column = value} for it in the config")


def _explicit_key(col: dict[str, Any], c: CheckConstraint) -> int:
    if col["type"] not in _INT_MIN:
        raise CouldNotCheck(f"cannot give {col['name']} ({col['type']}) an explicit value "
                            f"without a sequence: set probe_values for {c.name}")
    return _INT_MIN[col["type"]]


def _filler(col: dict[str, Any], c: CheckConstraint) -> str:
    filler = _FILLERS_BY_TYPE.get(col["type"]) or _FILLERS.get(col["category"])
    if filler is None:
        raise CouldNotCheck(f"no valid value known for required column {col['name']} "
                            f"({col['type']}): set probe_values for {c.name} in the config")
    return filler
