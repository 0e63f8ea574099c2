-- Indexes with their definition and health (valid, ready, live).
SELECT n.nspname AS schema, ic.relname AS name, c.relname AS "table",
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition,
       i.indisunique AS "unique", i.indisprimary AS "primary",
       i.indisvalid AS valid, i.indisready AS ready, i.indislive AS live
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
ORDER BY 1, 2
