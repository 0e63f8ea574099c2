-- Models 002_add_volatility_features: the computed-indicator table lane_features; records its own ledger row.
CREATE TABLE IF NOT EXISTS lane_features (
    ticker         TEXT NOT NULL,
    ts             TIMESTAMPTZ NOT NULL,
    sma20          DOUBLE PRECISION,
    sma50          DOUBLE PRECISION,
    recent_vol     DOUBLE PRECISION,
    baseline_vol   DOUBLE PRECISION,
    vol_ratio      DOUBLE PRECISION,
    distance_sma20 DOUBLE PRECISION,
    distance_sma50 DOUBLE PRECISION,
    trend_state    INTEGER,
    close          DOUBLE PRECISION,
    computed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, ts)
);
CREATE INDEX IF NOT EXISTS idx_features_ticker_ts ON lane_features (ticker, ts DESC);
CREATE INDEX IF NOT EXISTS idx_features_computed ON lane_features (computed_at DESC);

INSERT INTO schema_migrations (version, applied_at) VALUES ('002_add_volatility_features', now())
    ON CONFLICT (version) DO NOTHING;
