"""The throwaway server: other binaries (--pg-bin), and removal when the run is interrupted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from checks.infra import cache
from checks.infra.cluster import _PREFIX
from tests.conftest import ROOT, _clean_env, pg15, started
from tests.polling import PATIENCE_S, poll, query_running, sigint_default

SLOW = "pg_sleep(3600)"


def _folders(tmp: Path) -> set[Path]:
    return set(tmp.glob(_PREFIX + "*"))


@pytest.mark.slow
@pytest.mark.pg15
def test_pg_bin_builds_the_embedded_default_on_another_major(verify):
    run = verify("--pg-bin", str(pg15()))
    assert run.returncode == 0, run.output
    assert run.summary["environment"]["Server version"].startswith("15.")


@pytest.mark.slow
def test_sigterm_mid_run_removes_the_server(tmp_path, private_tmp, config_file):
    """SIGTERM (a CI cancel) while a check's query runs: the query is cancelled (the run
    does not wait for it: it would take an hour), the server and its folder are removed."""
    config = config_file('[settings]\nstatement_timeout = "2h"\n[[custom_sql]]\n'
                         f'name = "slow"\nsql = "SELECT 1 FROM {SLOW} WHERE random() < 0"\n')
    with subprocess.Popen(
            [sys.executable, "-m", "pytest", str(ROOT / "verify"), "--config", str(config),
             "--reports-dir", str(tmp_path / "reports"), "-k", "slow"],
            cwd=ROOT, env={**_clean_env(), "TMPDIR": str(private_tmp),
                           "VERIFY_RUNTIME_DIR": str(private_tmp)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=sigint_default) as proc:
        try:
            assert poll(lambda: query_running(private_tmp, SLOW), until=proc), \
                "the slow check never started"
            started = _folders(private_tmp)
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=PATIENCE_S)
        finally:
            proc.kill()
    assert proc.returncode == 2, output  # interrupted
    assert not list(private_tmp.iterdir()), output
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if any(str(f) in line for f in started)]


@pytest.mark.slow
def test_the_cache_is_reused_and_keeps_only_the_entries_used_last(tmp_path):
    """Each checkout's binaries and each engine make an initdb archive of their own: the
    cache keeps the few used last (the one just made among them), and reuses its own."""
    initdb = tmp_path / "initdb"
    initdb.mkdir()
    others = [initdb / f"pg0.{n}-{n:016x}-w1.tar" for n in range(5)]
    for n, other in enumerate(others):
        other.write_bytes(b"")
        os.utime(other, (1_000_000 + n, 1_000_000 + n))  # used long ago, the last one last
    with started(cache_dir=tmp_path):
        pass
    (made,) = set(initdb.glob("pg*.tar")) - set(others)
    assert set(initdb.glob("pg*.tar")) == {made, *others[-(cache.KEEP["initdb"] - 1):]}
    inode = made.stat().st_ino
    with started(cache_dir=tmp_path):
        pass
    assert made.stat().st_ino == inode  # reused, not made again
    assert made.stat().st_mtime > others[-1].stat().st_mtime  # and marked used


def test_a_prune_keeps_what_was_used_last_and_what_is_being_made(tmp_path):
    folder = tmp_path / "expected"
    folder.mkdir()
    entries = [folder / f"{n:02d}.json" for n in range(cache.KEEP["expected"] + 5)]
    for n, entry in enumerate(entries):
        entry.write_text("{}")
        os.utime(entry, (1_000_000 + n, 1_000_000 + n))
    cache.touch(entries[0])  # the oldest, just read
    making = folder / "00.123.partial"
    making.write_text("")
    cache.prune(folder)
    kept = set(folder.glob("*.json"))
    assert len(kept) == cache.KEEP["expected"]
    assert entries[0] in kept and entries[-1] in kept and entries[1] not in kept
    assert making.exists()



def test_what_the_binaries_say_of_themselves_is_asked_once_per_build(tmp_path, monkeypatch):
    """The wheel's bin directory and a server's version are remembered in the cache (an
    import and a process each run otherwise), by the build that answered: an answer whose
    binaries are gone, or a build of other binaries, is asked again."""
    import json

    from checks.infra import cluster

    monkeypatch.setenv("VERIFY_PG_CACHE", str(tmp_path))
    cluster.default_bin_dir.cache_clear()  # asked once per process as well
    bin_dir = cluster.default_bin_dir()
    answers = json.loads((tmp_path / "engines.json").read_text())
    assert list(answers.values()) == [str(bin_dir)]
    (key,) = answers
    assert key == f"bin_dir|{cluster._identity(Path(key.split('|')[1]))}"  # the wheel's file

    def asked(*_: object) -> None:
        raise AssertionError("asked again")

    version = cluster.Engine(bin_dir).version  # asked: postgres --version
    with monkeypatch.context() as m:
        m.setattr(cluster, "_ask_wheel", asked)
        m.setattr(cluster, "_run_as", asked)
        cluster.default_bin_dir.cache_clear()
        assert cluster.default_bin_dir() == bin_dir
        assert cluster.Engine(bin_dir).version == version
    (tmp_path / "engines.json").write_text(json.dumps({
        key: str(tmp_path / "gone"), f"version|{cluster.Engine(bin_dir).key}": "99.1"}))
    cluster.default_bin_dir.cache_clear()
    assert cluster.default_bin_dir() == bin_dir  # the remembered folder has no postgres
    assert cluster.Engine(bin_dir).version == "99.1"  # remembered for exactly this build
    assert version.split(".")[0].isdigit()
    (tmp_path / "engines.json").write_text(json.dumps({"version|another-build": "99.1"}))
    assert cluster.Engine(bin_dir).version == version

@pytest.mark.slow
def test_a_database_for_dsn_trials_stays_up_until_ctrl_c(verify, private_tmp):
    """The README's trial database: the migrations and sample data on a throwaway server,
    its DSN printed, green with --dsn, removed on Ctrl-C."""
    with subprocess.Popen(
            [sys.executable, "-m", "checks.targets.ephemeral"], cwd=ROOT,
            env={**_clean_env(), "TMPDIR": str(private_tmp),
                 "VERIFY_RUNTIME_DIR": str(private_tmp)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=sigint_default) as proc:
        try:
            first = proc.stdout.readline()
            found = re.fullmatch(r'pytest verify/ --dsn "([^"]+)"\n', first)
            assert found, first + proc.stdout.read()
            run = verify("--dsn", found.group(1))
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=PATIENCE_S)
        finally:
            proc.kill()
    assert run.returncode == 0, run.output
    assert run.summary["outcome"] == "passed"
    assert proc.returncode == 0
    assert not list(private_tmp.iterdir()), "the trial server was left behind"


def test_a_server_of_a_tests_own_takes_server_settings(extra_server):
    """The fixture factory: settings go to the server at start (a standby's wal_level, say),
    and the server is removed when the test ends."""
    server = extra_server(work_mem="7MB", cluster_name="ops verify's test")
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        assert conn.execute("SHOW work_mem").fetchone() == ("7MB",)
        assert conn.execute("SHOW cluster_name").fetchone() == ("ops verify's test",)
