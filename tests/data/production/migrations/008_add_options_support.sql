-- Models 008_add_options_support: option columns and checks; its view takes EXTRACT(EPOCH FROM date - date), an integer, so the file fails.
ALTER TABLE dispatch_recommendations
    ADD COLUMN IF NOT EXISTS strategy_type TEXT CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative'));
CREATE INDEX IF NOT EXISTS idx_dispatch_reco_strategy_type ON dispatch_recommendations (strategy_type)
    WHERE strategy_type IS NOT NULL;

ALTER TABLE dispatch_executions
    ADD COLUMN IF NOT EXISTS instrument_type TEXT DEFAULT 'STOCK' CHECK (instrument_type IN ('STOCK', 'CALL', 'PUT')),
    ADD COLUMN IF NOT EXISTS strike_price NUMERIC(10,2),
    ADD COLUMN IF NOT EXISTS expiration_date DATE,
    ADD COLUMN IF NOT EXISTS contracts INT,
    ADD COLUMN IF NOT EXISTS premium_paid NUMERIC(10,2),
    ADD COLUMN IF NOT EXISTS delta NUMERIC(10,4),
    ADD COLUMN IF NOT EXISTS theta NUMERIC(10,4),
    ADD COLUMN IF NOT EXISTS implied_volatility NUMERIC(10,4),
    ADD COLUMN IF NOT EXISTS option_symbol TEXT,
    ADD COLUMN IF NOT EXISTS strategy_type TEXT CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative'));
CREATE INDEX IF NOT EXISTS idx_dispatch_executions_instrument_type ON dispatch_executions (instrument_type);
CREATE INDEX IF NOT EXISTS idx_dispatch_executions_expiration_date ON dispatch_executions (expiration_date)
    WHERE expiration_date IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_dispatch_executions_strategy_type ON dispatch_executions (strategy_type)
    WHERE strategy_type IS NOT NULL;

-- not guarded: a second run fails here
ALTER TABLE dispatch_executions ADD CONSTRAINT check_options_metadata CHECK (
    instrument_type = 'STOCK'
    OR (instrument_type IN ('CALL', 'PUT') AND strike_price IS NOT NULL AND expiration_date IS NOT NULL));

-- date - date is an integer number of days; EXTRACT has no integer form
CREATE OR REPLACE VIEW active_options_positions AS
SELECT execution_id, ticker, instrument_type, strike_price, expiration_date, option_symbol, simulated_ts,
       EXTRACT(EPOCH FROM (expiration_date - CURRENT_DATE)) / 86400 AS days_to_expiration
  FROM dispatch_executions
 WHERE instrument_type IN ('CALL', 'PUT') AND expiration_date >= CURRENT_DATE
   AND execution_mode IN ('ALPACA_PAPER', 'LIVE');
