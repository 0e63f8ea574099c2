-- Models 001_init: the ledger, 1-minute bars and the signal table (news/feed tables not modeled). No own ledger row.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    TEXT PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS lane_telemetry (
    ticker TEXT NOT NULL,
    ts     TIMESTAMPTZ NOT NULL,
    open   DOUBLE PRECISION NOT NULL,
    high   DOUBLE PRECISION NOT NULL,
    low    DOUBLE PRECISION NOT NULL,
    close  DOUBLE PRECISION NOT NULL,
    volume BIGINT,
    PRIMARY KEY (ticker, ts)
);
CREATE INDEX IF NOT EXISTS idx_telemetry_ticker_ts ON lane_telemetry (ticker, ts DESC);

CREATE TABLE IF NOT EXISTS dispatch_recommendations (
    id           BIGSERIAL PRIMARY KEY,
    ts           TIMESTAMPTZ NOT NULL DEFAULT now(),
    ticker       TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('BUY', 'SELL')),
    confidence   DOUBLE PRECISION,
    reason       JSONB NOT NULL DEFAULT '{}'::jsonb,
    status       TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'EXECUTED', 'CANCELLED')),
    executed_at  TIMESTAMPTZ,
    filled_price DOUBLE PRECISION,
    shares       DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS idx_recommendations_status_ts ON dispatch_recommendations (status, ts DESC);
CREATE INDEX IF NOT EXISTS idx_recommendations_ticker_ts ON dispatch_recommendations (ticker, ts DESC);
CREATE INDEX IF NOT EXISTS idx_recommendations_executed ON dispatch_recommendations (executed_at DESC)
    WHERE executed_at IS NOT NULL;
