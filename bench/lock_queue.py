"""The lock queue behind a migration: does the suite hold production's writers up? (measured,
not tested; run by hand)

    .venv/bin/python bench/lock_queue.py [--positions 2000000] [--rounds 5] [--rate 100]
                                         [--out bench/RESULTS.md]

A throwaway PostgreSQL 15 (production's major; the embedded 18 when it is missing) gets the
reference schema and N positions of production-like data (bench/generate.py). A writer
inserts one position per transaction, ``--rate`` times a second (paced like trade-stream:
a late insert does not move the schedule), and every insert's latency is kept. Then
``--rounds`` rounds, each running three scenarios one after the other:

- **migration alone**: a migration (its own session, ``lock_timeout = 60s``, so it waits
  as long as it must) runs ``ALTER TABLE active_positions ADD COLUMN ...``;
- **suite alone**: ``pytest verify/ --dsn`` runs (its scans share the machine's two cores
  with the writer: what the writer loses to that, without any lock);
- **suite + migration**: the suite runs again, and the same ALTER is issued as soon as a
  statement of the suite reading ``active_positions`` is seen running (pg_stat_activity,
  polled every 2 ms). PostgreSQL queues locks first come, first served: the ALTER waits
  for the suite's ACCESS SHARE, and every insert waits behind the ALTER, until the suite
  yields.

Each ALTER's column is dropped again after its scenario (outside every window). Reported:
how long each ALTER took from being issued, the writer's worst latency among the inserts
started from 1 s before the ALTER was issued until 1 s after it completed, over each suite
run its worst from the run's start until 1 s after its end, and the checks that yielded.
Then the cost of one poll of the suite's lock watcher (the query it sends every 10 ms
while statements run), while the writer runs. The target: the writer's worst latency
around a migration with the suite within 2x of without. The section between the markers
below is replaced in ``--out`` (bench/run.py keeps it).

Anything else running on the machine distorts every figure here: run it when the machine
is quiet, or under ``nice -n -10`` (the benchmark server is its child and inherits it).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generate import generate, size_table  # noqa: E402

from checks.infra.cluster import Cluster  # noqa: E402
from checks.migrations import discover  # noqa: E402
from checks.targets.ephemeral import build_database  # noqa: E402
from checks.targets.lockwatch import POLL_S, YIELD  # noqa: E402

PG15 = Path("/usr/lib/postgresql/15/bin")
DATABASE = "ops_pipeline"
BEGIN = "<!-- bench/lock_queue.py: begin -->"
END = "<!-- bench/lock_queue.py: end -->"
MARGIN_S = 1.0
"""The window of a scenario: from this long before the ALTER was issued until this long
after it completed."""
SUITE_READS = ("SELECT pid FROM pg_stat_activity WHERE application_name = 'ops-verify' "
               "AND state = 'active' AND query LIKE '%%active_positions%%' "
               "AND query NOT LIKE '%%set_config%%'")


class Writer(threading.Thread):
    """One INSERT per transaction, ``rate`` times a second; (start, latency) of each."""

    def __init__(self, dsn: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.dsn, self.period = dsn, 1 / rate
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True, application_name="trade-stream") as conn:
            due, n = time.monotonic(), 0
            while not self.stop.is_set():
                due += self.period
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                n += 1
                started = time.monotonic()
                conn.execute("INSERT INTO active_positions (ticker, instrument_type, side, "
                             "quantity, entry_price, alpaca_order_id) VALUES ('SPY', "
                             "'option', 'call', 1, 1, %s)", (f"bench-{time.time_ns()}-{n}",))
                self.samples.append((started, time.monotonic() - started))

    def worst(self, start: float, end: float) -> float:
        """The worst latency (s) of the inserts started in [start, end]."""
        return max((s for t, s in self.samples if start <= t <= end), default=float("nan"))


@dataclass
class Migration:
    """One ALTER TABLE from a session of its own: when it was issued and completed."""

    dsn: str
    column: str
    issued: float = 0.0
    done: float = 0.0
    pid: int = 0

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True, application_name="migration") as conn:
            self.pid = conn.info.backend_pid
            conn.execute("SET lock_timeout = '60s'")
            self.issued = time.monotonic()
            conn.execute(f"ALTER TABLE active_positions ADD COLUMN {self.column} integer")
            self.done = time.monotonic()

    def undo(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True, application_name="migration") as conn:
            conn.execute(f"ALTER TABLE active_positions DROP COLUMN {self.column}")

    @property
    def took(self) -> float:
        return self.done - self.issued


@dataclass
class Scenario:
    round: int
    name: str
    alter_s: float | None = None
    """How long the ALTER took from being issued (None: no migration)."""
    window_worst_s: float | None = None
    """The writer's worst latency in the window around the ALTER."""
    run_worst_s: float | None = None
    """The writer's worst latency over the whole suite run (None: no suite)."""
    run_s: float | None = None
    exit_code: int | None = None
    yielded: list[str] = field(default_factory=list)


ALONE, SUITE, BOTH = "migration alone", "suite alone", "suite + migration"


def migration_alone(dsn: str, writer: Writer, n: int) -> Scenario:
    time.sleep(MARGIN_S)
    migration = Migration(dsn, f"bench_alone_{n}")
    migration.run()
    time.sleep(MARGIN_S)
    migration.undo()
    return Scenario(n, ALONE, migration.took,
                    writer.worst(migration.issued - MARGIN_S, migration.done + MARGIN_S))


def suite(dsn: str, writer: Writer, n: int, reports: Path, migrate: bool) -> Scenario:
    """A suite run; with ``migrate``, the ALTER issued once it reads active_positions."""
    time.sleep(MARGIN_S)
    migration = Migration(dsn, f"bench_with_{n}")
    alter = threading.Thread(target=migration.run)
    started = time.monotonic()
    run = subprocess.Popen([sys.executable, "-m", "pytest", "verify/", "-q", "-p",
                            "no:randomly", "--dsn", dsn, "--reports-dir", str(reports)],
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if migrate:
        with psycopg.connect(dsn, autocommit=True, application_name="bench") as watch:
            while run.poll() is None:
                if watch.execute(SUITE_READS).fetchone():
                    alter.start()
                    break
                time.sleep(0.002)
    code = run.wait()
    ended = time.monotonic()
    time.sleep(MARGIN_S)
    checks = json.loads((reports / "summary.json").read_text())["checks"]
    yielded = [c["id"].split("::")[-1] for c in checks if "yielded to" in c["message"]]
    for message in {c["message"] for c in checks if "yielded to" in c["message"]}:
        print(f"  {message}", file=sys.stderr)
    scenario = Scenario(n, BOTH if migrate else SUITE, run_s=ended - started, exit_code=code,
                        yielded=yielded)
    if not migrate:
        scenario.run_worst_s = writer.worst(started, ended + MARGIN_S)
        return scenario
    if not alter.is_alive() and not migration.issued:
        raise SystemExit(f"round {n}: the suite ended before it read active_positions")
    alter.join()
    migration.undo()
    scenario.alter_s = migration.took
    scenario.window_worst_s = writer.worst(migration.issued - MARGIN_S,
                                           migration.done + MARGIN_S)
    scenario.run_worst_s = writer.worst(started, max(ended, migration.done) + MARGIN_S)
    return scenario


def poll_cost(dsn: str, polls: int = 500) -> list[float]:
    """Round-trip times (s) of the watcher's query, as the watcher sends it (prepared after
    a few runs by psycopg), naming a pid that holds nothing."""
    with psycopg.connect(dsn, autocommit=True, application_name="bench") as conn:
        conn.execute("SELECT set_config('search_path', 'pg_catalog', false), "
                     "set_config('jit', 'off', false)")  # as the watcher's session is
        ours = [conn.info.backend_pid]
        times = []
        for _ in range(polls):
            started = time.perf_counter()
            conn.execute(YIELD, {"ours": ours}).fetchall()
            times.append(time.perf_counter() - started)
            time.sleep(0.005)
        return times


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def section(args: argparse.Namespace, version: str, sizes: str, generated_s: float,
            scenarios: list[Scenario], polls: list[float], took: float) -> str:
    def of(name: str) -> list[Scenario]:
        return [s for s in scenarios if s.name == name]

    base = max(s.window_worst_s or 0 for s in of(ALONE))
    worst_with = max(s.window_worst_s or 0 for s in of(BOTH))
    met = worst_with <= 2 * base
    waits = sorted(s.alter_s or 0 for s in of(BOTH))
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [(s.round, s.name, ms(s.alter_s), ms(s.window_worst_s), ms(s.run_worst_s),
             f"{s.run_s:.2f}" if s.run_s else "-", "-" if s.exit_code is None else s.exit_code,
             ", ".join(s.yielded) or "-") for s in scenarios]
    polls_ms = sorted(p * 1000 for p in polls)
    return "\n".join([
        BEGIN,
        "## Lock queue: a migration while the suite runs\n",
        f"Measured {when} by `bench/lock_queue.py` ({took / 60:.1f} min; load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} at the end), {version}. "
        f"N = {args.positions:,} positions (generated in {generated_s:.0f} s); a writer "
        f"inserting {args.rate:g} positions a second, one transaction each. Each round: a "
        "migration's `ALTER TABLE active_positions ADD COLUMN` (lock_timeout 60s) alone; "
        "`pytest verify/ --dsn` alone; the suite again, the same ALTER issued as soon as a "
        "statement of the suite reading active_positions runs. The writer's worst latency "
        f"around a migration is taken from {MARGIN_S:g} s before the ALTER was issued until "
        f"{MARGIN_S:g} s after it completed; over a suite run, from its start until "
        f"{MARGIN_S:g} s after its end.\n",
        "```\n" + sizes + "\n```\n",
        "| target | measured | |",
        "| --- | --- | --- |",
        f"| the writer's worst latency around a migration, with the suite <= 2 x without "
        f"| {ms(worst_with)} ms vs 2 x {ms(base)} ms | {'**met**' if met else '**missed**'} |",
        "",
        f"With the suite, the ALTER waited {ms(waits[len(waits) // 2])} ms (median; "
        f"{ms(waits[0])}-{ms(waits[-1])}) for the suite to yield.\n",
        tabulate(rows, headers=("round", "scenario", "ALTER took ms",
                                "writer worst ms around the ALTER",
                                "writer worst ms over the suite run", "suite s", "exit",
                                "checks that yielded"), tablefmt="github",
                 disable_numparse=True),
        "",
        "Before the suite yielded (issue 17, same scenario): the ALTER waited 2.75 s behind "
        "the suite's scan, the writer's worst latency 43 ms without the suite, 2,595 ms with "
        "it.\n",
        f"One poll of the lock watcher (the suite sends it every {POLL_S * 1000:.0f} ms while "
        f"a statement runs), {len(polls)} polls while the writer runs: median "
        f"{statistics.median(polls_ms):.2f} ms, p99 {polls_ms[int(len(polls_ms) * .99) - 1]:.2f}"
        f" ms, worst {polls_ms[-1]:.2f} ms round trip.\n",
        "Reproduce: `.venv/bin/python bench/lock_queue.py "
        + " ".join(map(shlex.quote, sys.argv[1:])) + "`",
        END, ""])


def kept_section(path: Path) -> str:
    """This script's section of the results file at ``path`` (bench/run.py keeps it when it
    rewrites the file), or nothing."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN not in text or END not in text:
        return ""
    return "\n" + BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END + "\n"


def write(out: Path, text: str) -> None:
    """Replace this script's section of ``out`` (appended when there is none)."""
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        old = head.rstrip("\n") + "\n" + rest.split(END, 1)[1].lstrip("\n")
    out.write_text(old.rstrip("\n") + "\n\n" + text, encoding="utf-8")


@contextlib.contextmanager
def bench_server() -> Iterator[Cluster]:
    with Cluster(PG15 if (PG15 / "postgres").is_file() else None) as cluster:
        yield cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=100.0, help="inserts per second")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    with bench_server() as cluster, tempfile.TemporaryDirectory() as tmp:
        build_database(cluster, DATABASE, discover(ROOT / "db" / "migrations"), [])
        dsn = cluster.conninfo(DATABASE)
        print(f"PostgreSQL {cluster.version}; generating N = {args.positions:,} ...",
              file=sys.stderr)
        generated = generate(dsn, args.positions, quiet=True)
        writer = Writer(dsn, args.rate)
        writer.start()
        scenarios: list[Scenario] = []
        for n in range(1, args.rounds + 1):
            for scenario in (migration_alone(dsn, writer, n),
                             suite(dsn, writer, n, Path(tmp) / f"alone-{n}", migrate=False),
                             suite(dsn, writer, n, Path(tmp) / f"both-{n}", migrate=True)):
                scenarios.append(scenario)
                print(f"round {n}, {scenario.name}: ALTER {ms(scenario.alter_s)} ms, writer "
                      f"worst {ms(scenario.window_worst_s)} ms around it, "
                      f"{ms(scenario.run_worst_s)} ms over the run", file=sys.stderr)
        polls = poll_cost(dsn)
        writer.stop.set()
        writer.join()
        text = section(args, f"PostgreSQL {cluster.version}", size_table(generated.sizes),
                       generated.seconds, scenarios, polls, time.monotonic() - started)
    write(args.out, text)
    print(text, file=sys.stderr)


if __name__ == "__main__":
    main()
