-- Models 1002_add_account_name_to_dispatch_executions: a no-op where 012 ran first (column and index name exist), plus a date/account index.
ALTER TABLE dispatch_executions ADD COLUMN IF NOT EXISTS account_name VARCHAR(50) DEFAULT 'large-default';
CREATE INDEX IF NOT EXISTS idx_dispatch_executions_account_name ON dispatch_executions (account_name);
CREATE INDEX IF NOT EXISTS idx_dispatch_executions_date_account ON dispatch_executions (simulated_ts, account_name);

UPDATE dispatch_executions SET account_name = 'large-default' WHERE account_name IS NULL;
