-- Models 013_minimal (same body as 1002_add_trailing_stops_columns): trailing-stop columns on active_positions.
ALTER TABLE active_positions
    ADD COLUMN IF NOT EXISTS peak_price DECIMAL(12,4),
    ADD COLUMN IF NOT EXISTS trailing_stop_price DECIMAL(12,4),
    ADD COLUMN IF NOT EXISTS entry_underlying_price DECIMAL(12,4),
    ADD COLUMN IF NOT EXISTS original_quantity INTEGER;

SELECT column_name, data_type FROM information_schema.columns
 WHERE table_name = 'active_positions'
   AND column_name IN ('peak_price', 'trailing_stop_price', 'entry_underlying_price', 'original_quantity');
