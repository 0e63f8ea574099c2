-- Plain ALTER TABLE statements, no DO blocks: a guard on the name alone once kept an old
-- definition. NOT VALID so existing rows are not scanned under an exclusive lock.
ALTER TABLE active_positions DROP CONSTRAINT IF EXISTS chk_active_positions_side;
ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_side
    CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID;

ALTER TABLE active_positions DROP CONSTRAINT IF EXISTS chk_active_positions_strategy_type;
ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type
    CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative') OR strategy_type IS NULL) NOT VALID;

ALTER TABLE position_history DROP CONSTRAINT IF EXISTS chk_position_history_side;
ALTER TABLE position_history ADD CONSTRAINT chk_position_history_side
    CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID;

ALTER TABLE position_history DROP CONSTRAINT IF EXISTS chk_position_history_strategy_type;
ALTER TABLE position_history ADD CONSTRAINT chk_position_history_strategy_type
    CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative') OR strategy_type IS NULL) NOT VALID;

INSERT INTO schema_migrations (version) VALUES ('2026_02_02_0003_add_constraints_no_do') ON CONFLICT (version) DO NOTHING;
