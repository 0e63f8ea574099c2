"""Never blocks production, even indirectly: a session that waits on a lock the suite holds
(a migration's ALTER TABLE behind a scan or a probe, and every writer queued behind it)
makes the suite cancel its own statement; the check says so, and nothing is retried."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from tests.polling import poll
from tests.test_replica import replication  # noqa: F401  (the fixture)

ALTER = "ALTER TABLE active_positions ADD COLUMN yield_test integer"
SLOW_SCAN = ("[settings]\nstatement_timeout = \"60s\"\n{settings}"
             "[[custom_sql]]\nname = \"slow\"\n"
             "sql = \"SELECT a.id FROM active_positions AS a, pg_sleep({seconds}) AS s "
             "WHERE a.id < 0\"\n"
             "[[custom_sql]]\nname = \"other_table\"\n"
             "sql = \"SELECT id FROM position_history WHERE id < 0\"\n")


def _when_sleeping(dsn: str, then: Callable[[], None]) -> None:
    """Call ``then`` once a session of the suite sleeps in pg_sleep (its slow statement runs,
    its locks held); polls, no fixed sleep."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert poll(lambda: conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND "
            "application_name = 'ops-verify'").fetchone()[0]), \
            "the suite's slow statement never ran"
    then()


class Migration:
    """An ``ALTER TABLE`` from another session, with a lock_timeout of its own far longer
    than the suite's statement: how long it took from being issued, and its pid."""

    def __init__(self, dsn: str, statement: str = ALTER) -> None:
        self.dsn, self.statement = dsn, statement
        self.took: float | None = None
        self.pid: int | None = None
        self.error: str | None = None

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True, application_name="migrate") as conn:
            self.pid = conn.info.backend_pid
            conn.execute("SET lock_timeout = '60s'")
            started = time.monotonic()
            try:
                conn.execute(self.statement)
            except psycopg.Error as exc:
                self.error = str(exc)
            self.took = time.monotonic() - started


@contextmanager
def _in_background(target: Callable[[], None]) -> Iterator[None]:
    thread = threading.Thread(target=target)
    thread.start()
    try:
        yield
    finally:
        thread.join(120)


def test_a_migration_waiting_behind_a_scan_gets_its_lock_and_the_check_yields(
        verify, database, config_file):
    config = config_file(SLOW_SCAN.format(seconds=30, settings=""))
    migration = Migration(database.dsn)
    started = time.monotonic()
    with _in_background(lambda: _when_sleeping(database.dsn, migration.run)):
        run = verify("--dsn", database.dsn, "--config", str(config))
    # the migration runs as the suite's role: cancelled it would be, were the watcher to
    # cancel anything but the suite's own statements
    assert migration.error is None and migration.took is not None
    assert migration.took < 5, migration.took  # ~0.05 s; far below the scan's 30 s
    assert time.monotonic() - started < 30
    # the rest is unaffected: the other table, the catalog, drift, the ledger
    assert run.not_passed() == {"test_custom_sql[slow]": "error"}
    assert run.outcomes()["test_custom_sql[other_table]"] == "passed"
    message = run.message("[slow]")
    assert f"yielded to AccessExclusiveLock wanted by pid {migration.pid} (migrate: " \
           f"{ALTER})" in message, message
    assert "on public.active_positions" in message
    assert run.returncode == 1
    assert run.summary["outcome"] == "error"


def test_an_index_built_concurrently_waits_for_no_snapshot_of_the_suite(
        verify, database, config_file):
    """CREATE INDEX CONCURRENTLY takes no lock a read conflicts with, but waits for every
    older snapshot's transaction to end (a virtualxid lock): the suite yields to it too."""
    config = config_file(SLOW_SCAN.format(seconds=30, settings=""))
    index = Migration(database.dsn, "CREATE INDEX CONCURRENTLY idx_yield_test ON "
                                    "active_positions (ticker)")
    with _in_background(lambda: _when_sleeping(database.dsn, index.run)):
        run = verify("--dsn", database.dsn, "--config", str(config), "-k", "custom_sql")
    assert index.error is None and index.took is not None
    assert index.took < 5, index.took
    assert run.outcomes() == {"test_custom_sql[slow]": "error",
                              "test_custom_sql[other_table]": "passed"}
    assert f"yielded to ShareLock wanted by pid {index.pid} (migrate: CREATE INDEX " \
           "CONCURRENTLY" in run.message("[slow]")
    assert "waits for the suite's transaction to end" in run.message("[slow]")


def test_a_probe_yields_to_a_migration_waiting_behind_its_transaction(
        verify, database, config_file):
    """A probe holds ROW EXCLUSIVE until its transaction is rolled back: a trigger that
    sleeps (probed with probe_with_triggers) stands in for a slow probe."""
    database.execute("CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN PERFORM pg_sleep(30); RETURN NEW; END $$; "
                     "CREATE TRIGGER slow_insert BEFORE INSERT ON active_positions "
                     "FOR EACH ROW EXECUTE FUNCTION slow_insert()")
    config = config_file(
        '[settings]\nstatement_timeout = "60s"\n'
        '[[check_constraints]]\ntable = "active_positions"\nname = "chk_active_positions_side"\n'
        "expression = \"side IN ('long', 'short', 'call', 'put')\"\n"
        "probe_with_triggers = true\n")
    migration = Migration(database.dsn)
    with _in_background(lambda: _when_sleeping(database.dsn, migration.run)):
        run = verify("--dsn", database.dsn, "--config", str(config), "-k", "check_constraint")
    assert migration.error is None and migration.took is not None
    assert migration.took < 5, migration.took
    assert run.outcomes() == {
        "test_check_constraint_definition[chk_active_positions_side]": "passed",
        "test_check_constraint_enforced[chk_active_positions_side]": "error"}
    assert f"yielded to AccessExclusiveLock wanted by pid {migration.pid}" in run.message(
        "test_check_constraint_enforced[chk_active_positions_side]")


def test_a_standby_yields_to_the_replay_of_a_migration(verify, replication, config_file):  # noqa: F811
    """On a hot standby, replaying the primary's ALTER TABLE takes ACCESS EXCLUSIVE: replay
    would wait on the suite's scan up to max_standby_streaming_delay (30 s by default, then
    cancel it itself), the standby falling behind; pg_blocking_pids() names no blocker of
    the startup process, and the suite yields to it all the same."""
    config = config_file(SLOW_SCAN.format(seconds=30, settings=""))
    replayed: dict[str, float] = {}

    def migrate_the_primary() -> None:
        replication.primary.execute(ALTER)
        issued = time.monotonic()
        replication.in_step()
        replayed["after"] = time.monotonic() - issued

    with _in_background(lambda: _when_sleeping(replication.standby.dsn, migrate_the_primary)):
        run = verify("--dsn", replication.standby.dsn, "--config", str(config),
                     "-k", "custom_sql")
    assert replayed["after"] < 5, replayed  # far below the 30 s delay and the scan
    assert run.outcomes() == {"test_custom_sql[slow]": "error",
                              "test_custom_sql[other_table]": "passed"}, run.output
    message = run.message("[slow]")
    assert "yielded to AccessExclusiveLock wanted by pid" in message, message
    assert "(startup)" in message and "on public.active_positions" in message


@pytest.mark.parametrize("waiter", [None, "unrelated"])
def test_no_yield_when_no_one_waits_on_the_suite(verify, database, config_file, waiter):
    """Nobody waits, or a session waits on a table the suite does not touch (behind another
    session's lock) for the whole run: the slow scan runs to its end and passes."""
    config = config_file(SLOW_SCAN.format(seconds=1, settings=""))
    database.execute("CREATE TABLE unrelated (id integer)")
    with psycopg.connect(database.dsn) as holder:
        holder.execute("LOCK TABLE unrelated IN SHARE MODE")
        migration = Migration(database.dsn, "ALTER TABLE unrelated ADD COLUMN x integer")
        with _in_background(migration.run if waiter else lambda: None):
            if waiter:
                _wait_until(database.dsn, "SELECT count(*) FROM pg_locks WHERE NOT granted "
                            "AND relation = 'unrelated'::regclass")
            run = verify("--dsn", database.dsn, "--config", str(config), "-k", "custom_sql")
            waited = _count(database.dsn, "SELECT count(*) FROM pg_locks WHERE NOT granted")
            holder.rollback()
    assert run.outcomes() == {"test_custom_sql[slow]": "passed",
                              "test_custom_sql[other_table]": "passed"}, run.output
    assert waited == (1 if waiter else 0)  # the waiter waited throughout the run


def test_a_watcher_that_cannot_watch_runs_nothing(verify, database, config_file):
    """The watcher's session ends and no new one can be opened (the role's connection
    limit): the statement that runs is cancelled, the next one never starts (one session:
    two slow statements, one after the other), each check says why."""
    role = f"v_{uuid.uuid4().hex[:8]}"
    database.execute(sql.SQL("CREATE ROLE {r} LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA "
                             "public TO {r}").format(r=sql.Identifier(role)).as_string(None))
    config = config_file(
        SLOW_SCAN.format(seconds=30, settings="concurrency = 1\n")
        + '[[custom_sql]]\nname = "slow_too"\n'
        'sql = "SELECT h.id FROM position_history AS h, pg_sleep(30) AS s WHERE h.id < 0"\n')

    def cut_off_the_watcher() -> None:
        database.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 1").format(
            sql.Identifier(role)).as_string(None))
        database.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE query LIKE '%%pg_lock_status%%' AND pid <> pg_backend_pid()")

    try:
        with _in_background(lambda: _when_sleeping(database.dsn, cut_off_the_watcher)):
            run = verify("--dsn", f"{database.dsn} user={role}", "--config", str(config),
                         "-k", "slow")
    finally:
        database.execute(sql.SQL("DROP OWNED BY {r}; DROP ROLE {r}").format(
            r=sql.Identifier(role)).as_string(None))
    assert run.outcomes() == {"test_custom_sql[slow]": "error",
                              "test_custom_sql[slow_too]": "error"}, run.output
    for check in ("[slow]", "[slow_too]"):
        assert "the lock watcher stopped" in run.message(check), run.message(check)
        assert "too many connections" in run.message(check), run.message(check)


def test_the_watcher_session_that_cannot_be_opened_is_the_one_cause(verify, database,
                                                                    config_file):
    role = f"v_{uuid.uuid4().hex[:8]}"
    database.execute(sql.SQL("CREATE ROLE {r} LOGIN CONNECTION LIMIT 1; GRANT SELECT ON ALL "
                             "TABLES IN SCHEMA public TO {r}").format(
                                 r=sql.Identifier(role)).as_string(None))
    config = config_file(SLOW_SCAN.format(seconds=0, settings="concurrency = 1\n"))
    try:
        run = verify("--dsn", f"{database.dsn} user={role}", "--config", str(config),
                     "-k", "custom_sql")
    finally:
        database.execute(sql.SQL("DROP OWNED BY {r}; DROP ROLE {r}").format(
            r=sql.Identifier(role)).as_string(None))
    assert set(run.outcomes().values()) == {"error"}
    messages = {c["message"] for c in run.summary["checks"]}
    assert len(messages) == 1
    assert "too many connections" in messages.pop()


def _count(dsn: str, query: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query).fetchone()[0]


def _wait_until(dsn: str, query: str) -> None:
    assert poll(lambda: _count(dsn, query)), query


def test_the_reason_names_the_waiter_and_what_it_waits_for():
    from checks.targets.lockwatch import Waiter

    alter = Waiter(4711, "AccessExclusiveLock", "relation", "public.active_positions",
                   "migrate", "ALTER TABLE active_positions\n   ADD COLUMN x int")
    assert alter.reason().startswith(
        "yielded to AccessExclusiveLock wanted by pid 4711 (migrate: ALTER TABLE "
        "active_positions ADD COLUMN x int) on public.active_positions: cancelled")
    hidden = Waiter(8, "ShareLock", "virtualxid", None, "", "<insufficient privilege>")
    assert hidden.reason().startswith(
        "yielded to ShareLock wanted by pid 8 (<insufficient privilege>) (it waits for the "
        "suite's transaction to end)")
    assert "()" not in Waiter(9, "ExclusiveLock", "advisory", None, None, None).reason()
