-- Casts made after initdb (CREATE CAST needs to own one of the two types): a cast from a
-- column's type decides what `x::text` runs, in the service's queries and the checks'.
SELECT pg_catalog.format_type(c.castsource, NULL)           AS source,
       pg_catalog.format_type(c.casttarget, NULL)           AS target,
       CASE WHEN c.castfunc <> '0'::pg_catalog.oid
            THEN c.castfunc::pg_catalog.regprocedure::text END AS function,
       c.castcontext::text                                  AS context,
       c.castmethod::text                                   AS method,
       ext.extname                                          AS extension
FROM pg_catalog.pg_cast c
LEFT JOIN pg_catalog.pg_depend ed
       ON ed.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass::pg_catalog.oid
      AND ed.objid = c.oid AND ed.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension ext ON ext.oid = ed.refobjid
WHERE c.oid >= '16384'::pg_catalog.oid
ORDER BY 1, 2
