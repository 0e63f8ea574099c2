-- A fragment (%(called)s): per root, the functions in "reached" that are not built in,
-- as schema.name(argument types), sorted. Built in: made by initdb (oid below 16384) in pg_catalog
-- and owned by the bootstrap superuser; anything else (an extension's, a migration's)
-- is only its author's word, whatever its volatility label.
SELECT r.root,
       pg_catalog.array_agg(DISTINCT pg_catalog.quote_ident(pn.nspname::text) || '.'
                            || pg_catalog.quote_ident(p.proname::text) || '('
                            || pg_catalog.oidvectortypes(p.proargtypes) || ')') AS functions
FROM reached r
JOIN pg_catalog.pg_proc p ON p.oid = r.objid
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE r.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid
  AND NOT (p.oid < '16384'::pg_catalog.oid AND pn.nspname = 'pg_catalog'
           AND p.proowner = '10'::pg_catalog.oid)
GROUP BY r.root
