-- Models 2026_02_02_0002_websocket_idempotency: the event dedupe table and order-id columns; its ledger insert names a column migration_name that no ledger has, so it can never apply.
CREATE TABLE IF NOT EXISTS alpaca_event_dedupe (
    event_id     VARCHAR(255) PRIMARY KEY,
    event_type   VARCHAR(50) NOT NULL,
    order_id     VARCHAR(255) NOT NULL,
    symbol       VARCHAR(50) NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    event_data   JSONB
);
CREATE INDEX IF NOT EXISTS idx_alpaca_dedupe_order_id ON alpaca_event_dedupe (order_id);
CREATE INDEX IF NOT EXISTS idx_alpaca_dedupe_processed_at ON alpaca_event_dedupe (processed_at);

CREATE UNIQUE INDEX IF NOT EXISTS idx_active_positions_execution_uuid_unique ON active_positions (execution_uuid)
    WHERE execution_uuid IS NOT NULL;

ALTER TABLE active_positions ADD COLUMN IF NOT EXISTS alpaca_order_id VARCHAR(255);
-- deliberately not unique
CREATE INDEX IF NOT EXISTS idx_active_positions_alpaca_order_id ON active_positions (alpaca_order_id)
    WHERE alpaca_order_id IS NOT NULL;

INSERT INTO schema_migrations (migration_name, applied_at) VALUES ('2026_02_02_0002_websocket_idempotency', now())
    ON CONFLICT (migration_name) DO NOTHING;
