-- Models 009_add_position_tracking: active_positions + position_events; the FK names dispatch_executions(id), which does not exist, so the file fails.
CREATE TABLE IF NOT EXISTS active_positions (
    id                     SERIAL PRIMARY KEY,
    execution_id           INTEGER REFERENCES dispatch_executions (id),
    ticker                 VARCHAR(10) NOT NULL,
    instrument_type        VARCHAR(20) NOT NULL,
    strategy_type          VARCHAR(20) NOT NULL,
    side                   VARCHAR(10) NOT NULL,
    quantity               DECIMAL(12,4) NOT NULL,
    entry_price            DECIMAL(12,4) NOT NULL,
    entry_time             TIMESTAMP NOT NULL,
    strike_price           DECIMAL(12,4),
    expiration_date        DATE,
    stop_loss              DECIMAL(12,4),
    take_profit            DECIMAL(12,4),
    max_hold_minutes       INTEGER,
    bracket_order_accepted BOOLEAN DEFAULT FALSE,
    stop_order_id          VARCHAR(100),
    target_order_id        VARCHAR(100),
    current_price          DECIMAL(12,4),
    current_pnl_dollars    DECIMAL(12,4),
    current_pnl_percent    DECIMAL(8,4),
    last_checked_at        TIMESTAMP,
    check_count            INTEGER DEFAULT 0,
    status                 VARCHAR(20) DEFAULT 'open',
    close_reason           VARCHAR(50),
    created_at             TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at             TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    closed_at              TIMESTAMP
);
CREATE INDEX idx_active_positions_status ON active_positions (status);
CREATE INDEX idx_active_positions_ticker ON active_positions (ticker);
CREATE INDEX idx_active_positions_execution ON active_positions (execution_id);
CREATE INDEX idx_active_positions_expiration ON active_positions (expiration_date) WHERE expiration_date IS NOT NULL;
CREATE INDEX idx_active_positions_entry_time ON active_positions (entry_time);

CREATE TABLE IF NOT EXISTS position_events (
    id          SERIAL PRIMARY KEY,
    position_id INTEGER REFERENCES active_positions (id),
    event_type  VARCHAR(50) NOT NULL,
    event_data  JSONB,
    created_at  TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_position_events_position ON position_events (position_id);
CREATE INDEX idx_position_events_type ON position_events (event_type);
CREATE INDEX idx_position_events_created ON position_events (created_at);

-- the real file also grants to a role that production does not have
GRANT SELECT, INSERT, UPDATE ON active_positions TO pipeline_user;
GRANT SELECT, INSERT ON position_events TO pipeline_user;
