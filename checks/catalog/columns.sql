-- Columns of user tables: type (as PostgreSQL prints it, and its length or precision),
-- nullability, default, identity, generated expression, and a collation other than the
-- type's own. Defaults of tables locked by another session are left NULL.
-- volatile_calls: non-IMMUTABLE functions its domain's CHECKs call (a probe would run them).
SELECT c.oid::bigint                                        AS relation,
       n.nspname                                            AS schema,
       c.relname                                            AS "table",
       a.attname                                            AS name,
       a.attnum::int                                        AS position,
       pg_catalog.format_type(a.atttypid, a.atttypmod)      AS type,
       pg_catalog.format_type(a.atttypid, NULL)             AS base_type,
       a.atttypmod::int                                     AS typmod,
       t.typcategory::text                                  AS category,
       t.typtype::text                                      AS type_kind,
       t.oid >= '16384'::pg_catalog.oid                     AS user_type,
       a.attnotnull AND NOT EXISTS (                        -- 18: NOT NULL NOT VALID
           SELECT 1 FROM pg_catalog.pg_constraint nn
           WHERE nn.conrelid = a.attrelid AND nn.contype = 'n' AND NOT nn.convalidated
             AND a.attnum = ANY (nn.conkey))                AS not_null,
       ad.oid IS NOT NULL                                   AS has_default,
       CASE WHEN ad.oid IS NOT NULL AND NOT (c.oid = ANY (%(locked)s::pg_catalog.oid[]))
            THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END AS "default",
       a.attidentity::text                                  AS identity,
       a.attgenerated::text                                 AS generated,
       CASE WHEN a.attcollation <> '0'::pg_catalog.oid AND a.attcollation <> t.typcollation
            THEN cn.nspname::text || '.' || co.collname::text END       AS collation,
       ARRAY(WITH RECURSIVE domains(oid) AS (
                 SELECT t.oid WHERE t.typtype = 'd'
                 UNION
                 SELECT b.typbasetype FROM pg_catalog.pg_type b JOIN domains d ON b.oid = d.oid
                 WHERE b.typtype = 'd')
             SELECT DISTINCT p.oid::pg_catalog.regprocedure::text
             FROM domains d
             JOIN pg_catalog.pg_constraint dc ON dc.contypid = d.oid
             CROSS JOIN LATERAL pg_catalog.regexp_matches(coalesce(dc.conbin::text, ''),
                                            ':(?:funcid|opfuncid) (\d+)', 'g') AS m
             JOIN pg_catalog.pg_proc p ON p.oid = m[1]::pg_catalog.oid
             WHERE p.provolatile <> 'i')::text[]            AS volatile_calls
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
WHERE c.relkind IN ('r', 'p', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
  AND c.oid >= '16384'::pg_catalog.oid
  AND n.nspname <> 'pg_toast' AND n.nspname::text !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 2, 3, 5
