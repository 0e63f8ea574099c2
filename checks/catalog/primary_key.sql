-- The primary key columns of one table, in key order.
SELECT a.attname AS name
FROM pg_catalog.pg_index i
JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos) ON true
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = to_regclass(pg_catalog.format('%%I.%%I', %(schema)s::text, %(table)s::text))
  AND i.indisprimary
ORDER BY k.pos
