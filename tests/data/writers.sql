-- Functions a custom SELECT could call to write: a row deleted, and one inserted whose
-- key comes from a sequence (a nextval survives a rollback); the second first tries to
-- turn its transaction's read-only mode off.
CREATE FUNCTION write_now() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO position_history (execution_uuid, ticker, side, quantity, entry_price,
                                  exit_price, exit_time)
    VALUES (gen_random_uuid(), 'X', 'long', 1, 1, 1, now());
    DELETE FROM active_positions WHERE ticker = 'AAPL';
    RETURN 1;
END $$;

CREATE FUNCTION write_anyway() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('transaction_read_only', 'off', true);
    RETURN write_now();
END $$;
