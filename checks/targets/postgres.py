"""A PostgreSQL reached directly (``--dsn``, or the throwaway server of the embedded default).

Reads run on a small set of sessions (at most ``concurrency``), each read pipelined as
one round trip: ``BEGIN READ ONLY``, the pins of :func:`session_pins` for this transaction,
the statement, ``ROLLBACK``. Pinning per transaction holds behind a transaction pooler too,
and whatever a statement changes in its session cannot reach the next one. While a round
trip runs, a watcher session cancels it when another session waits on its locks
(:mod:`checks.targets.lockwatch`).
"""

from __future__ import annotations

import os
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from checks.config import ConfigError, Settings, duration_ms
from checks.outcome import CouldNotCheck, first_line
from checks.targets.base import (
    LOCK_TIMEOUT,
    Params,
    ProbeBatch,
    ProbeResult,
    QueryError,
    Rows,
    Statement,
    pins_statement,
)
from checks.targets.lockwatch import Cancelled, LockWatcher, Statements


def display_name(conninfo: str) -> str:
    """``host:port/dbname`` of a DSN, never its password; a bad DSN is a ConfigError."""
    if (userinfo := _URL_USERINFO.match(conninfo)) and re.search(r"[/@]", userinfo.group(1)):
        # libpq would read part of the password as a host, port or database: the wrong
        # server, and the password shown as its name
        raise ConfigError("bad DSN: its password holds '/' or '@' that is not URL-encoded "
                          "(write %2F and %40)")
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        raise ConfigError(f"bad DSN: {_parse_error(conninfo, first_line(exc))}") from None
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    if host.startswith("/"):
        host = "local socket"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or 'postgres'}"


# The text between the user's ':' and the last '@' of a URL DSN: its password as written.
_URL_USERINFO = re.compile(r"^\w+://[^:/@?#\s]*:([^?#]*)@[^@]*$", re.DOTALL)
# A password in a DSN libpq cannot parse: URL userinfo after its ':', or password=...
_PASSWORD_IN_DSN = re.compile(r"^\w+://[^@/]*:[^@]*@|\bpassword\s*=", re.IGNORECASE)


def _parse_error(conninfo: str, message: str) -> str:
    """libpq's parse error, its quoted text hidden when the DSN holds a password: it quotes
    the token it choked on, often the password itself (a '%' not URL-encoded)."""
    if not _PASSWORD_IN_DSN.search(conninfo):
        return message
    return re.sub(r'"[^"]*"', '"…"', message) + " (quoted text hidden: the DSN holds a password)"


def dsn_password(conninfo: str) -> str | None:
    """The password written in a DSN, so that every output can redact it."""
    try:
        return conninfo_to_dict(conninfo).get("password") or None
    except psycopg.Error:
        return None


def with_environment(conninfo: str, environ: dict[str, str]) -> str:
    """The DSN with what libpq would take from ``PG*`` variables written into it, so that
    connections need the caller's libpq environment no longer (it is then cleared)."""
    from psycopg import pq

    params = conninfo_to_dict(conninfo)
    for option in pq.Conninfo.get_defaults():
        keyword, variable = option.keyword.decode(), (option.envvar or b"").decode()
        if variable and keyword not in params and environ.get(variable):
            params[keyword] = environ[variable]
    return make_conninfo(**params)


class PostgresTarget:
    """Read-only queries on up to ``concurrency`` sessions (probes included), and with
    ``watch`` one more session that makes them yield to sessions waiting on their locks."""

    def __init__(self, conninfo: str, settings: Settings, *, kind: str = "dsn",
                 name: str | None = None, probe_block: str | None = None,
                 watch: bool = True) -> None:
        self.kind = kind
        self.name = name or display_name(conninfo)
        self.probe_block = probe_block
        self.concurrency = settings.concurrency
        self._conninfo = conninfo
        self._settings = settings
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(settings.concurrency)
        self._all: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._diagnosis = threading.Lock()
        self._pids: dict[int, int] = {}
        """Each session's backend pid (libpq forgets it when the connection breaks)."""
        # statement_timeout needs a server that answers; past this (per statement of a
        # block, plus connect_timeout once), the socket is cut.
        self._statement_s = duration_ms(settings.statement_timeout) / 1000
        self._grace_s = duration_ms(settings.connect_timeout) / 1000
        self._broken: str | None = None
        self._started: str | None = None
        """When the server the run began on started (``pg_postmaster_start_time()``): a
        session that finds another start time is on a server that restarted."""
        self._limit = settings.concurrency
        """How many sessions the run may hold: fewer when the server has no free slot."""
        self._no_slot: str | None = None
        """Why the server refused one more session, when it did."""
        self._statements = Statements()
        self._watcher: LockWatcher | None = None
        try:  # fail now, once, if the target (or the watcher's session) cannot be reached
            self._idle.put(self._connect())
            # the watcher's session second: with one free slot, the cause names the watcher
            if watch:  # each of its steps is bounded: its own cause
                self._watcher = LockWatcher(self._statements, self._watcher_session, shut_down,
                                            self._statement_s + self._grace_s, self._grace_s,
                                            self._watcher_lost)
                self._watcher.started(4 * (self._statement_s + self._grace_s))
        except NoFreeSlot as exc:
            self.close()
            raise CouldNotCheck(
                f"cannot connect to {self.name}: no free connection slot ({exc.said}): the "
                f"suite needs 1 to {self.concurrency} connections, 0 are free (how many the "
                "server has and reserves cannot be read without one)") from None
        except BaseException:
            self.close()
            raise

    def _connect(self) -> psycopg.Connection:
        conn = self._session()
        with self._lock:
            self._all.append(conn)
        return conn

    def _watcher_session(self) -> psycopg.Connection:
        """The watcher's session: configured like the others (no JIT either: the
        planner's estimate of its poll is high enough to compile it each time, 60 ms
        instead of 0.5), names qualified (its search_path is pg_catalog alone)."""
        try:
            conn = self._session()
        except NoFreeSlot as exc:
            raise CouldNotCheck(f"cannot connect to {self.name}: no free connection slot "
                                f"({exc.said})") from None
        with self._answered(conn):
            conn.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog', false)")
        return conn

    def _session(self) -> psycopg.Connection:
        s = self._settings
        try:
            conn = psycopg.connect(
                self._conninfo, autocommit=True,
                connect_timeout=max(2, duration_ms(s.connect_timeout) // 1000),
                application_name=s.application_name)
        except psycopg.Error as exc:
            if no_slot := _NO_SLOT.search(str(exc)):
                raise NoFreeSlot(f"cannot connect to {self.name}: {first_line(exc)}",
                                 no_slot.group(0)) from None
            if self._started and (starting := _STARTING.search(str(exc))):
                with self._lock:  # the run began on a server that is now restarting
                    self._broken = self._broken or (
                        f"{self.name}: the server shut down or is restarting (a new "
                        f"session: {starting.group(0)}); later queries not sent")
                raise CouldNotCheck(self._broken) from None
            raise CouldNotCheck(f"cannot connect to {self.name}: {first_line(exc)}") from None
        try:
            with self._answered(conn, statements=2):
                conn.execute(pins_statement(s, local=False))
                started = conn.execute(
                    "SELECT pg_catalog.set_config('default_transaction_read_only', 'on', "
                    "false), pg_catalog.pg_postmaster_start_time()::text").fetchone()[1]
        except psycopg.Error as exc:
            conn.close()
            raise CouldNotCheck(f"cannot configure a session on {self.name}: "
                                f"{first_line(exc)}") from None
        conn.read_only = True  # every transaction() block is BEGIN READ ONLY
        with self._lock:
            self._pids[id(conn)] = conn.info.backend_pid
            self._started = self._started or started
            if started != self._started:
                conn.close()
                self._broken = self._broken or (
                    f"{self.name}: the server restarted during the run, or another one "
                    f"answers (a failover): up since {started}, the run began on one up since "
                    f"{self._started}; later queries not sent")
                raise CouldNotCheck(self._broken)
        return conn

    @contextmanager
    def _watched(self, conn: psycopg.Connection) -> Iterator[None]:
        """The block's round trip, cancelled when another session waits on its locks (or
        when the run is interrupted): then a :class:`Cancelled` saying why."""
        if self._watcher is not None:
            self._watcher.check()
        with self._statements.running(conn) as record:
            if self._broken:  # interrupted between its session being taken and now
                raise CouldNotCheck(self._broken)
            try:
                yield
            except psycopg.Error as exc:
                if (not record.yielded and self._watcher is not None
                        and isinstance(exc, psycopg.errors.QueryCanceled)):
                    self._watcher.settle()  # the watcher may be telling why right now
                if record.yielded:
                    raise Cancelled(record.yielded) from None
                raise
            if record.yielded:  # it ended as the cancel was sent: not taken either
                raise Cancelled(record.yielded)

    @contextmanager
    def _answered(self, conn: psycopg.Connection, statements: int = 1) -> Iterator[None]:
        """The block's ``statements`` answered within statement_timeout each (plus
        connect_timeout), or the target is broken: the socket is cut (libpq fails at once)
        and later queries are not sent."""
        limit = statements * self._statement_s + self._grace_s
        with cut_after(conn, limit) as was_cut:
            try:
                yield
            except psycopg.Error:
                if not was_cut():
                    raise
                with self._lock:
                    self._broken = self._broken or (
                        f"{self.name}: no answer within {limit:g}s (statement_timeout per "
                        "statement + connect_timeout; the network or the server stopped "
                        "answering); later queries not sent")
                raise CouldNotCheck(self._broken) from None

    def _acquire(self) -> psycopg.Connection:
        if self._broken:
            raise CouldNotCheck(self._broken)
        self._slots.acquire()
        try:
            if self._watcher is not None:
                self._watcher.check()  # no session is opened for what could not run
            while True:
                try:
                    conn = self._idle.get(block=self._live() >= self._limit)
                except queue.Empty:
                    try:
                        return self._connect()
                    except NoFreeSlot as exc:
                        if not self._fewer_sessions(exc):
                            raise
                        continue  # wait for a session another check is using
                if self._broken:
                    if conn is not None:
                        self._idle.put(conn)
                    raise CouldNotCheck(self._broken)
                if conn is not None and not conn.closed and not conn.broken:
                    return conn
        except BaseException:
            self._slots.release()
            raise

    def _live(self) -> int:
        with self._lock:
            return sum(1 for c in self._all if not c.closed and not c.broken)

    def _fewer_sessions(self, exc: NoFreeSlot) -> bool:
        """The server has no free slot for one more session: the run goes on with the
        sessions it has (down to one), or, with none, cannot."""
        live = self._live()
        if live == 0:
            return False
        with self._lock:
            self._limit = min(self._limit, live)
            self._no_slot = exc.said
        return True

    def facts(self) -> dict[str, str]:
        """What the report should say about the sessions: fewer than ``concurrency`` for
        want of free connection slots, with the server's numbers."""
        if self._no_slot is None:
            return {}
        try:
            slots = self.query(
                "SELECT pg_catalog.current_setting('max_connections') AS max, "
                "pg_catalog.current_setting('superuser_reserved_connections')::int + "
                "coalesce(pg_catalog.current_setting('reserved_connections', true)::int, 0) "
                "AS reserved, (SELECT count(*) FROM pg_catalog.pg_stat_activity "
                "WHERE backend_type = 'client backend') AS used").one()
            numbers = (f"max_connections {slots['max']}, {slots['reserved']} reserved, "
                       f"{slots['used']} in use; ")
        except CouldNotCheck:
            numbers = ""
        return {"Sessions": f"{self._limit} of {self.concurrency}: no free connection slot for "
                            f"more ({numbers}the server said: {self._no_slot})"}

    def _release(self, conn: psycopg.Connection) -> None:
        # a session that broke is dropped; None wakes one who waits for a session, to open one
        self._idle.put(conn if not conn.closed and not conn.broken else None)
        self._slots.release()

    def query(self, statement: Statement, params: Params = None) -> Rows:
        conn = self._acquire()
        try:
            with (self._watched(conn), self._answered(conn), conn.pipeline(),
                  conn.transaction(force_rollback=True)):
                conn.execute(pins_statement(self._settings, local=True))
                cur = conn.execute(statement, params)
            columns = tuple(c.name for c in cur.description or ())
            return Rows(columns, cur.fetchall() if cur.description else [])
        except psycopg.Error as exc:
            if conn.broken or exc.sqlstate in _SESSION_ENDED:
                raise self._lost(exc, conn) from None
            raise QueryError(first_line(exc), exc.sqlstate) from None
        finally:
            self._release(conn)

    def probe(self, inserts: Sequence[tuple[Statement, Params]],
              sequences: Sequence[tuple[str, str]], watch_all: bool = False) -> ProbeBatch:
        if self.probe_block:
            raise CouldNotCheck(self.probe_block)
        conn = self._acquire()
        try:
            # currval()/lastval() are per session: forget earlier ones, so any defined after
            # the probes were defined by them.
            # DISCARD, SET, the pins, two looks at the sequences, each probe, lastval(),
            # a currval() per sequence, and a few that moved meanwhile
            with (self._watched(conn),
                  self._answered(conn, statements=len(inserts) + len(sequences) + 10)):
                conn.execute("DISCARD SEQUENCES")
                with conn.transaction(force_rollback=True):
                    conn.execute("SET TRANSACTION READ WRITE")
                    conn.execute(pins_statement(self._settings, local=True))
                    before = _sequence_values(conn) if watch_all else {}
                    results: list[ProbeResult] = []
                    for statement, params in inserts:
                        # a table another session locks: one wait of lock_timeout, not one
                        # per probe
                        locked = results and results[-1].sqlstate == LOCK_TIMEOUT
                        results.append(results[-1] if locked
                                       else _probe_one(conn, statement, params))
                    advanced = []
                    if _used(conn, None):
                        advanced = [f"{schema}.{name}" for schema, name in sequences
                                    if _used(conn, (schema, name))] or [_UNOWNED]
                    if watch_all:
                        # the database's own code ran: setval() defines currval() but not
                        # lastval(), so ask those that moved (the service's inserts move
                        # them too, but define no currval() in this session)
                        after = _sequence_values(conn)
                        moved = [f"{schema}.{name}" for (schema, name), value in after.items()
                                 if value != before.get((schema, name))
                                 and f"{schema}.{name}" not in advanced
                                 and _used(conn, (schema, name))]
                        if moved:
                            advanced = [*(a for a in advanced if a != _UNOWNED), *moved]
        except psycopg.Error as exc:
            if conn.broken or exc.sqlstate in _SESSION_ENDED:
                raise self._lost(exc, conn) from None
            raise QueryError(f"probe transaction failed: {first_line(exc)}",
                             exc.sqlstate) from None
        finally:
            self._release(conn)
        return ProbeBatch(results, advanced)

    def _watcher_lost(self, exc: Exception) -> str | None:
        """The target's cause when the lock watcher stopped because the server went (down,
        restarting, another start time), told as a lost statement's would be; else None:
        the watcher alone failed (its socket cut, say), and says so itself."""
        if self._broken is None:
            try:
                gone = self._look_again(None, patient=True)[0] != self._started
            except CouldNotCheck as exc_again:  # going or gone, not merely refused a session
                gone = bool(_STARTING.search(str(exc_again)) or _REFUSED.search(str(exc_again)))
            if gone:
                said = first_line(exc) if isinstance(exc, psycopg.Error) else str(exc)
                cause = self._why_lost(said, getattr(exc, "sqlstate", None), None)
                with self._diagnosis:
                    self._broken = self._broken or (
                        f"{self.name}: {cause}; later queries not sent")
        return self._broken

    def _lost(self, exc: psycopg.Error, conn: psycopg.Connection) -> QueryError:
        """The session ended under a statement: whether the server restarted, crashed or
        ended it, or the network dropped it, told once (one new session asks the server's
        start time, and cancels the statement if the server still runs it); later queries
        are not sent."""
        with self._diagnosis:
            if self._broken is None:
                cause = self._why_lost(first_line(exc), exc.sqlstate, self._pids.get(id(conn)))
                self._broken = f"{self.name}: {cause}; later queries not sent"
        return QueryError(self._broken, exc.sqlstate)

    def _why_lost(self, said: str, sqlstate: str | None, pid: int | None) -> str:
        try:
            started, still_ran = self._look_again(pid, patient=True)
        except CouldNotCheck as down:
            if sqlstate == CRASH_SHUTDOWN:
                return f"the server crashed ({said}; SQLSTATE 57P02) and takes no sessions yet"
            # in pipeline mode libpq often reports only the closed socket, not 57P01: what a
            # new session is told says whether the server is going or gone
            if now := _STARTING.search(str(down)) or _REFUSED.search(str(down)):
                state = f"; SQLSTATE {sqlstate}" if sqlstate else ""
                return (f"the server shut down or is restarting ({said}{state}; a new session: "
                        f"{now.group(0)})")
            return (f"the connection was lost ({said}) and the server cannot be reached "
                    f"({down}): the network to it failed, or it is down")
        if started != self._started:
            return (f"the server restarted during the run, or another one answers (a "
                    f"failover): up since {started}, the run began on one up since "
                    f"{self._started} ({said})")
        if sqlstate == CRASH_SHUTDOWN:
            return (f"the server reset every session after a crash of one of its processes "
                    f"({said}; SQLSTATE 57P02)")
        if sqlstate == ADMIN_SHUTDOWN:
            return (f"an administrator ended the suite's session ({said}; SQLSTATE 57P01, "
                    "pg_terminate_backend): the server did not restart")
        if still_ran:
            return (f"the connection was lost ({said}) while the server stayed up (same start "
                    f"time {started}) and still ran the statement (cancelled now): the "
                    "network or a proxy dropped it")
        return (f"the connection was lost ({said}) while the server stayed up (same start "
                f"time {started}): the network or a proxy dropped it, or the server ended the "
                "session (pg_terminate_backend, a timeout)")

    def _look_again(self, pid: int | None, patient: bool = False) -> tuple[str, bool]:
        """On a session of its own (closed at once): the server's start time, and whether it
        still ran the lost session's statement (then cancelled: nothing of the suite's is
        left running). ``patient``: a new session closed before any answer is a server
        between two states (a postmaster shutting down closes it unanswered): ask again,
        a few times, until it answers or refuses."""
        for wait_s in (0.1, 0.2, 0.4, 0.8, 1.6) if patient else ():
            try:
                return self._look_once(pid)
            except CouldNotCheck as exc:
                if not _UNANSWERED.search(str(exc)):
                    raise
            time.sleep(wait_s)
        return self._look_once(pid)

    def _look_once(self, pid: int | None) -> tuple[str, bool]:
        try:
            with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=max(
                    2, duration_ms(self._settings.connect_timeout) // 1000),
                    application_name=self._settings.application_name) as conn, \
                    cut_after(conn, self._statement_s + self._grace_s):
                started, cancelled = conn.execute(
                    "SELECT pg_catalog.pg_postmaster_start_time()::text, (SELECT "
                    "pg_catalog.pg_cancel_backend(a.pid) FROM pg_catalog.pg_stat_activity a "
                    "WHERE a.pid = %s AND a.usename = session_user AND a.application_name = "
                    "pg_catalog.current_setting('application_name') AND a.state = 'active')",
                    (pid or 0,)).fetchone()
                return str(started), bool(cancelled)
        except psycopg.Error as exc:
            raise CouldNotCheck(first_line(exc)) from None

    def render(self, statement: Statement, params: Params = None) -> str:
        conn = self._acquire()
        try:
            if params:
                with psycopg.ClientCursor(conn) as cur:
                    return cur.mogrify(statement, params)
            return statement if isinstance(statement, str) else statement.as_string(conn)
        finally:
            self._release(conn)

    def cancel(self) -> None:
        """Cancel every statement running now and send no more (the run was interrupted):
        marked first, so a statement that registers after the cancels were sent is never
        sent (:meth:`_watched` looks again once it is registered)."""
        with self._lock:
            self._broken = self._broken or (f"{self.name}: the run was interrupted; later "
                                            "queries not sent")
        self._statements.cancel_all("cancelled: the run was interrupted", self._grace_s)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close(self._statement_s + self._grace_s)
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


class NoFreeSlot(CouldNotCheck):
    """The server refused a session for want of a free connection slot."""

    def __init__(self, message: str, said: str) -> None:
        super().__init__(message)
        self.said = said


ADMIN_SHUTDOWN = "57P01"
"""The server ended the session: a shutdown, a restart, or pg_terminate_backend."""
CRASH_SHUTDOWN = "57P02"
"""The server reset every session after one of its processes crashed."""
CANNOT_CONNECT_NOW = "57P03"
_SESSION_ENDED = (ADMIN_SHUTDOWN, CRASH_SHUTDOWN, CANNOT_CONNECT_NOW)
_NO_SLOT = re.compile(r"sorry, too many clients already|remaining connection slots are "
                      r"reserved[^\n]*")
_REFUSED = re.compile(r"Connection refused|No such file or directory")
"""Nothing listens: the server is down (a network failure times out instead)."""
_UNANSWERED = re.compile(r"server closed the connection unexpectedly")
"""A new session closed before the server said anything: going down, or a proxy."""
_STARTING = re.compile(r"the database system is (?:starting up|shutting down|in recovery mode"
                       r"|not yet accepting connections|not accepting connections)")


@contextmanager
def cut_after(conn: psycopg.Connection, seconds: float) -> Iterator[Callable[[], bool]]:
    """Shut the connection's socket down if the block is still running after ``seconds``;
    yields whether that happened. A silent network (a failover, a black-holing firewall or
    proxy) would otherwise hold a libpq call for the kernel's TCP timeout: hours."""
    lock, state = threading.Lock(), {"done": False, "cut": False}

    def cut() -> None:
        with lock:
            if state["done"]:
                return
            state["cut"] = True
            shut_down(conn)

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    timer.start()
    try:
        yield lambda: state["cut"]
    finally:
        with lock:
            state["done"] = True
        timer.cancel()


def shut_down(conn: psycopg.Connection) -> None:
    """Shut the connection's socket down: libpq's wait for an answer fails at once."""
    try:  # shutdown() acts on the socket itself, so a duplicate descriptor will do
        with socket.socket(fileno=os.dup(conn.pgconn.socket)) as dup:
            dup.shutdown(socket.SHUT_RDWR)
    except (OSError, psycopg.Error):
        pass


def _probe_one(conn: psycopg.Connection, statement: Statement, params: Params) -> ProbeResult:
    try:
        with conn.transaction():  # a savepoint, so the outer block still rolls back
            conn.execute(statement, params)
    except psycopg.Error as exc:
        # the connection failed, or the statement was stopped (a timeout, or the suite
        # yielding its locks): not an answer, and the transaction must end
        if exc.sqlstate is None or isinstance(exc, psycopg.errors.QueryCanceled):
            raise
        return ProbeResult(True, exc.sqlstate, exc.diag.constraint_name, first_line(exc))
    return ProbeResult(False)


_UNOWNED = "a sequence (not one the table owns)"


def _sequence_values(conn: psycopg.Connection) -> dict[tuple[str, str], int | None]:
    """Every sequence's last value as this role may see it (NULL where it may not)."""
    return {(schema, name): value for schema, name, value in conn.execute(
        "SELECT schemaname::text, sequencename::text, last_value FROM pg_catalog.pg_sequences")}


def _used(conn: psycopg.Connection, sequence: tuple[str, str] | None) -> bool:
    """Whether this session advanced ``sequence`` (any sequence when None: ``lastval()``,
    which needs no privilege to say "not yet defined")."""
    call = (sql.SQL("SELECT pg_catalog.currval({}::pg_catalog.regclass)").format(
        sql.Literal(sql.Identifier(*sequence).as_string(None))) if sequence
        else sql.SQL("SELECT pg_catalog.lastval()"))
    try:
        with conn.transaction():
            conn.execute(call)
    except psycopg.errors.ObjectNotInPrerequisiteState:
        return False  # 55000: not yet defined in this session
    except psycopg.errors.InsufficientPrivilege:
        return sequence is None  # cannot tell which; lastval() said one was used
    return True
