-- Does the table exist, and does it have the column? (NULL-safe for missing tables.)
SELECT rel.oid IS NOT NULL AS table_exists,
       EXISTS (
           SELECT 1
           FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = rel.oid
             AND a.attname = %(column)s
             AND a.attnum > 0
             AND NOT a.attisdropped
       ) AS column_exists
FROM (SELECT to_regclass(pg_catalog.format('%%I.%%I', %(schema)s::text, %(table)s::text)) AS oid) rel
