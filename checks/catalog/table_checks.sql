-- Every CHECK constraint on one table (evidence when the expected one is missing).
SELECT c.conname AS name, pg_catalog.pg_get_constraintdef(c.oid) AS definition
FROM pg_catalog.pg_constraint c
WHERE c.conrelid = to_regclass(pg_catalog.format('%%I.%%I', %(schema)s::text, %(table)s::text))
  AND c.contype = 'c'
ORDER BY c.conname
