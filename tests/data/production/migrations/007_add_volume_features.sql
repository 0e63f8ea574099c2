-- Models 007_add_volume_features: volume columns on lane_features, added without IF NOT EXISTS (fails if re-run).
ALTER TABLE lane_features
    ADD COLUMN volume_current BIGINT,
    ADD COLUMN volume_avg_20 BIGINT,
    ADD COLUMN volume_ratio NUMERIC(10,4),
    ADD COLUMN volume_surge BOOLEAN;

CREATE INDEX idx_lane_features_volume ON lane_features (ticker, ts, volume_ratio);

-- the real file ends by listing the new columns
SELECT column_name, data_type FROM information_schema.columns
 WHERE table_name = 'lane_features' AND column_name LIKE 'volume%';
