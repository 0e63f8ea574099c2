"""Yielding to sessions that wait on the suite's locks.

PostgreSQL grants a table's locks first come, first served: a migration's ``ALTER TABLE``
that waits behind one of the suite's scans (ACCESS SHARE) holds every writer of that table
behind itself, for as long as the scan runs. So while any statement of the suite runs, a
watcher session asks every 10 ms which sessions wait on a lock that one of the suite's
sessions holds, and in the same statement cancels those sessions' statements (and their
parallel workers'); the check a cancelled statement served is an error (``yielded to
AccessExclusiveLock wanted by pid N (...)``). Nothing is retried behind the waiter. On a
hot standby the same holds for the replay of the primary's ``ALTER TABLE``.

The watcher reads the lock table (``pg_lock_status()``: any role may, and it says which
mode each waiter wants) and asks ``pg_blocking_pids()``, which is costly, only for the
sessions that wait. It calls functions, never views, so it takes no lock of its own; it
runs read-only under the suite's timeouts, on one session, and only while statements
of the suite run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import psycopg

from checks.outcome import CouldNotCheck, first_line
from checks.targets.base import QueryError

POLL_S = 0.01
"""How often the lock table is read while statements run: a waiter is seen within this
plus one round trip. Every 100 ms, the migration of bench/lock_queue.py waited 65-110 ms
for the suite to yield, ten times what the ALTER itself takes; a poll costs 0.5 ms."""

# The waiting sessions first, in a subquery the planner may not merge (OFFSET 0), so that
# pg_blocking_pids() runs for them alone; then, for each one that waits on ours, cancel ours
# and their parallel workers (the same role may): no second round trip while writers queue.
# A standby's replay (the startup process) waits for ACCESS EXCLUSIVE without blockers that
# pg_blocking_pids() can name: any of ours holding a lock on that relation blocks it.
# That second read of the lock table runs only then (a one-time filter on the waiter's
# mode). The CASE fixes the order: the planner may run a cheaper condition first, and
# pg_cancel_backend() is the cheapest. Activity by function, not the view: no lock.
YIELD = """
SELECT b.pid, b.mode, b.locktype, b.relation,
       coalesce(nullif(a.application_name, ''), a.backend_type),
       pg_catalog.left(a.query, 60), b.blockers,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_get_activity(NULL) AS s
        WHERE CASE WHEN s.pid = ANY (b.blockers) OR s.leader_pid = ANY (b.blockers)
                   THEN pg_catalog.pg_cancel_backend(s.pid) ELSE false END)
FROM (SELECT w.pid, w.mode, w.locktype,
             CASE WHEN w.relation IS NOT NULL
                  THEN w.relation::pg_catalog.regclass::pg_catalog.text END AS relation,
             ARRAY(SELECT p FROM pg_catalog.unnest(pg_catalog.pg_blocking_pids(w.pid)) AS p
                   WHERE p = ANY (%(ours)s::pg_catalog.int4[])
                   UNION
                   SELECT h.pid FROM pg_catalog.pg_lock_status() AS h
                   WHERE w.mode = 'AccessExclusiveLock' AND w.locktype = 'relation'
                     AND h.granted AND h.locktype = 'relation' AND h.database = w.database
                     AND h.relation = w.relation
                     AND h.pid = ANY (%(ours)s::pg_catalog.int4[])) AS blockers
      FROM (SELECT l.pid, l.mode, l.locktype, l.database, l.relation
            FROM pg_catalog.pg_lock_status() AS l
            WHERE NOT l.granted AND l.pid <> ALL (%(ours)s::pg_catalog.int4[])
            OFFSET 0) AS w
      OFFSET 0) AS b
     LEFT JOIN LATERAL pg_catalog.pg_stat_get_activity(b.pid) AS a ON true
WHERE b.blockers <> '{}'
"""


class Cancelled(QueryError):
    """A statement the suite cancelled itself: another session waited on its lock, or the
    watcher stopped."""


@dataclass(frozen=True)
class Waiter:
    """A session waiting on a lock that one of the suite's sessions holds."""

    pid: int
    mode: str
    locktype: str
    relation: str | None
    application: str | None
    query: str | None

    def reason(self) -> str:
        who = [part for part in (self.application,
                                 " ".join((self.query or "").split()) or None) if part]
        on = (f" on {self.relation}" if self.relation
              else " (it waits for the suite's transaction to end)"
              if self.locktype in ("virtualxid", "transactionid")
              else f" (a {self.locktype} lock)")
        return (f"yielded to {self.mode} wanted by pid {self.pid}"
                f"{' (' + ': '.join(who) + ')' if who else ''}{on}: cancelled so as not to "
                "hold up that session and those queued behind it; not retried")


@dataclass(eq=False)
class Running:
    """One round trip of the suite on one connection, while it runs."""

    conn: psycopg.Connection
    pid: int
    yielded: str | None = None
    """Why the watcher cancelled it (then the connection is not used again: a cancel
    that arrives late would hit the next statement)."""
    active: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cancel(self, reason: str, timeout: float) -> bool:
        """Cancel the statement if it still runs; whether it was."""
        with self.lock:
            if not self.active or self.yielded:
                return False
            self.yielded = reason
            # a cancel that fails: the statement ends anyway, its connection not reused
            with suppress(psycopg.Error):
                self.conn.cancel_safe(timeout=timeout)
            return True

    def cancelled(self, reason: str) -> None:
        """The watcher cancelled the statement (on the server): say why, if it still runs."""
        with self.lock:
            if self.active and not self.yielded:
                self.yielded = reason


class Statements:
    """The suite's round trips running on one target right now."""

    def __init__(self) -> None:
        self._running: set[Running] = set()
        self._changed = threading.Condition()

    @contextmanager
    def running(self, conn: psycopg.Connection) -> Iterator[Running]:
        """Register the round trip on ``conn`` for the block; a connection whose statement
        was cancelled is closed at the end."""
        record = Running(conn, conn.info.backend_pid)
        with self._changed:
            self._running.add(record)
            self._changed.notify_all()
        try:
            yield record
        finally:
            with record.lock:
                record.active = False
            with self._changed:
                self._running.discard(record)
            if record.yielded:
                conn.close()

    def snapshot(self, wait: Callable[[], bool]) -> list[Running]:
        """The round trips running now; with none, blocks until there is one or ``wait()``
        says to stop waiting (then empty)."""
        with self._changed:
            while not self._running and wait():
                self._changed.wait(1.0)
            return list(self._running)

    def wake(self) -> None:
        """Make :meth:`snapshot` look at ``wait()`` again."""
        with self._changed:
            self._changed.notify_all()

    def cancel_all(self, reason: str, timeout: float) -> None:
        with self._changed:
            running = list(self._running)
        for record in running:
            record.cancel(reason, timeout)


class LockWatcher:
    """A thread with a session of its own that cancels the suite's statements that another
    session waits for (see the module's docstring)."""

    def __init__(self, statements: Statements, connect: Callable[[], psycopg.Connection],
                 cut: Callable[[psycopg.Connection], None], limit: float,
                 cancel_timeout: float,
                 target_lost: Callable[[Exception], str | None]) -> None:
        self._statements = statements
        self._connect = connect
        self._target_lost = target_lost
        """Why the target itself is lost (a restart, a crash), given what stopped the
        watcher: then that, not the watcher, is every statement's cause."""
        self._cut = cut
        self._limit = limit
        """A poll unanswered this long has its socket cut (a silent network)."""
        self._cancel_timeout = cancel_timeout
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._start_error: str | None = None
        self.failed: str | None = None
        """Why the watcher stopped watching: statements are then not run at all."""
        self._conn: psycopg.Connection | None = None
        self._poll_since: float | None = None
        self._polling = threading.Lock()
        """Held from a poll's start until whom it cancelled is told why."""
        # it connects in its own thread, while the target opens its first session
        self._thread = threading.Thread(target=self._loop, name="verify-lock-watcher",
                                        daemon=True)
        self._thread.start()
        threading.Thread(target=self._guard, name="verify-lock-watcher-guard",
                         daemon=True).start()

    def started(self, timeout: float) -> None:
        """Wait until the watcher's session is open; one that cannot be opened is the
        target's cause, like a session that cannot connect."""
        if not self._ready.wait(timeout):
            raise CouldNotCheck(f"the lock watcher did not connect within {timeout:g}s")
        if self._start_error:
            raise CouldNotCheck(f"{self._start_error} (the lock watcher's session: the suite "
                                "opens one more than [settings] concurrency)")

    def check(self) -> None:
        """Refuse a statement when nothing would watch it."""
        if self.failed:
            raise CouldNotCheck(self.failed)

    def close(self, timeout: float) -> None:
        self._stop.set()
        self._statements.wake()
        self._thread.join(timeout)
        if self._conn is not None and not self._thread.is_alive():
            self._conn.close()

    def _loop(self) -> None:
        try:
            self._conn = self._connect()
        except Exception as exc:  # CouldNotCheck, or a bug
            self._start_error = self.failed = str(exc) or type(exc).__name__
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                running = self._statements.snapshot(lambda: not self._stop.is_set())
                if running:
                    with self._polling:
                        self._yield(running)
                    self._stop.wait(POLL_S)
        except Exception as exc:  # psycopg.Error, CouldNotCheck, or a bug: fail closed
            if self._stop.is_set():
                return
            cause = str(exc) if isinstance(exc, CouldNotCheck) else first_line(exc)
            self.failed = self._target_lost(exc) or (
                f"the lock watcher stopped ({cause}): the suite runs no statement it could "
                "not yield")
            self._statements.cancel_all(self.failed, self._cancel_timeout)

    def settle(self) -> None:
        """Wait until the poll under way, if any, has said whom it cancelled and why (a
        statement may hear of its cancel first)."""
        with self._polling:
            pass

    def _guard(self) -> None:
        """Cut the watcher's socket when a poll goes unanswered past the limit: a silent
        network would hold it for the kernel's TCP timeout, the statements unwatched."""
        while not self._stop.wait(min(1.0, self._limit / 4)):
            since, conn = self._poll_since, self._conn
            if since is not None and conn is not None and time.monotonic() - since > self._limit:
                self._cut(conn)

    def _yield(self, running: list[Running]) -> None:
        """One poll: the statements of ``running`` that a session waits for are cancelled
        on the server, and told why; a failed poll is retried once on a new session."""
        ours = sorted({r.pid for r in running})
        for attempt in (1, 2):
            try:
                rows = self._ask(YIELD, {"ours": ours})
                break
            except psycopg.Error:
                assert self._conn is not None
                self._conn.close()
                if attempt == 2 or self._stop.is_set():
                    raise
                self._conn = self._connect()
        for *waiter, blockers, cancelled in rows:
            reason = Waiter(*waiter).reason()
            for record in running:
                if record.pid in blockers:
                    if cancelled:
                        record.cancelled(reason)
                    else:  # not found on the server: ask by the protocol's cancel request
                        record.cancel(reason, self._cancel_timeout)

    def _ask(self, query: str, params: Any) -> list[tuple[Any, ...]]:
        """One statement on the watcher's session, its socket cut by the guard when it goes
        unanswered past the limit."""
        assert self._conn is not None
        self._poll_since = time.monotonic()
        try:
            return self._conn.execute(query, params).fetchall()
        finally:
            self._poll_since = None
