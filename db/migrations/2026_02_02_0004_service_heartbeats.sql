-- The trade-stream service upserts its row here every 30 seconds.
CREATE TABLE IF NOT EXISTS service_heartbeats (
    service      TEXT PRIMARY KEY,
    last_beat_at TIMESTAMPTZ NOT NULL,
    details      JSONB
);

INSERT INTO schema_migrations (version) VALUES ('2026_02_02_0004_service_heartbeats') ON CONFLICT (version) DO NOTHING;
