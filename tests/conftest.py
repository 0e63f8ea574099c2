"""Fixtures for the suite's own tests: a real throwaway PostgreSQL and damaged copies of it."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from checks.infra.cluster import Cluster, Prepared, runtime_dir

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "db" / "migrations"
FIXTURES = sorted((ROOT / "db" / "fixtures").glob("*.sql"))
REFERENCE = "reference"
EXTENDED = "extended"
TEST_MIGRATION = Path(__file__).parent / "data" / "2026_03_01_0001_audit.sql"
PG15 = Path("/usr/lib/postgresql/15/bin")
"""PostgreSQL 15 (production's major): .ci/run installs it; its tests fail without it."""


@pytest.fixture(scope="session")
def extended_migrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference migrations plus a test migration with a trigger, view, function and a
    validated CHECK."""
    import shutil

    folder = tmp_path_factory.mktemp("extended_migrations")
    for f in [*MIGRATIONS.glob("*.sql"), TEST_MIGRATION]:
        shutil.copy(f, folder / f.name)
    return folder


@pytest.fixture(scope="session")
def cluster(extended_migrations: Path) -> Iterator[Cluster]:
    """One throwaway server for the whole test session, with the template databases."""
    with Cluster() as c:
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


@pytest.fixture
def extra_server() -> Iterator[Callable[..., Cluster]]:
    """The one factory for servers of a test's own, beside the session's ``cluster``:
    ``extra_server(prepared=..., standby_of=..., bin_dir=...)`` starts one (``standby_of``: a
    streaming standby of that server, from ``pg_basebackup -R``, on its binaries) and
    returns it running, in the suite's runtime folder (RAM where there is one); every one is
    removed when the test ends, the last started first (a standby before its primary)."""
    started: list[Cluster] = []

    def start(*, prepared: Prepared | None = None, standby_of: Cluster | None = None,
              bin_dir: Path | None = None) -> Cluster:
        server = Cluster(bin_dir or (standby_of.bin_dir if standby_of else None),
                         folder_in=runtime_dir())
        started.append(server)  # removing a server that did not start is a no-op
        return server.start(prepared, standby_of=standby_of)

    yield start
    for server in reversed(started):
        server.remove()


@dataclass
class Database:
    """A copy of the reference database that a test may damage."""

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
    """One ``pytest verify/`` run in a subprocess, with its reports parsed."""

    returncode: int
    output: str
    reports_dir: Path

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.reports_dir / "summary.json").read_text())

    def outcomes(self) -> dict[str, str]:
        """Check id (the part after ``::``) -> outcome."""
        return {c["id"].split("::", 1)[1]: c["outcome"] for c in self.summary["checks"]}

    def not_passed(self, *, drift: bool = True) -> dict[str, str]:
        """Checks that did not pass, less the AWS checks skipped because AWS is off;
        ``drift=False`` also leaves out the schema-drift items."""
        aws_off = {c["id"].split("::", 1)[1] for c in self.summary["checks"]
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
        return next(d for d in self.summary["details"] if check_id in d["id"])

    def message(self, check_id: str) -> str:
        return next(c["message"] for c in self.summary["checks"] if c["id"].endswith(check_id))

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


@pytest.fixture
def verify(tmp_path: Path) -> Callable[..., VerifyRun]:
    """Run the verification suite like an operator would; returns a VerifyRun."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
            reports: Path | None = None, paths: tuple[str, ...] = ("verify",)) -> VerifyRun:
        reports = reports or tmp_path / f"reports-{uuid.uuid4().hex[:6]}"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *(str(ROOT / p) for p in paths), "--reports-dir",
             str(reports), "-p", "no:randomly", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout,
            env={**_clean_env(), **(env or {})},
        )
        return VerifyRun(done.returncode, done.stdout + done.stderr, reports)

    return run


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
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-west-2",
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")  # read by the in-process server
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its state per process, not per server: start each test from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    yield MotoServer(endpoint, {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "AKIATESTING",
        "AWS_SECRET_ACCESS_KEY": "moto-test-secret-key-value", "AWS_REGION": "us-west-2"})
    server.stop()


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
