-- Closed positions and the execution id that ties a position to its telemetry.
CREATE TABLE IF NOT EXISTS position_history (
    id             BIGSERIAL PRIMARY KEY,
    execution_uuid UUID,
    ticker         TEXT,
    strategy_type  TEXT,
    side           TEXT,
    quantity       NUMERIC(18,8),
    entry_price    NUMERIC(18,8),
    exit_price     NUMERIC(18,8),
    exit_time      TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE active_positions ADD COLUMN IF NOT EXISTS execution_uuid UUID;

INSERT INTO schema_migrations (version) VALUES ('2026_02_02_0001_position_telemetry') ON CONFLICT (version) DO NOTHING;
