"""The throwaway server: other binaries (--pg-bin), and removal when the run is interrupted."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from checks.infra.cluster import _PREFIX, Cluster
from tests.conftest import PG15, ROOT, _clean_env


def _folders(tmp: Path) -> set[Path]:
    return set(tmp.glob(_PREFIX + "*"))


def _slow_query_running(tmp: Path) -> bool:
    for folder in _folders(tmp):
        try:
            with psycopg.connect(host=str(folder), user="postgres", dbname="postgres",
                                 connect_timeout=2) as conn:
                found = conn.execute("SELECT count(*) FROM pg_stat_activity "
                                     "WHERE query LIKE '%%pg_sleep(30)%%' "
                                     "AND pid <> pg_backend_pid()").fetchone()
                if found and found[0]:
                    return True
        except psycopg.Error:
            continue
    return False


def test_pg_bin_builds_the_embedded_default_on_another_major(verify):
    run = verify("--pg-bin", str(PG15))
    assert run.returncode == 0, run.output
    assert run.summary["environment"]["Server version"].startswith("15.")


def test_sigterm_mid_run_removes_the_server(tmp_path, private_tmp, config_file):
    config = config_file('[settings]\nstatement_timeout = "60s"\n[[custom_sql]]\n'
                         'name = "slow"\nsql = "SELECT 1 FROM pg_sleep(30) WHERE random() < 0"\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", str(ROOT / "verify"), "--config", str(config),
         "--reports-dir", str(tmp_path / "reports"), "-k", "slow"],
        cwd=ROOT, env={**_clean_env(), "TMPDIR": str(private_tmp),
                           "VERIFY_RUNTIME_DIR": str(private_tmp)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not _slow_query_running(private_tmp) and time.monotonic() < deadline:
        time.sleep(0.2)
    started = _folders(private_tmp)
    assert started, "the slow check never started"
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not list(private_tmp.iterdir()), output
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if any(str(f) in line for f in started)]


def test_initdb_cache_is_reused_and_old_templates_pruned(tmp_path):
    import os

    old = tmp_path / "initdb" / "pg0.0-0123456789abcdef"
    (old / "base").mkdir(parents=True)
    os.utime(old, (0, 0))
    with Cluster(cache_dir=tmp_path):
        templates = set((tmp_path / "initdb").glob("pg*-*"))
    assert not old.exists()
    assert len(templates) == 1
    with Cluster(cache_dir=tmp_path):
        pass
    assert set((tmp_path / "initdb").glob("pg*-*")) == templates  # reused, not initialised
