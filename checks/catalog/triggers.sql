-- User triggers (not the internal ones behind foreign keys): definition, enabled state
-- (O origin, D disabled, R replica, A always) and the function they run.
SELECT n.nspname                                            AS schema,
       c.relname                                            AS "table",
       t.tgname                                             AS name,
       CASE WHEN NOT (c.oid = ANY (%(locked)s::pg_catalog.oid[]))
            THEN pg_catalog.pg_get_triggerdef(t.oid) END    AS definition,
       t.tgenabled::text                                    AS enabled,
       t.tgfoid::pg_catalog.regprocedure::text              AS function
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal
  AND c.oid >= '16384'::pg_catalog.oid
  AND n.nspname <> 'pg_toast' AND n.nspname::text !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 1, 2, 3
