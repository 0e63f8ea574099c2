-- Models 1035_fix_dispatcher_competition: one execution per recommendation per account instead of per recommendation (not re-runnable).
DROP INDEX IF EXISTS ux_dispatch_execution_reco;
CREATE UNIQUE INDEX ux_dispatch_execution_reco_account ON dispatch_executions (recommendation_id, account_name);
