"""[[upserts]]: an INSERT ... ON CONFLICT (columns) DO NOTHING has an arbiter, decided as
PostgreSQL decides it. The catalog judge and PostgreSQL's own plan are run on the same
schemas, on PostgreSQL 18 and 15 (production's major), and both are held against what the
real INSERT does."""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from checks.catalog import capture
from checks.catalog.arbiters import conjuncts, create_statement, implied_by
from checks.catalog.model import Catalog
from checks.config import ConfigError, Settings, from_table
from checks.context import Context
from checks.gather import gather
from checks.infra.cluster import Cluster
from checks.infra.normalize import Normalizer
from checks.kinds.upserts import Upsert, has_arbiter, needs
from checks.need import Found
from checks.outcome import CouldNotCheck, Outcome, Status
from checks.targets.postgres import PostgresTarget
from tests.conftest import locked, started
from tests.lambda_server import lambda_server
from tests.test_lambda_target import FUNCTION

TABLE = 'CREATE TABLE {s}.t (id int, a int, b int, "OrderId" text)'
PARTITIONED = (TABLE + " PARTITION BY LIST (b); "
               "CREATE TABLE {s}.t1 PARTITION OF {s}.t FOR VALUES IN (1)")


@dataclass(frozen=True)
class Case:
    id: str
    ddl: str
    columns: tuple[str, ...] = ("a",)
    where: str | None = None
    catalog_weaker: bool = False
    """PostgreSQL proves an implication the catalog judge's simple rule does not."""


CASES = [
    Case("plain-unique-index", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a)"),
    Case("unique-constraint", TABLE + "; ALTER TABLE {s}.t ADD CONSTRAINT t_a_key UNIQUE (a)"),
    Case("primary-key", TABLE + "; ALTER TABLE {s}.t ADD PRIMARY KEY (a)"),
    Case("partial-without-where", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a) WHERE b > 0"),
    Case("partial-same-where", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a) WHERE b > 0",
         where="b > 0"),
    Case("partial-where-has-it-as-and-term",
         TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a) WHERE b > 0",
         where='"OrderId" = \'x\' AND (b > 0)'),
    Case("partial-two-terms-both-in-where",
         TABLE + '; CREATE UNIQUE INDEX ON {s}.t (a) WHERE b > 0 AND "OrderId" IS NOT NULL',
         where='"OrderId" IS NOT NULL AND a > 0 AND b > 0'),
    Case("partial-stronger-where", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a) WHERE b > 0",
         where="b > 5", catalog_weaker=True),
    Case("partial-unrelated-where", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a) WHERE b > 0",
         where="b < 0"),
    Case("partial-not-null-only",
         TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a) WHERE a IS NOT NULL"),
    Case("deferrable-unique-constraint",
         TABLE + "; ALTER TABLE {s}.t ADD CONSTRAINT t_a_key UNIQUE (a) DEFERRABLE"),
    Case("deferrable-beside-immediate",
         TABLE + "; ALTER TABLE {s}.t ADD CONSTRAINT t_a_key UNIQUE (a) DEFERRABLE "
         "INITIALLY IMMEDIATE; CREATE UNIQUE INDEX ON {s}.t (a)"),
    Case("invalid-after-failed-concurrently",
         TABLE + "; INSERT INTO {s}.t (a) VALUES (7), (7)|CREATE UNIQUE INDEX CONCURRENTLY "
         "t_a_uq ON {s}.t (a)"),
    Case("expression-index", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (lower(\"OrderId\"))",
         columns=("OrderId",)),
    Case("index-with-extra-columns", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a, b)"),
    Case("columns-in-another-order", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a, b)",
         columns=("b", "a")),
    Case("include-columns", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a) INCLUDE (b)"),
    Case("non-unique-index", TABLE + "; CREATE INDEX ON {s}.t (a)"),
    Case("index-on-other-columns", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (b)"),
    Case("nulls-not-distinct", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a) NULLS NOT DISTINCT"),
    Case("same-table-name-in-another-schema",
         TABLE + "; CREATE SCHEMA {s}_other; CREATE TABLE {s}_other.t (a int UNIQUE)"),
    Case("column-that-needs-quoting", TABLE + '; CREATE UNIQUE INDEX ON {s}.t ("OrderId")',
         columns=("OrderId",)),
    Case("exclusion-constraint", TABLE + "; ALTER TABLE {s}.t ADD EXCLUDE USING btree (a WITH =)"),
    Case("partitioned-unique-index", PARTITIONED + "; CREATE UNIQUE INDEX ON {s}.t (a, b)",
         columns=("a", "b")),
    Case("partitioned-index-not-attached-everywhere",
         PARTITIONED + "; CREATE UNIQUE INDEX t_ab ON ONLY {s}.t (a, b)", columns=("a", "b")),
    Case("unique-index-on-a-partition-only",
         PARTITIONED + "; CREATE UNIQUE INDEX ON {s}.t1 (a, b)", columns=("a", "b")),
    Case("inheritance-child", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a); "
         "CREATE TABLE {s}.t_child () INHERITS ({s}.t)"),
    Case("insert-rule", TABLE + "; CREATE UNIQUE INDEX ON {s}.t (a); "
         "CREATE TABLE {s}.log (a int); "
         "CREATE RULE r AS ON INSERT TO {s}.t DO ALSO INSERT INTO {s}.log VALUES (new.a)"),
]


@dataclass
class Schemas:
    server: Cluster
    normalizer: Normalizer
    truth: dict[str, str | None]
    """Per case: the SQLSTATE of the real INSERT ... ON CONFLICT (None: it worked)."""
    live: Catalog
    """The server's catalog as the cases left it (captured once for all of them)."""


def _schema(case: Case) -> str:
    return "c_" + case.id.replace("-", "_")


def _insert(case: Case) -> str:
    scope = f" WHERE {case.where}" if case.where else ""
    return (f'INSERT INTO {_schema(case)}.t (id, a, b, "OrderId") VALUES (1, 1, 1, \'x\') '
            f"ON CONFLICT ({', '.join(sql.Identifier(c).as_string(None) for c in case.columns)})"
            f"{scope} DO NOTHING")


@pytest.fixture(scope="module", params=["18", pytest.param("15", marks=pytest.mark.pg15)])
def schemas(request, tmp_path_factory):
    """Every case in a schema of its own, on a server of each major; the real INSERT of
    each case is run once (rolled back) as the ground truth."""
    with started(request.param) as server:
        truth: dict[str, str | None] = {}
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            for case in CASES:
                conn.execute(f"CREATE SCHEMA {_schema(case)}")
                for step in case.ddl.format(s=_schema(case)).split("|"):
                    # a failed CREATE INDEX CONCURRENTLY leaves its index INVALID
                    with contextlib.suppress(psycopg.errors.UniqueViolation):
                        conn.execute(step)
            for case in CASES:
                try:
                    with conn.transaction(force_rollback=True):
                        conn.execute(_insert(case))
                    truth[case.id] = None
                except psycopg.Error as exc:
                    truth[case.id] = exc.sqlstate
        cache = tmp_path_factory.mktemp("normalized") / "cache.json"
        normalizer = Normalizer(lambda user_types: server.conninfo(), cache, "upserts")
        with contextlib.closing(PostgresTarget(server.conninfo(), Settings())) as target:
            live = capture(target)
        yield Schemas(server, normalizer, truth, live)
        normalizer.close()


def _judged(conninfo: str, normalizer: Normalizer, upsert: Upsert, live: Catalog | None = None
            ) -> tuple[Outcome | CouldNotCheck, Outcome | CouldNotCheck]:
    """The check's outcome on a live database with PostgreSQL's plan, and as the Lambda
    path judges it (the catalog alone), from one gathering; ``live``: the catalog captured
    earlier (else captured now)."""
    settings = Settings()
    target = PostgresTarget(conninfo, settings)
    try:
        ctx = Context(settings, None, datetime.now(UTC), target=target,  # type: ignore[arg-type]
                      normalizer=normalizer, live=live or capture(target))
        named = needs(upsert, ctx)
        with ThreadPoolExecutor(2) as pool:
            results = gather(named.values(), ctx, pool)
        unasked = {"arbiters": None, "refusal": None, "not_asked": "as through the Lambda",
                   "sql": ""}
        return tuple(_verdict(upsert, ctx, Found(named, found)) for found in  # type: ignore
                     (results, {**results, named["plan"]: unasked}))
    finally:
        target.close()


def _verdict(upsert: Upsert, ctx: Context, found: Found) -> Outcome | CouldNotCheck:
    try:
        return has_arbiter(upsert, ctx, found)
    except CouldNotCheck as exc:
        return exc


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_catalog_and_postgresql_agree_with_the_real_insert(schemas, case):
    upsert = Upsert(table="t", schema=_schema(case), columns=list(case.columns),
                    where=case.where)
    works = schemas.truth[case.id] is None
    assert schemas.truth[case.id] in (None, "42P10", "55000", "0A000"), schemas.truth
    direct, catalog = _judged(schemas.server.conninfo(), schemas.normalizer, upsert,
                              schemas.live)
    assert direct.status is (Status.PASSED if works else Status.FAILED), direct.message
    if case.catalog_weaker:
        assert works and catalog.status is Status.FAILED
        assert "simpler than PostgreSQL's" in direct.message
    else:
        assert catalog.status is direct.status, catalog.message
        assert "simpler than PostgreSQL's" not in direct.message, direct.message
        assert "PostgreSQL's answer counts" not in direct.message, direct.message
    if not works:
        assert direct.fix and catalog.fix
        assert "CREATE UNIQUE INDEX CONCURRENTLY" in direct.fix or \
            "rule" in direct.fix or "DEFERRABLE" in direct.fix


def test_the_statement_planned_gives_every_column_a_typed_null_and_runs_nothing(schemas):
    """No default, sequence or trigger is evaluated: EXPLAIN plans without executing, and
    every column gets an explicit NULL of its type (identity columns included)."""
    with psycopg.connect(schemas.server.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS trace; "
                     "CREATE DOMAIN trace.positive AS int NOT NULL CHECK (VALUE > 0); "
                     "CREATE TYPE trace.side AS ENUM ('long', 'short'); "
                     "CREATE TABLE IF NOT EXISTS trace.t ("
                     "id bigint GENERATED ALWAYS AS IDENTITY, s bigserial, a int UNIQUE, "
                     "made timestamptz DEFAULT clock_timestamp(), q trace.positive, "
                     "side trace.side NOT NULL, tags varchar(10)[], "
                     "g int GENERATED ALWAYS AS (a * 2) STORED); "
                     "CREATE OR REPLACE FUNCTION trace.boom() RETURNS trigger LANGUAGE plpgsql "
                     "AS $$BEGIN RAISE EXCEPTION 'trigger fired'; END$$; "
                     "CREATE OR REPLACE TRIGGER boom BEFORE INSERT ON trace.t FOR EACH ROW "
                     "EXECUTE FUNCTION trace.boom()")
        before = conn.execute("SELECT last_value, is_called FROM trace.t_s_seq").fetchall()
    upsert = Upsert(table="t", schema="trace", columns=["a"])
    outcome = _judged(schemas.server.conninfo(), schemas.normalizer, upsert)[0]
    assert outcome.status is Status.PASSED, outcome.message
    assert "PostgreSQL's plan infers t_a_key" in outcome.message
    statement = outcome.sql[0]
    assert statement.startswith("EXPLAIN (FORMAT JSON) INSERT INTO \"trace\".\"t\"")
    assert "OVERRIDING SYSTEM VALUE" in statement and "NULL::bigint" in statement
    assert '"g"' not in statement and "DEFAULT" not in statement
    assert "NULL::trace.positive" in statement and "NULL::trace.side" in statement
    with psycopg.connect(schemas.server.conninfo(), autocommit=True) as conn:
        assert conn.execute("SELECT last_value, is_called FROM trace.t_s_seq").fetchall() \
            == before
        assert conn.execute("SELECT count(*) FROM trace.t").fetchone() == (0,)


# ---------------------------------------------------------------- pure pieces
@pytest.mark.parametrize(("text", "terms"), [
    ("(a > 0)", ["a > 0"]),
    ("((a > 0) AND (b IS NOT NULL))", ["a > 0", "b IS NOT NULL"]),
    ("((a > 0) AND ((b = 'x AND y'::text) AND (c)))", ["a > 0", "b = 'x AND y'::text", "c"]),
    ("((a > 0) OR (b > 0))", ["(a > 0) OR (b > 0)"]),
    ('("A AND B" > 0)', ['"A AND B" > 0']),
    ("(a > 0) AND (b > 0) OR (c > 0)", ["(a > 0) AND (b > 0) OR (c > 0)"]),  # AND binds first
])
def test_conjuncts_split_only_top_level_ands(text, terms):
    assert conjuncts(text) == terms


def test_implied_needs_every_term_of_the_predicate():
    assert implied_by("((a > 0) AND (b > 0))", ["((b > 0) AND (c > 0) AND (a > 0))"])
    assert not implied_by("((a > 0) AND (b > 0))", ["(a > 0)"])
    assert not implied_by("((a > 0) OR (b > 0))", ["(a > 0)"])


def test_the_fix_is_an_index_built_without_blocking_writers():
    assert create_statement("public", "active_positions", ["alpaca_order_id"], None) == (
        'CREATE UNIQUE INDEX CONCURRENTLY "active_positions_alpaca_order_id_key" ON '
        '"public"."active_positions" ("alpaca_order_id")')
    assert create_statement("public", "t", ["a"], "b > 0;").endswith('("a") WHERE b > 0')


@pytest.mark.parametrize(("entry", "message"), [
    ({"table": "t", "columns": []}, "name at least one column"),
    ({"table": "t", "columns": ["a", "a"]}, "a named twice"),
    ({"table": "t", "columns": ["a"], "where": " ; "}, "where: empty"),
    ({"table": "t", "columns": ["a b"]}, "not a valid SQL identifier"),
    ({"table": "t", "columns": ["a"], "conflict": "x"}, "unknown key 'conflict'"),
])
def test_bad_entries_are_config_errors(entry, message):
    with pytest.raises(ConfigError, match=message):
        from_table(Upsert, entry, "upserts[0]")


# ---------------------------------------------------------------- the real system
TRADE_STREAM = ('[[upserts]]\nname = "trade_stream_positions"\ntable = "active_positions"\n'
                'columns = ["alpaca_order_id"]\n'
                'description = "trade-stream opens a position once per Alpaca order"\n')


def test_trade_streams_position_upsert_has_no_arbiter_on_the_reference_schema(
        verify, database, config_file):
    """The real defect: trade-stream inserts positions with ON CONFLICT (alpaca_order_id)
    DO NOTHING, and the migrations create only a partial, non-unique index there."""
    run = verify("--dsn", database.dsn, "--config", str(config_file(TRADE_STREAM)), "-k", "upsert")
    assert run.outcomes() == {"test_upsert_has_arbiter[trade_stream_positions]": "failed"}
    message = run.message("[trade_stream_positions]")
    assert "there is no unique or exclusion constraint matching the ON CONFLICT " \
           "specification (SQLSTATE 42P10)" in message
    assert "idx_active_positions_alpaca_order_id: not unique; partial (WHERE " in message
    fix = next(c["fix"] for c in run.summary["checks"] if "[trade_stream_positions]" in c["id"])
    assert 'CREATE UNIQUE INDEX CONCURRENTLY "active_positions_alpaca_order_id_key" ON ' \
           '"public"."active_positions" ("alpaca_order_id")' in fix
    summary = (run.reports_dir / "summary.md").read_text()
    assert "test_upsert_has_arbiter[trade_stream_positions]" in summary
    database.execute("CREATE UNIQUE INDEX CONCURRENTLY active_positions_alpaca_order_id_key "
                     "ON active_positions (alpaca_order_id)")
    fixed = verify("--dsn", database.dsn, "--config", str(config_file(TRADE_STREAM)),
                   "-k", "upsert")
    assert fixed.returncode == 0, fixed.output
    assert "PostgreSQL's plan infers active_positions_alpaca_order_id_key" in \
        fixed.message("[trade_stream_positions]")


def test_the_shipped_upserts_pass_on_the_reference_schema_read_only_too(verify, database):
    run = verify("--dsn", database.dsn, "--read-only", "-k", "upsert")
    assert run.returncode == 0, run.output
    upserts = {k: v for k, v in run.outcomes().items() if "upsert" in k}
    assert len(upserts) >= 3 and set(upserts.values()) == {"passed"}
    for check in run.summary["checks"]:
        if "upsert" in check["id"]:  # read-only transactions may EXPLAIN an INSERT
            assert "PostgreSQL's plan infers" in check["message"], check["message"]


def test_through_the_lambda_the_catalog_answers_the_same(verify, database, config_file,
                                                         aws_env_lambda):
    config = config_file(TRADE_STREAM + '[[upserts]]\nname = "dedupe"\n'
                         'table = "alpaca_event_dedupe"\ncolumns = ["event_id"]\n')
    with lambda_server(database.dsn) as server:
        run = verify("--via-lambda", FUNCTION, "--config", str(config),
                     "-k", "upsert", env=aws_env_lambda(server.endpoint))
    assert run.outcomes() == {"test_upsert_has_arbiter[trade_stream_positions]": "failed",
                              "test_upsert_has_arbiter[dedupe]": "passed"}
    assert "judged from the catalog (the db-query Lambda runs only SELECT)" in \
        run.message("[trade_stream_positions]")
    assert "there is no unique or exclusion constraint" in run.message("[trade_stream_positions]")
    assert "the catalog shows alpaca_event_dedupe_pkey" in run.message("[dedupe]")
    assert all(q.lstrip().upper().startswith("SELECT") for q in server.calls)
    assert not [q for q in server.calls if "INSERT INTO" in q.upper()]


@pytest.fixture
def aws_env_lambda(aws_world):
    def env(endpoint: str) -> dict[str, str]:
        return {**aws_world.env, "AWS_ENDPOINT_URL_LAMBDA": endpoint}
    return env


# ---------------------------------------------------------------- attacks
def _one(run, name: str) -> tuple[str, str]:
    key = f"test_upsert_has_arbiter[{name}]"
    return run.outcomes()[key], run.message(f"[{name}]")


def test_a_unique_index_on_a_table_shadowing_it_on_search_path_does_not_count(
        verify, database, config_file):
    database.execute(
        "CREATE SCHEMA app; CREATE TABLE app.active_positions (alpaca_order_id varchar(255) "
        "UNIQUE); CREATE TEMP TABLE active_positions (alpaca_order_id text UNIQUE); "
        f"ALTER DATABASE {database.name} SET search_path = app, public")
    run = verify("--dsn", database.dsn, "--config", str(config_file(TRADE_STREAM)), "-k", "upsert")
    outcome, message = _one(run, "trade_stream_positions")
    assert outcome == "failed" and "public.active_positions" in message


def test_a_view_named_like_the_table_fails(verify, database, config_file):
    database.execute("CREATE SCHEMA app; CREATE TABLE app.orders (order_id text UNIQUE); "
                     "CREATE VIEW public.orders AS SELECT * FROM app.orders")
    config = config_file('[[upserts]]\nname = "orders"\ntable = "orders"\n'
                         'columns = ["order_id"]\n')
    outcome, message = _one(verify("--dsn", database.dsn, "--config", str(config)), "orders")
    assert outcome == "failed"
    assert "public.orders is a view" in message


def test_row_level_security_or_no_insert_privilege_falls_back_to_the_catalog(
        verify, database, config_file):
    role = f"verify_{uuid.uuid4().hex[:8]}"
    database.execute(
        f"CREATE ROLE {role} LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; "
        f"GRANT INSERT ON active_positions TO {role}; "
        "ALTER TABLE active_positions ENABLE ROW LEVEL SECURITY; "
        "ALTER TABLE active_positions FORCE ROW LEVEL SECURITY; "
        "CREATE POLICY mine ON active_positions USING (id < 3)")
    config = config_file(TRADE_STREAM + '[[upserts]]\nname = "dedupe"\n'
                         'table = "alpaca_event_dedupe"\ncolumns = ["event_id"]\n')
    try:
        run = verify("--dsn", f"{database.dsn} user={role}", "--config", str(config))
        outcome, message = _one(run, "trade_stream_positions")
        assert outcome == "failed"
        assert "judged from the catalog" in message and "row-level security" in message
        outcome, message = _one(run, "dedupe")
        assert outcome == "passed"
        assert "judged from the catalog" in message and "permission denied" in message
    finally:
        database.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_a_column_that_does_not_exist_is_an_error_naming_it(verify, database, config_file):
    config = config_file('[[upserts]]\nname = "typo"\ntable = "active_positions"\n'
                         'columns = ["alpaca_order"]\n')
    outcome, message = _one(verify("--dsn", database.dsn, "--config", str(config)), "typo")
    assert outcome == "error"
    assert "has no column alpaca_order" in message


def test_a_missing_table_fails(verify, database, config_file):
    config = config_file('[[upserts]]\nname = "gone"\ntable = "account_activities"\n'
                         'columns = ["activity_id"]\n')
    outcome, message = _one(verify("--dsn", database.dsn, "--config", str(config)), "gone")
    assert outcome == "failed"
    assert "table public.account_activities does not exist" in message


def test_a_table_locked_access_exclusive_is_an_error_never_a_wait(verify, database,
                                                                  config_file):
    config = config_file(TRADE_STREAM)
    with locked(database.dsn, "active_positions"):
        run = verify("--dsn", database.dsn, "--config", str(config))
    outcome, message = _one(run, "trade_stream_positions")
    assert outcome == "error"
    assert "locked" in message


def test_the_embedded_default_passes_with_the_shipped_upserts(verify):
    run = verify("-k", "upsert")
    assert run.returncode == 0, run.output
    assert set(run.outcomes().values()) == {"passed"}


def test_a_unique_guard_with_a_where_uses_the_same_helper(verify, database, config_file):
    """[[unique]] require_guard: a partial unique index whose predicate the scope's WHERE
    implies guards the rows in scope."""
    database.execute("CREATE UNIQUE INDEX uq_open ON active_positions (alpaca_order_id) "
                     "WHERE status = 'open'")
    config = config_file('[[unique]]\nname = "open"\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\nwhere = "status = \'open\'"\n'
                         'require_guard = true\n'
                         '[[unique]]\nname = "all"\ntable = "active_positions"\n'
                         'columns = ["alpaca_order_id"]\nrequire_guard = true\n')
    run = verify("--dsn", database.dsn, "--config", str(config), "-k", "no_duplicates")
    assert run.outcomes() == {"test_no_duplicates[open]": "passed",
                              "test_no_duplicates[all]": "failed"}
    assert "database-level unique guard: uq_open" in run.message("[open]")
