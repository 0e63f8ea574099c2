-- Open positions, one row per position opened by the trade-stream service.
CREATE TABLE IF NOT EXISTS active_positions (
    id              BIGSERIAL PRIMARY KEY,
    ticker          VARCHAR(10)   NOT NULL,
    instrument_type VARCHAR(20)   NOT NULL,
    strategy_type   TEXT,
    side            TEXT,
    quantity        NUMERIC(12,4) NOT NULL,
    entry_price     NUMERIC(12,4) NOT NULL,
    entry_time      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    status          TEXT          NOT NULL DEFAULT 'open',
    created_at      TIMESTAMPTZ   NOT NULL DEFAULT now()
);

INSERT INTO schema_migrations (version) VALUES ('009_add_position_tracking') ON CONFLICT (version) DO NOTHING;
