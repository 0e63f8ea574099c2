"""Fixtures for the suite's own tests: a real throwaway PostgreSQL and damaged copies of it."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import subprocess
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cache, cached_property, partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from checks.infra.cluster import Cluster, Prepared, find_engine, runtime_dir
from checks.targets.postgres import display_name
from tests import forked

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "db" / "migrations"
FIXTURES = sorted((ROOT / "db" / "fixtures").glob("*.sql"))
REFERENCE = "reference"
EXTENDED = "extended"
TEST_MIGRATION = Path(__file__).parent / "data" / "2026_03_01_0001_audit.sql"

# Every Python a test starts (xdist's workers, the fork servers, fresh runs) keeps the
# bytecode it compiles: without it each run compiled the suite's modules again.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def engine_bin(engine: str | Path | None) -> Path | None:
    """The ``bin`` directory of an engine: None or ``"18"`` is the wheel's (the suite's
    default), ``"15"`` production's major, a path any installation's."""
    if engine in (None, "18"):
        return None
    if engine == "15":
        return pg15()
    return Path(str(engine))


@cache
def pg15() -> Path:
    """PostgreSQL 15's ``bin`` (production's major), where the suite itself would find it
    (``/usr/lib/postgresql/15/bin``, Homebrew's, ``pg_config``'s): scripts/test-setup
    installs it; its tests (marker ``pg15``) fail without it, never skip."""
    found = find_engine(15)
    if found is None:
        pytest.fail("PostgreSQL 15 is not installed: run scripts/test-setup, or deselect its "
                    "tests with -m 'not pg15'", pytrace=False)
    return found.bin_dir


@contextmanager
def started(engine: str | Path | None = None, *, prepared: Prepared | None = None,
            standby_of: Cluster | None = None, cache_dir: Path | None = None,
            folder_in: Path | None = None, **settings: str) -> Iterator[Cluster]:
    """A started throwaway server, removed when the block ends: ``engine`` as in
    :func:`engine_bin` (a standby: its primary's), with ``prepared``'s databases, or a
    streaming standby of ``standby_of`` (``pg_basebackup -R``); ``settings`` are server
    settings such as ``wal_level="replica"``. It lives in the suite's runtime folder (RAM
    where there is one) unless ``folder_in`` says otherwise."""
    bin_dir = (standby_of.bin_dir if standby_of is not None and engine is None
               else engine_bin(engine))
    server = Cluster(bin_dir, cache_dir=cache_dir, folder_in=folder_in or runtime_dir(),
                     settings=settings)
    try:
        yield server.start(prepared, standby_of=standby_of)
    finally:
        server.remove()  # a server that did not start: a no-op


@pytest.fixture
def extra_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., Cluster]]:
    """The one factory for servers of a test's own, beside the session's ``cluster`` /
    ``cluster15`` (which serve copies of template databases): ``extra_server(engine="15",
    prepared=..., standby_of=..., **settings)`` returns a started :class:`Cluster` (see
    :func:`started`), for a server the test may damage (authentication, a stop, a
    standby). Every one is removed when the test ends, the last started first (a standby
    before its primary)."""

    def start(engine: str | Path | None = None, **kwargs: Any) -> Cluster:
        standby_of = kwargs.get("standby_of")
        major = standby_of.engine.major if standby_of is not None and engine is None else None
        if ("15" in (engine, str(major))
                and request.node.get_closest_marker("pg15") is None):
            pytest.fail("a test that starts PostgreSQL 15 is marked pg15", pytrace=False)
        return servers.enter_context(started(engine, **kwargs))

    with ExitStack() as servers:
        yield start


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: three workers per core, six at most. A test mostly waits (on its
    servers, its ``pytest verify/`` process, a settle window) rather than computes: on 2
    cores the whole run took 340 s with 2 workers, 303 s with 3, 288 s with 4, 271 s with 6
    and 292 s with 8. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return min(6, 3 * len(os.sched_getaffinity(0)))


MARKED_BY_FIXTURE = {
    "pg15": {"cluster15", "database15", "extended_database15", "production"},
    "aws": {"moto_server"},
    "browser": {"chromium"},
}
"""Markers that follow from what a test uses (the rest are on the tests themselves)."""


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in MARKED_BY_FIXTURE.items():
            if used & fixtures:
                item.add_marker(marker)
    # Tests that need something from outside (marker upstream: a checkout of the real
    # pipeline) run only when -m names them: deselected (and counted so), never skipped.
    if "upstream" not in (config.option.markexpr or ""):
        outside = [item for item in items if item.get_closest_marker("upstream")]
        if outside:
            config.hook.pytest_deselected(items=outside)
            items[:] = [item for item in items if not item.get_closest_marker("upstream")]
    # The slow ones first: xdist hands out tests in this order, and a long test last keeps
    # one worker busy while the other has nothing left.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def chromium(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Headless Chromium with ``args`` (marker ``browser``); not installed is a failure."""
    exe = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                 "google-chrome"))), None)
    if exe is None:
        pytest.fail("Chromium is not installed: run scripts/test-setup, or deselect its tests "
                    "with -m 'not browser'", pytrace=False)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}", *args],
            capture_output=True, text=True, timeout=120)

    return run


@pytest.fixture(scope="session")
def extended_migrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference migrations plus a test migration with a trigger, view, function and a
    validated CHECK."""
    folder = tmp_path_factory.mktemp("extended_migrations")
    for f in [*MIGRATIONS.glob("*.sql"), TEST_MIGRATION]:
        shutil.copy(f, folder / f.name)
    return folder


@pytest.fixture(scope="session")
def cluster(extended_migrations: Path) -> Iterator[Cluster]:
    """One throwaway server for the whole test session, with the template databases."""
    with started() as c:
        build_reference(c, REFERENCE, [*sorted(MIGRATIONS.glob("*.sql")), *FIXTURES])
        build_reference(c, EXTENDED, [*sorted(extended_migrations.glob("*.sql")), *FIXTURES])
        yield c


@pytest.fixture(scope="session")
def cluster15(extended_migrations: Path) -> Iterator[Cluster]:
    """Like ``cluster``, on PostgreSQL 15 (production's major)."""
    with started("15") as c:
        build_reference(c, REFERENCE, [*sorted(MIGRATIONS.glob("*.sql")), *FIXTURES])
        build_reference(c, EXTENDED, [*sorted(extended_migrations.glob("*.sql")), *FIXTURES])
        yield c


def build_reference(server: Cluster, dbname: str, scripts: list[Path]) -> None:
    """Create ``dbname`` on ``server`` by running ``scripts`` in order with psql.

    The suite's own replay (``checks.migrations``, ``checks.infra.replay``,
    ``checks.targets.ephemeral``) is what the tests verify: the databases they check are
    built without it, by PostgreSQL's own client, so that a bug there (a file left out,
    the wrong order, a statement split or a failure ignored) cannot make the fixture wrong
    in the same way, and drift compares two independent builds. The file names sort in
    their version order as text (``001_`` < ``009_`` < ``2026_...``). The server comes from
    ``Cluster`` (starting one is not what these databases could be wrong about)."""
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    done = subprocess.run(
        [str(server.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
         "-d", server.conninfo(dbname), *(arg for s in scripts for arg in ("-f", str(s)))],
        capture_output=True, text=True, timeout=300, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")})
    if done.returncode != 0:
        pytest.fail(f"building {dbname} with psql failed: {done.stderr.strip()}", pytrace=False)


def reference_prepared() -> Prepared:
    """The reference database (migrations + sample data) kept as a data folder, so that an
    extra server starts with it at once (its heartbeat is as old as the folder: refresh it)."""
    import hashlib

    scripts = [*sorted(MIGRATIONS.glob("*.sql")), *FIXTURES]
    digest = hashlib.sha256(b"ops-verify-tests-reference/2")  # /2: built by psql
    for path in scripts:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return Prepared(digest.hexdigest()[:16], lambda c: build_reference(c, REFERENCE, scripts))


@dataclass
class Database:
    """A copy of a template database that a test may damage."""

    cluster: Cluster
    name: str

    @property
    def dsn(self) -> str:
        return self.cluster.conninfo(self.name)

    def execute(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def fingerprint(self) -> list[tuple[Any, ...]]:
        """Every table's row count and every sequence's state, database-wide: what a
        probe or a read must leave as it found it (a rollback does not undo a nextval)."""
        tables = self.execute("SELECT format('%I.%I', schemaname, relname) "
                              "FROM pg_stat_user_tables")
        sequences = self.execute("SELECT format('%I.%I', schemaname, sequencename) "
                                 "FROM pg_sequences")
        counts = [(t, self.execute(f"SELECT count(*) FROM {t}")[0][0]) for (t,) in tables]
        states = [(s, self.execute(f"SELECT last_value, is_called FROM {s}")[0])
                  for (s,) in sequences]
        return sorted(counts) + sorted(states)


@contextmanager
def copy_of(cluster: Cluster, template: str) -> Iterator[Database]:
    """A fresh copy of a template database, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)))
    db = Database(cluster, name)
    # The trade-stream beats every 30 s: the copy's heartbeat is as fresh as the copy, so
    # no test depends on how long the session has been running.
    db.execute("UPDATE service_heartbeats SET last_beat_at = now()")
    try:
        yield db
    finally:
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.fixture
def database15(cluster15: Cluster) -> Iterator[Database]:
    """A copy of the reference database on PostgreSQL 15."""
    with copy_of(cluster15, REFERENCE) as db:
        yield db


@pytest.fixture
def extended_database15(cluster15: Cluster) -> Iterator[Database]:
    """A copy of the database built from ``extended_migrations``, on PostgreSQL 15."""
    with copy_of(cluster15, EXTENDED) as db:
        yield db


@pytest.fixture
def database(cluster: Cluster) -> Iterator[Database]:
    """A copy of the reference database (migrations + healthy sample data)."""
    with copy_of(cluster, REFERENCE) as db:
        yield db


@pytest.fixture
def extended_database(cluster: Cluster) -> Iterator[Database]:
    """A copy of the database built from ``extended_migrations``."""
    with copy_of(cluster, EXTENDED) as db:
        yield db


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write an invariants file: ``migrations_dir`` (the reference's) and ``fixtures_dir``
    first, then ``body``; returns its path."""

    def write(body: str) -> Path:
        path = tmp_path / f"invariants-{uuid.uuid4().hex[:6]}.toml"
        path.write_text(f'migrations_dir = "{MIGRATIONS}"\n'
                        f'fixtures_dir = "{MIGRATIONS.parent / "fixtures"}"\n{body}')
        return path

    return write


@dataclass
class VerifyRun:
    """One ``pytest verify/`` run in a subprocess, with its reports parsed; with ``label``,
    the checks of that one target of a multi-target run (its ids without the label)."""

    returncode: int
    output: str
    reports_dir: Path
    label: str = ""

    @cached_property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.reports_dir / "summary.json").read_text())

    def of(self, label: str) -> VerifyRun:
        """The checks of the target ``label`` (a multi-target run)."""
        return dataclasses.replace(self, label=label)

    def _checks(self, key: str = "checks") -> list[dict[str, Any]]:
        """The summary's entries (``checks`` or ``details``), of this target only."""
        if not self.label:
            return self.summary[key]
        mine = f"[{self.label}:"
        return [{**c, "id": c["id"].replace(mine, "[", 1)} for c in self.summary[key]
                if mine in c["id"]]

    def outcomes(self) -> dict[str, str]:
        """Check id (the part after ``::``) -> outcome."""
        return {c["id"].split("::", 1)[1]: c["outcome"] for c in self._checks()}

    def not_passed(self, *, drift: bool = True) -> dict[str, str]:
        """Checks that did not pass, less the AWS checks skipped because AWS is off;
        ``drift=False`` also leaves out the schema-drift items."""
        aws_off = {c["id"].split("::", 1)[1] for c in self._checks()
                   if c["outcome"] == "skipped" and c["message"].startswith("AWS checks are off")}
        return {k: v for k, v in self.outcomes().items() if v != "passed" and k not in aws_off
                and (drift or not k.startswith(("test_schema_object", "test_no_unexpected")))}

    def target_checks(self) -> dict[str, str]:
        """Outcomes of the checks that need the database (not the file-only or AWS ones)."""
        return {k: v for k, v in self.outcomes().items() if not k.startswith(
            ("test_migration_replays", "test_migration_versions_distinct",
             "test_ecs_service_stable", "test_log_heartbeat", "test_schedule_enabled",
             "test_alarm_not_firing", "test_log_errors", "test_lambda_errors"))}

    def detail(self, check_id: str) -> dict[str, Any]:
        """Evidence and SQL of the check whose id contains ``check_id``."""
        return next(d for d in self._checks("details") if check_id in d["id"])

    def message(self, check_id: str) -> str:
        return next(c["message"] for c in self._checks() if c["id"].endswith(check_id))

    def all_output(self) -> str:
        """The console output and every report file, for secret searches."""
        files = "".join(p.read_text(errors="replace") for p in self.reports_dir.iterdir()
                        if p.is_file())
        return self.output + files

    def leaks(self, secret: str) -> list[tuple[str, str]]:
        """Where ``secret`` shows, in any form it could be printed in (see
        :func:`secret_forms`): the console and every file under the reports folder, as
        (place, form) pairs; ``[]`` when nowhere."""
        places = {"console": self.output, **{
            str(p.relative_to(self.reports_dir)): p.read_text(errors="replace")
            for p in sorted(self.reports_dir.rglob("*")) if p.is_file()}}
        return [(place, form) for place, text in places.items()
                for form in sorted(secret_forms(secret)) if form in text]


def secret_forms(secret: str) -> set[str]:
    """A secret as given, URL-encoded (a DSN's URL form: ``quote`` with and without ``/``
    kept, ``quote_plus``), and each of its words in those forms."""
    from urllib.parse import quote, quote_plus

    return {form for part in (secret, *secret.split())
            for form in (part, quote(part), quote(part, safe=""), quote_plus(part)) if form}


def run_verify(folder: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = 300, reports: Path | None = None,
               paths: tuple[str, ...] = ("verify",)) -> VerifyRun:
    """One ``pytest verify/`` run in a process of its own (see :mod:`tests.forked`), its
    reports in ``folder`` (or ``reports``), with the caller's environment less what
    chooses a target or account."""
    reports = reports or folder / f"reports-{uuid.uuid4().hex[:6]}"
    code, output = forked.run(
        [*(str(ROOT / p) for p in paths), "--reports-dir", str(reports), "-p", "no:randomly",
         *args], cwd=ROOT, env={**_clean_env(), **(env or {})}, timeout=timeout,
        output=folder / f"console-{uuid.uuid4().hex[:6]}")
    return VerifyRun(code, output, reports)


def seeded_runs(cluster: Cluster, template: str, faults: dict[str, str], folder: Path,
                *args: str) -> dict[str, VerifyRun]:
    """Each fault in a copy of ``template`` of its own, all verified by one run (a target
    each: one start of Python and pytest, not one per fault); fault id -> its target's
    checks. The copies are dropped after the run."""
    with ExitStack() as copies:
        databases = {}
        for fault_id, fault in faults.items():
            databases[fault_id] = copies.enter_context(copy_of(cluster, template))
            databases[fault_id].execute(fault)
        run = run_verify(folder, *(a for db in databases.values() for a in ("--dsn", db.dsn)),
                         *args)
    return {fault_id: run.of(display_name(db.dsn)) for fault_id, db in databases.items()}


@pytest.fixture
def verify(tmp_path: Path) -> Callable[..., VerifyRun]:
    """Run the verification suite like an operator would; returns a VerifyRun."""
    return partial(run_verify, tmp_path)


@pytest.fixture(scope="session")
def healthy_run(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> VerifyRun:
    """One ``--dsn -v`` run against a copy of the healthy reference database, which tests
    that only read its outcome and reports share (never damage its database)."""
    with copy_of(cluster, REFERENCE) as db:
        return run_verify(tmp_path_factory.mktemp("healthy"), "--dsn", db.dsn, "-v")


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """A TMPDIR of the test's own, so that leftovers of exactly its run can be seen; open to
    the unprivileged server user, like /tmp."""
    import os
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="verify-test-tmp-"))
    os.chmod(folder, 0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class MotoServer:
    """moto's real HTTP server on loopback, with credentials for the suite's subprocesses."""

    endpoint: str
    env: dict[str, str]

    def client(self, service: str) -> Any:
        return _moto_client(service, self.endpoint, self.env["AWS_ACCESS_KEY_ID"],
                            self.env["AWS_SECRET_ACCESS_KEY"])


@cache
def _moto_client(service: str, endpoint: str, key_id: str, secret: str) -> Any:
    """One boto3 client per service for this test process (making one took ~12% of a test
    process's CPU; a reset of the server leaves its clients valid)."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="us-west-2",
                        aws_access_key_id=key_id, aws_secret_access_key=secret)


@pytest.fixture(scope="session")
def _moto_endpoint() -> Iterator[str]:
    """moto's server, one per test process (each test resets its state)."""
    import os

    from moto.server import ThreadedMotoServer

    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "1"  # read by the in-process server
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_server(_moto_endpoint: str) -> MotoServer:
    """moto's server with nothing in it (marker ``aws``)."""
    urllib.request.urlopen(urllib.request.Request(f"{_moto_endpoint}/moto-api/reset",
                                                  method="POST"))
    return MotoServer(_moto_endpoint, {
        "AWS_ENDPOINT_URL": _moto_endpoint, "AWS_ACCESS_KEY_ID": "AKIATESTING",
        "AWS_SECRET_ACCESS_KEY": "moto-test-secret-key-value", "AWS_REGION": "us-west-2"})


@pytest.fixture
def on_moto_request(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
                    ) -> Callable[[type, str, Callable[..., None]], None]:
    """``on_moto_request(Backend, "method", act)``: moto's server (in this process) calls
    ``act(n, backend, *args, **kwargs)`` as the n-th request it serves with
    ``Backend.method`` arrives, before answering it; so the world changes between two of
    the suite's looks at it, at a known look, never after a guessed time."""

    def hook(cls: type, name: str, act: Callable[..., None]) -> None:
        answer = getattr(cls, name)
        looks = itertools.count(1)

        def hooked(backend: Any, *args: Any, **kwargs: Any) -> Any:
            act(next(looks), backend, *args, **kwargs)
            return answer(backend, *args, **kwargs)

        monkeypatch.setattr(cls, name, hooked)

    return hook


@pytest.fixture
def aws_world(moto_server: MotoServer) -> MotoServer:
    """The trade-stream service as the default config expects it: a stable ECS service and
    a heartbeat logged a second ago."""
    return trade_stream(moto_server)


def trade_stream(moto_server: MotoServer, heartbeat_age_s: float = 1) -> MotoServer:
    """The ECS service (running as many tasks as ``MOTO_ECS_SERVICE_RUNNING`` says, when it
    is created) and a heartbeat logged ``heartbeat_age_s`` ago."""
    ecs = moto_server.client("ecs")
    ecs.create_cluster(clusterName="ops-pipeline-cluster")
    ecs.register_task_definition(family="trade-stream", containerDefinitions=[
        {"name": "trade-stream", "image": "trade-stream:latest", "memory": 256}])
    ecs.create_service(cluster="ops-pipeline-cluster", serviceName="trade-stream",
                       taskDefinition="trade-stream", desiredCount=1)
    log_heartbeat(moto_server, seconds_ago=heartbeat_age_s)
    return moto_server


def log_heartbeat(aws: MotoServer, seconds_ago: float, group: str = "/ecs/ops-pipeline/trade-stream"
                  ) -> None:
    """Log one trade-stream heartbeat event ``seconds_ago``."""
    import time

    logs = aws.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="trade-stream/task-1")
    logs.put_log_events(logGroupName=group, logStreamName="trade-stream/task-1", logEvents=[
        {"timestamp": int((time.time() - seconds_ago) * 1000),
         "message": "INFO - Account activities: fetched=1 inserted=0"}])


def _clean_env() -> dict[str, str]:
    """The caller's environment without anything that chooses a target or AWS account;
    botocore never asks an instance-metadata endpoint (there is none here)."""
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VERIFY_", "PG", "AWS_", "PYTEST_", "GITHUB_", "CI_JOB_URL",
                                  "BUILD_URL", "BUILDKITE_"))}
    return {**env, "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


@contextmanager
def locked(dsn: str, table: str, mode: str = "ACCESS EXCLUSIVE") -> Iterator[None]:
    """Another session holds ``table`` in ``mode`` until the block ends."""
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("LOCK TABLE {} IN {} MODE").format(
            sql.Identifier(table), sql.SQL(mode)))
        yield
        conn.rollback()
