-- Production-like ops-pipeline database, built directly (not by replaying migrations/).
-- Models the state the migration Lambda followed by the ECS migrator leaves behind (facts §4),
-- restricted to the tables this fixture covers, plus its 38-row ledger and fresh sample data.
-- Plain SQL, run once on an empty database; needs no extension and no role.
-- Naive `timestamp` columns hold UTC wall-clock time, as on RDS (session TimeZone UTC).

-- =====================================================================================
-- Schema
-- =====================================================================================

CREATE TABLE schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE lane_telemetry (
    ticker text NOT NULL,
    ts     timestamptz NOT NULL,
    open   double precision NOT NULL,
    high   double precision NOT NULL,
    low    double precision NOT NULL,
    close  double precision NOT NULL,
    volume bigint,
    PRIMARY KEY (ticker, ts)
);
CREATE INDEX idx_telemetry_ticker_ts ON lane_telemetry (ticker, ts DESC);

CREATE TABLE lane_features (
    ticker         text NOT NULL,
    ts             timestamptz NOT NULL,
    sma20          double precision,
    sma50          double precision,
    recent_vol     double precision,
    baseline_vol   double precision,
    vol_ratio      double precision,
    distance_sma20 double precision,
    distance_sma50 double precision,
    trend_state    integer,
    close          double precision,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    volume_current bigint,
    volume_avg_20  bigint,
    volume_ratio   numeric(10,4),
    volume_surge   boolean,
    PRIMARY KEY (ticker, ts)
);
CREATE INDEX idx_features_ticker_ts ON lane_features (ticker, ts DESC);
CREATE INDEX idx_features_computed ON lane_features (computed_at DESC);
CREATE INDEX idx_lane_features_volume ON lane_features (ticker, ts, volume_ratio);

CREATE TABLE dispatch_recommendations (
    id                 bigserial PRIMARY KEY,
    ts                 timestamptz NOT NULL DEFAULT now(),
    ticker             text NOT NULL,
    action             text NOT NULL,
    confidence         double precision,
    reason             jsonb NOT NULL DEFAULT '{}'::jsonb,
    status             text NOT NULL DEFAULT 'PENDING',
    executed_at        timestamptz,
    filled_price       double precision,
    shares             double precision,
    processed_at       timestamptz,
    dispatcher_run_id  uuid,
    failure_reason     text,
    risk_gate_json     jsonb,
    instrument_type    text,
    created_at         timestamptz,
    strategy_type      text,
    features_snapshot  jsonb,
    sentiment_snapshot jsonb,
    CONSTRAINT dispatch_recommendations_action_check CHECK (action IN ('BUY', 'SELL')),
    CONSTRAINT dispatch_recommendations_status_check
        CHECK (status IN ('PENDING', 'PROCESSING', 'SIMULATED', 'SKIPPED', 'FAILED', 'EXECUTED', 'CANCELLED')),
    CONSTRAINT dispatch_recommendations_strategy_type_check
        CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative'))
);
CREATE INDEX idx_recommendations_status_ts ON dispatch_recommendations (status, ts DESC);
CREATE INDEX idx_recommendations_ticker_ts ON dispatch_recommendations (ticker, ts DESC);
CREATE INDEX idx_recommendations_executed ON dispatch_recommendations (executed_at DESC) WHERE executed_at IS NOT NULL;
CREATE INDEX idx_dispatch_reco_pending ON dispatch_recommendations (status, ts) WHERE status = 'PENDING';
CREATE INDEX idx_dispatch_reco_run ON dispatch_recommendations (dispatcher_run_id) WHERE dispatcher_run_id IS NOT NULL;
CREATE INDEX idx_dispatch_reco_strategy_type ON dispatch_recommendations (strategy_type) WHERE strategy_type IS NOT NULL;
CREATE INDEX idx_dispatch_recs_features_gin ON dispatch_recommendations USING gin (features_snapshot);
CREATE INDEX idx_dispatch_recs_sentiment_gin ON dispatch_recommendations USING gin (sentiment_snapshot);

CREATE TABLE dispatcher_runs (
    run_id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    pulled_count     integer NOT NULL DEFAULT 0,
    processed_count  integer NOT NULL DEFAULT 0,
    simulated_count  integer NOT NULL DEFAULT 0,
    skipped_count    integer NOT NULL DEFAULT 0,
    failed_count     integer NOT NULL DEFAULT 0,
    run_config_json  jsonb,
    run_summary_json jsonb
);
CREATE INDEX idx_dispatcher_runs_time ON dispatcher_runs (started_at DESC);

CREATE TABLE dispatch_executions (
    execution_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    recommendation_id   bigint NOT NULL REFERENCES dispatch_recommendations (id),
    dispatcher_run_id   uuid NOT NULL,
    ticker              text NOT NULL,
    action              text NOT NULL,
    decision_ts         timestamptz NOT NULL,
    simulated_ts        timestamptz NOT NULL DEFAULT now(),
    entry_price         numeric(18,8) NOT NULL,
    fill_model          text NOT NULL,
    slippage_bps        integer NOT NULL DEFAULT 0,
    qty                 numeric(18,8) NOT NULL,
    notional            numeric(18,8) NOT NULL,
    stop_loss_price     numeric(18,8),
    take_profit_price   numeric(18,8),
    max_hold_minutes    integer,
    execution_mode      text NOT NULL DEFAULT 'SIMULATED',
    explain_json        jsonb NOT NULL,
    risk_json           jsonb NOT NULL,
    sim_json            jsonb NOT NULL,
    instrument_type     text DEFAULT 'STOCK',
    strike_price        numeric(10,2),
    expiration_date     date,
    contracts           integer,
    premium_paid        numeric(10,2),
    delta               numeric(10,4),
    theta               numeric(10,4),
    implied_volatility  numeric(10,4),
    option_symbol       text,
    strategy_type       text,
    side                varchar(10) DEFAULT 'long',
    status              varchar(20) DEFAULT 'PENDING',
    broker_order_id     varchar(100),
    stop_order_id       varchar(100),
    target_order_id     varchar(100),
    executed_at         timestamp,
    filled_qty          numeric(12,4),
    features_snapshot   jsonb,
    sentiment_snapshot  jsonb,
    bars_captured_count integer DEFAULT 0,
    first_bar_ts        timestamptz,
    last_bar_ts         timestamptz,
    peak_premium        numeric(10,2),
    lowest_premium      numeric(10,2),
    account_name        varchar(50) DEFAULT 'large',
    CONSTRAINT check_options_metadata CHECK (
        instrument_type = 'STOCK'
        OR (instrument_type IN ('CALL', 'PUT') AND strike_price IS NOT NULL AND expiration_date IS NOT NULL)),
    CONSTRAINT dispatch_executions_instrument_type_check CHECK (instrument_type IN ('STOCK', 'CALL', 'PUT')),
    CONSTRAINT dispatch_executions_strategy_type_check
        CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative'))
);
-- 1035 replaced the one-execution-per-recommendation index by one per recommendation and account.
CREATE UNIQUE INDEX ux_dispatch_execution_reco_account ON dispatch_executions (recommendation_id, account_name);
CREATE INDEX idx_dispatch_exec_run ON dispatch_executions (dispatcher_run_id);
CREATE INDEX idx_dispatch_exec_ticker ON dispatch_executions (ticker, simulated_ts DESC);
CREATE INDEX idx_dispatch_exec_time ON dispatch_executions (simulated_ts DESC);
CREATE INDEX idx_dispatch_exec_features_gin ON dispatch_executions USING gin (features_snapshot);
CREATE INDEX idx_dispatch_exec_sentiment_gin ON dispatch_executions USING gin (sentiment_snapshot);
CREATE INDEX idx_dispatch_executions_account_name ON dispatch_executions (account_name);
CREATE INDEX idx_dispatch_executions_date_account ON dispatch_executions (simulated_ts, account_name);
CREATE INDEX idx_dispatch_executions_expiration_date ON dispatch_executions (expiration_date) WHERE expiration_date IS NOT NULL;
CREATE INDEX idx_dispatch_executions_instrument_type ON dispatch_executions (instrument_type);
CREATE INDEX idx_dispatch_executions_status ON dispatch_executions (status);
CREATE INDEX idx_dispatch_executions_strategy_type ON dispatch_executions (strategy_type) WHERE strategy_type IS NOT NULL;

CREATE TABLE active_positions (
    id                           serial PRIMARY KEY,
    execution_id                 uuid REFERENCES dispatch_executions (execution_id),
    ticker                       varchar(10) NOT NULL,
    instrument_type              varchar(20) NOT NULL,
    strategy_type                varchar(20) NOT NULL,
    side                         varchar(10) NOT NULL,
    quantity                     numeric(12,4) NOT NULL,
    entry_price                  numeric(12,4) NOT NULL,
    entry_time                   timestamp NOT NULL,
    strike_price                 numeric(12,4),
    expiration_date              date,
    stop_loss                    numeric(12,4),
    take_profit                  numeric(12,4),
    max_hold_minutes             integer,
    bracket_order_accepted       boolean DEFAULT false,
    stop_order_id                varchar(100),
    target_order_id              varchar(100),
    current_price                numeric(12,4),
    current_pnl_dollars          numeric(12,4),
    current_pnl_percent          numeric(8,4),
    last_checked_at              timestamp,
    check_count                  integer DEFAULT 0,
    status                       varchar(20) DEFAULT 'open',
    close_reason                 varchar(50),
    created_at                   timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at                   timestamp DEFAULT CURRENT_TIMESTAMP,
    closed_at                    timestamp,
    win_loss_label               smallint,
    r_multiple                   numeric(8,4),
    mae_pct                      numeric(8,4),
    mfe_pct                      numeric(8,4),
    holding_minutes              integer,
    exit_reason_norm             varchar(32),
    option_symbol                text,
    account_name                 varchar(50) DEFAULT 'large',
    peak_price                   numeric(12,4),
    trailing_stop_price          numeric(12,4),
    entry_underlying_price       numeric(12,4),
    original_quantity            integer,
    execution_uuid               uuid,
    entry_features_json          jsonb,
    entry_iv_rank                numeric(18,8),
    entry_spread_pct             numeric(18,8),
    best_unrealized_pnl_pct      numeric(18,8) DEFAULT 0,
    worst_unrealized_pnl_pct     numeric(18,8) DEFAULT 0,
    best_unrealized_pnl_dollars  numeric(18,8) DEFAULT 0,
    worst_unrealized_pnl_dollars numeric(18,8) DEFAULT 0,
    last_mark_price              numeric(18,8),
    alpaca_order_id              varchar(100),
    lifecycle_state              text DEFAULT 'OPEN',
    partial_taken                boolean DEFAULT false,
    partial_qty_sold             double precision DEFAULT 0,
    breakeven_armed              boolean DEFAULT false,
    trail_price                  double precision,
    trail_level                  integer DEFAULT 0,
    last_state_change            timestamp,
    state_change_count           integer DEFAULT 0
);
CREATE INDEX idx_active_positions_account_name ON active_positions (account_name);
-- not unique: trade-stream's ON CONFLICT (alpaca_order_id) has nothing to match
CREATE INDEX idx_active_positions_alpaca_order_id ON active_positions (alpaca_order_id) WHERE alpaca_order_id IS NOT NULL;
CREATE INDEX idx_active_positions_entry_time ON active_positions (entry_time);
CREATE INDEX idx_active_positions_execution ON active_positions (execution_id);
CREATE INDEX idx_active_positions_execution_uuid ON active_positions (execution_uuid);
CREATE UNIQUE INDEX idx_active_positions_execution_uuid_unique ON active_positions (execution_uuid)
    WHERE execution_uuid IS NOT NULL;
CREATE INDEX idx_active_positions_expiration ON active_positions (expiration_date) WHERE expiration_date IS NOT NULL;
CREATE INDEX idx_active_positions_option_symbol ON active_positions (option_symbol) WHERE option_symbol IS NOT NULL;
CREATE INDEX idx_active_positions_peak_price ON active_positions (peak_price) WHERE peak_price IS NOT NULL;
CREATE INDEX idx_active_positions_r_multiple ON active_positions (r_multiple);
CREATE INDEX idx_active_positions_status ON active_positions (status);
CREATE INDEX idx_active_positions_status_account ON active_positions (status, account_name);
CREATE INDEX idx_active_positions_ticker ON active_positions (ticker);
CREATE INDEX idx_active_positions_win_loss ON active_positions (win_loss_label);

CREATE TABLE position_events (
    id          serial PRIMARY KEY,
    position_id integer REFERENCES active_positions (id),
    event_type  varchar(50) NOT NULL,
    event_data  jsonb,
    created_at  timestamp DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_position_events_position ON position_events (position_id);
CREATE INDEX idx_position_events_type ON position_events (event_type);
CREATE INDEX idx_position_events_created ON position_events (created_at);

CREATE TABLE position_history (
    id                           bigserial PRIMARY KEY,
    execution_id                 uuid,
    execution_uuid               uuid,
    ticker                       text,
    instrument_type              text,
    strategy_type                text,
    side                         text,
    quantity                     numeric(18,8),
    entry_price                  numeric(18,8),
    exit_price                   numeric(18,8),
    entry_time                   timestamptz,
    exit_time                    timestamptz,
    pnl_dollars                  numeric(18,8),
    pnl_pct                      numeric(18,8),
    strike_price                 numeric(18,8),
    expiration_date              date,
    option_symbol                text,
    implied_volatility           numeric(18,8),
    max_hold_minutes             integer,
    holding_seconds              integer,
    multiplier                   integer,
    exit_reason                  text,
    exit_order_id                text,
    entry_features_json          jsonb,
    entry_iv_rank                numeric(18,8),
    entry_spread_pct             numeric(18,8),
    best_unrealized_pnl_pct      numeric(18,8),
    worst_unrealized_pnl_pct     numeric(18,8),
    best_unrealized_pnl_dollars  numeric(18,8),
    worst_unrealized_pnl_dollars numeric(18,8),
    created_at                   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_position_history_execution_uuid ON position_history (execution_uuid);
CREATE INDEX idx_position_history_ticker_exit_time ON position_history (ticker, exit_time DESC);

-- The 2026_02_02_0003 definitions won (the Lambda's 0001 had no constraints); all NOT VALID.
ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_side
    CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID;
ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type
    CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative') OR strategy_type IS NULL) NOT VALID;
ALTER TABLE position_history ADD CONSTRAINT chk_position_history_side
    CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID;
ALTER TABLE position_history ADD CONSTRAINT chk_position_history_strategy_type
    CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative') OR strategy_type IS NULL) NOT VALID;

-- The Lambda's shape: order_id and symbol nullable and shorter than in the file.
CREATE TABLE alpaca_event_dedupe (
    event_id     varchar(255) PRIMARY KEY,
    event_type   varchar(50) NOT NULL,
    order_id     varchar(100),
    symbol       varchar(20),
    event_data   jsonb,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_alpaca_event_dedupe_order_id ON alpaca_event_dedupe (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX idx_alpaca_event_dedupe_processed_at ON alpaca_event_dedupe (processed_at DESC);

CREATE TABLE account_metadata (
    account_name      varchar(50) PRIMARY KEY,
    tier              varchar(20) NOT NULL,
    alpaca_account_id varchar(100),
    initial_balance   numeric(12,2) NOT NULL,
    is_active         boolean DEFAULT true,
    created_at        timestamp DEFAULT CURRENT_TIMESTAMP,
    last_trade_at     timestamp,
    notes             text
);

-- =====================================================================================
-- Ledger: 38 versions with the applied_at history they had (UTC)
-- =====================================================================================
-- 2026-02-03 morning: first Lambda invocation, embedded keys in Python text order, one commit each.
-- 014 deleted the rows of 008 and 013_options_columns_safe; a second invocation re-applied them.
-- 16:38:41 / 16:40:02: 999_v2 and 1000 applied one by one (archived Lambda responses).
-- 2026-02-04 15:20: 1001 embedded and applied. From 2026-02-06: the ECS migrator, files in text order
-- (1002_add_trailing_stops_columns went in with that run, a629762), then 1003 ... 1039 on later days.
INSERT INTO schema_migrations (version, applied_at) VALUES
    ('001_init',                                     '2026-02-03 09:14:02.118+00'),
    ('002_add_volatility_features',                  '2026-02-03 09:14:02.406+00'),
    ('003_add_watchlist_state',                      '2026-02-03 09:14:02.671+00'),
    ('004_add_dispatcher_execution',                 '2026-02-03 09:14:03.052+00'),
    ('005_add_missing_columns',                      '2026-02-03 09:14:03.297+00'),
    ('006_fix_dispatcher_status_constraint',         '2026-02-03 09:14:03.540+00'),
    ('007_add_volume_features',                      '2026-02-03 09:14:03.812+00'),
    ('009_add_position_tracking',                    '2026-02-03 09:14:04.533+00'),
    ('010_add_ai_learning_tables',                   '2026-02-03 09:14:04.990+00'),
    ('011_add_learning_infrastructure',              '2026-02-03 09:14:05.416+00'),
    ('012_phase16_columns_only',                     '2026-02-03 09:14:05.702+00'),
    ('014_force_options_columns',                    '2026-02-03 09:14:06.311+00'),
    ('015_options_telemetry_integrated',             '2026-02-03 09:14:06.704+00'),
    ('016_add_active_positions_option_symbol',       '2026-02-03 09:14:06.958+00'),
    ('017_release_stuck_processing',                 '2026-02-03 09:14:07.183+00'),
    ('018_add_account_activities',                   '2026-02-03 09:14:07.529+00'),
    ('2026_02_02_0001_position_telemetry',           '2026-02-03 09:14:07.915+00'),
    ('2026_02_02_0002_websocket_idempotency',        '2026-02-03 09:14:08.262+00'),
    ('2026_02_02_0003_add_constraints_no_do',        '2026-02-03 09:14:08.577+00'),
    ('008_add_options_support',                      '2026-02-03 11:02:47.361+00'),
    ('013_options_columns_safe',                     '2026-02-03 11:02:47.842+00'),
    ('999_cleanup_phantom_positions_v2',             '2026-02-03 16:38:41.157+00'),
    ('1000_add_account_name_column',                 '2026-02-03 16:40:02.883+00'),
    ('1001_add_account_name_to_active_positions',    '2026-02-04 15:20:06.412+00'),
    ('012_add_account_tracking',                     '2026-02-06 19:21:33.205+00'),
    ('013_minimal',                                  '2026-02-06 19:21:33.644+00'),
    ('015_add_option_symbol_column',                 '2026-02-06 19:21:33.901+00'),
    ('016_create_lane_features_clean_view',          '2026-02-06 19:21:34.127+00'),
    ('1002_add_account_name_to_dispatch_executions', '2026-02-06 19:21:34.480+00'),
    ('1002_add_trailing_stops_columns',              '2026-02-06 19:21:34.716+00'),
    ('1003_sync_tiny_positions',                     '2026-02-06 23:41:12.058+00'),
    ('1004_add_vix_regime_tracking',                 '2026-02-07 13:11:49.730+00'),
    ('1034_risk_state_machine',                      '2026-02-10 21:46:20.391+00'),
    ('1035_fix_dispatcher_competition',              '2026-02-11 14:05:17.622+00'),
    ('1036_backfill_position_features',              '2026-02-11 14:05:18.004+00'),
    ('1037_cleanup_stuck_closing_tiny',              '2026-02-12 15:32:40.517+00'),
    ('1038_cleanup_stuck_closing_round2',            '2026-02-12 18:09:03.286+00'),
    ('1039_close_phantom_positions',                 '2026-02-13 20:47:55.940+00');

-- =====================================================================================
-- Data (deterministic; every freshness-relevant time is relative to now())
-- =====================================================================================

INSERT INTO account_metadata (account_name, tier, initial_balance, created_at, notes) VALUES
    ('tiny-1k',    'tiny',  1000.00,   '2026-02-06 19:21:33.205', 'small paper account, aggressive sizing (1-2 contracts)'),
    ('large-100k', 'large', 100000.00, '2026-02-06 19:21:33.205', 'large paper account, 1% risk per trade');

-- Five tickers; per ticker a base price. Used by telemetry, features and trades below.
CREATE TEMPORARY TABLE fixture_tickers (k int PRIMARY KEY, ticker text, base numeric);
INSERT INTO fixture_tickers VALUES (1, 'AAPL', 231.40), (2, 'NVDA', 138.20), (3, 'SPY', 602.10),
                                   (4, 'TSLA', 352.75), (5, 'AMD', 118.60);

-- One-minute bars for the last two hours; the newest bar opens in the current minute.
INSERT INTO lane_telemetry (ticker, ts, open, high, low, close, volume)
SELECT t.ticker, date_trunc('minute', now()) - n * interval '1 minute',
       round(t.base * (1 + 0.0021 * sin((n + t.k) / 7.0)::numeric), 2),
       round(t.base * (1 + 0.0021 * sin((n + t.k) / 7.0)::numeric + 0.0009), 2),
       round(t.base * (1 + 0.0021 * sin((n + t.k) / 7.0)::numeric - 0.0011), 2),
       round(t.base * (1 + 0.0021 * sin((n + t.k + 1) / 7.0)::numeric), 2),
       40000 + ((n * 7919 + t.k * 104729) % 61000)
  FROM fixture_tickers t, generate_series(0, 119) AS n;

-- Features for the last hour of bars, computed a few seconds after each bar (never in the future).
INSERT INTO lane_features (ticker, ts, sma20, sma50, recent_vol, baseline_vol, vol_ratio, distance_sma20,
                           distance_sma50, trend_state, close, computed_at, volume_current, volume_avg_20,
                           volume_ratio, volume_surge)
SELECT t.ticker, date_trunc('minute', now()) - n * interval '1 minute',
       round(t.base * 0.9995, 4), round(t.base * 0.9982, 4),
       0.0011 + 0.0001 * (n % 5), 0.0012, round((0.0011 + 0.0001 * (n % 5)) / 0.0012, 4),
       0.0005, 0.0018, CASE WHEN t.k % 3 = 0 THEN -1 WHEN t.k % 3 = 1 THEN 1 ELSE 0 END,
       round(t.base * (1 + 0.0021 * sin((n + t.k + 1) / 7.0)::numeric), 2),
       least(date_trunc('minute', now()) - n * interval '1 minute' + interval '8 seconds', now()),
       40000 + ((n * 7919 + t.k * 104729) % 61000), 70000,
       CASE WHEN n = 59 THEN NULL ELSE round((40000 + ((n * 7919 + t.k * 104729) % 61000)) / 70000.0, 4) END,
       (40000 + ((n * 7919 + t.k * 104729) % 61000)) > 98000
  FROM fixture_tickers t, generate_series(0, 59) AS n;

-- Six dispatcher runs, one every ~8 hours, the last a few minutes ago.
INSERT INTO dispatcher_runs (run_id, started_at, finished_at, pulled_count, processed_count, simulated_count,
                             skipped_count, failed_count, run_config_json, run_summary_json)
SELECT md5('fixture-run-' || r)::uuid,
       now() - (6 - r) * interval '8 hours' - interval '4 minutes',
       now() - (6 - r) * interval '8 hours' - interval '4 minutes' + interval '3.2 seconds',
       6, 6, 2, 1, 0,
       jsonb_build_object('account_name', CASE WHEN r % 2 = 0 THEN 'tiny' ELSE 'large' END, 'paper', true),
       jsonb_build_object('ok', true)
  FROM generate_series(1, 6) AS r;

-- 32 recommendations over ~2 days: 30 dispatched (each with one execution, the newest ~6 minutes ago),
-- one skipped by a risk gate and one still PENDING from the last minute. Bearish signals are puts.
INSERT INTO dispatch_recommendations (ts, ticker, action, confidence, reason, status, executed_at, filled_price,
                                      shares, processed_at, dispatcher_run_id, failure_reason, risk_gate_json,
                                      instrument_type, created_at, strategy_type, features_snapshot,
                                      sentiment_snapshot)
SELECT ts, t.ticker,
       CASE WHEN g % 4 = 3 THEN 'SELL' ELSE 'BUY' END,
       round((0.55 + (g % 9) * 0.04)::numeric, 2)::float8,
       jsonb_build_object('rule', CASE WHEN g % 2 = 0 THEN 'momentum_breakout' ELSE 'volume_surge' END,
                          'volume_ratio', round(1.2 + (g % 6) * 0.3, 2)),
       st.status,
       CASE WHEN st.status = 'EXECUTED' THEN ts + interval '40 seconds' END,
       CASE WHEN st.status = 'EXECUTED' THEN round(t.base * 1.001, 2)::float8 END,
       CASE WHEN st.status = 'EXECUTED' THEN (1 + g % 4)::float8 END,
       CASE WHEN st.status <> 'PENDING' THEN ts + interval '35 seconds' END,
       CASE WHEN st.status <> 'PENDING' THEN md5('fixture-run-' || (1 + (g - 1) % 6))::uuid END,
       CASE WHEN st.status = 'SKIPPED' THEN 'risk gate: max open positions reached' END,
       CASE WHEN st.status <> 'PENDING' THEN jsonb_build_object('passed', st.status <> 'SKIPPED') END,
       CASE WHEN g % 4 = 3 THEN 'PUT' WHEN g % 4 = 1 THEN 'STOCK' ELSE 'CALL' END,
       ts,
       (ARRAY['day_trade', 'swing_trade', 'conservative'])[1 + g % 3],
       CASE WHEN g % 5 <> 4 THEN jsonb_build_object('sma20', t.base, 'trend_state', 1, 'vol_ratio', 1.1) END,
       jsonb_build_object('score', round((g % 10) / 10.0, 1))
  FROM generate_series(1, 32) AS g
  JOIN fixture_tickers t ON t.k = 1 + g % 5
 CROSS JOIN LATERAL (
       SELECT CASE WHEN g = 32 THEN now() - interval '45 seconds'
                   WHEN g = 31 THEN now() - interval '6 minutes'
                   ELSE now() - (31 - g) * interval '95 minutes' - interval '20 minutes' END AS ts,
              CASE WHEN g = 32 THEN 'PENDING' WHEN g = 29 THEN 'SKIPPED'
                   WHEN g % 3 = 0 THEN 'SIMULATED' ELSE 'EXECUTED' END AS status) AS st
 ORDER BY g;

-- One execution per dispatched recommendation; options carry strike and expiration.
INSERT INTO dispatch_executions (execution_id, recommendation_id, dispatcher_run_id, ticker, action, decision_ts,
                                 simulated_ts, entry_price, fill_model, slippage_bps, qty, notional,
                                 stop_loss_price, take_profit_price, max_hold_minutes, execution_mode,
                                 explain_json, risk_json, sim_json, instrument_type, strike_price,
                                 expiration_date, contracts, premium_paid, delta, theta, implied_volatility,
                                 option_symbol, strategy_type, side, status, broker_order_id, executed_at,
                                 filled_qty, features_snapshot, bars_captured_count, account_name)
SELECT md5('fixture-exec-' || r.id)::uuid, r.id, r.dispatcher_run_id, r.ticker,
       CASE r.instrument_type WHEN 'STOCK' THEN 'BUY_STOCK' WHEN 'CALL' THEN 'BUY_CALL' ELSE 'BUY_PUT' END,
       r.created_at, r.ts + interval '36 seconds',
       price, 'mid+slip_bps', 5, qty, round(price * qty * mult, 2),
       round(price * CASE WHEN r.instrument_type = 'STOCK' THEN 0.98 ELSE 0.75 END, 4),
       round(price * CASE WHEN r.instrument_type = 'STOCK' THEN 1.03 ELSE 1.50 END, 4),
       240,
       CASE WHEN r.status = 'EXECUTED' THEN 'ALPACA_PAPER' ELSE 'SIMULATED' END,
       jsonb_build_object('recommendation', r.reason), jsonb_build_object('gates', 'passed'),
       jsonb_build_object('fill', 'mid'),
       r.instrument_type,
       CASE WHEN r.instrument_type <> 'STOCK' THEN strike END,
       CASE WHEN r.instrument_type <> 'STOCK' THEN expiry END,
       CASE WHEN r.instrument_type <> 'STOCK' THEN qty::int END,
       CASE WHEN r.instrument_type <> 'STOCK' THEN round(price, 2) END,
       CASE WHEN r.instrument_type = 'CALL' THEN 0.45 WHEN r.instrument_type = 'PUT' THEN -0.42 END,
       CASE WHEN r.instrument_type <> 'STOCK' THEN -0.08 END,
       CASE WHEN r.instrument_type <> 'STOCK' THEN 0.3150 END,
       CASE WHEN r.instrument_type <> 'STOCK' THEN
            r.ticker || to_char(expiry, 'YYMMDD') || left(r.instrument_type, 1)
            || lpad((strike * 1000)::bigint::text, 8, '0') END,
       r.strategy_type, 'long',
       CASE WHEN r.status = 'EXECUTED' THEN 'FILLED' ELSE 'SIMULATED' END,
       CASE WHEN r.status = 'EXECUTED' THEN md5('fixture-order-' || r.id)::uuid::text END,
       CASE WHEN r.status = 'EXECUTED' THEN timezone('UTC', r.ts + interval '38 seconds') END,
       CASE WHEN r.status = 'EXECUTED' THEN qty END,
       r.features_snapshot, 0,
       CASE WHEN r.id % 2 = 0 THEN 'tiny' ELSE 'large' END
  FROM dispatch_recommendations r
  JOIN fixture_tickers t ON t.ticker = r.ticker
 CROSS JOIN LATERAL (
       SELECT CASE WHEN r.instrument_type = 'STOCK' THEN round(t.base, 4) ELSE round(2.10 + (r.id % 7) * 0.85, 4) END AS price,
              CASE WHEN r.instrument_type = 'STOCK' THEN (5 + r.id % 20)::numeric ELSE (1 + r.id % 3)::numeric END AS qty,
              CASE WHEN r.instrument_type = 'STOCK' THEN 1 ELSE 100 END AS mult,
              round(t.base / 5) * 5 + CASE WHEN r.instrument_type = 'PUT' THEN -5 ELSE 5 END AS strike,
              (timezone('UTC', r.ts)::date + 7 + (r.id % 4)::int * 7) AS expiry) AS p
 WHERE r.status IN ('EXECUTED', 'SIMULATED');

-- 40 positions. Production's ids are in the 13000s: the four tiny option rows 1003 inserted (later closed
-- by 1037) and DE id 13481 (closed by hand in 1039) keep their February 2026 times; the other 35 are
-- recent, ids in entry order: 20 opened from the paper executions above, 15 synced from Alpaca.
SELECT setval('active_positions_id_seq', 13476);

INSERT INTO active_positions (ticker, instrument_type, strategy_type, side, quantity, entry_price, entry_time,
                              strike_price, expiration_date, stop_loss, take_profit, max_hold_minutes,
                              current_price, last_checked_at, check_count, status, close_reason, created_at,
                              updated_at, closed_at, option_symbol, account_name, original_quantity,
                              entry_features_json, last_mark_price, alpaca_order_id, lifecycle_state)
VALUES
    ('AMD', 'PUT',  'swing_trade', 'long', 1, 10.50, '2026-02-05 23:41:12', 205.0, '2026-02-20', 6.30, 18.90, 240, 7.00,
     '2026-02-12 15:31:58', 812, 'closed', 'cleanup_stuck_closing', '2026-02-06 23:41:12', '2026-02-12 15:32:40',
     '2026-02-12 15:32:40', 'AMD260220P00205000', 'tiny', 1, '{}', 7.00, NULL, 'CLOSED'),
    ('CRM', 'CALL', 'swing_trade', 'long', 1, 6.05, '2026-02-05 23:41:12', 200.0, '2026-02-13', 3.63, 10.89, 240, 1.88,
     '2026-02-12 15:31:58', 812, 'closed', 'cleanup_stuck_closing', '2026-02-06 23:41:12', '2026-02-12 15:32:40',
     '2026-02-12 15:32:40', 'CRM260213C00200000', 'tiny', 1, '{}', 1.88, NULL, 'CLOSED'),
    ('BAC', 'CALL', 'swing_trade', 'long', 1, 1.10, '2026-02-05 23:41:12', 56.0, '2026-02-20', 0.66, 1.98, 240, 1.36,
     '2026-02-12 15:31:58', 812, 'closed', 'cleanup_stuck_closing', '2026-02-06 23:41:12', '2026-02-12 15:32:40',
     '2026-02-12 15:32:40', 'BAC260220C00056000', 'tiny', 1, '{}', 1.36, NULL, 'CLOSED'),
    ('PFE', 'CALL', 'swing_trade', 'long', 1, 0.30, '2026-02-05 23:41:12', 27.5, '2026-02-20', 0.18, 0.54, 240, 0.34,
     '2026-02-12 15:31:58', 812, 'closed', 'cleanup_stuck_closing', '2026-02-06 23:41:12', '2026-02-12 15:32:40',
     '2026-02-12 15:32:40', 'PFE260220C00027500', 'tiny', 1, '{}', 0.34, NULL, 'CLOSED'),
    ('DE', 'STOCK', 'swing_trade', 'long', 10, 412.3000, '2026-02-12 15:04:51', NULL, NULL, 404.0540, 424.6690, 240, 418.9500,
     '2026-02-13 20:47:31', 1530, 'closed', 'manual_reconciliation', '2026-02-12 15:04:53', '2026-02-13 20:47:55',
     '2026-02-13 20:47:55', NULL, 'large', 10, '{}', 418.95, md5('fixture-sync-order-DE')::uuid::text, 'CLOSED');

WITH linked AS (
    SELECT e.execution_id, e.ticker, e.instrument_type, e.strategy_type,
           CASE WHEN e.instrument_type = 'CALL' THEN (ARRAY['long', 'call'])[1 + n % 2]
                WHEN e.instrument_type = 'PUT'  THEN (ARRAY['long', 'put'])[1 + n % 2]
                ELSE 'long' END AS side,
           e.qty AS quantity, e.entry_price, e.executed_at AS entry_time, e.strike_price, e.expiration_date,
           n > 12 AS is_open,
           (ARRAY['take_profit', 'stop_loss', 'time_exit', 'day_trade_close'])[1 + n % 4] AS exit_reason,
           interval '2 hours' AS held, e.option_symbol, e.account_name, e.broker_order_id AS order_id,
           coalesce(e.features_snapshot, '{}'::jsonb) AS features, ((n % 5) - 2) * 0.03 AS move
      FROM (SELECT de.*, row_number() OVER (ORDER BY de.simulated_ts) AS n
              FROM dispatch_executions de WHERE de.execution_mode = 'ALPACA_PAPER') AS e
), synced AS (
    SELECT NULL::uuid, v.ticker, v.itype, v.strategy, v.side, v.qty::numeric, v.price::numeric,
           timezone('UTC', now()) - v.age::interval, v.strike::numeric,
           CASE WHEN v.strike IS NOT NULL THEN (timezone('UTC', now()) - v.age::interval)::date + 14 END,
           v.is_open, v.exit_reason, interval '3 hours', NULL::text, v.account,
           CASE WHEN v.has_order THEN md5('fixture-sync-order-' || v.k)::uuid::text END,
           '{}'::jsonb, 0.02
      FROM (VALUES
        ( 1, 'QCOM',  'CALL',  'day_trade',    'call',   2,   3.45, 165, 'tiny',  false, 'take_profit',     '6 days 7 hours',    true),
        ( 2, 'META',  'PUT',   'swing_trade',  'put',    1,   8.10, 600, 'large', false, 'stop_loss',       '6 days 2 hours',    true),
        ( 3, 'MSFT',  'STOCK', 'conservative', 'long',   6, 428.15, NULL, 'large', false, 'time_exit',      '5 days 5 hours',    true),
        ( 4, 'AMZN',  'CALL',  'swing_trade',  'long',   2,   4.20, 230, 'tiny',  false, 'take_profit',     '4 days 23 hours',   true),
        ( 5, 'GOOGL', 'PUT',   'day_trade',    'put',    1,   2.75, 190, 'large', false, 'day_trade_close', '4 days 6 hours',    true),
        ( 6, 'PG',    'STOCK', 'conservative', 'long',   8, 168.90, NULL, 'large', false, 'take_profit',    '3 days 21 hours',   true),
        ( 7, 'QCOM',  'PUT',   'swing_trade',  'put',    1,   4.60, 160, 'tiny',  false, 'stop_loss',       '3 days 4 hours',    true),
        ( 8, 'META',  'CALL',  'day_trade',    'call',   1,   6.35, 620, 'large', false, 'day_trade_close', '2 days 23 hours',   true),
        ( 9, 'MSFT',  'CALL',  'swing_trade',  'call',   2,   5.10, 430, 'large', false, 'time_exit',       '2 days 8 hours',    true),
        (10, 'JPM',   'STOCK', 'swing_trade',  'short', 12, 251.40, NULL, 'large', true,  NULL,             '5 hours 10 minutes', true),
        (11, 'XOM',   'CALL',  'conservative', 'call',   3,   1.95, 110, 'tiny',  true,  NULL,              '4 hours 35 minutes', true),
        (12, 'AMZN',  'STOCK', 'day_trade',    'long',   5, 226.80, NULL, 'large', true,  NULL,             '1 hour 40 minutes', false),
        (13, 'GOOGL', 'CALL',  'swing_trade',  'call',   2,   3.30, 195, 'tiny',  true,  NULL,              '1 hour 10 minutes', false),
        (14, 'PG',    'PUT',   'conservative', 'put',    1,   1.25, 165, 'large', true,  NULL,              '45 minutes',        true),
        (15, 'XOM',   'STOCK', 'swing_trade',  'short', 15, 108.20, NULL, 'large', true,  NULL,             '12 minutes',        true)
      ) AS v (k, ticker, itype, strategy, side, qty, price, strike, account, is_open, exit_reason, age, has_order)
), synced_named AS (
    SELECT s.*, CASE WHEN s.strike IS NOT NULL THEN
                    s.ticker || to_char(s.expiry, 'YYMMDD') || left(s.itype, 1)
                    || lpad((s.strike * 1000)::bigint::text, 8, '0') END AS symbol
      FROM synced AS s (execution_id, ticker, itype, strategy, side, qty, price, entry_time, strike, expiry,
                        is_open, exit_reason, held, no_symbol, account, order_id, features, move)
), all_positions AS (
    SELECT * FROM linked
    UNION ALL
    SELECT execution_id, ticker, itype, strategy, side, qty, price, entry_time, strike, expiry, is_open,
           exit_reason, held, symbol, account, order_id, features, move
      FROM synced_named
)
INSERT INTO active_positions (execution_id, ticker, instrument_type, strategy_type, side, quantity, entry_price,
                              entry_time, strike_price, expiration_date, stop_loss, take_profit, max_hold_minutes,
                              bracket_order_accepted, current_price, current_pnl_dollars, current_pnl_percent,
                              last_checked_at, check_count, status, close_reason, created_at, updated_at,
                              closed_at, option_symbol, account_name, peak_price, original_quantity,
                              execution_uuid, entry_features_json, best_unrealized_pnl_pct,
                              worst_unrealized_pnl_pct, best_unrealized_pnl_dollars,
                              worst_unrealized_pnl_dollars, last_mark_price, alpaca_order_id, lifecycle_state)
SELECT a.execution_id, a.ticker, a.instrument_type, a.strategy_type, a.side, a.quantity, a.entry_price,
       a.entry_time, a.strike_price, a.expiration_date,
       round(a.entry_price * CASE WHEN a.instrument_type = 'STOCK' THEN 0.98 ELSE 0.75 END, 4),
       round(a.entry_price * CASE WHEN a.instrument_type = 'STOCK' THEN 1.03 ELSE 1.50 END, 4),
       240, a.execution_id IS NOT NULL,
       round(a.entry_price * (1 + a.move), 4),
       round(a.entry_price * a.move * a.quantity * m.mult, 4),
       round(a.move * 100, 4),
       CASE WHEN a.is_open THEN timezone('UTC', now()) - interval '15 seconds' ELSE a.entry_time + a.held END,
       CASE WHEN a.is_open THEN 30 ELSE 120 END,
       CASE WHEN a.is_open THEN 'open' ELSE 'closed' END,
       CASE WHEN NOT a.is_open THEN a.exit_reason END,
       a.entry_time + interval '2 seconds',
       CASE WHEN a.is_open THEN timezone('UTC', now()) - interval '15 seconds' ELSE a.entry_time + a.held END,
       CASE WHEN NOT a.is_open THEN a.entry_time + a.held END,
       a.option_symbol, a.account_name, round(a.entry_price * 1.04, 4), a.quantity::int,
       a.execution_id, a.features, 4.0, -3.0,
       round(a.entry_price * 0.04 * a.quantity * m.mult, 4), round(-a.entry_price * 0.03 * a.quantity * m.mult, 4),
       round(a.entry_price * (1 + a.move), 8), a.order_id,
       CASE WHEN a.is_open THEN 'OPEN' ELSE 'CLOSED' END
  FROM all_positions AS a
 CROSS JOIN LATERAL (SELECT CASE WHEN a.instrument_type = 'STOCK' THEN 1 ELSE 100 END AS mult) AS m
 ORDER BY a.entry_time;

-- Closed positions that reached position_history (the position manager's writer columns).
INSERT INTO position_history (execution_id, execution_uuid, ticker, instrument_type, strategy_type, side, quantity,
                              entry_price, exit_price, entry_time, exit_time, pnl_dollars, pnl_pct, strike_price,
                              expiration_date, option_symbol, max_hold_minutes, holding_seconds, multiplier,
                              exit_reason, exit_order_id, entry_features_json, entry_iv_rank, entry_spread_pct,
                              best_unrealized_pnl_pct, worst_unrealized_pnl_pct, best_unrealized_pnl_dollars,
                              worst_unrealized_pnl_dollars, created_at)
SELECT p.execution_id, p.execution_uuid, p.ticker, p.instrument_type, p.strategy_type, p.side, p.quantity,
       p.entry_price, p.current_price,
       p.entry_time AT TIME ZONE 'UTC', p.closed_at AT TIME ZONE 'UTC',
       round((p.current_price - p.entry_price) * p.quantity * m.mult, 8),
       round((p.current_price - p.entry_price) / p.entry_price * 100, 8),
       p.strike_price, p.expiration_date, p.option_symbol, p.max_hold_minutes,
       extract(epoch FROM p.closed_at - p.entry_time)::int, m.mult,
       p.close_reason, md5('fixture-exit-order-' || p.id)::uuid::text,
       p.entry_features_json, 0.42, 0.015,
       p.best_unrealized_pnl_pct, p.worst_unrealized_pnl_pct,
       p.best_unrealized_pnl_dollars, p.worst_unrealized_pnl_dollars,
       (p.closed_at AT TIME ZONE 'UTC') + interval '2 seconds'
  FROM active_positions p
 CROSS JOIN LATERAL (SELECT CASE WHEN p.instrument_type = 'STOCK' THEN 1 ELSE 100 END AS mult) AS m
 WHERE p.status = 'closed' AND p.close_reason NOT IN ('manual_reconciliation', 'cleanup_stuck_closing')
 ORDER BY p.closed_at;

-- trade-stream's dedupe rows: a fill for every position with an order id, plus earlier partial fills.
INSERT INTO alpaca_event_dedupe (event_id, event_type, order_id, symbol, event_data, processed_at)
SELECT kind || '_' || p.alpaca_order_id || '_' || to_char(at, 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00',
       kind, p.alpaca_order_id, coalesce(p.option_symbol, p.ticker),
       jsonb_build_object('event', kind, 'order_id', p.alpaca_order_id,
                          'symbol', coalesce(p.option_symbol, p.ticker),
                          'filled_qty', CASE WHEN kind = 'fill' THEN p.quantity ELSE 1 END,
                          'filled_avg_price', p.entry_price),
       (at AT TIME ZONE 'UTC') + interval '1 second'
  FROM active_positions p
 CROSS JOIN LATERAL (VALUES ('fill', p.entry_time), ('partial_fill', p.entry_time - interval '4 seconds')) AS v (kind, at)
 WHERE p.alpaca_order_id IS NOT NULL
   AND (v.kind = 'fill' OR p.id % 10 < 8);

INSERT INTO position_events (position_id, event_type, event_data, created_at)
SELECT p.id, v.event_type, v.data, v.at
  FROM active_positions p
 CROSS JOIN LATERAL (VALUES
       ('synced_realtime_websocket', jsonb_build_object('alpaca_order_id', p.alpaca_order_id), p.entry_time + interval '1 second'),
       ('position_checked', jsonb_build_object('price', p.current_price), p.last_checked_at)) AS v (event_type, data, at)
 WHERE p.status = 'open' AND p.alpaca_order_id IS NOT NULL AND p.id % 3 = 0
 ORDER BY v.at;

DROP TABLE fixture_tickers;
