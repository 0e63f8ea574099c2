"""--settle end to end for heartbeats: a heartbeat that resumes within the window settles
(after more than one attempt), one that never moves on does not. The world changes as
the suite's n-th look reaches it (a proxy in front of PostgreSQL, a hook in moto's
server), never after a guessed time; the windows are relative to the run."""

from __future__ import annotations

from moto.logs.models import LogsBackend

from tests.conftest import trade_stream
from tests.loopback import on_query

PROBE = "settle-probe"
FRESHNESS = ('[[freshness]]\nname = "probe"\ntable = "service_heartbeats"\n'
             f'column = "last_beat_at"\nwhere = "service = \'{PROBE}\'"\nmax_age = "5m"\n')
HEALTHY = '"Account activities: fetched="'
"""The shipped log heartbeat's pattern (trade-stream's poll line)."""


def _check(run, prefix: str) -> dict:
    return next(c for c in run.summary["checks"] if prefix in c["id"])


def test_a_heartbeat_that_starts_stale_and_beats_within_the_window_settles(
        verify, database, config_file):
    """Stale at the first sample; the service beats again as each later sample reaches the
    server: fresh at the second, fresh and moved on at the third, so settled."""
    database.execute("INSERT INTO service_heartbeats (service, last_beat_at) "
                     "VALUES (%s, now() - interval '3 hours')", (PROBE,))

    def beat(sample: int) -> None:
        if sample >= 2:
            database.execute("UPDATE service_heartbeats SET last_beat_at = clock_timestamp() "
                             "WHERE service = %s", (PROBE,))

    host = database.dsn.split("host=")[1].split()[0]
    with on_query(f"{host}/.s.PGSQL.5432", PROBE.encode(), beat) as port:
        run = verify("--dsn", f"host=127.0.0.1 port={port} dbname={database.name} "
                     "user=postgres sslmode=disable gssencmode=disable",
                     "--config", str(config_file(FRESHNESS)), "--settle", "10m", "-k", "fresh")
    assert run.returncode == 0, run.output
    check = _check(run, "test_fresh[probe]")
    assert check["outcome"] == "passed"
    assert check["attempts"] == 3  # stale; fresh; fresh and moved on
    assert check["first_passed_s"] > 0  # the first sample failed
    assert "SETTLED test_fresh[probe]: passed after 3 attempts" in run.output


def test_a_heartbeat_that_never_moves_on_is_not_settled(verify, database, config_file):
    """One beat at boot, then a hang: every sample passes on its own, none confirms."""
    database.execute("INSERT INTO service_heartbeats (service, last_beat_at) "
                     "VALUES (%s, now())", (PROBE,))
    run = verify("--dsn", database.dsn, "--config", str(config_file(FRESHNESS)),
                 "--settle", "3s", "-k", "fresh")
    assert run.returncode == 1, run.output
    check = _check(run, "test_fresh[probe]")
    assert check["outcome"] == "failed"
    assert check["attempts"] >= 2  # the window always takes a second sample
    assert "no later sample within the settle window confirmed it" in check["message"]
    assert "not settled" in check["message"]


def test_a_log_heartbeat_that_resumes_within_the_window_settles(verify, database, moto_server,
                                                               on_moto_request):
    """The last poll line is 3 h old at the first look; from the second look on, the
    service logs one just before each look's window ends."""
    trade_stream(moto_server, heartbeat_age_s=3 * 3600)
    looks = []

    def log_a_beat(_: int, backend: LogsBackend, group: str, streams: list[str], start: int,
                   end: int, limit: int | None, token: str | None, pattern: str,
                   interleaved: bool) -> None:
        if pattern != HEALTHY or token is not None:
            return  # the count of replays, or a later page of the same look
        looks.append(end)
        if len(looks) >= 2:
            backend.put_log_events(group, "trade-stream/task-1", [
                {"timestamp": end - 1, "message": "INFO - Account activities: fetched=1"}])

    on_moto_request(LogsBackend, "filter_log_events", log_a_beat)
    run = verify("--dsn", database.dsn, "--aws", "--settle", "10m", "-k", "log_heartbeat",
                 env=moto_server.env)
    assert run.returncode == 0, run.output
    check = _check(run, "test_log_heartbeat[trade_stream_logs]")
    assert check["outcome"] == "passed"
    assert check["attempts"] == len(looks) == 3  # none; a beat; a newer beat
    assert check["first_passed_s"] > 0
    assert "SETTLED test_log_heartbeat[trade_stream_logs]: passed after 3 attempts" in \
        run.output
