-- Models 011_add_learning_infrastructure: snapshot columns, then ALTERs a table named dispatcher_execution that does not exist, so the file fails.
ALTER TABLE dispatch_recommendations
    ADD COLUMN features_snapshot JSONB,
    ADD COLUMN sentiment_snapshot JSONB;

ALTER TABLE dispatcher_execution
    ADD COLUMN features_snapshot JSONB,
    ADD COLUMN sentiment_snapshot JSONB;

CREATE INDEX idx_dispatch_recs_features_gin ON dispatch_recommendations USING gin (features_snapshot);
CREATE INDEX idx_dispatch_recs_sentiment_gin ON dispatch_recommendations USING gin (sentiment_snapshot);
CREATE INDEX idx_dispatcher_exec_features_gin ON dispatcher_execution USING gin (features_snapshot);

-- outcome labels aimed at position_history, which only a later file creates
ALTER TABLE position_history
    ADD COLUMN win_loss_label SMALLINT CHECK (win_loss_label IN (-1, 0, 1)),
    ADD COLUMN r_multiple NUMERIC(8,4),
    ADD COLUMN holding_minutes INT,
    ADD COLUMN exit_reason_norm VARCHAR(32);

INSERT INTO schema_migrations (version, applied_at) VALUES (11, now())
    ON CONFLICT (version) DO NOTHING;
