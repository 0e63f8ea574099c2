-- Models 010_add_ai_learning_tables: its learning tables are out of scope; it records its ledger row as the integer 10 (stored as '10').
INSERT INTO schema_migrations (version, applied_at) VALUES (10, now())
    ON CONFLICT (version) DO NOTHING;
