"""The database kinds' judges on plain objects: a catalog built here, results given by the
names the kinds give their needs. No server: each verdict is the judge's alone."""

from __future__ import annotations

import ast
import importlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from checks.catalog import Catalog
from checks.catalog.model import Column, Constraint, Index, Relation
from checks.config import Config, Drift, Ledger
from checks.context import Inputs
from checks.gather import Scalar
from checks.infra.replay import Applied
from checks.kinds import REGISTRY
from checks.kinds.base import Kind
from checks.kinds.check_constraints import DEFINITION, ENFORCED, CheckConstraint
from checks.kinds.custom_sql import CUSTOM_SQL, CustomSql
from checks.kinds.drift import NO_UNEXPECTED, SCHEMA_OBJECT, ExpectedObject, NoExtraObjects
from checks.kinds.freshness import FRESHNESS, Freshness
from checks.kinds.indexes import HEALTH, PRESENT, IndexSpec, TableIndexes
from checks.kinds.ledger import IN_ORDER, RECORDED, UNKNOWN, LedgerTable
from checks.kinds.migration_files import DISTINCT, REPLAYS, MigrationsDir
from checks.kinds.release import ECS as RELEASE_ECS
from checks.kinds.release import LAMBDA as RELEASE_LAMBDA
from checks.kinds.release import MIGRATION as RELEASE_MIGRATION
from checks.kinds.unique import UNIQUE, Unique
from checks.kinds.upserts import UPSERTS, Upsert
from checks.manifest import EcsRelease, LambdaRelease, MigrationRelease
from checks.migrations import MigrationFile
from checks.outcome import CouldNotCheck, Status
from checks.probes import ProbeReport
from checks.replica import Replica
from checks.reporting.model import CheckResult, methods, methods_line
from checks.targets.base import ProbeResult
from tests.judging import NOW, context, judged

# ---------------------------------------------------------------- a catalog, by hand


def _table(name: str) -> Relation:
    return Relation(oid=hash(name) % 10_000, schema="public", name=name, kind="r",
                    persistence="p", rls_enabled=False, rls_forced=False, options=(),
                    definition=None, partition_key=None, partition_bound=None, parents=(),
                    extension=None, locked=False)


def _column(table: str, name: str, type_: str = "text", category: str = "S",
            position: int = 1) -> Column:
    return Column(relation=1, schema="public", table=table, name=name, position=position,
                  type=type_, base_type=type_, typmod=-1, category=category, type_kind="b",
                  user_type=False, not_null=False, has_default=False, default=None,
                  identity="", generated="", collation=None)


def _index(table: str, name: str, columns: tuple[str, ...], **flags: Any) -> Index:
    fields: dict[str, Any] = {
        "oid": 1, "schema": "public", "name": name, "table": table,
        "definition": f"CREATE INDEX {name} ON public.{table} ({', '.join(columns)})",
        "unique": False, "primary": False, "exclusion": False, "immediate": True,
        "valid": True, "ready": True, "live": True, "partial": False, "predicate": None,
        "nulls_not_distinct": False, "columns": columns, "extension": None}
    return Index(**{**fields, **flags})


def _check(table: str, name: str, definition: str, **flags: Any) -> Constraint:
    fields: dict[str, Any] = {
        "oid": 1, "schema": "public", "table": table, "name": name, "type": "c",
        "definition": definition, "validated": True, "enforced": True, "deferrable": False,
        "deferred": False, "no_inherit": False, "columns": ("side",), "references": None,
        "volatile_calls": ()}
    return Constraint(**{**fields, **flags})


POSITIONS = Catalog(
    None,
    relations=(_table("active_positions"), _table("service_heartbeats")),
    columns=(_column("active_positions", "id", "bigint", "N"),
             _column("active_positions", "side", position=2),
             _column("active_positions", "alpaca_order_id", position=3),
             _column("service_heartbeats", "service"),
             _column("service_heartbeats", "last_beat_at", "timestamp with time zone", "D", 2),
             _column("service_heartbeats", "details", "jsonb", "U", 3)),
    constraints=(_check("active_positions", "chk_side", "CHECK ((side = ANY "
                                                        "(ARRAY['long'::text, 'short'::text])))"),),
    indexes=(_index("active_positions", "active_positions_pkey", ("id",), unique=True,
                    primary=True),
             _index("active_positions", "idx_order", ("alpaca_order_id",))),
)


# ---------------------------------------------------------------- no duplicates
def _duplicates(dup_keys: int, scanned: int) -> dict[str, Any]:
    sample = [{"key": ("ord-1",), "n": 2, "row_ids": ["1", "7"]}] if dup_keys else []
    return {"scanned": scanned, "dup_keys": dup_keys, "dup_rows": 2 * dup_keys,
            "sample": sample, "sql": ["SELECT ..."]}


def test_duplicates_fail_with_their_rows_and_the_index_that_would_guard_them():
    spec = Unique(table="active_positions", columns=["alpaca_order_id"])
    outcome = judged(UNIQUE, spec, context(POSITIONS), duplicates=_duplicates(1, 5))
    assert outcome.status is Status.FAILED
    assert outcome.message.startswith("1 duplicated alpaca_order_id value(s) across 2 rows "
                                      "(of 5 in scope); no database-level unique guard")
    assert outcome.evidence[0].rows == [("ord-1", 2, "1, 7")]
    assert outcome.fix and "CREATE UNIQUE INDEX CONCURRENTLY" in outcome.fix
    assert dict(outcome.figures) == {"duplicated_values": 1, "rows": 5}


def test_no_row_in_scope_is_no_pass_unless_allowed():
    spec = Unique(table="active_positions", columns=["alpaca_order_id"])
    empty = judged(UNIQUE, spec, context(POSITIONS), duplicates=_duplicates(0, 0))
    assert empty.status is Status.FAILED and "nothing was checked" in empty.message
    allowed = judged(UNIQUE, replace(spec, allow_empty=True), context(POSITIONS),
                     duplicates=_duplicates(0, 0))
    assert allowed.status is Status.ACCEPTED


def test_require_guard_fails_a_clean_table_without_a_unique_index():
    spec = Unique(table="active_positions", columns=["alpaca_order_id"], require_guard=True)
    assert judged(UNIQUE, spec, context(POSITIONS),
                  duplicates=_duplicates(0, 4)).status is Status.FAILED
    guarded = replace(POSITIONS, indexes=(_index("active_positions", "uq_order",
                                                 ("alpaca_order_id",), unique=True),))
    outcome = judged(UNIQUE, spec, context(guarded), duplicates=_duplicates(0, 4))
    assert outcome.status is Status.PASSED
    assert "database-level unique guard: uq_order" in outcome.message


def test_a_missing_column_fails_before_anything_is_gathered():
    spec = Unique(table="active_positions", columns=["order_ref"])
    ctx = context(POSITIONS)
    assert UNIQUE.needs(spec, ctx) == {}
    outcome = judged(UNIQUE, spec, ctx)
    assert outcome.message == "public.active_positions has no column order_ref"


def test_a_need_that_could_not_be_gathered_is_the_checks_error():
    spec = Unique(table="active_positions", columns=["alpaca_order_id"])
    with pytest.raises(CouldNotCheck, match="locked by another session"):
        judged(UNIQUE, spec, context(POSITIONS),
               duplicates=CouldNotCheck("public.active_positions is locked by another session"))


# ---------------------------------------------------------------- freshness
def _newest(age_s: float | None, any_row: bool = True) -> dict[str, Any]:
    return {"newest": None if age_s is None else str(NOW - timedelta(seconds=age_s)),
            "age_s": age_s, "checked_at": str(NOW), "any_row": any_row, "sql": "SELECT ..."}


HEARTBEAT = Freshness(name="hb", table="service_heartbeats", column="last_beat_at",
                      where="service = 'trade-stream'", max_age="5m")


@pytest.mark.parametrize(("newest", "status", "said"), [
    (_newest(30), Status.PASSED, "is 30s old (max 5m)"),
    (_newest(301), Status.FAILED, "is 5m 1s old (max 5m)"),
    (_newest(-3600), Status.FAILED, "in the future: clock or time zone problem"),
    (_newest(None), Status.FAILED, "has rows but no timestamp (all NULL)"),
    (_newest(None, any_row=False), Status.FAILED, "nothing has ever been recorded"),
])
def test_freshness(newest, status, said):
    outcome = judged(FRESHNESS, HEARTBEAT, context(POSITIONS), newest=newest)
    assert outcome.status is status
    assert said in outcome.message


def test_a_stale_heartbeat_on_a_lagging_standby_blames_nobody_yet():
    standby = Replica(role="standby", lag_s=600)
    outcome = judged(FRESHNESS, HEARTBEAT, context(POSITIONS, replica=standby),
                     newest=_newest(400))
    assert outcome.status is Status.ERROR
    assert "the replica, not necessarily the service, is behind" in outcome.message


def test_a_column_that_is_no_timestamp_fails():
    spec = replace(HEARTBEAT, column="details")
    outcome = judged(FRESHNESS, spec, context(POSITIONS))
    assert outcome.message == "service_heartbeats.details is jsonb, not a date or timestamp"


# ---------------------------------------------------------------- custom SQL
def test_custom_sql_rows_are_the_evidence_with_their_exact_total():
    spec = CustomSql(name="neg", sql="SELECT id FROM active_positions WHERE quantity <= 0")
    rows = {"columns": ("id",), "rows": [(1,), (2,)], "total": 7}
    outcome = judged(CUSTOM_SQL, spec, rows=rows)
    assert (outcome.status, outcome.message) == (Status.FAILED, "neg: 7 row(s) returned")
    assert outcome.evidence[0].total == 7
    info = judged(CUSTOM_SQL, replace(spec, severity="info"), rows=rows)
    assert info.status is Status.PASSED and info.message == "neg: 7 row(s)"


# ---------------------------------------------------------------- CHECK definitions
def test_a_check_is_compared_by_its_normalized_rule_and_counted_when_not_valid():
    spec = CheckConstraint(table="active_positions", name="chk_side",
                           expression="side IN ('long', 'short')")
    same = "(side = ANY (ARRAY['long'::text, 'short'::text]))"
    outcome = judged(DEFINITION, spec, context(POSITIONS), expected=same, found=same)
    assert (outcome.status, outcome.message) == (Status.PASSED,
                                                 "chk_side matches and is validated")
    changed = judged(DEFINITION, spec, context(POSITIONS), expected=same,
                     found="(side = 'long'::text)")
    assert changed.status is Status.FAILED and "says something else" in changed.message
    not_valid = replace(POSITIONS, constraints=(replace(POSITIONS.constraints[0],
                                                        validated=False),))
    ctx = context(not_valid)
    assert set(DEFINITION.needs(spec, ctx)) == {"expected", "found", "violating_rows"}
    counted = judged(DEFINITION, spec, ctx, expected=same, found=same,
                     violating_rows=Scalar(3, "SELECT count(*) ..."))
    assert counted.status is Status.FAILED
    assert counted.message == ("chk_side matches, but it is NOT VALID, and 3 existing rows "
                               "violate it")
    assert counted.sql == ("SELECT count(*) ...",)


# ---------------------------------------------------------------- indexes
def test_a_declared_index_with_other_columns_or_invalid_fails():
    ctx = context(POSITIONS)
    assert judged(PRESENT, IndexSpec(table="active_positions", name="idx_order"),
                  ctx).status is Status.PASSED
    other = judged(PRESENT, IndexSpec(table="active_positions", name="idx_order",
                                      columns=["side"]), ctx)
    assert other.message == "idx_order: columns are ['alpaca_order_id'], expected ['side']"
    broken = replace(POSITIONS, indexes=(replace(POSITIONS.indexes[1], valid=False),))
    health = judged(HEALTH, TableIndexes("active_positions"), context(broken))
    assert health.status is Status.FAILED
    assert health.message == "1 unusable index(es) on active_positions: idx_order (INVALID)"


# ---------------------------------------------------------------- the ledger
def _ledger_context(tmp_path: Path, **ledger: Any) -> Any:
    ledger_table = Catalog(None, relations=(_table("schema_migrations"),), columns=(
        _column("schema_migrations", "version"),
        _column("schema_migrations", "applied_at", "timestamp with time zone", "D", 2)))
    files = [MigrationFile(tmp_path / f"{v}.sql") for v in ("001_init", "002_more", "010_x")]
    config = Config(path=tmp_path / "invariants.toml", migrations_dir=tmp_path,
                    fixtures_dir=tmp_path, ledger=Ledger(**ledger))
    return context(ledger_table, inputs=Inputs(config, files, None))  # type: ignore[arg-type]


def _rows(*rows: tuple[str, str]) -> dict[str, Any]:
    return {"rows": list(rows), "sql": "SELECT version ..."}


def test_the_ledger_judges_share_one_read(tmp_path):
    ctx = _ledger_context(tmp_path, accept_unknown=["099_*"])
    ledger = _rows(("001_init", "1"), ("010_x", "2"), ("002_more", "3"), ("099_hotfix", "4"),
                   ("100_hand", "5"))
    needs = {kind.name: kind.needs(LedgerTable("schema_migrations"), ctx)
             for kind in (RECORDED, UNKNOWN, IN_ORDER)}
    assert len({n["ledger"] for n in needs.values()}) == 1  # one need: one read
    recorded = judged(RECORDED, MigrationFile(tmp_path / "002_more.sql"), ctx, ledger=ledger)
    assert recorded.status is Status.PASSED
    unknown = judged(UNKNOWN, LedgerTable("schema_migrations"), ctx, ledger=ledger)
    assert unknown.status is Status.FAILED
    assert unknown.message.startswith("1 version(s) in schema_migrations have no migration "
                                      "file: 100_hand (1 more accepted)")
    order = judged(IN_ORDER, LedgerTable("schema_migrations"), ctx, ledger=ledger)
    assert order.status is Status.FAILED
    assert "002_more" in order.message


def test_a_file_without_its_ledger_row_fails_with_how_to_record_it(tmp_path):
    ctx = _ledger_context(tmp_path)
    outcome = judged(RECORDED, MigrationFile(tmp_path / "010_x.sql"), ctx,
                     ledger=_rows(("001_init", "1")))
    assert outcome.status is Status.FAILED
    assert outcome.fix and "INSERT INTO schema_migrations (version) VALUES ('010_x')" in \
        outcome.fix


# ---------------------------------------------------------------- enforcement probes
def test_a_probe_passes_only_when_the_rule_itself_rejects_the_row():
    spec = CheckConstraint(table="active_positions", name="chk_side",
                           expression="side IN ('long', 'short')")
    ctx = context(POSITIONS)

    def probed(result: ProbeResult, *moved: str) -> Any:
        return judged(ENFORCED, spec, ctx, probe=ProbeReport("INSERT ...", result, moved))

    rejected = probed(ProbeResult(True, "23514", "chk_side", "violates"))
    assert rejected.status is Status.PASSED and rejected.sql == ("INSERT ...",)
    accepted = probed(ProbeResult(False))
    assert accepted.status is Status.FAILED and "not enforced" in accepted.message
    with pytest.raises(CouldNotCheck, match="inconclusive probe: the row was rejected by "
                                            "other_rule"):
        probed(ProbeResult(True, "23514", "other_rule", "violates"))
    with pytest.raises(CouldNotCheck, match=r"advanced public\.s: a trace"):
        probed(ProbeResult(True, "23514", "chk_side"), "public.s")
    blocked = context(POSITIONS, probe_block="--read-only")
    assert ENFORCED.needs(spec, blocked) == {}
    assert judged(ENFORCED, spec, blocked).status is Status.SKIPPED


# ---------------------------------------------------------------- upserts
def _plan(**answer: Any) -> dict[str, Any]:
    return {"arbiters": None, "refusal": None, "not_asked": None, "sql": "INSERT ...", **answer}


def test_an_upsert_is_judged_by_postgresqls_plan_else_by_the_catalog():
    spec = Upsert(table="active_positions", columns=["alpaca_order_id"])
    plain = context(POSITIONS)  # idx_order is not unique: no arbiter
    refused = judged(UPSERTS, spec, plain, plan=_plan(refusal="there is no unique ..."))
    assert refused.status is Status.FAILED and "PostgreSQL says there is no unique" in \
        refused.message
    assert refused.fix and "CREATE UNIQUE INDEX CONCURRENTLY" in refused.fix
    by_catalog = judged(UPSERTS, spec, plain, plan=_plan(not_asked="read-only"))
    assert by_catalog.status is Status.FAILED and "has no arbiter" in by_catalog.message
    unique = replace(POSITIONS, indexes=(POSITIONS.indexes[0],
                                         replace(POSITIONS.indexes[1], unique=True)))
    planned = judged(UPSERTS, spec, context(unique), plan=_plan(arbiters=["idx_order"]))
    assert planned.status is Status.PASSED and "idx_order" in planned.message
    catalog_says = judged(UPSERTS, spec, context(unique), plan=_plan(not_asked="read-only"))
    assert catalog_says.status is Status.PASSED and "the catalog shows" in catalog_says.message


# ---------------------------------------------------------------- drift
def test_a_missing_or_unexpected_object_is_drift_unless_allowed(tmp_path):
    live = replace(POSITIONS, indexes=POSITIONS.indexes[:1],
                   relations=(*POSITIONS.relations, _table("scratch_copy")))
    config = Config(path=tmp_path / "invariants.toml", migrations_dir=tmp_path,
                    fixtures_dir=tmp_path)
    ctx = context(live, expected_schema=POSITIONS, expected_version="15.8",
                  inputs=Inputs(config, [], _NotSnapshot()))  # type: ignore[arg-type]
    present = judged(SCHEMA_OBJECT, ExpectedObject("constraint:public.active_positions.chk_side"),
                     ctx)
    assert (present.status, present.message) == (
        Status.PASSED, "constraint:public.active_positions.chk_side matches")
    missing = judged(SCHEMA_OBJECT, ExpectedObject("index:public.idx_order"), ctx)
    assert (missing.status, missing.message) == (
        Status.FAILED, "index:public.idx_order is missing from the live schema")
    extra = judged(NO_UNEXPECTED, NoExtraObjects("table"), ctx)
    assert extra.status is Status.FAILED and extra.message.startswith(
        "1 table(s) not created by the migrations: public.scratch_copy")
    config = replace(config, drift=Drift(allow=["*scratch_copy"]))
    allowed = context(live, expected_schema=POSITIONS, expected_version="15.8",
                      inputs=Inputs(config, [], _NotSnapshot()))  # type: ignore[arg-type]
    assert judged(NO_UNEXPECTED, NoExtraObjects("table"), allowed).status is Status.SKIPPED
    unbuilt = context(live, expected_schema=CouldNotCheck("the migrations do not replay"))
    with pytest.raises(CouldNotCheck, match="do not replay"):
        judged(SCHEMA_OBJECT, ExpectedObject("index:public.idx_order"), unbuilt)


class _NotSnapshot:
    """The expected schema as the drift judges read it: built from migrations."""

    snapshot = None


# ---------------------------------------------------------------- migration files
def test_shared_version_prefixes_fail_unless_accepted_and_a_replay_names_its_line(tmp_path):
    files = tuple(MigrationFile(tmp_path / f"{v}.sql") for v in ("1001_a", "1002_b", "1002_c"))
    folder = MigrationsDir(tmp_path, files)
    shared = judged(DISTINCT, folder, context())
    assert shared.status is Status.FAILED and "1002: 1002_b.sql, 1002_c.sql" in shared.message
    config = Config(path=tmp_path / "invariants.toml", migrations_dir=tmp_path,
                    fixtures_dir=tmp_path, ledger=Ledger(accept_shared_prefixes=["1002"]))
    accepted = judged(DISTINCT, folder, context(inputs=Inputs(config, list(files), None)))  # type: ignore[arg-type]
    assert accepted.status is Status.ACCEPTED
    ctx = context(inputs=Inputs(config, list(files), _NotSnapshot()))  # type: ignore[arg-type]
    replay = SimpleNamespace(applied=(Applied("1001_a"), Applied(
        "1002_b", "column \"x\" does not exist", "42703", 3, "ALTER TABLE t ADD CHECK (x > 0)")))
    assert judged(REPLAYS, files[0], ctx, replay=replay).status is Status.PASSED
    broken = judged(REPLAYS, files[1], ctx, replay=replay)
    assert broken.status is Status.FAILED
    assert broken.message == ("1002_b.sql fails at line 3: column \"x\" does not exist; "
                              "statement: ALTER TABLE t ADD CHECK (x > 0)")


# ---------------------------------------------------------------- the release
def test_the_release_lambda_must_run_the_released_code_active_and_updated():
    spec = LambdaRelease("ops-pipeline-db-query", code_sha256="kZ1=", alias="live")
    assert RELEASE_LAMBDA.needs(spec, context())["function"].params == \
        '{"FunctionName": "ops-pipeline-db-query", "Qualifier": "live"}'
    live = {"CodeSha256": "kZ1=", "Version": "7", "State": "Active",
            "LastUpdateStatus": "Successful"}
    assert judged(RELEASE_LAMBDA, spec, function=live).status is Status.PASSED
    updating = judged(RELEASE_LAMBDA, spec, function={**live, "LastUpdateStatus": "InProgress"})
    assert updating.status is Status.FAILED and "last update differ" in updating.message
    gone = judged(RELEASE_LAMBDA, spec, function={"error": "ResourceNotFoundException",
                                                  "message": "Function not found"})
    assert gone.message == ("Lambda function ops-pipeline-db-query:live does not exist "
                            "(Function not found)")


def test_the_release_ecs_service_must_run_its_task_definition_fully_rolled_out():
    spec = EcsRelease("trade-stream", task_definition="trade-stream:42",
                      images={"trade-stream": "v2026.11.28"})
    service = {"status": "ACTIVE", "desiredCount": 2, "runningCount": 2,
               "deployments": [{"rolloutState": "COMPLETED"}]}
    task = {"family": "trade-stream", "revision": 42, "containerDefinitions": [
        {"name": "trade-stream", "image": "ecr/ops-pipeline/trade-stream:v2026.11.28"}]}
    done = judged(RELEASE_ECS, spec, service={"service": service, "task": task})
    assert done.status is Status.PASSED
    rolling = {**service, "runningCount": 1,
               "deployments": [{"rolloutState": "IN_PROGRESS"}, {"rolloutState": "COMPLETED"}]}
    not_yet = judged(RELEASE_ECS, spec, service={"service": rolling, "task": task})
    assert not_yet.status is Status.FAILED and "rollout is not done: running 1 of 2" in \
        not_yet.message
    old = judged(RELEASE_ECS, spec, service={"service": service,
                                             "task": {**task, "revision": 41}})
    assert old.message == ("ops-pipeline-cluster/trade-stream does not run the release: "
                           "task definition differ")


def test_the_release_migration_must_be_in_the_ledger(tmp_path):
    ctx = _ledger_context(tmp_path)
    ledger = _rows(("001_init", "1"))
    assert judged(RELEASE_MIGRATION, MigrationRelease("001_init"), ctx,
                  ledger=ledger).status is Status.PASSED
    absent = judged(RELEASE_MIGRATION, MigrationRelease("010_x"), ctx, ledger=ledger)
    assert absent.status is Status.FAILED and "no row for it" in absent.message


# ---------------------------------------------------------------- every kind
JUDGE_TESTS = ("test_judges.py", "test_pipeline_judges.py", "test_row_counts.py")


def _kinds_judged_in(path: Path) -> set[str]:
    """The kinds whose judge a test module calls through ``judged(KIND, ...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("checks.kinds"):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                local[alias.asname or alias.name] = getattr(module, alias.name)
    return {local[call.args[0].id].name for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "judged"
            and call.args and isinstance(call.args[0], ast.Name)
            and isinstance(local.get(call.args[0].id), Kind)}


def test_every_kinds_judge_is_tested_on_plain_objects():
    judged_kinds = set().union(*(_kinds_judged_in(Path(__file__).with_name(name))
                                 for name in JUDGE_TESTS))
    assert sorted(set(REGISTRY) - judged_kinds) == []


def test_the_reports_count_how_the_data_checks_read_their_rows():
    results = [CheckResult(f"v::t[{i}]", "data integrity", "passed", "", method=m)
               for i, m in enumerate(["incremental", "cached", None, "cached", "proven"])]
    assert methods(results) == {"proven": 1, "cached": 2, "incremental": 1}
    assert methods_line(results) == (
        "rows read: 1 proven by a unique guard, 2 NOT VALID counts kept (the rule unchanged), "
        "1 incremental (only rows added since the last run)")
    assert methods_line(results[2:3]) is None


# ---------------------------------------------------------------- an interrupt while gathering
class _Batch:
    """A need of a batch of its own, for :func:`checks.gather.gather` (plain objects)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def runner(self) -> Any:
        return self

    def batch(self) -> str:
        return self.name

    def run_batch(self, batch: list[Any], ctx: Any) -> dict[Any, Any]:
        return dict.fromkeys(batch, self.name)


class _InterruptedPool:
    """Takes the first batch (it "runs"), then Ctrl-C arrives while the next is submitted."""

    def __init__(self) -> None:
        from concurrent.futures import Future

        self.running = Future()
        self.running.set_running_or_notify_cancel()
        self.submitted = 0

    def submit(self, fn: Any, *args: Any) -> Any:
        self.submitted += 1
        if self.submitted > 1:
            raise KeyboardInterrupt
        return self.running


def test_an_interrupt_while_batches_are_submitted_still_cancels_the_running_statements():
    """The window between the first submission and the wait: a batch already running (a
    long scan) is cancelled on the target, or the run would wait for it to finish."""
    from checks.gather import gather

    cancelled: list[bool] = []
    ctx = SimpleNamespace(live=None, target=SimpleNamespace(cancel=lambda: cancelled.append(True)))
    pool = _InterruptedPool()
    with pytest.raises(KeyboardInterrupt):
        gather([_Batch("long scan"), _Batch("next")], ctx, pool)
    assert pool.submitted == 2 and cancelled == [True]


def test_a_signal_delivered_to_another_thread_still_ends_the_wait():
    """The kernel may hand SIGTERM to any thread of the process; the main thread, waiting
    on the queries' futures, must still run the handler soon (it did only when the longest
    query ended: a SIGTERM ignored for as long as a pg_sleep(3600) ran)."""
    import signal
    import threading
    from concurrent.futures import Future

    from checks.gather import wait_interruptibly

    class Stopped(Exception):
        pass

    def stop(signum: int, frame: object) -> None:
        raise Stopped

    never: Future[None] = Future()
    other = threading.Thread(target=threading.Event().wait, args=(3.0,))
    other.start()
    threading.Timer(0.3, signal.pthread_kill, (other.ident, signal.SIGUSR1)).start()
    rescue = threading.Timer(5.0, never.set_result, (None,))  # the old wait ends, no hang
    rescue.start()
    previous = signal.signal(signal.SIGUSR1, stop)
    try:
        with pytest.raises(Stopped):
            wait_interruptibly([never])
    finally:
        signal.signal(signal.SIGUSR1, previous)
        rescue.cancel()
        other.join()
