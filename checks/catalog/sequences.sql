-- Sequences: type, start, increment, bounds, cycle, and the column that owns them
-- (serial or identity). The current value is data, not schema, and is not read here.
SELECT n.nspname                                            AS schema,
       c.relname                                            AS name,
       pg_catalog.format_type(s.seqtypid, NULL)             AS type,
       s.seqstart::text                                     AS start,
       s.seqincrement::text                                 AS increment,
       s.seqmin::text                                       AS min,
       s.seqmax::text                                       AS max,
       s.seqcycle                                           AS cycle,
       (SELECT tn.nspname::text || '.' || t.relname::text || '.' || a.attname::text
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
        JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid AND d.objid = c.oid
          AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid
          AND d.deptype IN ('a', 'i')
        LIMIT 1)                                            AS owned_by
FROM pg_catalog.pg_sequence s
JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid >= '16384'::pg_catalog.oid
  AND n.nspname <> 'pg_toast' AND n.nspname::text !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 1, 2
