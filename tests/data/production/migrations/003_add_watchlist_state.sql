-- Models 003_add_watchlist_state: its watchlist table is out of scope; only its own ledger row is kept.
INSERT INTO schema_migrations (version) VALUES ('003_add_watchlist_state')
    ON CONFLICT (version) DO NOTHING;
