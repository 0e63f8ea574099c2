-- Models 012_add_account_tracking: account_name on executions (no default), its index, and account_metadata with two seed accounts.
ALTER TABLE dispatch_executions ADD COLUMN IF NOT EXISTS account_name VARCHAR(50);
CREATE INDEX IF NOT EXISTS idx_dispatch_executions_account_name ON dispatch_executions (account_name, simulated_ts DESC);

CREATE TABLE IF NOT EXISTS account_metadata (
    account_name      VARCHAR(50) PRIMARY KEY,
    tier              VARCHAR(20) NOT NULL,
    alpaca_account_id VARCHAR(100),
    initial_balance   DECIMAL(12,2) NOT NULL,
    is_active         BOOLEAN DEFAULT true,
    created_at        TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_trade_at     TIMESTAMP,
    notes             TEXT
);

INSERT INTO account_metadata (account_name, tier, initial_balance, notes) VALUES
    ('tiny-1k', 'tiny', 1000.00, 'small paper account, aggressive sizing'),
    ('large-100k', 'large', 100000.00, 'large paper account, 1% risk per trade')
ON CONFLICT (account_name) DO NOTHING;
