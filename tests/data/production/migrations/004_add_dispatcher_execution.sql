-- Models 004_add_dispatcher_execution: dispatcher bookkeeping on recommendations, the executions ledger and run log.
ALTER TABLE dispatch_recommendations
    ADD COLUMN IF NOT EXISTS status TEXT NOT NULL DEFAULT 'PENDING',  -- already there: NOTICE only
    ADD COLUMN IF NOT EXISTS processed_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS dispatcher_run_id UUID,
    ADD COLUMN IF NOT EXISTS failure_reason TEXT,
    ADD COLUMN IF NOT EXISTS risk_gate_json JSONB;
CREATE INDEX IF NOT EXISTS idx_dispatch_reco_pending ON dispatch_recommendations (status, ts) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS idx_dispatch_reco_run ON dispatch_recommendations (dispatcher_run_id)
    WHERE dispatcher_run_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS dispatch_executions (
    execution_id      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    recommendation_id BIGINT NOT NULL REFERENCES dispatch_recommendations (id),
    dispatcher_run_id UUID NOT NULL,
    ticker            TEXT NOT NULL,
    action            TEXT NOT NULL,
    decision_ts       TIMESTAMPTZ NOT NULL,
    simulated_ts      TIMESTAMPTZ NOT NULL DEFAULT now(),
    entry_price       NUMERIC(18,8) NOT NULL,
    fill_model        TEXT NOT NULL,
    slippage_bps      INT NOT NULL DEFAULT 0,
    qty               NUMERIC(18,8) NOT NULL,
    notional          NUMERIC(18,8) NOT NULL,
    stop_loss_price   NUMERIC(18,8),
    take_profit_price NUMERIC(18,8),
    max_hold_minutes  INT,
    execution_mode    TEXT NOT NULL DEFAULT 'SIMULATED',
    explain_json      JSONB NOT NULL,
    risk_json         JSONB NOT NULL,
    sim_json          JSONB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_dispatch_execution_reco ON dispatch_executions (recommendation_id);
CREATE INDEX IF NOT EXISTS idx_dispatch_exec_run ON dispatch_executions (dispatcher_run_id);
CREATE INDEX IF NOT EXISTS idx_dispatch_exec_ticker ON dispatch_executions (ticker, simulated_ts DESC);
CREATE INDEX IF NOT EXISTS idx_dispatch_exec_time ON dispatch_executions (simulated_ts DESC);

CREATE TABLE IF NOT EXISTS dispatcher_runs (
    run_id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ,
    pulled_count     INT NOT NULL DEFAULT 0,
    processed_count  INT NOT NULL DEFAULT 0,
    simulated_count  INT NOT NULL DEFAULT 0,
    skipped_count    INT NOT NULL DEFAULT 0,
    failed_count     INT NOT NULL DEFAULT 0,
    run_config_json  JSONB,
    run_summary_json JSONB
);
CREATE INDEX IF NOT EXISTS idx_dispatcher_runs_time ON dispatcher_runs (started_at DESC);
