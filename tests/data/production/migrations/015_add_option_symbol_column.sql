-- Models 015_add_option_symbol_column: option_symbol on active_positions, wrapped in the file's own BEGIN/COMMIT.
BEGIN;

ALTER TABLE active_positions ADD COLUMN IF NOT EXISTS option_symbol TEXT;
CREATE INDEX IF NOT EXISTS idx_active_positions_option_symbol ON active_positions (option_symbol)
    WHERE option_symbol IS NOT NULL;

COMMIT;
