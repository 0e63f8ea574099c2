-- Table constraints of every kind but NOT NULL (PostgreSQL 18 catalogs those as
-- constraints; nullability is compared on the columns). conenforced exists from 18 on.
-- volatile_calls: functions a CHECK calls that are not IMMUTABLE (a probe would run them).
-- user_calls: functions not built in that a CHECK calls, through operators, casts and domains
-- too (one redefined later changes the rule, and PostgreSQL re-checks no existing row;
-- evaluating one runs its author's code, whatever its volatility label says).
SELECT con.oid::bigint                                      AS oid,
       n.nspname                                            AS schema,
       c.relname                                            AS "table",
       con.conname                                          AS name,
       con.contype::text                                    AS type,
       CASE WHEN NOT (c.oid = ANY (%(locked)s::pg_catalog.oid[]))
            THEN pg_catalog.pg_get_constraintdef(con.oid) END AS definition,
       con.convalidated                                     AS validated,
       coalesce((pg_catalog.to_jsonb(con.*) ->> 'conenforced'::text)::boolean, true)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg   -- a foreign key's own
                       WHERE tg.tgconstraint = con.oid AND tg.tgisinternal -- triggers, off
                         AND tg.tgenabled IN ('D', 'R'))    AS enforced,
       con.condeferrable                                    AS deferrable,
       con.condeferred                                      AS deferred,
       con.connoinherit                                     AS no_inherit,
       ARRAY(SELECT a.attname
             FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY AS k(attnum, pos)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.pos)::text[]                        AS columns,
       (SELECT rn.nspname::text || '.' || r.relname::text
        FROM pg_catalog.pg_class r JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
        WHERE r.oid = con.confrelid)                        AS "references",
       ARRAY(SELECT DISTINCT p.oid::pg_catalog.regprocedure::text
             FROM pg_catalog.regexp_matches(coalesce(con.conbin::text, ''),
                                            ':(?:funcid|opfuncid) (\d+)', 'g') AS m
             JOIN pg_catalog.pg_proc p ON p.oid = m[1]::pg_catalog.oid
             WHERE p.provolatile <> 'i')::text[]            AS volatile_calls,
       coalesce(calls.functions, '{}')::text[]              AS user_calls
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
LEFT JOIN (WITH RECURSIVE reached(root, classid, objid) AS (     -- one walk for all CHECKs
               SELECT k.oid, 'pg_catalog.pg_constraint'::pg_catalog.regclass::pg_catalog.oid,
                      k.oid
               FROM pg_catalog.pg_constraint k
               WHERE k.contype = 'c' AND k.conrelid >= '16384'::pg_catalog.oid
               %(reach)s)
           %(called)s) AS calls ON calls.root = con.oid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype <> 'n'
  AND c.oid >= '16384'::pg_catalog.oid
  AND n.nspname <> 'pg_toast' AND n.nspname::text !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 2, 3, 4
