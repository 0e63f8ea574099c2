-- Table constraints of every kind but NOT NULL (PostgreSQL 18 catalogs those as
-- constraints; nullability is compared on the columns). conenforced exists from 18 on.
SELECT n.nspname AS schema, c.relname AS "table", con.conname AS name,
       con.contype::text AS type,
       pg_catalog.pg_get_constraintdef(con.oid) AS definition,
       con.convalidated AS validated,
       COALESCE((pg_catalog.to_jsonb(con.*) ->> 'conenforced')::boolean, true) AS enforced
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype <> 'n'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
ORDER BY 1, 2, 3
