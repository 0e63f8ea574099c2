-- Models 1001_add_account_name_to_active_positions: per-account positions, default 'large', with two indexes.
ALTER TABLE active_positions ADD COLUMN IF NOT EXISTS account_name VARCHAR(50) DEFAULT 'large';
CREATE INDEX IF NOT EXISTS idx_active_positions_account_name ON active_positions (account_name);
CREATE INDEX IF NOT EXISTS idx_active_positions_status_account ON active_positions (status, account_name);

UPDATE active_positions SET account_name = 'large' WHERE account_name IS NULL;
