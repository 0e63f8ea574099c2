-- Test-only migration: objects of the kinds the reference schema lacks, so that drift in
-- triggers, views, functions and a validated CHECK can be seeded.
CREATE OR REPLACE FUNCTION touch_exit_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.exit_time := coalesce(NEW.exit_time, now());
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS trg_position_history_exit_time ON position_history;
CREATE TRIGGER trg_position_history_exit_time BEFORE INSERT ON position_history
    FOR EACH ROW EXECUTE FUNCTION touch_exit_time();

CREATE OR REPLACE VIEW open_positions AS
    SELECT id, ticker, side, quantity FROM active_positions WHERE status = 'open';

ALTER TABLE position_history DROP CONSTRAINT IF EXISTS chk_position_history_quantity;
ALTER TABLE position_history ADD CONSTRAINT chk_position_history_quantity
    CHECK (quantity IS NULL OR quantity > 0);

INSERT INTO schema_migrations (version) VALUES ('2026_03_01_0001_audit') ON CONFLICT (version) DO NOTHING;
