"""CHECK expressions compared by meaning: PostgreSQL itself normalizes them, on a throwaway
server (never the target), to a fixed point.

PostgreSQL does not print every expression the same way twice: on a VARCHAR column
``side IN ('a', 'b')`` is stored as ``(side)::text = ANY ((ARRAY['a'::character varying,
...])::text[])``, which parses back to yet another text. Deparsing until the text stops
changing, on a table with the live column types, gives one form per meaning, whichever
way either side was written. Results are cached on disk per engine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from checks.catalog.expressions import check_expression
from checks.infra.atomic import write_json
from checks.infra.cache import prune, touch
from checks.outcome import CouldNotCheck

MAX_ROUNDS = 5

ColumnType = tuple[str, str, bool]
"""A column's name, its SQL type, and whether the type is user-defined (enum, domain...)."""


_VARCHAR_LITERAL = re.compile(r"\('((?:[^']|'')*)'::character varying\)::text")
_UNDEFINED = ("42883", "42704", "42P01")
"""Undefined function, object (type), table: something only the replayed schema has."""


class _UserObject(Exception):
    pass


class Normalizer:
    """Deparses CHECK expressions to their fixed point on a scratch database.

    ``connect(user_types)`` gives a connection: to the server's empty database, or, when a
    column has a user-defined type, to the replayed database where that type exists.
    """

    def __init__(self, connect: Callable[[bool], str], cache_file: Path, schema: str) -> None:
        self._connect = connect
        self._cache_file = cache_file
        self._schema = schema  # the replayed schema's identity: its functions and types
        self._cache: dict[str, str] | None = None
        self._dirty = False
        self._conns: dict[bool, psycopg.Connection] = {}
        self._lock = threading.Lock()

    def check(self, columns: Sequence[ColumnType], expression: str) -> str:
        """The fixed point of ``CHECK (expression)`` on a table with ``columns``, with string
        literals relabelled through varchar to text written as plain text literals (the
        same value: ``IN (...)`` and ``= ANY (ARRAY[...])`` on a VARCHAR column differ by
        only that relabelling), then brought to its fixed point again."""
        key = hashlib.sha256(json.dumps([self._schema, list(columns), expression]).encode()
                             ).hexdigest()
        with self._lock:
            cache = self._load()
            if key not in cache:
                first = self._fixed_point(columns, expression)
                plain = _VARCHAR_LITERAL.sub(r"'\1'::text", first)
                cache[key] = first if plain == first else self._fixed_point(columns, plain)
                self._dirty = True
            return cache[key]

    def _fixed_point(self, columns: Sequence[ColumnType], expression: str) -> str:
        user_types = any(user for _, _, user in columns)
        try:
            return self._deparse(columns, expression, user_types)
        except _UserObject:
            # The expression calls a function (or names a type) the migrations create.
            return self._deparse(columns, expression, True)

    def _deparse(self, columns: Sequence[ColumnType], expression: str, user_types: bool
                 ) -> str:
        conn = self._conns.get(user_types)
        if conn is None:
            conn = self._conns[user_types] = psycopg.connect(self._connect(user_types),
                                                             autocommit=True)
        table = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_))
                                   for name, type_, _ in columns)
        text = expression
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(sql.SQL("CREATE TEMP TABLE ops_verify_normalize ({})").format(table))
                for round_ in range(MAX_ROUNDS):
                    name = f"normalize_{round_}"
                    conn.execute(sql.SQL("ALTER TABLE ops_verify_normalize ADD CONSTRAINT {} "
                                         "CHECK ({}) NOT VALID").format(sql.Identifier(name),
                                                                        sql.SQL(text)))
                    row = conn.execute(
                        "SELECT pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint"
                        " WHERE conname = %s AND conrelid = 'ops_verify_normalize'::regclass",
                        (name,)).fetchone()
                    assert row is not None
                    printed = check_expression(row[0])
                    if printed == text:
                        break
                    text = printed
        except psycopg.Error as exc:
            if exc.sqlstate in _UNDEFINED and not user_types:
                raise _UserObject from None
            message = (exc.diag.message_primary or str(exc)).strip()
            raise CouldNotCheck(f"cannot normalize CHECK ({expression}): {message}") from None
        return text

    def _load(self) -> dict[str, str]:
        if self._cache is None:
            try:
                self._cache = json.loads(self._cache_file.read_text(encoding="utf-8"))
                touch(self._cache_file)
            except (OSError, ValueError):
                self._cache = {}
        return self._cache

    def close(self) -> None:
        """Close the connections and keep what was learned for the next run."""
        with self._lock:
            for conn in self._conns.values():
                conn.close()
            self._conns.clear()
            if self._dirty and self._cache is not None:
                with contextlib.suppress(OSError):
                    write_json(self._cache_file, self._cache)
                    prune(self._cache_file.parent)
                self._dirty = False
