-- Row-level security policies: which rows each role sees or may write.
SELECT n.nspname                                            AS schema,
       c.relname                                            AS "table",
       p.polname                                            AS name,
       p.polcmd::text                                       AS command,
       p.polpermissive                                      AS permissive,
       ARRAY(SELECT CASE WHEN r = '0'::pg_catalog.oid THEN 'public' ELSE pg_catalog.pg_get_userbyid(r)::text END
             FROM pg_catalog.unnest(p.polroles) AS r ORDER BY 1)::text[] AS roles,
       CASE WHEN NOT (c.oid = ANY (%(locked)s::pg_catalog.oid[]))
            THEN pg_catalog.pg_get_expr(p.polqual, p.polrelid) END AS using_expr,
       CASE WHEN NOT (c.oid = ANY (%(locked)s::pg_catalog.oid[]))
            THEN pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) END AS check_expr
FROM pg_catalog.pg_policy p
JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid >= '16384'::pg_catalog.oid
ORDER BY 1, 2, 3
