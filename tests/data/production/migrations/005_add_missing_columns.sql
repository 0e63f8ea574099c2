-- Models 005_add_missing_columns: instrument_type and a default-less created_at on recommendations, backfilled from ts.
ALTER TABLE dispatch_recommendations
    ADD COLUMN IF NOT EXISTS instrument_type TEXT,
    ADD COLUMN IF NOT EXISTS created_at TIMESTAMPTZ;

UPDATE dispatch_recommendations SET created_at = ts WHERE created_at IS NULL;
