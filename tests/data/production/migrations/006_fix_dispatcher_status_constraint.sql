-- Models 006_fix_dispatcher_status_constraint: widens the recommendation status CHECK to the dispatcher's states.
ALTER TABLE dispatch_recommendations DROP CONSTRAINT IF EXISTS dispatch_recommendations_status_check;
ALTER TABLE dispatch_recommendations ADD CONSTRAINT dispatch_recommendations_status_check
    CHECK (status IN ('PENDING', 'PROCESSING', 'SIMULATED', 'SKIPPED', 'FAILED', 'EXECUTED', 'CANCELLED'));
