"""Replica-aware: a standby is named as one, and with replay paused, lagging or a lag nobody
can know it never gives a green (directly and through the db-query Lambda).

On a real streaming replica the tests start: a primary from the suite's throwaway servers
and a standby made with ``pg_basebackup -R`` from it, on the same binaries.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from checks.kinds.freshness import _who_is_behind
from checks.replica import STANDBY_REASON, ReplayState, Replica, assess
from checks.targets import READ_ONLY_REASON
from tests.conftest import REFERENCE, Database, reference_prepared
from tests.lambda_server import lambda_server
from tests.polling import poll
from tests.test_faults import _create_role

FUNCTION = "ops-pipeline-db-query"
PROBES = "test_check_constraint_enforced"
AWS_CHECKS = ("test_ecs_service_stable", "test_log_heartbeat")
FILE_CHECKS = ("test_migration_replays", "test_migration_versions_distinct")


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` (never a fixed sleep); the patience only ends a test that hangs."""
    assert poll(condition), f"timed out waiting until {what}"


@dataclass
class Replication:
    """A primary with the reference database and a streaming standby of it."""

    primary: Database
    standby: Database

    def one(self, db: Database, query: str, params: Any = None) -> Any:
        return db.execute(query, params)[0][0]

    def in_step(self) -> None:
        """Until the standby has replayed all the primary has written so far."""
        lsn = self.one(self.primary, "SELECT pg_current_wal_lsn()::text")
        wait_until(lambda: self.one(self.standby, (
            "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn AND coalesce((SELECT status = "
            "'streaming' FROM pg_stat_wal_receiver), false)"), (lsn,)) is True,
            f"the standby replayed {lsn}")

    def idle_for(self, seconds: float) -> None:
        """Until the standby's last replayed transaction is older than ``seconds`` (the
        primary commits nothing meanwhile), and it has replayed all there is."""
        wait_until(lambda: self.one(self.standby, (
            "SELECT now() - pg_last_xact_replay_timestamp() > make_interval(secs => %s)"),
            (seconds,)) is True, f"the last replayed transaction is {seconds}s old")
        self.in_step()

    def pause(self) -> None:
        self.standby.execute("SELECT pg_wal_replay_pause()")
        wait_until(lambda: self.one(self.standby, "SELECT pg_get_wal_replay_pause_state()")
                   == "paused", "replay is paused")

    def resume(self) -> None:
        self.standby.execute("SELECT pg_wal_replay_resume()")
        self.in_step()

    def break_primary(self) -> None:
        """The issue's three faults, each a failure a current view must show."""
        self.primary.execute(
            "INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
            "entry_price, alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, "
            "'ord-1001')")
        self.primary.execute("ALTER TABLE active_positions DROP CONSTRAINT "
                             "chk_active_positions_side")
        self.primary.execute("INSERT INTO schema_migrations (version) VALUES "
                             "('2099_01_01_0001_unknown')")


@pytest.fixture
def replication(extra_server, request) -> Replication:
    """On the embedded engine, or (indirect parameter) another (``"15"``)."""
    engine = getattr(request, "param", None)
    primary = Database(extra_server(engine, prepared=reference_prepared()), REFERENCE)
    # idle unless a test writes: no autovacuum transaction moves the last replayed one
    primary.execute("ALTER SYSTEM SET autovacuum = off")
    primary.execute("SELECT pg_reload_conf()")
    standby = Database(extra_server(standby_of=primary.cluster), REFERENCE)
    primary.execute("UPDATE service_heartbeats SET last_beat_at = now()")  # replayed there
    found = Replication(primary, standby)
    found.in_step()
    return found


def _database_checks(run) -> dict[str, str]:
    return {k: v for k, v in run.target_checks().items()
            if not k.startswith((*AWS_CHECKS, *FILE_CHECKS))}


def _says_standby(run, in_step: bool = True) -> None:
    """The role is in the first console lines, every report's target and summary.json."""
    replica = run.summary["replica"]
    assert replica["role"] == "standby" and replica["in_step"] is in_step
    assert run.summary["target"]["role"] == "standby"
    assert replica["receive_lsn"] and replica["replay_lsn"]
    head = run.output.split("verify/test_", 1)[0]
    assert "role: standby" in head, head
    summary_md = (run.reports_dir / "summary.md").read_text()
    assert "- Role: `standby" in summary_md
    html = (run.reports_dir / "report.html").read_text()
    assert "standby" in html.split("<h3>", 1)[0]  # the title and the target line, on top
    properties = {p.get("name"): p.get("value") for p in
                  ET.parse(run.reports_dir / "junit.xml").iter("property")}
    assert "standby" in properties["target"]
    assert "standby" in run.summary["environment"]["Role"]
    metrics = (run.reports_dir / "metrics.prom").read_text()
    assert re.search(r'^ops_verify_target_standby\{target="[^"]+"\} 1\.0$', metrics, re.M)
    assert ("ops_verify_replica_lag_seconds{" in metrics) is (replica["lag_s"] is not None)


# ---------------------------------------------------------------- on a real streaming replica
@pytest.mark.parametrize("replication", [None, pytest.param("15", marks=pytest.mark.pg15)],
                         ids=["embedded", "pg15"], indirect=True)
def test_a_paused_standby_never_gives_a_green_and_one_in_step_is_named_and_judged(
        verify, replication):
    healthy = verify("--dsn", replication.standby.dsn)  # probes on: they must not try
    assert healthy.returncode == 0, healthy.output
    _says_standby(healthy)
    assert healthy.summary["replica"]["lag_s"] is not None
    assert healthy.summary["replica"]["lag_s"] <= 30 and not healthy.summary["replica"]["paused"]
    # probes cannot write on a standby, which is another reason than --read-only's
    assert {v for k, v in healthy.outcomes().items() if k.startswith(PROBES)} == {"skipped"}
    probe = healthy.message("enforced[chk_active_positions_side]")
    assert STANDBY_REASON in probe and READ_ONLY_REASON not in probe

    replication.pause()
    replication.break_primary()
    paused = verify("--read-only", "--dsn", replication.standby.dsn, "--settle", "1s")
    assert paused.returncode == 1, paused.output
    assert paused.summary["outcome"] == "error"
    checks = _database_checks(paused)
    assert checks and set(checks.values()) == {"error"}, checks
    message = paused.message("test_no_duplicates[active_positions.alpaca_order_id]")
    assert "is a standby with replay paused; last replayed transaction" in message
    assert message.endswith("nothing it shows is current")
    assert paused.message("test_fresh[trade_stream_heartbeat]") == message  # not the service
    assert "PASSED" not in paused.output
    _says_standby(paused, in_step=False)
    assert paused.summary["replica"]["paused"] is True
    assert "replay paused" in paused.output.split("verify/test_", 1)[0]

    replication.resume()
    current = verify("--read-only", "--dsn", replication.standby.dsn)
    assert current.returncode == 1, current.output
    _says_standby(current)
    found = current.outcomes()
    assert found["test_no_duplicates[active_positions.alpaca_order_id]"] == "failed"
    assert found["test_check_constraint_definition[chk_active_positions_side]"] == "failed"
    assert found["test_ledger_has_no_unknown_versions[schema_migrations]"] == "failed"
    assert "error" not in set(_database_checks(current).values())


def test_through_the_lambda_a_standby_in_step_passes_and_a_paused_one_errors(
        verify, replication, aws_world):
    def through() -> Any:
        with lambda_server(replication.standby.dsn) as server:
            return verify("--via-lambda", FUNCTION, env={
                **aws_world.env, "AWS_ENDPOINT_URL_LAMBDA": server.endpoint})

    current = through()
    assert current.returncode == 0, current.output
    _says_standby(current)
    assert {v for k, v in current.outcomes().items() if k.startswith(PROBES)} == {"skipped"}

    replication.pause()
    replication.break_primary()
    paused = through()
    assert paused.returncode == 1, paused.output
    checks = _database_checks(paused)
    assert checks and set(checks.values()) == {"error"}, checks
    assert "standby with replay paused" in paused.message(
        "test_ledger_has_no_unknown_versions[schema_migrations]")
    _says_standby(paused, in_step=False)


def test_an_idle_primary_leaves_an_old_replay_timestamp_yet_a_streaming_standby_is_in_step(
        verify, replication, config_file):
    """The last replayed transaction gets old when the primary writes nothing; streaming
    and having replayed all it received, the standby is still in step."""
    config = config_file('[settings]\nmax_replica_lag = "1s"\n'
                         '[[unique]]\nname = "ids"\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\n')
    replication.idle_for(1.5)
    run = verify("--read-only", "--dsn", replication.standby.dsn, "--config", str(config))
    assert run.returncode == 0, run.output
    replica = run.summary["replica"]
    assert replica["lag_s"] == 0 and replica["receiver"] == "streaming"
    assert replica["last_replay_age_s"] > 1
    assert "replayed all it received" in replica["description"]


@pytest.mark.slow
def test_a_role_without_pg_read_all_stats_cannot_see_the_receiver_and_says_so(
        verify, replication, config_file):
    """The recovery functions are open to every role; the WAL receiver's state is not: within
    max_replica_lag the replay timestamp suffices, beyond it the lag is unknowable (an error
    naming the grant), and with the grant of sql/verify_role.sql it is in step again."""
    role = f"ops_verify_{uuid.uuid4().hex[:8]}"
    _create_role(replication.primary, role, probes=False)
    replication.in_step()
    dsn = f"{replication.standby.dsn} user={role}"
    checks = ('[[unique]]\nname = "ids"\ntable = "active_positions"\n'
              'columns = ["alpaca_order_id"]\n[drift]\n'
              'allow = ["setting:role ops_verify*:default_transaction_read_only"]\n')
    # within the bound (a generous one: the run's start is not timed)
    fresh = verify("--read-only", "--dsn", dsn, "--config", str(config_file(
        f'[settings]\nmax_replica_lag = "1h"\n{checks}')))
    assert fresh.returncode == 0, fresh.output
    assert fresh.summary["replica"]["receiver"] == "hidden"
    assert fresh.summary["replica"]["lag_s"] == fresh.summary["replica"]["last_replay_age_s"]

    config = config_file(f'[settings]\nmax_replica_lag = "1s"\n{checks}')
    replication.idle_for(1.5)
    hidden = verify("--read-only", "--dsn", dsn, "--config", str(config))
    assert hidden.returncode == 1, hidden.output
    assert "pg_read_all_stats" in hidden.message("test_no_duplicates[ids]")
    assert hidden.summary["replica"]["lag_s"] is None

    _create_role(replication.primary, role, probes=False, standby="on")
    replication.idle_for(1.5)
    granted = verify("--read-only", "--dsn", dsn, "--config", str(config))
    assert granted.returncode == 0, granted.output
    assert granted.summary["replica"]["receiver"] == "streaming"


def test_a_stale_heartbeat_on_a_standby_in_step_blames_the_service(verify, replication):
    replication.primary.execute("UPDATE service_heartbeats SET last_beat_at = now() - "
                                "interval '20 minutes'")
    replication.in_step()
    run = verify("--read-only", "--dsn", replication.standby.dsn, "-k", "test_fresh")
    assert run.returncode == 1, run.output
    assert run.outcomes()["test_fresh[trade_stream_heartbeat]"] == "failed"
    assert "the service is behind, not the replica" in run.message(
        "test_fresh[trade_stream_heartbeat]")


def test_two_targets_each_say_their_role_also_from_worker_processes(verify, replication,
                                                                    config_file):
    config = config_file(
        f'[environments.main]\ndsn = "{replication.primary.dsn}"\n'
        f'[environments.reader]\ndsn = "{replication.standby.dsn}"\n'
        '[[unique]]\nname = "ids"\ntable = "active_positions"\ncolumns = ["alpaca_order_id"]\n')
    run = verify("--read-only", "--env", "main", "--env", "reader", "--config", str(config),
                 "-n", "2")
    assert run.returncode == 0, run.output
    roles = {t["label"]: t["replica"]["role"] for t in run.summary["targets"]}
    assert roles == {"main": "primary", "reader": "standby"}
    assert run.summary["replica"] is None  # each target has its own, in targets
    assert "role of main: primary" in run.output and "role of reader: standby" in run.output
    summary_md = (run.reports_dir / "summary.md").read_text()
    assert "- Role of `main`: `primary`" in summary_md
    assert "- Role of `reader`: `standby" in summary_md


# ---------------------------------------------------------------- a primary, and the setting
def test_a_primary_says_primary(verify, database):
    run = verify("--read-only", "--dsn", database.dsn, "-k", "alpaca_order_id")
    assert run.returncode == 0, run.output
    assert run.summary["replica"]["role"] == "primary"
    assert run.summary["target"]["role"] == "primary"
    assert "role: primary" in run.output.split("verify/test_", 1)[0]
    assert "- Role: `primary`" in (run.reports_dir / "summary.md").read_text()
    metrics = (run.reports_dir / "metrics.prom").read_text()
    assert re.search(r'^ops_verify_target_standby\{target="[^"]+"\} 0\.0$', metrics, re.M)
    assert "ops_verify_replica_lag_seconds{" not in metrics


@pytest.mark.parametrize("value", ['"0s"', '"soon"', "30", '""', '"-5s"'])
def test_max_replica_lag_is_validated_like_every_duration(verify, config_file, value):
    config = config_file(f"[settings]\nmax_replica_lag = {value}\n")
    run = verify("--config", str(config))
    assert run.returncode == 4, run.output
    assert "max_replica_lag" in run.output
    assert run.summary["usage_error"] and "max_replica_lag" in run.summary["usage_error"]


# ---------------------------------------------------------------- the judgement, purely
def _standby(**state: Any) -> ReplayState:
    found: dict[str, Any] = {"in_recovery": True, "paused": False, "pause_state": "not paused",
                             "receive_lsn": "0/3000000", "replay_lsn": "0/3000000",
                             "pending_bytes": 0.0, "last_replay_age_s": 3.0,
                             "receiver_pid": 42, "receiver_status": "streaming"}
    return ReplayState(**{**found, **state})


@pytest.mark.parametrize(("state", "lag", "problem"), [
    (_standby(), 0.0, None),
    (_standby(pending_bytes=8192.0), 3.0, None),
    (_standby(pending_bytes=8192.0, last_replay_age_s=252.0), None,
     "standby behind its primary: 8.0 KiB of WAL received but not replayed, last replayed "
     "transaction 4m 12s ago (max_replica_lag 30s)"),
    (_standby(last_replay_age_s=3600.0), 0.0, None),  # an idle primary
    (_standby(last_replay_age_s=None), 0.0, None),  # nothing replayed since it started
    (_standby(paused=True, pause_state="paused", last_replay_age_s=252.0), 0.0,
     "standby with replay paused; last replayed transaction 4m 12s ago: nothing it shows is "
     "current"),
    (_standby(paused=True, pause_state="pause requested"), 0.0, "replay pause requested"),
    (_standby(paused=True, pause_state=None), 0.0, "replay paused"),  # before PostgreSQL 14
    (_standby(receiver_status=None, last_replay_age_s=3600.0), None, "pg_read_all_stats"),
    (_standby(receiver_status=None), 3.0, None),
    (_standby(receiver_pid=None, receiver_status=None, pending_bytes=None,
              last_replay_age_s=3600.0), None, "WAL receiver is not running"),
    (_standby(receiver_status="waiting", last_replay_age_s=None), None,
     "WAL receiver is waiting: how far behind its primary it is cannot be known (it has "
     "replayed no transaction since it started"),
    (_standby(receiver_status="restarting", last_replay_age_s=10.0), 10.0, None),
    (_standby(pending_bytes=1.0, last_replay_age_s=-5.0), 0.0, None),  # clocks apart
], ids=["caught-up", "behind-within", "behind-beyond", "idle-primary", "nothing-replayed",
        "paused", "pause-requested", "paused-pg13", "hidden-beyond", "hidden-within",
        "no-receiver", "waiting-nothing-replayed", "restarting-within", "clock-skew"])
def test_how_far_behind_a_standby_may_be(state: ReplayState, lag: float | None,
                                         problem: str | None) -> None:
    found = assess(state, 30.0, "db:5432/x")
    assert found.role == "standby" and found.lag_s == lag
    if problem is None:
        assert found.problem is None and found.describe().startswith("standby, in step")
    else:
        assert found.problem is not None and problem in found.problem, found.problem
        assert found.problem.startswith("db:5432/x is a standby")
        assert found.describe().startswith("standby, NOT current")


def test_a_standby_clock_running_behind_cannot_make_old_data_look_recent() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    state = _standby(pending_bytes=8192.0, last_replay_age_s=5.0,
                     last_replay_at="2026-12-01 11:50:00+00")  # its clock is 10 min behind
    found = assess(state, 30.0, "db", now)
    assert found.lag_s is None and found.last_replay_age_s == 600
    assert found.problem and "last replayed transaction 10m 0s ago" in found.problem
    assert assess(state, 30.0, "db").lag_s == 5.0  # its own clock alone would be believed
    ahead = _standby(pending_bytes=8192.0, last_replay_age_s=5.0,
                     last_replay_at="2026-12-01 11:59:55+00")
    assert assess(ahead, 30.0, "db", now).lag_s == 5.0


@pytest.mark.parametrize(("age", "lag", "says"), [
    (400.0, 0.0, "the standby has replayed all it received: the service is behind"),
    (400.0, 20.0, "even allowing for the standby's lag of 20s, the service is behind"),
    (310.0, 20.0, None),  # 5m 10s old, 20 s of it may be the replica's
])
def test_a_stale_heartbeat_on_a_standby_says_who_is_behind(age: float, lag: float,
                                                           says: str | None) -> None:
    standby = Replica("standby", lag_s=lag, max_lag_s=30.0)
    assert _who_is_behind(age, 300.0, standby) == (f"; {says}, not the replica" if says
                                                   else None)
    assert _who_is_behind(age, 300.0, Replica("primary")) == ""


def test_a_primary_has_no_lag_and_no_problem() -> None:
    found = assess(ReplayState(in_recovery=False), 30.0, "db")
    assert (found.role, found.lag_s, found.paused, found.problem) == ("primary", None, False,
                                                                     None)
    assert found.to_dict()["in_step"] is True and found.describe() == "primary"


def test_a_full_read_on_a_standby_keeps_one_run_of_overlap(verify, replication, tmp_path):
    """A standby's locks do not show the primary's transactions: a full read there never
    hands on its own watermark (the next run reads from the run before it)."""
    kept = tmp_path / "kept"
    args = ("--read-only", "--dsn", replication.standby.dsn, "-k", "test_no_duplicates")
    assert verify(*args, reports=kept).returncode == 0
    replication.primary.execute(
        "INSERT INTO active_positions (ticker, instrument_type, side, quantity, entry_price, "
        "alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 1, 1, 'ord-standby-1')")
    replication.in_step()
    run = verify(*args, "--deep", reports=kept)
    assert run.returncode == 0, run.output
    entries = json.loads(next(kept.glob(".proofs-*")).read_text())["entries"].values()
    windows = [(e["previous"], e["high"]) for e in entries if "high" in e]
    assert windows and all(previous != high for previous, high in windows), windows
