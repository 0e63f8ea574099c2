"""Benchmark: the smoke job as the tables grow (issue 20; not a test; run by hand, niced).

    nice .venv/bin/python bench/growth.py [--positions 1000000] [--sizes 1,4] [--repeats 5]
                                          [--per-round 1000] [--out bench/RESULTS.md]
                                          [--deep-workers 0] [--production-indexes]

One run, one machine, one throwaway PostgreSQL 15 server (bench/run.py's). The reference
schema (with ``--production-indexes`` also the index production has on
``active_positions (status)``) gets healthy size-N data (bench/generate.py), then grows in
place to each of ``--sizes`` times N (rows appended with new ids, as a living table
grows). At each size, after one uncounted warm-up round, ``--repeats`` rounds run every
contender in turn; before each round ``--per-round`` positions (5x history rows, 10x
events) are appended, what the services write between two smoke runs, so an incremental
check has new rows to read:

a. bench/handwritten.sql: serial, one connection (bench/run.py's);
b. the smoke job: ``pytest verify/ --dsn`` with its reports folder kept from run to run
   (its earlier runs' proofs and watermarks, ``checks/watermarks.py``);
c. the nightly job: ``pytest verify/ --dsn --deep`` (statement_timeout raised to 10 min in a
   copy of the config: a full scan of 4N rows outlasts the default 5 s);
d. Soda Core (soda-core-postgres, in its own venv: bench/.soda-venv) on its subset: the
   duplicate order ids, the four CHECK rules as valid values, the heartbeat's freshness;
e. the smoke job on that subset (``-k``), reports kept;
f. the smoke job through the db-query Lambda stand-in (150 ms per invocation), reports kept.

After each growth, before the rounds, the kept reports folders get one ``--deep`` run, as the
nightly job would have run while the tables grew (the smoke job then checks only what was
added since); the first default run after the growth without it is timed too. Results go to
bench/RESULTS.md, in this script's own section (the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from generate import (  # noqa: E402
    EVENTS_PER_POSITION,
    HISTORY_PER_POSITION,
    events_sql,
    generate,
    grow,
    history_sql,
    positions_sql,
    size_table,
    tickers,
)
from lambda_server import lambda_server  # noqa: E402
from run import (  # noqa: E402
    DATABASE,
    FUNCTION,
    HANDWRITTEN_CHILD,
    LAMBDA_LATENCY,
    SUITE,
    Sample,
    Server,
    base_env,
    bench_server,
    handwritten_statements,
    lambda_environment,
    load_average,
    measure,
    refresh_heartbeat,
)

from checks.migrations import discover  # noqa: E402
from checks.targets.ephemeral import build_database  # noqa: E402

SODA = ROOT / "bench" / ".soda-venv" / "bin" / "soda"
PRODUCTION_INDEX = "CREATE INDEX idx_active_positions_status ON active_positions (status)"
"""Upstream's migration 009 creates it; the reference schema has no index on status, so the
shipped config's [[custom_sql]] and [[row_counts]] read all of active_positions there."""
PRODUCTION_MIGRATION = "2026_02_02_0005_active_positions_status_index"


def markers(production_indexes: bool) -> tuple[str, str]:
    """Where one variant's section of bench/RESULTS.md begins and ends."""
    name = "bench/growth.py" + (" --production-indexes" if production_indexes else "")
    return f"<!-- {name}: begin -->", f"<!-- {name}: end -->"


def production_migrations(folder: Path) -> Path:
    """db/migrations and one more that creates :data:`PRODUCTION_INDEX` (the suite is given
    this folder: to it the index is then expected, not drift)."""
    target = folder / "migrations"
    shutil.copytree(ROOT / "db" / "migrations", target)
    (target / f"{PRODUCTION_MIGRATION}.sql").write_text(
        f"{PRODUCTION_INDEX};\n\nINSERT INTO schema_migrations (version) VALUES "
        f"('{PRODUCTION_MIGRATION}') ON CONFLICT (version) DO NOTHING;\n", encoding="utf-8")
    return target
SUBSET = "no_duplicates or check_constraint_definition or fresh"
SODA_CHECKS = """
checks for active_positions:
  - duplicate_count(alpaca_order_id) = 0
  - invalid_count(side) = 0:
      valid values: [long, short, call, put]
  - invalid_count(strategy_type) = 0:
      valid values: [day_trade, swing_trade, conservative]
checks for position_history:
  - invalid_count(side) = 0:
      valid values: [long, short, call, put]
  - invalid_count(strategy_type) = 0:
      valid values: [day_trade, swing_trade, conservative]
checks for service_heartbeats:
  - freshness(last_beat_at) < 5m
"""


@dataclass
class Contender:
    key: str
    label: str
    run: callable  # type: ignore[valid-type]
    samples: dict[int, list[Sample]] = field(default_factory=dict)
    methods: dict[int, dict[str, int]] = field(default_factory=dict)


def soda_config(folder: Path, dsn: str) -> tuple[Path, Path]:
    params = dict(part.split("=", 1) for part in dsn.split() if "=" in part)
    config = folder / "soda-configuration.yml"
    config.write_text(
        "data_source ops:\n  type: postgres\n"
        f"  host: {params['host']}\n  port: {params['port']}\n"
        f"  username: {params['user']}\n  password: ''\n  database: {params['dbname']}\n"
        "  schema: public\n", encoding="utf-8")
    checks = folder / "soda-checks.yml"
    checks.write_text(SODA_CHECKS, encoding="utf-8")
    return config, checks


def deep_config(folder: Path, workers: int = 0) -> Path:
    """verify/invariants.toml with statement_timeout 10 min and ``workers`` parallel workers
    (paths made absolute)."""
    text = (ROOT / "verify" / "invariants.toml").read_text(encoding="utf-8")
    text = text.replace('"../db/', f'"{ROOT}/db/').replace(
        'statement_timeout = "5s"',
        f'statement_timeout = "600s"\nparallel_workers = {workers}')
    path = folder / f"invariants-deep-{workers}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def not_passed(reports: Path | None) -> list[str]:
    """What did not pass in a suite run (for the log), first lines only."""
    try:
        checks = json.loads((reports / "summary.json").read_text())["checks"] if reports else []
    except (OSError, ValueError, KeyError):
        return ["no summary.json"]
    return [f"{c['outcome']}: {c['id'].split('::')[-1]}: {c['message'][:160]}"
            for c in checks if c["outcome"] not in ("passed", "skipped")][:4]


def methods(reports: Path) -> dict[str, int]:
    try:
        checks = json.loads((reports / "summary.json").read_text())["checks"]
    except (OSError, ValueError, KeyError):
        return {}
    found: dict[str, int] = {}
    for check in checks:
        if check.get("method"):
            found[check["method"]] = found.get(check["method"], 0) + 1
    return found


def contenders(dsn: str, server: Server, work: Path, lam: object, lambda_env: dict[str, str],
               args: argparse.Namespace, suite_args: list[str]) -> list[Contender]:
    statements = json.dumps(handwritten_statements())
    on_target = (DATABASE,)
    deep = deep_config(work, args.deep_workers)
    soda_conf, soda_checks = soda_config(work, dsn)
    kept = {name: work / f"reports-{name}" for name in ("b", "c", "e", "f", "g", "h")}

    def handwritten() -> tuple[Sample, Path | None]:
        sample, out = measure([sys.executable, "-c", HANDWRITTEN_CHILD, dsn], base_env(),
                              server, on_target, stdin=statements)
        if sample.exit_code == 0:
            found = json.loads(out.strip().splitlines()[-1])
            sample.seconds, sample.summary = found["seconds"], f"{found['rows']} rows fetched"
        return sample, None

    def suite(key: str, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT):
        def run() -> tuple[Sample, Path | None]:
            sample = measure([*SUITE, "-p", "no:randomly", *suite_args, *args, "--reports-dir",
                              str(kept[key])], env or base_env(), server, on_target,
                             cwd=cwd)[0]
            return sample, kept[key]
        return run

    # Soda sends anonymous usage statistics unless its own config says not to (a machine
    # without network waits for the export to time out): a HOME of its own with that config
    (work / ".soda").mkdir(exist_ok=True)
    (work / ".soda" / "config.yml").write_text("send_anonymous_usage_stats: false\n")

    def soda() -> tuple[Sample, Path | None]:
        return measure([str(SODA), "scan", "-d", "ops", "-c", str(soda_conf), str(soda_checks)],
                       {**base_env(), "HOME": str(work)}, server, on_target)[0], None

    def via_lambda(key: str = "f", cwd: Path = ROOT):
        def run() -> tuple[Sample, Path | None]:
            before = lam.invocations
            sample, reports = suite(key, "--via-lambda", FUNCTION, env=lambda_env, cwd=cwd)()
            sample.invocations = lam.invocations - before
            return sample, reports
        return run

    items = [
        Contender("a", "hand-written SQL (serial, one connection)", handwritten),
        Contender("b", "suite default --dsn (the smoke job, reports kept)",
                  suite("b", "--dsn", dsn)),
        Contender("c", f"suite --deep --dsn (statement_timeout 10 min, parallel_workers "
                  f"{args.deep_workers})",
                  suite("c", "--deep", "--config", str(deep), "--dsn", dsn)),
        Contender("e", "suite default on Soda's subset (-k, reports kept)",
                  suite("e", "--dsn", dsn, "-k", SUBSET)),
        Contender("f", f"suite default --via-lambda ({LAMBDA_LATENCY * 1000:.0f} ms per "
                  "invocation, reports kept)", via_lambda()),
    ]
    if args.before:  # the suite before this change, from a checkout of it
        items += [Contender("g", f"suite before ({args.before.name}) --dsn",
                            suite("g", "--dsn", dsn, cwd=args.before)),
                  Contender("h", f"suite before ({args.before.name}) --via-lambda",
                            via_lambda("h", args.before))]
    if SODA.is_file():
        items.insert(3, Contender("d", "Soda Core scan on its subset", soda))
    return [i for i in items if not args.only or i.key in args.only]


class Appender:
    """What the services add between two smoke runs: ``per_round`` positions, 5x history
    rows and 10x events, with new ids."""

    def __init__(self, dsn: str, n: int, per_round: int) -> None:
        self.dsn, self.n, self.per_round = dsn, n, per_round
        names, prices = tickers(7)
        self.params = {"tickers": names, "prices": prices}

    def add(self) -> None:
        old, new = self.n, self.n + self.per_round
        with psycopg.connect(self.dsn, autocommit=True, application_name="ops-bench") as conn:
            conn.execute(positions_sql(new, 7, 0, old + 1), self.params)
            conn.execute(history_sql(new * HISTORY_PER_POSITION, 7,
                                     old * HISTORY_PER_POSITION + 1), self.params)
            conn.execute(events_sql(new * EVENTS_PER_POSITION, new, 7,
                                    old * EVENTS_PER_POSITION + 1),
                         {"tickers": self.params["tickers"]})
        self.n = new


def rounds(items: list[Contender], size: int, repeats: int, dsn: str, server: Server,
           appender: Appender) -> None:
    for number in range(repeats + 1):
        appender.add()
        name = "warm-up" if number == 0 else f"round {number}/{repeats}"
        for item in items:
            refresh_heartbeat(dsn, server)
            sample, reports = item.run()
            if number:
                item.samples.setdefault(size, []).append(sample)
                if reports is not None:
                    item.methods[size] = methods(reports)
            print(f"  N x{size} {name} {item.key}: {sample.seconds:6.2f} s  exit "
                  f"{sample.exit_code}  {sample.summary[:70]}", file=sys.stderr, flush=True)
            for line in not_passed(reports):
                print(f"      {line}", file=sys.stderr, flush=True)


def median(samples: list[Sample]) -> float:
    return statistics.median(s.seconds for s in samples)


def results(args: argparse.Namespace, sizes_done: list[int], items: list[Contender],
            notes: dict[str, str], generated: dict[int, str]) -> str:
    by = {i.key: i for i in items}
    header = ["contender", *(f"x{s}: median s (min-max)" for s in sizes_done),
              *(f"x{s} / hand-written" for s in sizes_done),
              *(f"x{s}: pytest says, median s" for s in sizes_done), "exit codes",
              "methods (last run)"]
    rows = []
    for item in items:
        cells = [f"{item.key}. {item.label}"]
        for s in sizes_done:
            got = item.samples.get(s, [])
            cells.append(f"{median(got):.3f} ({min(x.seconds for x in got):.2f}-"
                         f"{max(x.seconds for x in got):.2f})" if got else "-")
        for s in sizes_done:
            got, hand = item.samples.get(s, []), by["a"].samples.get(s, [])
            cells.append(f"{median(got) / median(hand):.2f}x" if got and hand else "-")
        for s in sizes_done:
            inside = [x.pytest_seconds for x in item.samples.get(s, []) if x.pytest_seconds]
            cells.append(f"{statistics.median(inside):.2f}" if inside else "-")
        codes = sorted({x.exit_code for s in sizes_done for x in item.samples.get(s, [])})
        cells.append(",".join(map(str, codes)))
        cells.append("; ".join(f"x{s}: " + ", ".join(f"{k} {v}" for k, v in
                                                     sorted(item.methods.get(s, {}).items()))
                               for s in sizes_done if item.methods.get(s)) or "-")
        rows.append(cells)
    goals = []

    def med(key: str, size: int) -> float | None:
        got = by[key].samples.get(size) if key in by else None
        return median(got) if got else None

    def goal(text: str, value: float | None, bound: float, what: str) -> None:
        met = "not measured" if value is None else ("met" if value <= bound else "NOT met")
        goals.append((text, "-" if value is None else f"{value:.2f}{what}", f"<= {bound}{what}",
                      met))

    base = sizes_done[0]
    hand, default, deep = med("a", base), med("b", base), med("c", base)
    goal(f"x{base}: default / hand-written", default / hand if hand and default else None,
         1.0, "x")
    subset, soda = med("e", base), med("d", base)
    goal(f"x{base}: default on Soda's subset / Soda", subset / soda if subset and soda
         else None, 0.5, "x")
    goal(f"x{base}: --deep / hand-written", deep / hand if hand and deep else None, 1.2, "x")
    for s in sizes_done[1:]:
        grown = med("b", s)
        goal(f"x{s}: default after growth / default at x{base}",
             grown / default if grown and default else None, 1.15, "x")
        hs = med("a", s)
        goals.append((f"x{s}: hand-written after growth / at x{base} (expected ~{s}x)",
                      f"{hs / hand:.2f}x" if hs and hand else "-", "(grows)", "-"))
    lam, lam_before = med("f", base), med("h", base)
    goal(f"x{base}: --via-lambda / the suite before this change --via-lambda",
         lam / lam_before if lam and lam_before else None, 1.0, "x")
    now, before = med("b", base), med("g", base)
    goals.append((f"x{base}: default / the suite before this change (--dsn)",
                  f"{now / before:.2f}x" if now and before else "-", "-", "-"))
    begin, end = markers(args.production_indexes)
    title = ("## Growth on production's indexes (bench/growth.py --production-indexes, issue "
             "20)" if args.production_indexes else
             "## Growth: proofs instead of scans (bench/growth.py, issue 20)")
    text = [begin, "", title, "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
            "`bench/growth.py` in one run: N = "
            f"{args.positions:,} positions ({HISTORY_PER_POSITION}N history rows, "
            f"{EVENTS_PER_POSITION}N dedupe events), grown in place to "
            + ", ".join(f"x{s}" for s in sizes_done) + f"; {args.repeats} rounds after one "
            f"uncounted warm-up round per size, contenders alternating; {args.per_round:,} "
            "positions (and 5x history, 10x events) appended before every round. Wall "
            "seconds of the whole command (hand-written: connect to close). Medians.", "",
            tabulate(rows, headers=header, tablefmt="github", disable_numparse=True), "",
            "### Goals (issue 20)", "",
            tabulate(goals, headers=("goal", "measured", "bound", ""), tablefmt="github",
                     disable_numparse=True), "",
            "### Machine and data", "",
            *(f"- {k}: {v}" for k, v in notes.items()), "",
            *(f"Data at x{s}:\n\n```\n{generated[s]}\n```\n" for s in sizes_done if s in generated),
            end, ""]
    return "\n".join(text)


def write(out: Path, text: str, production_indexes: bool) -> None:
    """``text`` as this variant's section of ``out`` (at its end; the rest is kept)."""
    begin, end = markers(production_indexes)
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        old = head.rstrip("\n") + "\n" + rest.split(end, 1)[1].lstrip("\n")
    out.write_text(old.rstrip("\n") + "\n\n" + text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="1,4", help="multiples of N, e.g. 1,4,10")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--deep-workers", type=int, default=0,
                        help="[settings] parallel_workers of the --deep contender")
    parser.add_argument("--before", type=Path,
                        help="a checkout of the suite before this change: adds it (--dsn and "
                             "--via-lambda) as contenders g and h")
    parser.add_argument("--only", default="", help="contender keys to run, e.g. abcfgh")
    parser.add_argument("--production-indexes", action="store_true",
                        help="add the index production has on active_positions (status) "
                             "(upstream migration 009) that the reference schema lacks")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    notes = {"load average (1, 5, 15 min) at start": load_average()}
    generated: dict[int, str] = {}
    done: list[int] = []
    with bench_server() as cluster, tempfile.TemporaryDirectory(prefix="ops-growth-") as tmp:
        work = Path(tmp)
        server = Server(cluster)
        migrations, suite_args = ROOT / "db" / "migrations", []
        if args.production_indexes:
            migrations = production_migrations(work)
            suite_args = ["--migrations-dir", str(migrations)]
            notes["schema"] = (f"the reference schema and production's `{PRODUCTION_INDEX}` "
                               f"(as migration {PRODUCTION_MIGRATION}, given to the suite)")
        build_database(cluster, DATABASE, discover(migrations), [])
        dsn = cluster.conninfo(DATABASE)
        notes["server"] = f"PostgreSQL {cluster.version}"
        notes["disk free at start"] = f"{shutil.disk_usage(cluster.folder).free / 2**30:.0f} GiB"
        made = generate(dsn, args.positions * sizes[0])
        generated[sizes[0]] = f"generated in {made.seconds:.0f} s\n" + size_table(made.sizes)
        current = args.positions * sizes[0]
        appender = Appender(dsn, current, args.per_round)
        with lambda_server(dsn, latency=LAMBDA_LATENCY) as lam:
            items = contenders(dsn, server, work, lam, lambda_environment(lam.endpoint), args,
                               suite_args)
            for size in sizes:
                target = args.positions * size
                if target > appender.n:
                    free = shutil.disk_usage(cluster.folder).free
                    # about 3.6 GiB per million positions with history, events and indexes
                    need = (target - appender.n) / 1e6 * 3.6 * 2**30
                    if free < 1.5 * need:
                        notes[f"x{size}"] = (f"not measured: {free / 2**30:.0f} GiB free, "
                                             f"about {need / 2**30:.0f} GiB needed")
                        break
                    made = grow(dsn, appender.n, target)
                    generated[size] = f"grown in {made.seconds:.0f} s\n" + size_table(made.sizes)
                    appender.n = target
                    first, first_reports = items[1].run()
                    notes[f"x{size}: first smoke run after the growth, no nightly run between"] = \
                        f"{first.seconds:.2f} s, exit {first.exit_code} ({first.summary[:80]})" \
                        + "".join(f"; {line}" for line in not_passed(first_reports))
                lambda_env = lambda_environment(lam.endpoint)
                for key in [i.key for i in items if i.key in "bef"]:  # the nightly job ran
                    target_args = ("--via-lambda", FUNCTION) if key == "f" else ("--dsn", dsn)
                    nightly = measure([*SUITE, "-p", "no:randomly", *suite_args, "--deep",
                                       "--config",
                                       str(deep_config(work)), *target_args, "--reports-dir",
                                       str(work / f"reports-{key}")],
                                      lambda_env if key == "f" else base_env(), server,
                                      (DATABASE,))[0]
                    print(f"  N x{size} nightly --deep for {key}: {nightly.seconds:.2f} s, exit "
                          f"{nightly.exit_code}", file=sys.stderr, flush=True)
                rounds(items, size, args.repeats, dsn, server, appender)
                done.append(size)
                notes[f"load average after x{size}"] = load_average()
                write(args.out, results(args, done, items, notes, generated),
                      args.production_indexes)
                print(f"x{size} done; wrote {args.out}", file=sys.stderr, flush=True)
    begin, end = markers(args.production_indexes)
    print(args.out.read_text(encoding="utf-8").split(begin, 1)[1].split(end, 1)[0],
          file=sys.stderr)


if __name__ == "__main__":
    main()
