"""The example config for the real system, on a database built like production: PostgreSQL
15, the production-like schema and its real migration history (tests/data/production)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from checks.infra.cluster import Cluster
from tests.conftest import PG15, ROOT

DATA = Path(__file__).parent / "data" / "production"
MIGRATIONS = DATA / "migrations"
EXAMPLE = ROOT / "examples" / "ops-pipeline-production.toml"
SNAPSHOT = ROOT / "examples" / "ops-pipeline-production.schema.json"
# The sample data's pipeline times are as fresh as the copy (the pipeline runs all along).
REFRESH = "; ".join(
    f"UPDATE {table} SET {column} = {column} + (now() - (SELECT max({column}) FROM {table}))"
    for table, column in (("lane_telemetry", "ts"), ("lane_features", "computed_at"),
                          ("dispatch_recommendations", "ts")))


def _build(server: Cluster, name: str) -> None:
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
        conn.execute((DATA / "build_production.sql").read_text())


@pytest.fixture(scope="module")
def production() -> Iterator[Cluster]:
    with Cluster(PG15) as server:
        _build(server, "ops_pipeline_template")
        yield server


@pytest.fixture
def prod(production: Cluster) -> Iterator[str]:
    """A fresh copy of the production-like database; its conninfo."""
    name = f"ops_pipeline_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(production.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE ops_pipeline_template").format(
            sql.Identifier(name)))
    with psycopg.connect(production.conninfo(name), autocommit=True) as conn:
        conn.execute(REFRESH)
    yield production.conninfo(name)
    with psycopg.connect(production.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def example(tmp_path: Path):
    """The example config, runnable from a temp folder, with its market-hours windows
    removed (so the freshness checks run whenever the tests do) unless ``windows``."""
    def write(*, snapshot: bool = True, windows: bool = False) -> Path:
        lines = EXAMPLE.read_text().splitlines()
        lines = [line for line in lines if windows or not line.startswith("active = ")]
        text = "\n".join(lines).replace('snapshot = "ops-pipeline-production.schema.json"',
                                        f'snapshot = "{SNAPSHOT}"' if snapshot else "")
        path = tmp_path / f"example-{uuid.uuid4().hex[:6]}.toml"
        path.write_text(f'fixtures_dir = "{ROOT / "db" / "fixtures"}"\n' + text)
        return path
    return write


def _run(verify, dsn: str, config: Path, *args: str):
    return verify("--dsn", dsn, "--config", str(config), "--migrations-dir", str(MIGRATIONS),
                  *args)


def test_the_example_is_green_on_a_healthy_production_with_its_history_accepted(
        verify, prod, example):
    run = _run(verify, prod, example())
    assert run.returncode == 0, run.output
    assert run.summary["outcome"] == "passed"
    outcomes = run.outcomes()
    assert {k: v for k, v in outcomes.items() if v == "accepted"} == {
        "test_ledger_has_no_unknown_versions[schema_migrations]": "accepted",
        "test_ledger_in_order[schema_migrations]": "accepted",
        "test_migration_versions_distinct[migrations]": "accepted"}
    assert outcomes["test_no_duplicates[alpaca_order_id_guard]"] == "warned"
    assert "failed" not in outcomes.values() and "error" not in outcomes.values()
    assert {v for k, v in outcomes.items() if k.startswith("test_check_constraint_def")} == \
        {"passed"}
    assert "9 version(s) in schema_migrations have no file, all accepted" in run.message(
        "unknown_versions[schema_migrations]")


@pytest.mark.parametrize(("fault", "expected"), [
    pytest.param(
        "INSERT INTO active_positions (ticker, instrument_type, strategy_type, side, quantity, "
        "entry_price, entry_time, status, alpaca_order_id) SELECT ticker, instrument_type, "
        "strategy_type, side, quantity, entry_price, entry_time, 'open', alpaca_order_id "
        "FROM active_positions WHERE alpaca_order_id IS NOT NULL LIMIT 1",
        {"test_no_duplicates[active_positions.alpaca_order_id]": "failed",
         "test_no_duplicates[alpaca_order_id_guard]": "warned"},
        id="duplicate-order-id"),
    pytest.param(
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_side",
        {"test_check_constraint_definition[chk_active_positions_side]": "failed",
         "test_check_constraint_enforced[chk_active_positions_side]": "failed",
         "test_schema_object[constraint:public.active_positions.chk_active_positions_side]":
             "failed"},
        id="dropped-check"),
    pytest.param(
        "DELETE FROM schema_migrations WHERE version = '1039_close_phantom_positions'",
        {"test_migration_recorded[1039_close_phantom_positions]": "failed"},
        id="deleted-ledger-row"),
    pytest.param(
        "ALTER TABLE active_positions DROP CONSTRAINT chk_active_positions_strategy_type; "
        "ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type "
        "CHECK (strategy_type IS NULL OR strategy_type IN ('day_trade', 'swing_trade', "
        "'stock')) NOT VALID",
        {"test_check_constraint_definition[chk_active_positions_strategy_type]": "failed",
         "test_schema_object[constraint:public.active_positions."
         "chk_active_positions_strategy_type]": "failed"},
        id="old-definition"),
    pytest.param(
        "UPDATE pg_index SET indisvalid = false "
        "WHERE indexrelid = 'idx_active_positions_alpaca_order_id'::regclass",
        {"test_index_present[idx_active_positions_alpaca_order_id]": "failed",
         "test_indexes_valid[active_positions]": "failed",
         "test_schema_object[index:public.idx_active_positions_alpaca_order_id]": "failed"},
        id="invalid-index"),
    pytest.param(
        "UPDATE lane_telemetry SET ts = ts - interval '2 hours'",
        {"test_fresh[telemetry_bars]": "failed"},
        id="stopped-pipeline"),
])
def test_each_injected_fault_fails_its_own_item(verify, prod, example, fault, expected):
    with psycopg.connect(prod, autocommit=True) as conn:
        conn.execute(fault)
    run = _run(verify, prod, example())
    assert run.returncode == 1, run.output
    found = {k: v for k, v in run.outcomes().items()
             if v not in ("passed", "skipped", "accepted", "info")}
    baseline = {"test_no_duplicates[alpaca_order_id_guard]": "warned"}
    assert found == {**baseline, **expected}


def test_a_history_that_does_not_replay_shows_its_root_cause_first(verify, prod, example):
    run = _run(verify, prod, example(snapshot=False))
    assert run.returncode == 1
    first = "test_migration_replays[008_add_options_support]"
    assert run.outcomes()[first] == "failed"
    message = run.message("replays[008_add_options_support]")
    assert message.index("does not exist") < message.index("statement")
    assert {k: v for k, v in run.outcomes().items() if k.startswith("test_schema_object")} == {
        "test_schema_object[expected-schema]": "error"}
    assert "008_add_options_support" in run.message("test_schema_object[expected-schema]")
    ours = run.output.split("post-deploy verification")[-1]
    assert next(line for line in ours.splitlines() if line.startswith(("FAIL", "ERROR"))) \
        .split()[1] == first
    summary_md = (run.reports_dir / "summary.md").read_text()
    assert first in next(line for line in summary_md.splitlines() if line.startswith("| FAIL"))
    html = (run.reports_dir / "report.html").read_text()
    problems = html[html.index("What did not pass"):]
    assert problems.index(first) < problems.index("ERROR")


def test_the_declared_rules_pass_on_varchar_columns_of_postgresql_18_too(verify, example):
    with Cluster() as server:
        _build(server, "ops_pipeline")
        run = _run(verify, server.conninfo("ops_pipeline"), example(), "-k", "check_constraint")
    assert run.returncode == 0, run.output
    assert {v for k, v in run.outcomes().items() if "definition" in k} == {"passed"}


def test_outside_market_hours_the_pipeline_checks_are_skipped_with_the_window(
        verify, prod, example):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC).astimezone(ZoneInfo("America/New_York"))
    open_now = now.weekday() < 5 and (9, 30) <= (now.hour, now.minute) < (16, 0)
    run = _run(verify, prod, example(windows=True), "-k", "fresh")
    expected = "passed" if open_now else "skipped"
    assert set(run.outcomes().values()) == {expected}
    if not open_now:
        assert "mon,tue,wed,thu,fri 09:30-16:00 America/New_York" in run.message(
            "[telemetry_bars]")
