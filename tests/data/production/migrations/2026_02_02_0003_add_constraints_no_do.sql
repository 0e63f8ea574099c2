-- Models 2026_02_02_0003_add_constraints_no_do: four DO blocks re-adding the chk_* constraints NOT VALID ('conservative', not 'stock'), first writer wins; records its own ledger row.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'chk_active_positions_side') THEN
        ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_side
            CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID;
    END IF;
END $$;

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'chk_active_positions_strategy_type') THEN
        ALTER TABLE active_positions ADD CONSTRAINT chk_active_positions_strategy_type
            CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative') OR strategy_type IS NULL) NOT VALID;
    END IF;
END $$;

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'chk_position_history_side') THEN
        ALTER TABLE position_history ADD CONSTRAINT chk_position_history_side
            CHECK (side IN ('long', 'short', 'call', 'put')) NOT VALID;
    END IF;
END $$;

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'chk_position_history_strategy_type') THEN
        ALTER TABLE position_history ADD CONSTRAINT chk_position_history_strategy_type
            CHECK (strategy_type IN ('day_trade', 'swing_trade', 'conservative') OR strategy_type IS NULL) NOT VALID;
    END IF;
END $$;

INSERT INTO schema_migrations (version) VALUES ('2026_02_02_0003_add_constraints_no_do') ON CONFLICT (version) DO NOTHING;
