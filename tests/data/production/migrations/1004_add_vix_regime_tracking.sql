-- Models 1004_add_vix_regime_tracking: vix_history is out of scope; only the file's closing column listing is kept.
SELECT column_name, data_type, is_nullable FROM information_schema.columns
 WHERE table_name = 'vix_history' ORDER BY ordinal_position;
