-- Healthy sample rows for the ops-pipeline's production schema (written for ops-verify; the
-- shapes follow what the services write: trade-stream, dispatcher, position-manager,
-- telemetry, feature computer, signal engine, VIX monitor).
--
-- Run it on the rebuilt database (python -m checks.adopt rebuild ... --rows) or on one made
-- from the snapshot (tests): it replaces the rows of every table it fills, so both end the
-- same. Every time is relative to now() (one transaction: one now()), so running it again
-- is how a copy is made fresh. Naive timestamp columns hold UTC wall-clock time, as the
-- services' sessions write them. The ledger (schema_migrations) is left alone.
--
-- The state it describes: the pipeline running in market hours. Bars up to the current
-- minute, features a minute behind, a recommendation 40 s old, two PROCESSING for a minute,
-- the dispatchers running every minute (one run under way), six open swing positions,
-- closed ones with their history, every fill trade-stream recorded belonging to a position.

TRUNCATE account_metadata, trade_management_config, vix_history, ticker_universe,
         watchlist_state, lane_telemetry, lane_features, dispatcher_runs,
         dispatch_recommendations, dispatch_executions, active_positions, position_events,
         position_history, position_state_history, alpaca_event_dedupe, account_activities,
         option_bars
         RESTART IDENTITY CASCADE;

INSERT INTO account_metadata (account_name, tier, alpaca_account_id, initial_balance, is_active,
                              created_at, last_trade_at, notes)
VALUES ('large-100k', 'large', 'PA3SAMPLELARGE', 100000.00, true,
        (now() AT TIME ZONE 'UTC') - interval '60 days', (now() AT TIME ZONE 'UTC') - interval '2 hours',
        'paper account, large tier'),
       ('tiny-1k', 'tiny', 'PA3SAMPLETINY', 1000.00, true,
        (now() AT TIME ZONE 'UTC') - interval '60 days', (now() AT TIME ZONE 'UTC') - interval '1 day',
        'paper account, tiny tier');

INSERT INTO trade_management_config (config_version, breakeven_trigger, partial_profit_trigger,
                                     partial_size, time_stop_minutes, min_progress_pct,
                                     trail_levels, enabled, notes, created_at, updated_at)
VALUES (1, 0.10, 0.20, 0.40, 240, 0.05,
        '[{"name": "tier1", "profit": 0.20, "keep": 0.70},
          {"name": "tier2", "profit": 0.40, "keep": 0.80},
          {"name": "tier3", "profit": 0.60, "keep": 0.85}]',
        false, 'sample: risk state machine off until reviewed',
        (now() AT TIME ZONE 'UTC') - interval '20 days', (now() AT TIME ZONE 'UTC') - interval '20 days');

-- VIX every five minutes for two hours: a calm, normal regime.
INSERT INTO vix_history (vix_value, regime, risk_level, position_size_multiplier,
                         new_trades_allowed, confidence_adjustment, regime_message, recorded_at,
                         created_at)
SELECT round((16.4 + sin(k / 3.0))::numeric, 2), 'normal', 2, 1.00, true, 1.00,
       'normal volatility: full size', t, t
FROM generate_series(0, 23) AS k,
     LATERAL (SELECT date_trunc('minute', now()) - k * interval '5 minutes') AS v(t);

INSERT INTO ticker_universe (ticker, sector, catalyst, confidence, expected_volume, discovered_at,
                             last_updated, active)
SELECT ticker, sector, 'liquid options chain', confidence, 'high',
       (now() AT TIME ZONE 'UTC') - interval '30 days', (now() AT TIME ZONE 'UTC') - interval '1 day', true
FROM (VALUES ('SPY', 'ETF', 0.95), ('QQQ', 'ETF', 0.93), ('NVDA', 'Technology', 0.90),
             ('AMD', 'Technology', 0.86), ('TSLA', 'Consumer', 0.84), ('AAPL', 'Technology', 0.88))
     AS u(ticker, sector, confidence);

INSERT INTO watchlist_state (ticker, watch_score, rank, sentiment_pressure, vol_score,
                             setup_quality, trend_alignment, reasons, in_watchlist, entered_at,
                             last_score_update, computed_at)
SELECT ticker, 0.9 - r * 0.05, r, 0.2, 0.6, 0.7, 1, '{"trend": "up", "volume": "surge"}',
       r <= 4, now() - interval '3 hours', now() - interval '4 minutes', now() - interval '4 minutes'
FROM (VALUES ('SPY', 1), ('NVDA', 2), ('QQQ', 3), ('AMD', 4), ('AAPL', 5), ('TSLA', 6))
     AS w(ticker, r);

-- One-minute bars for two hours, the newest starting in the current minute.
INSERT INTO lane_telemetry (ticker, ts, open, high, low, close, volume)
SELECT ticker, ts, round(o::numeric, 2), round((greatest(o, c) + 0.05)::numeric, 2),
       round((least(o, c) - 0.05)::numeric, 2), round(c::numeric, 2), 20000 + (k * 137) % 9000
FROM (VALUES ('SPY', 598.0), ('QQQ', 512.0), ('NVDA', 182.0), ('AMD', 201.0), ('TSLA', 341.0),
             ('AAPL', 236.0)) AS p(ticker, base),
     generate_series(0, 119) AS k,
     LATERAL (SELECT date_trunc('minute', now()) - k * interval '1 minute',
                     base * (1 + 0.002 * sin(k / 7.0)),
                     base * (1 + 0.002 * sin((k - 1) / 7.0))) AS bar(ts, o, c);

-- Features for the last hour of closed bars, computed a few seconds after each bar closed.
INSERT INTO lane_features (ticker, ts, sma20, sma50, recent_vol, baseline_vol, vol_ratio,
                           distance_sma20, distance_sma50, trend_state, close, computed_at,
                           volume_current, volume_avg_20, volume_ratio, volume_surge)
SELECT t.ticker, t.ts, t.close * 0.999, t.close * 0.997, 0.011, 0.010, 1.1, 0.001, 0.003, 1,
       t.close, least(t.ts + interval '65 seconds', now()), t.volume, 24000,
       round(t.volume / 24000.0, 4), t.volume > 28000
FROM lane_telemetry t
WHERE t.ts < date_trunc('minute', now()) AND t.ts >= date_trunc('minute', now()) - interval '60 minutes';

-- The trades behind the dispatcher's, position-manager's and trade-stream's rows: one
-- recommendation, one execution (one order), one position each. A helper dropped below.
CREATE TEMP TABLE sample_trade (
    n int PRIMARY KEY,
    ticker text, kind text, strategy text, account text,
    opened interval, held interval,            -- held NULL: still open
    entry numeric, exit numeric, qty int, strike numeric, dte int,
    stream_fill boolean,                        -- trade-stream saw the fill with the position open
    close_reason text
);
INSERT INTO sample_trade VALUES
    ( 1, 'SPY',  'CALL',  'day_trade',   'large', '12 days 3 hours',  '2 hours 10 minutes', 2.45, 3.10, 2, 600, 1,  false, 'take_profit'),
    ( 2, 'QQQ',  'PUT',   'day_trade',   'large', '12 days 1 hour',   '1 hour 5 minutes',   1.90, 1.42, 2, 505, 1,  false, 'stop_loss'),
    ( 3, 'NVDA', 'CALL',  'swing_trade', 'large', '11 days 4 hours',  '2 days',             4.20, 5.55, 3, 185, 14, true,  'trailing_stop'),
    ( 4, 'AMD',  'PUT',   'swing_trade', 'tiny',  '11 days 2 hours',  '1 day 3 hours',      1.05, 0.79, 1, 195, 10, false, 'stop_loss'),
    ( 5, 'TSLA', 'CALL',  'day_trade',   'large', '10 days 5 hours',  '3 hours',            6.80, 6.95, 1, 345, 0,  false, 'day_trade_close'),
    ( 6, 'AAPL', 'CALL',  'swing_trade', 'large', '10 days 2 hours',  '3 days 1 hour',      3.15, 4.70, 2, 240, 21, true,  'take_profit'),
    ( 7, 'META', 'PUT',   'swing_trade', 'large', '9 days 6 hours',   '2 days 2 hours',     5.40, 4.05, 1, 720, 17, false, 'stop_loss'),
    ( 8, 'MSFT', 'CALL',  'swing_trade', 'tiny',  '9 days 3 hours',   '1 day',              2.10, 3.02, 1, 520, 12, false, 'take_profit'),
    ( 9, 'SPY',  'PUT',   'day_trade',   'large', '8 days 4 hours',   '45 minutes',         1.75, 2.35, 3, 590, 0,  true,  'take_profit'),
    (10, 'BAC',  'STOCK', 'swing_trade', 'large', '8 days 2 hours',   '4 days',            46.10, 47.30, 40, NULL, NULL, false, 'take_profit'),
    (11, 'DE',   'CALL',  'swing_trade', 'large', '7 days 5 hours',   '5 days',             8.60, 8.60, 1, 520, 30, false, 'manual_reconciliation'),
    (12, 'NVDA', 'PUT',   'day_trade',   'large', '7 days 2 hours',   '1 hour 40 minutes',  2.95, 2.21, 2, 178, 1,  false, 'stop_loss'),
    (13, 'QQQ',  'CALL',  'swing_trade', 'tiny',  '6 days 4 hours',   '2 days 5 hours',     3.30, 4.10, 1, 515, 9,  false, 'trailing_stop'),
    (14, 'AMD',  'CALL',  'swing_trade', 'large', '6 days 1 hour',    '1 day 2 hours',      4.05, 5.90, 2, 205, 15, true,  'take_profit'),
    (15, 'PFE',  'CALL',  'swing_trade', 'tiny',  '5 days 5 hours',   '3 days',             0.30, 0.34, 1, 27.5, 14, false, 'market_close_protection'),
    (16, 'TSLA', 'PUT',   'day_trade',   'large', '5 days 2 hours',   '2 hours 30 minutes', 7.20, 5.35, 1, 335, 1,  false, 'stop_loss'),
    (17, 'AAPL', 'PUT',   'swing_trade', 'large', '4 days 6 hours',   '1 day 5 hours',      2.60, 3.45, 2, 232, 11, false, 'take_profit'),
    (18, 'SPY',  'CALL',  'day_trade',   'large', '4 days 3 hours',   '4 hours',            2.20, 2.31, 2, 602, 0,  false, 'market_close_protection'),
    (19, 'CRM',  'CALL',  'swing_trade', 'tiny',  '3 days 5 hours',   '2 days',             6.05, 4.40, 1, 300, 16, false, 'stop_loss'),
    (20, 'MSFT', 'PUT',   'swing_trade', 'large', '3 days 2 hours',   '1 day 1 hour',       3.70, 4.95, 1, 510, 13, true,  'trailing_stop'),
    (21, 'NVDA', 'CALL',  'swing_trade', 'large', '2 days 4 hours',   NULL,                 4.80, NULL, 2, 190, 16, true,  NULL),
    (22, 'AMD',  'PUT',   'swing_trade', 'tiny',  '2 days 1 hour',    NULL,                 1.35, NULL, 1, 198, 12, false, NULL),
    (23, 'QQQ',  'CALL',  'swing_trade', 'large', '1 day 3 hours',    NULL,                 3.90, NULL, 2, 520, 11, false, NULL),
    (24, 'AAPL', 'CALL',  'swing_trade', 'large', '5 hours',          NULL,                 2.85, NULL, 3, 245, 18, true,  NULL),
    (25, 'SPY',  'PUT',   'swing_trade', 'large', '2 hours 20 minutes', NULL,               3.40, NULL, 2, 592, 8,  false, NULL),
    (26, 'TSLA', 'CALL',  'swing_trade', 'large', '35 minutes',       NULL,                 5.10, NULL, 1, 350, 9,  true,  NULL);

-- The dispatchers (large and tiny) run every minute: the last half hour, the one under way,
-- and the run that placed each trade's order.
INSERT INTO dispatcher_runs (run_id, started_at, finished_at, pulled_count, processed_count,
                             simulated_count, skipped_count, failed_count, run_config_json,
                             run_summary_json)
SELECT md5('run-' || tier || '-' || k)::uuid, s, s + interval '2.4 seconds', 0, 0, 0, 0, 0,
       jsonb_build_object('max_signals_per_run', 10, 'confidence_min', 0.6,
                          'lookback_window_minutes', 60, 'account_tier', tier),
       '{"processed_tickers": []}'
FROM (VALUES ('large', 0), ('tiny', 23)) AS d(tier, offset_s),
     generate_series(1, 30) AS k,
     LATERAL (SELECT date_trunc('minute', now()) - k * interval '1 minute'
                     + offset_s * interval '1 second') AS run(s);
INSERT INTO dispatcher_runs (run_id, started_at, run_config_json)
VALUES ('8f14e45f-ceea-467a-9575-d2f8e5b1a0c1', now() - interval '4 seconds',
        '{"max_signals_per_run": 10, "confidence_min": 0.6, "lookback_window_minutes": 60, "account_tier": "large"}');
INSERT INTO dispatcher_runs (run_id, started_at, finished_at, pulled_count, processed_count,
                             simulated_count, skipped_count, failed_count, run_config_json,
                             run_summary_json)
SELECT md5('run-trade-' || n)::uuid, now() - opened - interval '50 seconds',
       now() - opened - interval '44 seconds', 1, 1, 0, 0, 0,
       jsonb_build_object('max_signals_per_run', 10, 'confidence_min', 0.6,
                          'lookback_window_minutes', 60, 'account_tier', account),
       jsonb_build_object('processed_tickers',
                          jsonb_build_array(jsonb_build_object('ticker', ticker, 'status', 'EXECUTED')))
FROM sample_trade;

-- Recommendations: one per trade (executed), some the dispatchers skipped or simulated,
-- those of the last hour still PENDING (a dispatcher no longer marks them since it stopped
-- claiming), and two PROCESSING, claimed by the run under way a minute ago.
INSERT INTO dispatch_recommendations (id, ts, ticker, action, confidence, reason, status,
                                      executed_at, filled_price, shares, processed_at,
                                      dispatcher_run_id, failure_reason, risk_gate_json,
                                      instrument_type, created_at, strategy_type,
                                      features_snapshot, sentiment_snapshot)
SELECT 70000 + n, now() - opened - interval '1 minute', ticker, 'BUY', 0.70 + (n % 5) * 0.05,
       jsonb_build_object('rule', 'volume_surge_trend', 'decision', 'enter'),
       CASE WHEN opened > interval '1 hour' THEN 'EXECUTED' ELSE 'PENDING' END,
       CASE WHEN opened > interval '1 hour' THEN now() - opened END, entry, qty,
       CASE WHEN opened > interval '1 hour' THEN now() - opened - interval '45 seconds' END,
       CASE WHEN opened > interval '1 hour' THEN md5('run-trade-' || n)::uuid END, NULL,
       '{"all_gates": "passed"}', kind, now() - opened - interval '1 minute', strategy,
       jsonb_build_object('vol_ratio', 1.4, 'trend_state', 1, 'distance_sma20', 0.004),
       '{"news_count": 2, "sentiment": 0.3}'
FROM sample_trade;
INSERT INTO dispatch_recommendations (id, ts, ticker, action, confidence, reason, status,
                                      processed_at, dispatcher_run_id, failure_reason,
                                      risk_gate_json, instrument_type, created_at, strategy_type,
                                      features_snapshot)
SELECT 70100 + k, now() - at_age, ticker, 'BUY', confidence,
       '{"rule": "volume_surge_trend", "decision": "enter"}', status,
       CASE WHEN status <> 'PENDING' THEN now() - at_age + interval '30 seconds' END,
       CASE WHEN status = 'PROCESSING' THEN '8f14e45f-ceea-467a-9575-d2f8e5b1a0c1'::uuid
            WHEN status <> 'PENDING' THEN md5('run-old-' || k)::uuid END,
       CASE status WHEN 'SKIPPED' THEN 'ticker cooldown' WHEN 'FAILED' THEN 'options chain empty' END,
       CASE WHEN status <> 'PENDING' THEN '{"all_gates": "evaluated"}'::jsonb END,
       kind, now() - at_age, 'swing_trade', '{"vol_ratio": 1.2, "trend_state": 1}'
FROM (VALUES (1, 'AMD',  'CALL', 0.62, 'SKIPPED',    interval '9 days 2 hours'),
             (2, 'NVDA', 'PUT',  0.64, 'SKIPPED',    interval '6 days 3 hours'),
             (3, 'SPY',  'CALL', 0.71, 'SIMULATED',  interval '5 days 4 hours'),
             (4, 'TSLA', 'PUT',  0.66, 'FAILED',     interval '3 days 1 hour'),
             (5, 'QQQ',  'CALL', 0.68, 'PENDING',    interval '48 minutes'),
             (6, 'AAPL', 'PUT',  0.63, 'PENDING',    interval '21 minutes'),
             (7, 'NVDA', 'CALL', 0.74, 'PENDING',    interval '9 minutes'),
             (8, 'AMD',  'CALL', 0.69, 'PENDING',    interval '40 seconds'),
             (9, 'SPY',  'PUT',  0.72, 'PROCESSING', interval '70 seconds'),
             (10, 'TSLA', 'CALL', 0.67, 'PROCESSING', interval '65 seconds'))
     AS r(k, ticker, kind, confidence, status, at_age);
SELECT setval('dispatch_recommendations_id_seq', 70110);

-- Executions: the order each dispatcher placed on Alpaca (paper), one per recommendation
-- and account; the simulated one of recommendation 70103.
INSERT INTO dispatch_executions (execution_id, recommendation_id, dispatcher_run_id, ticker, action,
                                 decision_ts, simulated_ts, entry_price, fill_model, slippage_bps,
                                 qty, notional, stop_loss_price, take_profit_price,
                                 max_hold_minutes, execution_mode, explain_json, risk_json,
                                 sim_json, instrument_type, strike_price, expiration_date,
                                 contracts, premium_paid, delta, theta, implied_volatility,
                                 option_symbol, strategy_type, side, status, broker_order_id,
                                 executed_at, filled_qty, features_snapshot, account_name)
SELECT md5('exec-' || n)::uuid, 70000 + n, md5('run-trade-' || n)::uuid, ticker, 'BUY',
       now() - opened - interval '46 seconds', now() - opened - interval '45 seconds', entry,
       'ALPACA_PAPER', 0, qty, entry * qty * mult, round(entry * 0.75, 2), round(entry * 1.5, 2),
       CASE strategy WHEN 'day_trade' THEN 240 ELSE 360 END, 'ALPACA_PAPER',
       jsonb_build_object('api_bid', entry - 0.05, 'api_ask', entry + 0.05),
       '{"risk_pct": 0.01}', '{}', kind, strike, expiry,
       CASE WHEN kind <> 'STOCK' THEN qty END, CASE WHEN kind <> 'STOCK' THEN entry END,
       CASE kind WHEN 'CALL' THEN 0.45 WHEN 'PUT' THEN -0.42 END,
       CASE WHEN kind <> 'STOCK' THEN -0.08 END, CASE WHEN kind <> 'STOCK' THEN 0.31 END,
       occ, strategy, 'long', 'FILLED', md5('order-' || n)::uuid::text,
       (now() AT TIME ZONE 'UTC') - opened, qty,
       jsonb_build_object('vol_ratio', 1.4, 'trend_state', 1, 'distance_sma20', 0.004), account
FROM sample_trade,
     LATERAL (SELECT CASE WHEN kind = 'STOCK' THEN 1 ELSE 100 END,
                     (now() - opened)::date + dte) AS m(mult, expiry),
     LATERAL (SELECT CASE WHEN kind <> 'STOCK' THEN ticker || to_char(expiry, 'YYMMDD')
                          || left(kind, 1) || lpad((strike * 1000)::int::text, 8, '0') END) AS o(occ);
INSERT INTO dispatch_executions (execution_id, recommendation_id, dispatcher_run_id, ticker, action,
                                 decision_ts, simulated_ts, entry_price, fill_model, slippage_bps,
                                 qty, notional, execution_mode, explain_json, risk_json, sim_json,
                                 instrument_type, strike_price, expiration_date, contracts,
                                 option_symbol, strategy_type, account_name)
SELECT md5('exec-sim-3')::uuid, 70103, md5('run-old-3')::uuid, 'SPY', 'BUY',
       ts, ts + interval '1 second', 2.10, 'MID_PLUS_SLIPPAGE', 5, 1, 210.00, 'SIMULATED',
       '{"reason": "tiny account buying power"}', '{}', '{"fill": 2.11}', 'CALL', 600,
       ts::date + 7, 1, 'SPY' || to_char(ts::date + 7, 'YYMMDD') || 'C00600000', 'swing_trade',
       'tiny'
FROM dispatch_recommendations WHERE id = 70103;

-- Positions: position-manager opens one per filled execution (execution_id and
-- execution_uuid); trade-stream stamped the Alpaca order on those it saw filled while open.
-- Two more came from the Alpaca position sync (no execution), as the tiny account's did.
INSERT INTO active_positions (id, execution_id, execution_uuid, ticker, instrument_type,
                              strategy_type, side, quantity, original_quantity, entry_price,
                              entry_time, strike_price, expiration_date, option_symbol, stop_loss,
                              take_profit, max_hold_minutes, bracket_order_accepted, current_price,
                              current_pnl_dollars, current_pnl_percent, last_checked_at,
                              check_count, status, close_reason, created_at, updated_at, closed_at,
                              account_name, peak_price, entry_features_json, entry_spread_pct,
                              best_unrealized_pnl_pct, worst_unrealized_pnl_pct,
                              best_unrealized_pnl_dollars, worst_unrealized_pnl_dollars,
                              last_mark_price, alpaca_order_id, lifecycle_state)
SELECT 13470 + t.n, e.execution_id, e.execution_id, t.ticker, t.kind, t.strategy, 'long', t.qty,
       t.qty, t.entry, e.executed_at, t.strike, e.expiration_date, e.option_symbol,
       e.stop_loss_price, e.take_profit_price, e.max_hold_minutes, false, mark,
       round((mark - t.entry) * t.qty * mult, 4), round((mark / t.entry - 1) * 100, 4),
       coalesce(closed, (now() AT TIME ZONE 'UTC') - interval '25 seconds'),
       (extract(epoch FROM coalesce(t.held, t.opened)) / 60)::int,
       CASE WHEN t.held IS NULL THEN 'open' ELSE 'closed' END, t.close_reason,
       e.executed_at + interval '40 seconds', coalesce(closed, (now() AT TIME ZONE 'UTC') - interval '25 seconds'),
       closed, t.account, greatest(t.entry, mark) * 1.04, e.features_snapshot, 3.2,
       greatest(mark / t.entry - 1, 0) * 100 + 4, least(mark / t.entry - 1, 0) * 100 - 3,
       greatest(mark - t.entry, 0) * t.qty * mult + 4 * t.qty, least(mark - t.entry, 0) * t.qty * mult - 3 * t.qty,
       mark, CASE WHEN t.stream_fill THEN e.broker_order_id END,
       CASE WHEN t.held IS NULL THEN 'OPEN' ELSE 'CLOSED' END
FROM sample_trade t
JOIN dispatch_executions e ON e.execution_id = md5('exec-' || t.n)::uuid,
     LATERAL (SELECT coalesce(t.exit, round(t.entry * (1.06 + (t.n % 3) * 0.04), 2)),
                     CASE WHEN t.kind = 'STOCK' THEN 1 ELSE 100 END,
                     e.executed_at + t.held) AS x(mark, mult, closed);
INSERT INTO active_positions (id, ticker, instrument_type, strategy_type, side, quantity,
                              original_quantity, entry_price, entry_time, strike_price,
                              expiration_date, option_symbol, stop_loss, take_profit,
                              max_hold_minutes, current_price, current_pnl_dollars,
                              current_pnl_percent, last_checked_at, check_count, status,
                              close_reason, created_at, updated_at, closed_at, account_name,
                              entry_features_json, last_mark_price, lifecycle_state)
SELECT 13500 + k, ticker, kind, 'swing_trade', 'long', 1, 1, entry, opened_at, strike, expiry,
       ticker || to_char(expiry, 'YYMMDD') || left(kind, 1) || lpad((strike * 1000)::int::text, 8, '0'),
       round(entry * 0.6, 2), round(entry * 1.8, 2), 240, exit, round((exit - entry) * 100, 4),
       round((exit / entry - 1) * 100, 4), opened_at + held, 300, 'closed', 'expiration_risk',
       opened_at, opened_at + held, opened_at + held, 'tiny', '{}', exit, 'CLOSED'
FROM (VALUES (1, 'BAC', 'CALL', 1.10, 1.36, 56.0, interval '13 days', interval '4 days', 7),
             (2, 'AMD', 'PUT', 10.50, 7.00, 205.0, interval '13 days', interval '3 days', 6))
     AS s(k, ticker, kind, entry, exit, strike, age, held, dte),
     LATERAL (SELECT (now() AT TIME ZONE 'UTC') - age, ((now() AT TIME ZONE 'UTC') - age)::date + dte)
     AS a(opened_at, expiry);
SELECT setval('active_positions_id_seq', 13502);

-- position-manager's outcome rows for the positions it closed (not the manual reconciliation).
INSERT INTO position_history (execution_id, execution_uuid, ticker, instrument_type, strategy_type,
                              side, quantity, entry_price, exit_price, entry_time, exit_time,
                              pnl_dollars, pnl_pct, strike_price, expiration_date, option_symbol,
                              implied_volatility, max_hold_minutes, holding_seconds, multiplier,
                              exit_reason, exit_order_id, entry_features_json, entry_spread_pct,
                              best_unrealized_pnl_pct, worst_unrealized_pnl_pct,
                              best_unrealized_pnl_dollars, worst_unrealized_pnl_dollars,
                              created_at)
SELECT p.execution_id, p.execution_uuid, p.ticker, p.instrument_type, p.strategy_type,
       CASE p.instrument_type WHEN 'CALL' THEN 'call' WHEN 'PUT' THEN 'put' ELSE 'long' END,
       p.quantity, p.entry_price, p.current_price, p.entry_time AT TIME ZONE 'UTC',
       p.closed_at AT TIME ZONE 'UTC', p.current_pnl_dollars, p.current_pnl_percent,
       p.strike_price, p.expiration_date, p.option_symbol,
       CASE WHEN p.instrument_type <> 'STOCK' THEN 0.31 END, p.max_hold_minutes,
       extract(epoch FROM p.closed_at - p.entry_time)::int,
       CASE WHEN p.instrument_type = 'STOCK' THEN 1 ELSE 100 END,
       CASE p.close_reason WHEN 'take_profit' THEN 'tp' WHEN 'stop_loss' THEN 'sl'
            WHEN 'trailing_stop' THEN 'trail' WHEN 'day_trade_close' THEN 'time_stop'
            WHEN 'market_close_protection' THEN 'EOD_EXIT' WHEN 'expiration_risk' THEN 'expiry_risk'
            ELSE 'manual' END,
       md5('exit-order-' || p.id)::uuid::text, p.entry_features_json, p.entry_spread_pct,
       p.best_unrealized_pnl_pct, p.worst_unrealized_pnl_pct, p.best_unrealized_pnl_dollars,
       p.worst_unrealized_pnl_dollars, (p.closed_at AT TIME ZONE 'UTC') + interval '1 second'
FROM active_positions p
WHERE p.status = 'closed' AND p.close_reason <> 'manual_reconciliation';

INSERT INTO position_events (position_id, event_type, event_data, created_at)
SELECT id, 'synced_realtime_websocket',
       jsonb_build_object('order_id', alpaca_order_id, 'filled_at', entry_time + interval '2 minutes',
                          'latency', '<1 second', 'method', 'websocket_trade_stream',
                          'idempotent', true),
       entry_time + interval '2 minutes'
FROM active_positions WHERE alpaca_order_id IS NOT NULL
UNION ALL
SELECT id, 'exit_triggered',
       jsonb_build_object('reason', close_reason, 'priority', 2, 'current_price', current_price,
                          'pnl_dollars', current_pnl_dollars, 'pnl_percent', current_pnl_percent),
       closed_at - interval '3 seconds'
FROM active_positions WHERE status = 'closed' AND close_reason <> 'manual_reconciliation'
ORDER BY 4;

INSERT INTO position_state_history (position_id, old_state, new_state, reason, profit_pct,
                                    peak_price, current_price, changed_at)
SELECT id, 'OPEN', 'CLOSED', close_reason, current_pnl_percent, peak_price, current_price, closed_at
FROM active_positions WHERE status = 'closed' ORDER BY closed_at;

-- trade-stream: the fills it recorded (each after stamping its order on an open position).
INSERT INTO alpaca_event_dedupe (event_id, event_type, order_id, symbol, event_data, processed_at)
SELECT 'fill_' || alpaca_order_id || '_' || to_char(filled, 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00',
       'fill', alpaca_order_id, coalesce(option_symbol, ticker),
       jsonb_build_object('filled_at', to_char(filled, 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00',
                          'filled_qty', quantity::text, 'filled_avg_price', entry_price::text),
       (filled AT TIME ZONE 'UTC') + interval '1 second'
FROM active_positions, LATERAL (SELECT entry_time + interval '2 minutes') AS f(filled)
WHERE alpaca_order_id IS NOT NULL;

-- trade-stream's account-activities poll (the large account it streams): each fill of an
-- order, entries and exits.
INSERT INTO account_activities (activity_id, activity_type, activity_date, transaction_time,
                                symbol, qty, price, net_amount, order_id, account_name, raw_json,
                                inserted_at)
SELECT to_char(filled_at, 'YYYYMMDDHH24MISSMS') || '::' || md5('activity-' || order_id)::uuid,
       'FILL', filled_at::date, filled_at, symbol, qty, price, -qty * price * mult * sign, order_id, 'unknown',
       jsonb_build_object('activity_type', 'FILL', 'symbol', symbol, 'qty', qty::text,
                          'price', price::text, 'side', CASE sign WHEN 1 THEN 'buy' ELSE 'sell' END,
                          'order_id', order_id, 'type', 'fill'),
       filled_at + interval '90 seconds'
FROM (SELECT e.broker_order_id, e.executed_at AT TIME ZONE 'UTC', coalesce(e.option_symbol, e.ticker),
             e.qty, e.entry_price, CASE WHEN e.instrument_type = 'STOCK' THEN 1 ELSE 100 END, 1
      FROM dispatch_executions e WHERE e.account_name = 'large' AND e.execution_mode = 'ALPACA_PAPER'
      UNION ALL
      SELECT h.exit_order_id, h.exit_time, coalesce(h.option_symbol, h.ticker), h.quantity,
             h.exit_price, h.multiplier, -1
      FROM position_history h JOIN active_positions p ON p.execution_id = h.execution_id
      WHERE p.account_name = 'large')
     AS fills(order_id, filled_at, symbol, qty, price, mult, sign);

-- Option bars for the open option positions, the last half hour.
INSERT INTO option_bars (symbol, ts, open, high, low, close, volume, trade_count, vwap)
SELECT p.option_symbol, date_trunc('minute', now()) - k * interval '1 minute',
       p.current_price, p.current_price + 0.05, p.current_price - 0.05, p.current_price,
       40 + k, 6 + k % 4, p.current_price
FROM active_positions p, generate_series(1, 30) AS k
WHERE p.status = 'open' AND p.option_symbol IS NOT NULL;

DROP TABLE sample_trade;
