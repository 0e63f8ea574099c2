-- Operators made after initdb (CREATE OPERATOR needs only CREATE on a schema): on a type
-- without a built-in operator of that name, or behind a search_path that puts their schema
-- before pg_catalog, one decides what `=` means in every query that writes it unqualified.
SELECT n.nspname                                            AS schema,
       o.oprname::text || '('
       || CASE WHEN o.oprleft = '0'::pg_catalog.oid THEN 'NONE'
               ELSE pg_catalog.format_type(o.oprleft, NULL) END || ', '
       || pg_catalog.format_type(o.oprright, NULL) || ')' AS name,
       o.oprcode::pg_catalog.regprocedure::text             AS function,
       pg_catalog.format_type(o.oprresult, NULL)            AS result,
       CASE WHEN o.oprcom <> '0'::pg_catalog.oid
            THEN o.oprcom::pg_catalog.regoperator::text END AS commutator,
       CASE WHEN o.oprnegate <> '0'::pg_catalog.oid
            THEN o.oprnegate::pg_catalog.regoperator::text END AS negator,
       CASE WHEN o.oprrest <> '0'::pg_catalog.oid
            THEN o.oprrest::pg_catalog.regprocedure::text END AS restrict,
       CASE WHEN o.oprjoin <> '0'::pg_catalog.oid
            THEN o.oprjoin::pg_catalog.regprocedure::text END AS "join",
       o.oprcanmerge                                        AS merges,
       o.oprcanhash                                         AS hashes,
       ext.extname                                          AS extension
FROM pg_catalog.pg_operator o
JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
LEFT JOIN pg_catalog.pg_depend ed
       ON ed.classid = 'pg_catalog.pg_operator'::pg_catalog.regclass::pg_catalog.oid
      AND ed.objid = o.oid AND ed.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension ext ON ext.oid = ed.refobjid
WHERE o.oid >= '16384'::pg_catalog.oid
  AND n.nspname::text !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 1, 2
