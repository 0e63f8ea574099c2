"""A live PostgreSQL reached directly (``--dsn``): one read-only session for the run."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from checks.config import ConfigError, Settings, duration_ms
from checks.outcome import CouldNotCheck
from checks.targets.base import Params, ProbeResult, QueryError, Rows, Statement


def display_name(conninfo: str) -> str:
    """``host:port/dbname`` of a DSN, never its password; a bad DSN is a ConfigError."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        raise ConfigError(f"bad DSN: {_first_line(exc)}") from None
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    if host.startswith("/"):
        host = "local socket"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or 'postgres'}"


def dsn_password(conninfo: str) -> str | None:
    """The password written in a DSN, so that every output can redact it."""
    try:
        return conninfo_to_dict(conninfo).get("password") or None
    except psycopg.Error:
        return None


class PostgresTarget:
    """Queries run in rolled-back READ ONLY transactions on one session with timeouts set."""

    def __init__(self, conninfo: str, settings: Settings, *, kind: str = "dsn",
                 name: str | None = None, probe_block: str | None = None,
                 on_close: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self.name = name or display_name(conninfo)
        self.probe_block = probe_block
        self._settings = settings
        self._on_close = on_close
        self._conn = self._connect(conninfo)

    def _connect(self, conninfo: str) -> psycopg.Connection:
        s = self._settings
        try:
            conn = psycopg.connect(
                conninfo,
                autocommit=True,
                connect_timeout=max(1, duration_ms(s.connect_timeout) // 1000),
                application_name=s.application_name,
            )
        except psycopg.Error as exc:
            raise CouldNotCheck(f"cannot connect to {self.name}: {_first_line(exc)}") from None
        try:
            for name, value in (
                ("statement_timeout", duration_ms(s.statement_timeout)),
                ("lock_timeout", duration_ms(s.lock_timeout)),
                ("idle_in_transaction_session_timeout", 2 * duration_ms(s.statement_timeout)),
                ("default_transaction_read_only", "on"),
            ):
                conn.execute(sql.SQL("SELECT set_config({}, {}, false)").format(
                    sql.Literal(name), sql.Literal(str(value))))
        except psycopg.Error as exc:
            conn.close()
            raise CouldNotCheck(f"cannot configure session on {self.name}: "
                                f"{_first_line(exc)}") from None
        conn.read_only = True  # BEGIN READ ONLY for every transaction() block
        return conn

    def query(self, statement: Statement, params: Params = None) -> Rows:
        try:
            with self._conn.transaction(force_rollback=True), self._conn.cursor() as cur:
                cur.execute(statement, params)
                columns = tuple(c.name for c in cur.description or ())
                return Rows(columns, cur.fetchall() if cur.description else [])
        except psycopg.Error as exc:
            raise QueryError(_first_line(exc), exc.sqlstate) from None

    def probe(self, statement: Statement, params: Params = None) -> ProbeResult:
        if self.probe_block:
            raise CouldNotCheck(self.probe_block)
        conn = self._conn
        try:
            with conn.transaction(force_rollback=True):
                conn.execute("SET TRANSACTION READ WRITE")
                try:
                    with conn.transaction():  # a savepoint, so the outer block still rolls back
                        conn.execute(statement, params)
                except psycopg.Error as exc:
                    return ProbeResult(True, exc.sqlstate, exc.diag.constraint_name,
                                       _first_line(exc))
        except psycopg.Error as exc:
            raise QueryError(f"probe transaction failed: {_first_line(exc)}",
                             exc.sqlstate) from None
        return ProbeResult(False)

    def render(self, statement: Statement, params: Params = None) -> str:
        if params:
            with psycopg.ClientCursor(self._conn) as cur:
                return cur.mogrify(statement, params)
        return statement if isinstance(statement, str) else statement.as_string(self._conn)

    def server_version(self) -> str:
        return str(self.query("SHOW server_version").scalar())

    def close(self) -> None:
        try:
            self._conn.close()
        finally:
            if self._on_close:
                self._on_close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
