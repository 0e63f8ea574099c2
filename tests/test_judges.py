"""The database kinds' judges on plain objects: a catalog built here, results given by the
names the kinds give their needs. No server: each verdict is the judge's alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from checks.catalog import Catalog
from checks.catalog.model import Column, Constraint, Index, Relation
from checks.config import Config, Ledger
from checks.context import Inputs
from checks.gather import Scalar
from checks.kinds.check_constraints import DEFINITION, CheckConstraint
from checks.kinds.custom_sql import CUSTOM_SQL, CustomSql
from checks.kinds.freshness import FRESHNESS, Freshness
from checks.kinds.indexes import HEALTH, PRESENT, IndexSpec, TableIndexes
from checks.kinds.ledger import IN_ORDER, RECORDED, UNKNOWN, LedgerTable
from checks.kinds.unique import UNIQUE, Unique
from checks.migrations import MigrationFile
from checks.outcome import CouldNotCheck, Status
from checks.replica import Replica
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
