-- Models 1034_risk_state_machine: lifecycle columns on active_positions (peak_price FLOAT loses to an earlier NUMERIC); its audit/config tables and views are out of scope.
ALTER TABLE active_positions
    ADD COLUMN IF NOT EXISTS lifecycle_state TEXT DEFAULT 'OPEN',
    ADD COLUMN IF NOT EXISTS peak_price FLOAT,
    ADD COLUMN IF NOT EXISTS partial_taken BOOLEAN DEFAULT FALSE,
    ADD COLUMN IF NOT EXISTS partial_qty_sold FLOAT DEFAULT 0,
    ADD COLUMN IF NOT EXISTS breakeven_armed BOOLEAN DEFAULT FALSE,
    ADD COLUMN IF NOT EXISTS trail_price FLOAT,
    ADD COLUMN IF NOT EXISTS trail_level INT DEFAULT 0,
    ADD COLUMN IF NOT EXISTS last_state_change TIMESTAMP,
    ADD COLUMN IF NOT EXISTS state_change_count INT DEFAULT 0;
