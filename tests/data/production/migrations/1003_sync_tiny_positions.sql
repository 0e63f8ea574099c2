-- Models 1003_sync_tiny_positions: data only, four tiny-account option positions (no unique key, so they always insert); records its own ledger row.
INSERT INTO active_positions (ticker, instrument_type, strategy_type, side, quantity, entry_price, entry_time,
                              strike_price, expiration_date, option_symbol, stop_loss, take_profit,
                              max_hold_minutes, current_price, status, account_name)
VALUES ('AMD', 'PUT',  'swing_trade', 'long', 1, 10.50, now() - interval '1 day', 205.0, '2026-02-20', 'AMD260220P00205000', 6.30, 18.90, 240, 7.00, 'open', 'tiny'),
       ('CRM', 'CALL', 'swing_trade', 'long', 1,  6.05, now() - interval '1 day', 200.0, '2026-02-13', 'CRM260213C00200000', 3.63, 10.89, 240, 1.88, 'open', 'tiny'),
       ('BAC', 'CALL', 'swing_trade', 'long', 1,  1.10, now() - interval '1 day',  56.0, '2026-02-20', 'BAC260220C00056000', 0.66,  1.98, 240, 1.36, 'open', 'tiny'),
       ('PFE', 'CALL', 'swing_trade', 'long', 1,  0.30, now() - interval '1 day',  27.5, '2026-02-20', 'PFE260220C00027500', 0.18,  0.54, 240, 0.34, 'open', 'tiny')
ON CONFLICT DO NOTHING;

INSERT INTO schema_migrations (version) VALUES ('1003_sync_tiny_positions') ON CONFLICT (version) DO NOTHING;
