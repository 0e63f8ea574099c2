-- Every index on one table, with its key columns (NULL for expressions) and health flags.
SELECT ic.relname                                   AS name,
       ARRAY(SELECT a.attname
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos)
             LEFT JOIN pg_catalog.pg_attribute a
                    ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.pos <= i.indnkeyatts
             ORDER BY k.pos)::text[]                AS columns,
       i.indisunique                                AS is_unique,
       i.indisprimary                               AS is_primary,
       i.indisvalid                                 AS is_valid,
       i.indisready                                 AS is_ready,
       i.indislive                                  AS is_live,
       i.indpred IS NOT NULL                        AS is_partial,
       pg_catalog.pg_get_indexdef(i.indexrelid)     AS definition
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = to_regclass(pg_catalog.format('%%I.%%I', %(schema)s::text, %(table)s::text))
ORDER BY ic.relname
