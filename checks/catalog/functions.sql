-- Functions and procedures: the full definition (language, volatility, security and body
-- as PostgreSQL prints them). Aggregates and window functions have no such definition.
SELECT n.nspname                                            AS schema,
       p.proname::text || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS name,
       p.prokind::text                                      AS kind,
       CASE WHEN p.prokind IN ('f', 'p') AND NOT EXISTS (
                SELECT 1 FROM pg_catalog.pg_depend d
                WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid AND d.objid = p.oid
                  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid
                  AND d.refobjid = ANY (%(locked)s::pg_catalog.oid[]))
            THEN pg_catalog.pg_get_functiondef(p.oid) END  AS definition,
       p.provolatile::text                                  AS volatility,
       p.prosecdef                                          AS security_definer,
       ext.extname                                          AS extension
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_catalog.pg_depend ed
       ON ed.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid AND ed.objid = p.oid
      AND ed.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension ext ON ext.oid = ed.refobjid
WHERE p.oid >= '16384'::pg_catalog.oid
  -- pg_toast is not left out: it holds no function or type of its own
  AND n.nspname::text !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 1, 2
