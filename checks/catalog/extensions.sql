-- Installed extensions and their versions (plpgsql comes with every database).
SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
WHERE e.oid >= '16384'::pg_catalog.oid
ORDER BY 1
