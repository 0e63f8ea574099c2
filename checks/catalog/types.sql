-- User-defined types that change what a column accepts: enums (labels in order),
-- domains (base type, NOT NULL, default, CHECKs), composite and range types.
SELECT n.nspname                                            AS schema,
       t.typname                                            AS name,
       t.typtype::text                                      AS kind,
       ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
             WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)::text[] AS labels,
       CASE WHEN t.typtype = 'd'
            THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS base_type,
       t.typnotnull                                         AS not_null,
       t.typdefault                                         AS "default",
       ARRAY(SELECT con.conname::text || ': ' || pg_catalog.pg_get_constraintdef(con.oid)
             FROM pg_catalog.pg_constraint con
             WHERE con.contypid = t.oid ORDER BY con.conname)::text[] AS checks,
       ext.extname                                          AS extension
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class tc ON tc.oid = t.typrelid
LEFT JOIN pg_catalog.pg_depend ed
       ON ed.classid = 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid AND ed.objid = t.oid
      AND ed.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension ext ON ext.oid = ed.refobjid
WHERE t.oid >= '16384'::pg_catalog.oid
  AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND tc.relkind = 'c'))
  -- pg_toast is not left out: it holds no function or type of its own
  AND n.nspname::text !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 1, 2
