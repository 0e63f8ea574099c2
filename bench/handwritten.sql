-- The invariants of verify/invariants.toml written by hand, in the fewest scans: the
-- baseline bench/run.py compares the suite with. One statement per line group, each ending
-- with a semicolon; run serially on one connection, every row fetched.
-- (No drift comparison, no enforcement probes, no migration replay: only what a careful
-- engineer would type to check the same data and catalog facts.)

-- The migration ledger (compared with db/migrations/ by the reader).
SELECT version, applied_at FROM public.schema_migrations ORDER BY applied_at, version;

-- active_positions, one pass: rows breaking each NOT VALID CHECK, and the custom condition.
SELECT count(*) AS total_rows,
       count(*) FILTER (WHERE NOT (side IN ('long', 'short', 'call', 'put')))
           AS chk_active_positions_side,
       count(*) FILTER (WHERE NOT (strategy_type IN ('day_trade', 'swing_trade', 'conservative')
                                   OR strategy_type IS NULL))
           AS chk_active_positions_strategy_type,
       count(*) FILTER (WHERE status = 'open' AND quantity <= 0)
           AS open_positions_without_positive_quantity
FROM public.active_positions;

-- position_history, one pass.
SELECT count(*) AS total_rows,
       count(*) FILTER (WHERE NOT (side IN ('long', 'short', 'call', 'put')))
           AS chk_position_history_side,
       count(*) FILTER (WHERE NOT (strategy_type IN ('day_trade', 'swing_trade', 'conservative')
                                   OR strategy_type IS NULL))
           AS chk_position_history_strategy_type
FROM public.position_history;

-- No two positions for one Alpaca order.
SELECT alpaca_order_id, count(*) AS positions
FROM public.active_positions
WHERE alpaca_order_id IS NOT NULL
GROUP BY alpaca_order_id
HAVING count(*) > 1;

-- The trade-stream heartbeat is fresh (max_age 5m).
SELECT max(last_beat_at) AS newest, now() - max(last_beat_at) AS age,
       now() - max(last_beat_at) <= interval '5 minutes' AS fresh
FROM public.service_heartbeats
WHERE service = 'trade-stream';

-- [[custom_sql]] open_positions_have_positive_quantity: must return no rows.
SELECT id, ticker, quantity FROM public.active_positions WHERE status = 'open' AND quantity <= 0;

-- The four CHECK constraints: present, their definition, validated or NOT VALID.
SELECT conrelid::regclass AS table_name, conname, contype, convalidated,
       pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE conrelid IN ('public.active_positions'::regclass, 'public.position_history'::regclass)
  AND conname IN ('chk_active_positions_side', 'chk_active_positions_strategy_type',
                  'chk_position_history_side', 'chk_position_history_strategy_type')
ORDER BY conname;

-- Index definitions and health of the verified tables (the five [[indexes]] entries and
-- [index_health]).
SELECT i.indrelid::regclass AS table_name, i.indexrelid::regclass AS index_name,
       i.indisprimary, i.indisunique, i.indisvalid, i.indisready, i.indislive,
       pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
WHERE i.indrelid IN ('public.active_positions'::regclass, 'public.position_history'::regclass,
                     'public.alpaca_event_dedupe'::regclass,
                     'public.service_heartbeats'::regclass)
ORDER BY 1, 2;
