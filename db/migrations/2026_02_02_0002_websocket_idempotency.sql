-- One row per processed Alpaca WebSocket trade event, so a replayed event is recognised.
CREATE TABLE IF NOT EXISTS alpaca_event_dedupe (
    event_id     VARCHAR(255) PRIMARY KEY,
    event_type   VARCHAR(50)  NOT NULL,
    order_id     VARCHAR(255) NOT NULL,
    symbol       VARCHAR(50)  NOT NULL,
    processed_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    event_data   JSONB
);

CREATE INDEX IF NOT EXISTS idx_alpaca_dedupe_order_id ON alpaca_event_dedupe (order_id);
CREATE INDEX IF NOT EXISTS idx_alpaca_dedupe_processed_at ON alpaca_event_dedupe (processed_at);

ALTER TABLE active_positions ADD COLUMN IF NOT EXISTS alpaca_order_id VARCHAR(255);

-- Not unique: the service prevents duplicates, so the suite looks for them in the data.
CREATE INDEX IF NOT EXISTS idx_active_positions_alpaca_order_id
    ON active_positions (alpaca_order_id) WHERE alpaca_order_id IS NOT NULL;

CREATE UNIQUE INDEX IF NOT EXISTS idx_active_positions_execution_uuid_unique
    ON active_positions (execution_uuid) WHERE execution_uuid IS NOT NULL;

INSERT INTO schema_migrations (version) VALUES ('2026_02_02_0002_websocket_idempotency') ON CONFLICT (version) DO NOTHING;
