-- Indexes with their definition, key columns (NULL for an expression), predicate, and
-- health: an index that is not valid, ready or live is a failed CREATE INDEX CONCURRENTLY
-- or one being dropped.
SELECT i.indexrelid::bigint                                 AS oid,
       n.nspname                                            AS schema,
       ic.relname                                           AS name,
       c.relname                                            AS "table",
       CASE WHEN NOT lk.locked
            THEN pg_catalog.pg_get_indexdef(i.indexrelid) END AS definition,
       i.indisunique                                        AS "unique",
       i.indisprimary                                       AS "primary",
       i.indisexclusion                                     AS exclusion,
       i.indimmediate                                       AS immediate,
       i.indisvalid                                         AS valid,
       i.indisready                                         AS ready,
       i.indislive                                          AS live,
       i.indpred IS NOT NULL                                AS partial,
       CASE WHEN i.indpred IS NOT NULL AND NOT lk.locked
            THEN pg_catalog.pg_get_expr(i.indpred, i.indrelid) END AS predicate,
       coalesce((pg_catalog.to_jsonb(i.*) ->> 'indnullsnotdistinct'::text)::boolean, false)
                                                            AS nulls_not_distinct,
       ARRAY(SELECT a.attname
             FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, pos)
             LEFT JOIN pg_catalog.pg_attribute a
                    ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.pos <= i.indnkeyatts
             ORDER BY k.pos)::text[]                        AS columns,
       ext.extname                                          AS extension
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_depend ed
       ON ed.classid = 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid AND ed.objid = c.oid
      AND ed.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension ext ON ext.oid = ed.refobjid
CROSS JOIN LATERAL (SELECT c.oid = ANY (%(locked)s::pg_catalog.oid[]) AS locked) lk
WHERE c.oid >= '16384'::pg_catalog.oid
  AND n.nspname <> 'pg_toast' AND n.nspname::text !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 2, 3
