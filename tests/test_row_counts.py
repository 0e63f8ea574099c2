"""``[[row_counts]]``: a table's rows in scope lie within bounds; the count comes from the
table's one scan, shared with its other aggregates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from checks.catalog import Catalog
from checks.catalog.model import Relation
from checks.config import ConfigError
from checks.gather import Aggregate, Scalar, gather
from checks.kinds import load_config
from checks.kinds.row_counts import ROW_COUNTS, RowCount
from checks.need import TableRead
from checks.outcome import CouldNotCheck, Outcome, Status
from checks.proofs import Violators
from checks.targets.base import Rows
from tests.judging import context, judged

OPEN = "status = 'open'"


def _table(name: str) -> Relation:
    return Relation(oid=1, schema="public", name=name, kind="r", persistence="p",
                    rls_enabled=False, rls_forced=False, options=(), definition=None,
                    partition_key=None, partition_bound=None, parents=(), extension=None,
                    locked=False)


def _catalog(*tables: str) -> Catalog:
    return Catalog(None, relations=tuple(_table(t) for t in tables))


def _judged(spec: RowCount, count: int) -> Outcome:
    ctx = context(_catalog(spec.table))
    need = cast(Aggregate, ROW_COUNTS.needs(spec, ctx)["count"])
    return judged(ROW_COUNTS, spec, ctx, count=Scalar(count, need.alone()))


# ---------------------------------------------------------------- the judge, on plain objects
@pytest.mark.parametrize(("bounds", "count", "status", "said"), [
    ({"max": 5}, 5, Status.PASSED, "5 row(s) in active_positions where status = 'open', at "
                                   "most 5"),
    ({"max": 5}, 6, Status.FAILED, "6 row(s) in active_positions where status = 'open': "
                                   "expected at most 5"),
    ({"min": 1}, 0, Status.FAILED, "0 row(s) in active_positions where status = 'open': "
                                   "expected at least 1"),
    ({"min": 1, "max": 1}, 1, Status.PASSED, "exactly 1"),
    ({"min": 1, "max": 1}, 2, Status.FAILED, "expected exactly 1"),
    ({"min": 2, "max": 4}, 1, Status.FAILED, "expected at least 2 and at most 4"),
    ({"min": 0}, 0, Status.PASSED, "at least 0"),
])
def test_the_count_is_judged_against_its_bounds(bounds, count, status, said):
    outcome = _judged(RowCount(name="open", table="active_positions", where=OPEN, **bounds),
                      count)
    assert outcome.status is status
    assert said in outcome.message
    assert dict(outcome.figures) == {"rows": count}
    assert outcome.sql == ("SELECT count(*) FILTER (WHERE (status = 'open'\n)) FROM "
                           '"public"."active_positions"',)


def test_a_failure_names_what_the_bound_is_for():
    spec = RowCount(name="open", table="t", max=0, description="the risk limit")
    assert _judged(spec, 1).message == "1 row(s) in t: expected at most 0 (the risk limit)"


def test_a_missing_table_fails_and_needs_nothing():
    spec = RowCount(name="gone", table="no_such_table", min=1)
    ctx = context(_catalog("active_positions"))
    assert ROW_COUNTS.needs(spec, ctx) == {}
    outcome = judged(ROW_COUNTS, spec, ctx)
    assert outcome.status is Status.FAILED
    assert outcome.message == "table public.no_such_table does not exist"


@pytest.mark.parametrize(("entry", "problem"), [
    ("", "give min, max or both"),
    ("min = 3\nmax = 2", "min 3 is above max 2"),
    ("max = -1", "-1 is out of range (must be at least 0)"),
    ("max = 1.5", "expected an integer"),
    ("max = true", "expected an integer"),
    ("max = 1\nlimit = 2", "unknown key 'limit'"),
])
def test_bad_bounds_are_one_line_config_errors(tmp_path: Path, entry, problem):
    path = tmp_path / "invariants.toml"
    path.write_text(f'[[row_counts]]\nname = "n"\ntable = "t"\n{entry}\n')
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        load_config(path)


# ---------------------------------------------------------------- one scan per table
class _Recording:
    """A target that answers every aggregate with its position, a NOT VALID rule's premises
    with nothing recorded, and keeps what it was sent."""

    kind = "dsn"
    concurrency = 1

    def __init__(self) -> None:
        self.sent: list[str] = []

    def query(self, statement: Any, params: Any = None) -> Rows:
        text = statement.as_string(None)
        self.sent.append(text)
        if "__ops_verify_constraints" in text:
            return Rows(("__ops_verify_identity", "__ops_verify_next_xid",
                         "__ops_verify_constraints"), [("{}", "1", "[]")])
        return Rows(("n",), [tuple(range(text.count(" AS ")))])


@pytest.mark.parametrize("rule", ["counted every run", "NOT VALID"])
def test_the_count_shares_the_scan_of_the_tables_other_aggregates(rule):
    """Also with a NOT VALID rule's count, whose premises are read first (no store of
    earlier runs here, so it is counted): still one scan of the table."""
    spec = RowCount(name="open", table="active_positions", where=OPEN, max=5)
    ctx = context(_catalog("active_positions", "position_history"))
    count = ROW_COUNTS.needs(spec, ctx)["count"]
    expression = "count(*) FILTER (WHERE NOT (side IN ('long', 'short')))"
    violators = (Aggregate("public", "active_positions", expression) if rule != "NOT VALID"
                 else Violators("public", "active_positions", "chk_side", expression, "k"))
    elsewhere = Aggregate("public", "position_history", "count(*)")
    target = _Recording()
    ctx.target = target  # type: ignore[assignment]
    with ThreadPoolExecutor(1) as pool:
        found = gather([count, violators, elsewhere], ctx, pool)
    scans = [s for s in target.sent if "__ops_verify_constraints" not in s]
    assert len(scans) == 2  # one statement per table
    [both] = [s for s in scans if "active_positions" in s]
    assert both.count("count(*)") == 2
    assert (found[count].value, found[violators].value) == (0, 1)


def test_a_scan_of_counts_that_all_say_their_rows_reads_only_those():
    """A FILTER alone reads every row; when every count of the scan says which rows it
    counts, the statement says so too (an index on them serves it, as on production's
    idx_active_positions_status); one count of every row, or a CHECK's, reads them all."""
    ctx = context(_catalog("active_positions"))
    open_ = ROW_COUNTS.needs(RowCount(name="open", table="active_positions", where=OPEN,
                                      max=5), ctx)["count"]
    closed = ROW_COUNTS.needs(RowCount(name="closed", table="active_positions",
                                       where="status = 'closed'", min=0), ctx)["count"]
    every = ROW_COUNTS.needs(RowCount(name="all", table="active_positions", min=1),
                             ctx)["count"]
    violators = Aggregate("public", "active_positions", "count(*) FILTER (WHERE NOT (side "
                                                        "IN ('long', 'short')))")
    for needs, where in [([open_], " WHERE ((status = 'open'))"),
                         ([open_, closed], " WHERE ((status = 'open')) OR ((status = 'closed'))"),
                         ([open_, every], None), ([open_, violators], None)]:
        target = _Recording()
        ctx.target = target  # type: ignore[assignment]
        with ThreadPoolExecutor(1) as pool:
            found = gather(needs, ctx, pool)
        [statement] = target.sent
        tail = statement.split(' FROM "public"."active_positions"', 1)[1].replace("\n", "")
        assert (tail or None) == where
        assert [found[n].value for n in needs] == list(range(len(needs)))
        assert found[open_].sql.replace("\n", "") == (
            "SELECT count(*) FILTER (WHERE (status = 'open')) FROM \"public\".\"active_positions\"")


class _NoPremises(_Recording):
    """A target where a NOT VALID rule's premises cannot be read."""

    def query(self, statement: Any, params: Any = None) -> Rows:
        if "__ops_verify_constraints" in statement.as_string(None):
            raise CouldNotCheck("permission denied for function pg_control_system")
        return super().query(statement, params)


def test_a_rule_whose_premises_cannot_be_read_errors_alone_and_the_count_still_runs():
    spec = RowCount(name="open", table="active_positions", where=OPEN, max=5)
    ctx = context(_catalog("active_positions"))
    count = ROW_COUNTS.needs(spec, ctx)["count"]
    violators = Violators("public", "active_positions", "chk_side",
                          "count(*) FILTER (WHERE NOT (side IN ('long', 'short')))", "k")
    ctx.target = _NoPremises()  # type: ignore[assignment]
    with ThreadPoolExecutor(1) as pool:
        found = gather([count, violators], ctx, pool)
    assert isinstance(found[violators], CouldNotCheck)
    assert "pg_control_system" in str(found[violators])
    assert found[count].value == 0


@dataclass(frozen=True)
class _Kept(TableRead):
    """A count an earlier run proved: answered without reading a row (as a NOT VALID
    rule's kept count is), in the table's one scan."""

    def batch(self) -> tuple[str, str]:
        return (self.schema, self.table)

    @classmethod
    def runner(cls) -> type[Aggregate]:
        return Aggregate

    @classmethod
    def before_counting(cls, needs: list[_Kept], ctx: Any) -> tuple[Any, list[Any], Any]:
        return dict.fromkeys(needs, "kept"), [], lambda counted: {}


class _TimingOut(_Recording):
    def query(self, statement: Any, params: Any = None) -> Rows:
        raise CouldNotCheck("canceling statement due to statement timeout")


def test_a_scan_that_fails_leaves_what_was_answered_without_it():
    spec = RowCount(name="open", table="active_positions", where=OPEN, max=5)
    ctx = context(_catalog("active_positions"))
    count = ROW_COUNTS.needs(spec, ctx)["count"]
    kept = _Kept("public", "active_positions")
    ctx.target = _TimingOut()  # type: ignore[assignment]
    with ThreadPoolExecutor(1) as pool:
        found = gather([count, kept], ctx, pool)
    assert found[kept] == "kept"
    assert "statement timeout" in str(found[count])


# ---------------------------------------------------------------- on a real server
def test_more_open_positions_than_the_risk_limit_fail(verify, database):
    run = verify("--dsn", database.dsn, "-k", "row_counts")
    name = "test_row_counts[open_positions_within_the_risk_limit]"
    assert run.outcomes() == {name: "passed"}
    database.execute("INSERT INTO active_positions (ticker, instrument_type, side, quantity, "
                     "entry_price) SELECT ticker, instrument_type, side, quantity, entry_price "
                     "FROM active_positions LIMIT 2")
    run = verify("--dsn", database.dsn, "-k", "row_counts")
    assert run.returncode == 1
    assert run.outcomes() == {name: "failed"}
    assert run.message(name.removeprefix("test_row_counts")) == (
        "6 row(s) in active_positions where status = 'open': expected at most 5 "
        "(the dispatcher's max_open_positions)")
    assert run.summary["checks"][0]["figures"] == {"rows": 6}


def test_a_bad_scope_errors_alone_and_a_comment_cannot_swallow_the_statement(
        verify, database, config_file):
    config = config_file(
        '[[row_counts]]\nname = "broken"\ntable = "active_positions"\nmax = 5\n'
        'where = "no_such_column = 1"\n'
        '[[row_counts]]\nname = "commented"\ntable = "active_positions"\nmin = 4\nmax = 4\n'
        "where = \"status = 'open' -- the open ones\"\n"
        '[[row_counts]]\nname = "all"\ntable = "active_positions"\nmin = 1\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "row_counts")
    assert run.outcomes() == {"test_row_counts[broken]": "error",
                              "test_row_counts[commented]": "passed",
                              "test_row_counts[all]": "passed"}
    assert "no_such_column" in run.message("[broken]")


def test_the_self_test_breaks_each_bound_and_a_scope_with_no_row_is_not_proven(
        verify, config_file):
    """Its faults: rows copied past ``max`` (keys and all: the unique guards go first), every
    row in scope deleted below ``min``; each failure names the count it made."""
    config = config_file(
        '[[row_counts]]\nname = "both"\ntable = "active_positions"\nmin = 1\nmax = 12\n'
        "where = \"status = 'open'\"\n"
        '[[row_counts]]\nname = "none_in_scope"\ntable = "active_positions"\nmax = 3\n'
        "where = \"status = 'no such status'\"\n")
    run = verify("--self-test", "--config", str(config), "-k", "row_counts")
    assert run.outcomes() == {"test_row_counts[both]": "passed",
                              "test_row_counts[none_in_scope]": "error"}, run.output
    report = (run.reports_dir / "summary.json").read_text()
    assert "13 row(s) in active_positions" in report and "0 row(s) in active_positions" in report
    assert "matches no row of public.active_positions" in run.message("[none_in_scope]")
