"""Let PostgreSQL itself normalize CHECK expressions, on a throwaway server (never the target).

Both the live definition and the declared one pass through the same deparser, so
``side IN ('a','b')`` and ``side = ANY (ARRAY['a','b'])`` compare equal while a different
allowed list does not, whatever the target's major version.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import psycopg
from psycopg import sql

from checks.outcome import CouldNotCheck
from checks.scratch import Scratch

_FLAGS = (" NOT VALID", " NO INHERIT", " NOT ENFORCED", " ENFORCED")
_CHECK = re.compile(r"CHECK \((.*)\)", re.DOTALL)


def strip_suffixes(text: str, suffixes: Sequence[str]) -> str:
    """``text`` without any of ``suffixes`` at its end, in any order and number."""
    text = text.strip()
    while ending := next((s for s in suffixes if text.endswith(s)), None):
        text = text[: -len(ending)]
    return text


def check_expression(definition: str) -> str:
    """The expression inside ``pg_get_constraintdef`` output: ``CHECK ((x > 0)) NOT VALID``."""
    match = _CHECK.fullmatch(strip_suffixes(definition, _FLAGS))
    if not match:
        raise CouldNotCheck(f"not a CHECK definition: {definition!r}")
    return match.group(1)


class Normalizer:
    """Deparses CHECK expressions on the run's scratch server."""

    def __init__(self, scratch: Scratch) -> None:
        self._scratch = scratch
        self._conn: psycopg.Connection | None = None

    def check(self, columns: Sequence[tuple[str, str]], expression: str) -> str:
        """``pg_get_constraintdef`` of ``CHECK (expression)`` on a table with ``columns``
        (name, SQL type), without flags."""
        conn = self._connection()
        table = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_sql))
            for name, type_sql in columns
        )
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(sql.SQL("CREATE TEMP TABLE normalize_t ({})").format(table))
                conn.execute(sql.SQL("ALTER TABLE normalize_t ADD CONSTRAINT normalize_c "
                                     "CHECK ({}) NOT VALID").format(sql.SQL(expression)))
                row = conn.execute(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conname = 'normalize_c' AND conrelid = 'normalize_t'::regclass"
                ).fetchone()
        except psycopg.Error as exc:
            message = (exc.diag.message_primary or str(exc)).strip()
            raise CouldNotCheck(f"cannot normalize CHECK ({expression}): {message}") from None
        assert row is not None
        return check_expression(row[0])

    def _connection(self) -> psycopg.Connection:
        if self._conn is None:
            self._conn = psycopg.connect(self._scratch.conninfo(), autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
