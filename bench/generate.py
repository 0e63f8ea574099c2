"""Fill a migrated reference database with production-like data (benchmark input).

    .venv/bin/python bench/generate.py --dsn "host=... dbname=..." --positions 1000000 [--faults]
    .venv/bin/python bench/generate.py --dsn ... --positions 10000000 --duplicates 1000000

At size N: N ``active_positions``, 5N ``position_history`` rows, 10N ``alpaca_event_dedupe``
rows and one fresh ``trade-stream`` heartbeat. Every value is a function of the row number
and the seed (``hashint8extended``), so the same N and seed give the same data:

- ~200 tickers with a Zipf-like (1/rank) frequency; an event's symbol is its order's ticker;
- side long 45% / short 15% / call 25% / put 15% (options are ``instrument_type`` option);
  strategy_type day_trade / swing_trade / conservative, NULL for ~10%; three ``open`` (rows
  1-3; the shipped config's ``[[row_counts]]`` allows 5), the rest ``closed``;
  quantities and prices > 0 (a stock's price around its ticker's own level);
- ~85% of positions carry a distinct ``alpaca_order_id`` ``ord-<n>``, the rest NULL;
  ~7% have no ``execution_uuid``, the others a distinct one;
- timestamps over the last 90 days, increasing with the row (an append-only table);
- about ten events per order, near the time the order was placed; ~70% ``fill``.

With ``faults``: duplicated order ids (1000, or N/10 below N = 10,000; each id twice: a
replayed event seconds after the first), three rows breaking each NOT VALID CHECK (side
``sideways``, strategy_type ``stock``; the rule is dropped and re-added NOT VALID with its
exact definition around the update, as rows older than a NOT VALID rule are), and a
heartbeat three hours old. ``duplicates`` sets the number of duplicated ids alone.

Set-based SQL only (``INSERT ... SELECT FROM generate_series``); the secondary indexes are
dropped for the load and re-created from their exact definitions (faster than growing
them row by row), then ``VACUUM (ANALYZE)`` sets the visibility map for index-only scans.
The three tables load concurrently (``--workers``, default 2). Measured on 2 cores with
PostgreSQL 15: N = 1,000,000 in about 45 s (3.5 GiB with indexes), N = 10,000,000 in about
9.5 min (27 GiB).
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from tabulate import tabulate

DATA_TABLES = ("active_positions", "position_history", "alpaca_event_dedupe",
               "service_heartbeats")
HISTORY_PER_POSITION = 5
EVENTS_PER_POSITION = 10
DAYS = 90
WELL_KNOWN = ("SPY", "QQQ", "AAPL", "NVDA", "TSLA", "MSFT", "AMZN", "META", "AMD", "GOOGL",
              "IWM", "NFLX", "PLTR", "SMCI", "COIN", "AVGO", "MSTR", "BA", "JPM", "INTC",
              "DIA", "XLF", "SOFI", "MU", "UBER", "DIS", "BABA", "NIO", "F", "GME", "AMC",
              "PYPL", "SHOP", "CRM", "ORCL", "XOM", "CVX", "WMT", "COST", "KO", "PEP", "V",
              "MA", "BAC", "C", "WFC", "GS", "MS", "T", "VZ", "PFE", "MRNA", "LLY", "UNH",
              "ARM", "TSM", "QCOM", "ADBE", "ABNB", "RIVN")
VIOLATIONS = (  # (constraint, table, column, value): rows a NOT VALID rule does not cover
    ("chk_active_positions_side", "active_positions", "side", "sideways"),
    ("chk_active_positions_strategy_type", "active_positions", "strategy_type", "stock"),
    ("chk_position_history_side", "position_history", "side", "sideways"),
    ("chk_position_history_strategy_type", "position_history", "strategy_type", "stock"),
)
ROWS_PER_VIOLATION = 3


@dataclass
class Generated:
    """What was generated, for the caller's report."""

    positions: int
    history: int
    events: int
    duplicates: int
    faults: bool
    seconds: float = 0.0
    steps: list[tuple[str, float]] = field(default_factory=list)
    sizes: list[tuple[str, int, int, int, float]] = field(default_factory=list)
    """(table, rows, table bytes, index bytes, share of pages all-visible)"""


# ---------------------------------------------------------------- value expressions
def uniform(var: str, seed: int, salt: int) -> str:
    """SQL for a uniform float8 in [0, 1) determined by the integer ``var``, seed and salt."""
    key = seed * 1000 + salt
    return (f"((pg_catalog.hashint8extended(({var})::bigint, {key}) & 4503599627370495)"
            f"::float8 / 4503599627370496.0)")


def zipf_rank(var: str, seed: int, count: int) -> str:
    """SQL for a rank in 1..count with P(k) ~ 1/k (log-uniform): rank 1 is the most common."""
    return f"(floor(exp({uniform(var, seed, 1)} * ln({count + 1})))::int)"


def tickers(seed: int, count: int = 200) -> tuple[list[str], list[float]]:
    """``count`` ticker symbols (well-known ones first, most frequent first) and a price
    level for each."""
    rng = random.Random(seed)
    names = list(WELL_KNOWN[:count])
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    while len(names) < count:
        name = "".join(rng.choice(letters) for _ in range(rng.choice((3, 4, 4))))
        if name not in names:
            names.append(name)
    prices = [round(5 * (180 ** rng.random()), 2) for _ in names]  # about $5 .. $900
    return names, prices


def duplicate_count(n: int, faults: bool, duplicates: int | None) -> int:
    """How many order ids appear twice."""
    if duplicates is not None:
        count = duplicates
    elif faults:
        count = 1000 if n >= 10_000 else n // 10
    else:
        count = 0
    if count < 0 or (count and n // count < 2):
        raise ValueError(f"{count} duplicated order ids need at least {2 * count} positions")
    return count


# ---------------------------------------------------------------- the statements
def positions_sql(n: int, seed: int, dups: int, first: int = 1) -> str:
    """INSERT of the N positions (rows ``first`` .. N: a table grown from first - 1); row g
    with g % stride = 0 (the first ``dups`` of them) repeats the order id (and ticker) of
    row g - 1, which then always has one."""
    stride = n // dups if dups else 0
    dup = f"(mod(g, {stride}) = 0 AND g / {stride} <= {dups})" if dups else "false"
    twin = f"(mod(g + 1, {stride}) = 0 AND (g + 1) / {stride} <= {dups})" if dups else "false"
    span = DAYS * 86400
    return f"""
INSERT INTO public.active_positions
    (ticker, instrument_type, strategy_type, side, quantity, entry_price, entry_time, status,
     created_at, execution_uuid, alpaca_order_id)
SELECT tickers[rank],
       CASE WHEN side IN ('call', 'put') THEN 'option' ELSE 'stock' END,
       CASE WHEN u_strategy < 0.10 THEN NULL WHEN u_strategy < 0.55 THEN 'day_trade'
            WHEN u_strategy < 0.85 THEN 'swing_trade' ELSE 'conservative' END,
       side,
       CASE WHEN side IN ('call', 'put') THEN (1 + floor(u_qty * u_qty * 20))::numeric
            ELSE round((0.5 + u_qty * u_qty * u_qty * 500)::numeric, 4) END,
       CASE WHEN side IN ('call', 'put') THEN round((0.05 + u_price * u_price * 30)::numeric, 4)
            ELSE round((prices[rank] * (0.85 + 0.3 * u_price))::numeric, 4) END,
       entry_time,
       CASE WHEN g <= 3 THEN 'open' ELSE 'closed' END,
       entry_time + u_delay * interval '2 seconds',
       CASE WHEN u_uuid < 0.07 THEN NULL
            ELSE pg_catalog.md5('{seed}:position:' || g)::uuid END,
       CASE WHEN {dup} THEN 'ord-' || (g - 1)
            WHEN {twin} OR u_order >= 0.15 THEN 'ord-' || g END
FROM (SELECT g, {zipf_rank(f"CASE WHEN {dup} THEN g - 1 ELSE g END", seed, 200)} AS rank,
             CASE WHEN {uniform('g', seed, 2)} < 0.45 THEN 'long'
                  WHEN {uniform('g', seed, 2)} < 0.60 THEN 'short'
                  WHEN {uniform('g', seed, 2)} < 0.85 THEN 'call' ELSE 'put' END AS side,
             {uniform('g', seed, 3)} AS u_strategy, {uniform('g', seed, 4)} AS u_qty,
             {uniform('g', seed, 5)} AS u_price, {uniform('g', seed, 6)} AS u_status,
             {uniform('g', seed, 7)} AS u_delay, {uniform('g', seed, 8)} AS u_uuid,
             {uniform('g', seed, 9)} AS u_order,
             pg_catalog.now() - ({span}.0 * (1 - (g - 1 + {uniform('g', seed, 10)}) / {n}.0))
                 * interval '1 second' AS entry_time
      FROM pg_catalog.generate_series({first}, {n}) AS g OFFSET 0) AS r,
     (SELECT %(tickers)s::text[] AS tickers, %(prices)s::float8[] AS prices) AS t
"""


def history_sql(rows: int, seed: int, first: int = 1) -> str:
    """INSERT of the closed positions' history (5N rows)."""
    span = DAYS * 86400
    return f"""
INSERT INTO public.position_history
    (execution_uuid, ticker, strategy_type, side, quantity, entry_price, exit_price,
     exit_time, created_at)
SELECT CASE WHEN u_uuid < 0.05 THEN NULL
            ELSE pg_catalog.md5('{seed}:history:' || g)::uuid END,
       tickers[rank],
       CASE WHEN u_strategy < 0.10 THEN NULL WHEN u_strategy < 0.55 THEN 'day_trade'
            WHEN u_strategy < 0.85 THEN 'swing_trade' ELSE 'conservative' END,
       side,
       CASE WHEN side IN ('call', 'put') THEN (1 + floor(u_qty * u_qty * 20))::numeric
            ELSE round((0.5 + u_qty * u_qty * u_qty * 500)::numeric, 8) END,
       entry_price,
       round(entry_price * (0.9 + 0.2 * u_exit)::numeric, 8),
       exit_time, exit_time
FROM (SELECT g, rank, side, u_uuid, u_strategy, u_qty, u_exit, exit_time,
             CASE WHEN side IN ('call', 'put') THEN round((0.05 + u_price * u_price * 30)
                                                          ::numeric, 8)
                  ELSE round((prices[rank] * (0.85 + 0.3 * u_price))::numeric, 8) END
                 AS entry_price,
             tickers
      FROM (SELECT g, {zipf_rank('g', seed + 1, 200)} AS rank,
                   CASE WHEN {uniform('g', seed + 1, 2)} < 0.45 THEN 'long'
                        WHEN {uniform('g', seed + 1, 2)} < 0.60 THEN 'short'
                        WHEN {uniform('g', seed + 1, 2)} < 0.85 THEN 'call'
                        ELSE 'put' END AS side,
                   {uniform('g', seed + 1, 3)} AS u_strategy,
                   {uniform('g', seed + 1, 4)} AS u_qty,
                   {uniform('g', seed + 1, 5)} AS u_price,
                   {uniform('g', seed + 1, 6)} AS u_exit,
                   {uniform('g', seed + 1, 8)} AS u_uuid,
                   pg_catalog.now() - ({span}.0 * (1 - (g - 1 + {uniform('g', seed + 1, 10)})
                                                    / {rows}.0)) * interval '1 second'
                       AS exit_time
            FROM pg_catalog.generate_series({first}, {rows}) AS g OFFSET 0) AS r,
           (SELECT %(tickers)s::text[] AS tickers, %(prices)s::float8[] AS prices) AS t) AS x
"""


def events_sql(rows: int, n: int, seed: int, first: int = 1) -> str:
    """INSERT of the processed WebSocket events (10N): about ten per order, placed near the
    order's own time; the symbol is the order's ticker (same hash as the position's)."""
    span = DAYS * 86400
    per = rows // n if n else EVENTS_PER_POSITION
    return f"""
INSERT INTO public.alpaca_event_dedupe
    (event_id, event_type, order_id, symbol, processed_at, event_data)
SELECT 'evt-' || pg_catalog.to_char(g, 'FM000000000000'),
       CASE WHEN u_type < 0.70 THEN 'fill' WHEN u_type < 0.85 THEN 'partial_fill'
            WHEN u_type < 0.93 THEN 'new' WHEN u_type < 0.97 THEN 'canceled'
            ELSE 'expired' END,
       'ord-' || k,
       tickers[{zipf_rank('k', seed, 200)}],
       pg_catalog.now() - ({span}.0 * (1 - (g - 1 + u_time) / {rows}.0)) * interval '1 second',
       pg_catalog.jsonb_build_object('qty', 1 + floor(u_qty * u_qty * 100)::int)
FROM (SELECT g,
             least({n}, greatest(1, (g - 1) / {per} + 1
                                    + floor(({uniform('g', seed + 2, 1)} - 0.5) * 40)::bigint))
                 AS k,
             {uniform('g', seed + 2, 2)} AS u_type, {uniform('g', seed + 2, 3)} AS u_qty,
             {uniform('g', seed + 2, 4)} AS u_time
      FROM pg_catalog.generate_series({first}, {rows}) AS g OFFSET 0) AS r,
     (SELECT %(tickers)s::text[] AS tickers) AS t
"""


HEARTBEAT = """
INSERT INTO public.service_heartbeats (service, last_beat_at, details)
VALUES ('trade-stream', pg_catalog.now() - %(age)s::interval,
        '{"task": "arn:aws:ecs:us-west-2:000000000000:task/ops-pipeline-cluster/bench"}')
ON CONFLICT (service) DO UPDATE SET last_beat_at = excluded.last_beat_at
"""


# ---------------------------------------------------------------- steps
Job = tuple[str, "str | sql.Composable", "dict[str, object] | None"]
"""(name, statement, parameters)"""


class Steps:
    """Runs named statements, each on a connection of its own, up to ``workers`` at a time
    (the loads are CPU-bound in one backend each), printing and recording their times."""

    def __init__(self, conninfo: str, result: Generated, quiet: bool, workers: int) -> None:
        self.conninfo, self.result, self.quiet, self.workers = conninfo, result, quiet, workers
        self.lock = threading.Lock()

    def connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self.conninfo, autocommit=True,
                               application_name="ops-bench-generate")
        # synchronous_commit stays on: after an asynchronous commit VACUUM may find the rows'
        # hint bits unset and leave the visibility map empty (no index-only scans).
        conn.execute("SET maintenance_work_mem = '512MB'")
        return conn

    def run(self, *jobs: Job) -> None:
        """Run ``jobs`` concurrently (in this order as workers free up); errors propagate."""
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for future in [pool.submit(self._one, job) for job in jobs]:
                future.result()

    def _one(self, job: Job) -> None:
        name, statement, params = job
        start = time.perf_counter()
        with self.connect() as conn:
            conn.execute(statement, params)
        took = time.perf_counter() - start
        with self.lock:
            self.result.steps.append((name, took))
        if not self.quiet:
            print(f"  {name}: {took:.1f} s", file=sys.stderr, flush=True)


def check_empty(conn: psycopg.Connection, replace: bool) -> None:
    """Refuse to add to existing data (the duplicate count would be off) unless ``replace``,
    which empties the generated tables first."""
    tables = sql.SQL(", ").join(sql.Identifier("public", t) for t in DATA_TABLES)
    if replace:
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(tables))
        return
    for table in DATA_TABLES:
        if conn.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(
                sql.Identifier("public", table))).fetchone()[0]:
            raise SystemExit(f"public.{table} is not empty: generate into a freshly migrated "
                             "database, or pass --replace to empty the tables first")


def secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(name, CREATE INDEX text) of the generated tables' indexes that back no constraint."""
    return conn.execute(
        "SELECT format('%%I.%%I', n.nspname, c.relname), pg_catalog.pg_get_indexdef(i.indexrelid) "
        "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE i.indrelid = ANY (%s::regclass[]) AND NOT EXISTS ("
        "  SELECT FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid) "
        "ORDER BY 1", ([f"public.{t}" for t in DATA_TABLES],)).fetchall()


def seed_check_violations(conn: psycopg.Connection, n: int) -> None:
    """Three rows per NOT VALID CHECK that the rule does not cover: in one transaction the
    rule is dropped, the rows updated, and the rule re-added NOT VALID with the exact
    definition it had."""
    with conn.transaction():
        for i, (name, table, column, value) in enumerate(VIOLATIONS):
            definition = conn.execute(
                "SELECT pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint "
                "WHERE conname = %s AND conrelid = %s::regclass",
                (name, f"public.{table}")).fetchone()
            if definition is None:
                raise SystemExit(f"constraint {name} on public.{table} not found: "
                                 "is the database migrated?")
            ident = sql.Identifier("public", table)
            conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                ident, sql.Identifier(name)))
            rows = n * (HISTORY_PER_POSITION if table == "position_history" else 1)
            conn.execute(sql.SQL(
                "UPDATE {t} SET {c} = %s WHERE id IN (SELECT id FROM {t} ORDER BY id "
                "OFFSET %s LIMIT %s)").format(t=ident, c=sql.Identifier(column)),
                (value, rows * (i + 1) // 7, ROWS_PER_VIOLATION))
            conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                ident, sql.Identifier(name), sql.SQL(definition[0])))


def table_sizes(conn: psycopg.Connection, result: Generated
                ) -> list[tuple[str, int, int, int, float]]:
    """(table, rows, table bytes, index bytes, share of pages all-visible) of the generated
    tables (all-visible pages let an index-only scan skip the table)."""
    rows = {"active_positions": result.positions, "position_history": result.history,
            "alpaca_event_dedupe": result.events, "service_heartbeats": 1}
    return [(name, rows[name], *sizes) for name, *sizes in conn.execute(
        "SELECT c.relname, pg_catalog.pg_table_size(c.oid), "
        "pg_catalog.pg_indexes_size(c.oid), "
        "c.relallvisible::float8 / greatest(c.relpages, 1) FROM pg_catalog.pg_class c "
        "WHERE c.oid = ANY (%s::regclass[]) ORDER BY c.relname",
        ([f"public.{t}" for t in DATA_TABLES],)).fetchall()]


def size_table(sizes: list[tuple[str, int, int, int, float]]) -> str:
    return tabulate([(t, f"{r:,}", mib(tb), mib(ib), f"{v:.0%}") for t, r, tb, ib, v in sizes],
                    headers=("table", "rows", "table", "indexes", "all-visible"),
                    disable_numparse=True)


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


# ---------------------------------------------------------------- entry points
def generate(conninfo: str, n: int, *, faults: bool = False, seed: int = 7,
             duplicates: int | None = None, replace: bool = False, workers: int = 2,
             quiet: bool = False) -> Generated:
    """Fill the migrated database at ``conninfo`` with size-``n`` data (see the module doc).

    ``duplicates``: the exact number of order ids that appear twice (default: 1000 with
    ``faults``, N/10 below N = 10,000; 0 without). ``replace`` empties the tables first.
    ``workers``: statements run at once (the three tables load concurrently).
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    dups = duplicate_count(n, faults, duplicates)
    result = Generated(n, n * HISTORY_PER_POSITION, n * EVENTS_PER_POSITION, dups, faults)
    names, prices = tickers(seed)
    params = {"tickers": names, "prices": prices}
    started = time.perf_counter()
    steps = Steps(conninfo, result, quiet, workers)
    with steps.connect() as conn:
        check_empty(conn, replace)
        indexes = secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        steps.run((f"alpaca_event_dedupe ({result.events:,} rows)",
                   events_sql(result.events, n, seed), {"tickers": names}),
                  (f"position_history ({result.history:,} rows)",
                   history_sql(result.history, seed), params),
                  (f"active_positions ({n:,} rows, {dups:,} duplicated order ids)",
                   positions_sql(n, seed, dups), params),
                  ("trade-stream heartbeat" + (" (3 hours old)" if faults else ""), HEARTBEAT,
                   {"age": "3 hours" if faults else "0"}))
        if faults:
            seed_check_violations(conn, n)
            result.steps.append((f"{ROWS_PER_VIOLATION} rows breaking each NOT VALID CHECK", 0.0))
        _finish(steps, conn, indexes, result)
    return _done(result, started, f"generated N = {n:,}", quiet)


def grow(conninfo: str, old_n: int, n: int, *, seed: int = 7, workers: int = 2,
         quiet: bool = False) -> Generated:
    """Grow healthy size-``old_n`` data (as :func:`generate` left it) to size ``n``: the rows
    ``old_n + 1`` .. ``n`` of every table are appended (new ids from the sequences, as a
    living table grows; the earlier rows are untouched), secondary indexes re-created."""
    if n <= old_n:
        raise ValueError("n must be larger than old_n")
    result = Generated(n, n * HISTORY_PER_POSITION, n * EVENTS_PER_POSITION, 0, False)
    names, prices = tickers(seed)
    params = {"tickers": names, "prices": prices}
    started = time.perf_counter()
    steps = Steps(conninfo, result, quiet, workers)
    with steps.connect() as conn:
        indexes = secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        steps.run((f"alpaca_event_dedupe (+{(n - old_n) * EVENTS_PER_POSITION:,} rows)",
                   events_sql(result.events, n, seed, old_n * EVENTS_PER_POSITION + 1),
                   {"tickers": names}),
                  (f"position_history (+{(n - old_n) * HISTORY_PER_POSITION:,} rows)",
                   history_sql(result.history, seed, old_n * HISTORY_PER_POSITION + 1), params),
                  (f"active_positions (+{n - old_n:,} rows)",
                   positions_sql(n, seed, 0, old_n + 1), params))
        _finish(steps, conn, indexes, result)
    return _done(result, started, f"grown to N = {n:,}", quiet)


def _finish(steps: Steps, conn: psycopg.Connection, indexes: list[tuple[str, str]],
            result: Generated) -> None:
    """After a load: the secondary indexes re-created, the visibility map set, the tables
    measured."""
    steps.run(*((f"index {name}", definition, None) for name, definition in indexes))
    steps.run(*((f"VACUUM (ANALYZE) {table}", sql.SQL("VACUUM (ANALYZE) {}").format(
        sql.Identifier("public", table)), None) for table in DATA_TABLES))
    conn.execute("CHECKPOINT")
    result.sizes = table_sizes(conn, result)


def _done(result: Generated, started: float, what: str, quiet: bool) -> Generated:
    result.seconds = time.perf_counter() - started
    if not quiet:
        print(f"{what} in {result.seconds:.1f} s", file=sys.stderr)
        print(size_table(result.sizes), file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", required=True, help="libpq DSN of a migrated database")
    parser.add_argument("--positions", type=int, required=True, help="N: active_positions rows")
    parser.add_argument("--faults", action="store_true",
                        help="seed duplicates, CHECK violations and a stale heartbeat")
    parser.add_argument("--duplicates", type=int, default=None,
                        help="exact number of order ids that appear twice")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="statements run at once")
    parser.add_argument("--replace", action="store_true",
                        help="empty the generated tables first (else they must be empty)")
    args = parser.parse_args()
    generate(args.dsn, args.positions, faults=args.faults, seed=args.seed,
             duplicates=args.duplicates, replace=args.replace, workers=args.workers)


if __name__ == "__main__":
    main()
