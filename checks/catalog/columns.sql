-- The columns of one table: type, nullability, default, identity/generated, and whether
-- the named constraint (if any) references the column.
SELECT a.attname                                        AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod)  AS type,
       t.typcategory::text                              AS category,
       a.attnotnull                                     AS not_null,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid)       AS default_expr,
       a.attidentity::text                              AS identity,
       a.attgenerated::text                             AS generated,
       COALESCE(a.attnum = ANY (c.conkey), false)       AS in_constraint
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_catalog.pg_constraint c ON c.conrelid = a.attrelid AND c.conname = %(constraint)s
WHERE a.attrelid = to_regclass(pg_catalog.format('%%I.%%I', %(schema)s::text, %(table)s::text))
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attnum
