"""A live definition as another engine prints it: created from the live text on the
expected schema, inside a transaction that is rolled back, then printed there.

PostgreSQL prints definitions from parsed trees, and each major prints some of them its
own way. When the expected schema was built on another major than the live server's, the
two texts are compared only after both were printed by the expected schema's engine: a
printing difference disappears, a real one stays.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import psycopg
from psycopg import sql

from checks.catalog.compare import DEFINITIONS

TEMPORARY = "__ops_verify_reprint"
_NAME = r'("(?:[^"]|"")+"|[^\s"]+)'
_CREATE = {
    "index": re.compile(rf"^(CREATE (?:UNIQUE )?INDEX ){_NAME}(\s+ON\s)"),
    "trigger": re.compile(rf"^(CREATE (?:CONSTRAINT )?TRIGGER ){_NAME}(\s)"),
    "rule": re.compile(rf"^(CREATE RULE ){_NAME}(\s+AS\s)"),
}


def reprint(conn: psycopg.Connection, object_id: str, attribute: str, text: str,
            parents: Sequence[str] = ()) -> str | None:
    """``text``, the live ``attribute`` of ``object_id``, as ``conn``'s engine prints it.
    Call inside a transaction that is rolled back; raises psycopg.Error when the text
    cannot be created on this schema."""
    kind, name = object_id.split(":", 1)
    assert (kind, attribute) in DEFINITIONS, (kind, attribute)
    if kind == "view":
        return _view(conn, *_split(name, 2), text)
    if kind == "function":
        return _function(conn, *_split(name, 2), text)
    if kind == "table":
        return _partition_bound(conn, *_split(name, 2), text, parents)
    if kind == "index":
        return _renamed(conn, "index", text, "SELECT pg_catalog.pg_get_indexdef(c.oid) FROM "
                        "pg_catalog.pg_class c WHERE c.relname = %s AND c.relnamespace = "
                        "%s::pg_catalog.regnamespace", (TEMPORARY, _split(name, 2)[0]))
    schema, table, member = _split(name, 3)
    relation = sql.Identifier(schema, table).as_string(conn)
    if kind == "trigger":
        return _renamed(conn, "trigger", text, "SELECT pg_catalog.pg_get_triggerdef(t.oid) "
                        "FROM pg_catalog.pg_trigger t WHERE t.tgname = %s AND t.tgrelid = "
                        "%s::pg_catalog.regclass", (TEMPORARY, relation))
    if kind == "rule":
        return _renamed(conn, "rule", text, "SELECT pg_catalog.pg_get_ruledef(r.oid) FROM "
                        "pg_catalog.pg_rewrite r WHERE r.rulename = %s AND r.ev_class = "
                        "%s::pg_catalog.regclass", (TEMPORARY, relation))
    printers: dict[str, Callable[..., str | None]] = {
        "constraint": _constraint, "column": _default, "policy": _policy}
    return printers[kind](conn, schema, table, member, attribute, text)


def _split(name: str, parts: int) -> list[str]:
    found = name.split(".", parts - 1)
    if len(found) != parts:
        raise ValueError(f"cannot read the name {name!r}")
    return found


def _one(conn: psycopg.Connection, query: str, params: Sequence[object]) -> str | None:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None


def _view(conn: psycopg.Connection, schema: str, name: str, text: str) -> str | None:
    view = sql.Identifier(schema, name)
    conn.execute(sql.SQL("CREATE OR REPLACE VIEW {} AS ").format(view)
                 + sql.SQL(text.rstrip().rstrip(";")))
    return _one(conn, "SELECT pg_catalog.pg_get_viewdef(%s::pg_catalog.regclass, true)",
                (view.as_string(conn),))


def _function(conn: psycopg.Connection, schema: str, signature: str, text: str) -> str | None:
    conn.execute(sql.SQL(text))  # pg_get_functiondef prints CREATE OR REPLACE FUNCTION
    return _one(conn, "SELECT pg_catalog.pg_get_functiondef(p.oid) FROM pg_catalog.pg_proc p "
                "WHERE p.pronamespace = %s::pg_catalog.regnamespace AND p.proname || '(' || "
                "pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' = %s",
                (sql.Identifier(schema).as_string(conn), signature))


def _renamed(conn: psycopg.Connection, kind: str, text: str, printed: str,
             params: Sequence[object]) -> str | None:
    """Create the object under a temporary name (the live one exists already), print it,
    and put the live name back into the text."""
    match = _CREATE[kind].match(text)
    if match is None:
        raise ValueError(f"not a CREATE {kind.upper()} statement: {text[:80]!r}")
    conn.execute(sql.SQL(match.expand(rf"\g<1>{TEMPORARY}\g<3>") + text[match.end():]))
    found = _one(conn, printed, params)
    return None if found is None else _CREATE[kind].sub(
        lambda m: m.group(1) + match.group(2) + m.group(3), found, count=1)


def _constraint(conn: psycopg.Connection, schema: str, table: str, name: str, attribute: str,
                text: str) -> str | None:
    relation = sql.Identifier(schema, table)
    if text.startswith("PRIMARY KEY"):  # a table has one: the live one takes its place
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {} CASCADE").format(
            relation, sql.Identifier(name)))
    # NOT VALID: the rule is printed, the expected schema's rows are not judged
    not_valid = " NOT VALID" if text.startswith(("CHECK", "FOREIGN KEY")) else ""
    conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
        relation, sql.Identifier(TEMPORARY)) + sql.SQL(text + not_valid))
    return _one(conn, "SELECT pg_catalog.pg_get_constraintdef(k.oid) FROM "
                "pg_catalog.pg_constraint k WHERE k.conname = %s AND k.conrelid = "
                "%s::pg_catalog.regclass", (TEMPORARY, relation.as_string(conn)))


def _default(conn: psycopg.Connection, schema: str, table: str, column: str, attribute: str,
             text: str) -> str | None:
    relation = sql.Identifier(schema, table)
    conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT ").format(
        relation, sql.Identifier(column)) + sql.SQL(text))
    return _one(conn, "SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM "
                "pg_catalog.pg_attrdef d JOIN pg_catalog.pg_attribute a ON a.attrelid = "
                "d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = %s::pg_catalog.regclass "
                "AND a.attname = %s", (relation.as_string(conn), column))


def _policy(conn: psycopg.Connection, schema: str, table: str, name: str, attribute: str,
            text: str) -> str | None:
    relation = sql.Identifier(schema, table)
    clause, column = ("USING", "polqual") if attribute == "using" else (
        "WITH CHECK", "polwithcheck")
    conn.execute(sql.SQL("ALTER POLICY {} ON {} ").format(sql.Identifier(name), relation)
                 + sql.SQL(f"{clause} ({text})"))
    return _one(conn, f"SELECT pg_catalog.pg_get_expr(p.{column}, p.polrelid) FROM "
                "pg_catalog.pg_policy p WHERE p.polname = %s AND p.polrelid = "
                "%s::pg_catalog.regclass", (name, relation.as_string(conn)))


def _partition_bound(conn: psycopg.Connection, schema: str, name: str, text: str,
                     parents: Sequence[str]) -> str | None:
    if not parents:
        raise ValueError(f"{schema}.{name} has a partition bound but no parent")
    parent = sql.Identifier(*_split(parents[0], 2))
    child = sql.Identifier(schema, name)
    conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(parent, child))
    conn.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} ").format(parent, child)
                 + sql.SQL(text))
    return _one(conn, "SELECT pg_catalog.pg_get_expr(c.relpartbound, c.oid) FROM "
                "pg_catalog.pg_class c WHERE c.oid = %s::pg_catalog.regclass",
                (child.as_string(conn),))
