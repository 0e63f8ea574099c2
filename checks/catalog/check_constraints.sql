-- The constraints named %(name)s on one table, and the table's existence.
-- conenforced exists from PostgreSQL 18 on; to_jsonb reads it where present (NULL before).
SELECT rel.oid IS NOT NULL                             AS table_exists,
       c.conname                                       AS name,
       c.contype::text                                 AS type,
       pg_catalog.pg_get_constraintdef(c.oid)          AS definition,
       c.convalidated                                  AS validated,
       (pg_catalog.to_jsonb(c.*) ->> 'conenforced')::boolean AS enforced
FROM (SELECT to_regclass(pg_catalog.format('%%I.%%I', %(schema)s::text, %(table)s::text)) AS oid) rel
LEFT JOIN pg_catalog.pg_constraint c
       ON c.conrelid = rel.oid AND c.conname = %(name)s
