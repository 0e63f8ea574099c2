"""The foundation: the embedded default, the ledger invariant, honest errors, cleanup."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

PASSWORD = "s3cr3t-Pa55word"


def test_embedded_default_passes_and_cleans_up(verify, private_tmp):
    run = verify(env={"TMPDIR": str(private_tmp), "VERIFY_RUNTIME_DIR": str(private_tmp)})
    assert run.returncode == 0, run.output
    assert run.summary["outcome"] == "passed"
    assert run.summary["counts"]["passed"] >= 1
    assert run.summary["target"]["kind"] == "ephemeral"
    for name in ("report.html", "junit.xml", "summary.md", "summary.json"):
        assert (run.reports_dir / name).is_file(), name
    assert not list(private_tmp.iterdir()), "throwaway server files left behind"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(private_tmp) not in ps, "a throwaway server is still running"
    assert "post-deploy verification" in run.output


@pytest.mark.xdist_group("healthy-run")
def test_healthy_database_passes(healthy_run):
    run = healthy_run
    assert run.returncode == 0, run.output
    assert run.not_passed() == {}
    assert run.summary["target"]["kind"] == "dsn"


def test_missing_ledger_row_fails_exactly_that_version(verify, database):
    version = "2026_02_02_0002_websocket_idempotency"
    database.execute("DELETE FROM schema_migrations WHERE version = %s", (version,))
    run = verify("--dsn", database.dsn)
    assert run.returncode == 1
    assert run.not_passed() == {f"test_migration_recorded[{version}]": "failed"}
    assert run.summary["outcome"] == "failed"
    assert "has no row in schema_migrations" in run.message(version + "]")


def test_ledger_row_without_file_is_reported(verify, database):
    database.execute("INSERT INTO schema_migrations (version) VALUES ('1002_hotfix_by_hand')")
    run = verify("--dsn", database.dsn)
    assert run.not_passed() == {
        "test_ledger_has_no_unknown_versions[schema_migrations]": "failed",
        # run by hand after the 2026 versions: also out of numeric order
        "test_ledger_in_order[schema_migrations]": "failed"}
    assert "1002_hotfix_by_hand" in run.message("versions[schema_migrations]")


def test_unreachable_dsn_is_an_error_never_a_pass(verify):
    run = verify("--dsn", f"postgresql://ops:{PASSWORD}@127.0.0.1:9/prod",
                 env={"PGCONNECT_TIMEOUT": "2"})
    assert run.returncode == 1  # could not check
    assert run.summary["outcome"] == "error"
    # Only the checks that read the migration files alone can pass; all others error.
    passed = {k for k, v in run.outcomes().items() if v == "passed"}
    assert all(k.startswith(("test_migration_replays", "test_migration_versions_distinct"))
               for k in passed)
    assert set(run.not_passed().values()) == {"error"}
    assert "cannot connect" in run.message("test_migration_recorded[001_init]")
    assert run.leaks(PASSWORD) == []


def test_missing_ledger_table_fails_with_that_message(verify, database):
    database.execute("DROP TABLE schema_migrations")
    run = verify("--dsn", database.dsn)
    assert set(run.not_passed().values()) == {"failed"}
    assert "ledger table public.schema_migrations does not exist" in run.message("[001_init]")


def test_run_that_checks_nothing_fails(verify, database):
    run = verify("--dsn", database.dsn, "-k", "no_such_check")
    assert run.returncode == 5  # no check was collected
    assert run.summary["outcome"] == "error"


def test_run_with_no_check_to_select_fails(verify, database, tmp_path):
    empty = tmp_path / "migrations"
    empty.mkdir()
    run = verify("--dsn", database.dsn, "--migrations-dir", str(empty),
                 "-k", "test_migration_recorded")
    assert run.returncode == 5  # no file, no item: no check was collected
    assert run.summary["outcome"] == "error"


def test_run_with_every_check_skipped_fails(verify, database):
    """Every selected check skipped (the probes, under --read-only): nothing was verified."""
    run = verify("--dsn", database.dsn, "--read-only", "-k", "enforced")
    assert run.returncode == 1
    assert run.summary["outcome"] == "error"
    assert set(run.outcomes().values()) == {"skipped"}


def test_named_environment_from_the_config(verify, database, config_file):
    config = config_file(f'[environments.staging]\ndsn = "{database.dsn}"\n')
    run = verify("--config", str(config), "--env", "staging", "-k", "recorded")
    assert run.returncode == 0, run.output
    assert run.summary["target"]["kind"] == "dsn"
    unknown = verify("--config", str(config), "--env", "prod")
    assert unknown.returncode == 4
    assert "--env prod: no such environment" in unknown.output and "staging" in unknown.output


def test_parallel_run_reports_like_a_single_process(verify, database):
    database.execute(
        "INSERT INTO active_positions (ticker, instrument_type, side, quantity, entry_price, "
        "alpaca_order_id) VALUES ('AAPL', 'stock', 'long', 10, 189.5, 'ord-1001')")
    run = verify("--dsn", database.dsn, "-n", "2")
    assert run.returncode == 1
    assert run.not_passed() == {"test_no_duplicates[active_positions.alpaca_order_id]": "failed"}
    detail = run.detail("test_no_duplicates")
    assert detail["evidence"][0]["rows"][0][0] == "ord-1001"
    assert run.summary["environment"]["Server version"]


def test_the_code_is_ruff_clean():
    """The style rules of pyproject.toml hold for every file, bench/ and tests/ included."""
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


def test_pytest_xdist_is_optional(verify, database):
    """Its hooks are optional: a run without the plugin (or without the package) works."""
    run = verify("--dsn", database.dsn, "-k", "recorded", "-p", "no:xdist")
    assert run.returncode == 0, run.output
    assert run.summary["outcome"] == "passed"
