-- Rewrite rules other than a view's own _RETURN rule: a rule can redirect or add to
-- every INSERT, UPDATE or DELETE on its table.
SELECT n.nspname                                            AS schema,
       c.relname                                            AS "table",
       r.rulename                                           AS name,
       CASE WHEN NOT (c.oid = ANY (%(locked)s::pg_catalog.oid[]))
            THEN pg_catalog.pg_get_ruledef(r.oid) END       AS definition,
       r.ev_type::text                                      AS event,
       r.ev_enabled::text                                   AS enabled
FROM pg_catalog.pg_rewrite r
JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE r.rulename <> '_RETURN'
  AND c.oid >= '16384'::pg_catalog.oid
  AND n.nspname <> 'pg_toast' AND n.nspname::text !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 1, 2, 3
