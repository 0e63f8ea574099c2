-- Relations of every user schema: tables, partitioned and foreign tables, views,
-- materialized views, sequences. Objects made at initdb (oid < 16384) are the system's;
-- anything created later is captured, in information_schema or an extension too.
-- Definitions that would lock a relation held ACCESS EXCLUSIVE by another session
-- (%(locked)s) are left NULL, so that the capture never waits.
SELECT c.oid::bigint                                        AS oid,
       n.nspname                                            AS schema,
       c.relname                                            AS name,
       c.relkind::text                                      AS kind,
       c.relpersistence::text                               AS persistence,
       c.relrowsecurity                                     AS rls_enabled,
       c.relforcerowsecurity                                AS rls_forced,
       coalesce(c.reloptions, '{}')::text[]                 AS options,
       CASE WHEN c.relkind IN ('v', 'm') AND NOT lk.locked
            THEN pg_catalog.pg_get_viewdef(c.oid, true) END AS definition,
       CASE WHEN c.relkind = 'p'
            THEN pg_catalog.pg_get_partkeydef(c.oid) END    AS partition_key,
       CASE WHEN c.relispartition AND NOT lk.locked
            THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       ARRAY(SELECT pn.nspname::text || '.' || p.relname::text
             FROM pg_catalog.pg_inherits i
             JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
             WHERE i.inhrelid = c.oid ORDER BY i.inhseqno)::text[] AS parents,
       c.relreplident::text                                 AS replica_identity,
       -- a publication with a row filter (or a table without a replica identity) refuses
       -- the service's UPDATEs and DELETEs
       ARRAY(SELECT p.pubname::text || ' (' || pg_catalog.concat_ws(', ',
                        CASE WHEN p.pubinsert THEN 'insert' END,
                        CASE WHEN p.pubupdate THEN 'update' END,
                        CASE WHEN p.pubdelete THEN 'delete' END,
                        CASE WHEN p.pubtruncate THEN 'truncate' END) || ')'
                    || coalesce(' WHERE ' || pg_catalog.pg_get_expr(pr.prqual, pr.prrelid), '')
                    || coalesce(' COLUMNS ' || pr.prattrs::text, '')
             FROM pg_catalog.pg_publication p
             LEFT JOIN pg_catalog.pg_publication_rel pr
                    ON pr.prpubid = p.oid AND pr.prrelid = c.oid
             WHERE c.relkind IN ('r', 'p')
               AND (p.puballtables OR pr.prrelid IS NOT NULL OR EXISTS (
                    SELECT 1 FROM pg_catalog.pg_publication_namespace pn
                    WHERE pn.pnpubid = p.oid AND pn.pnnspid = c.relnamespace))
             ORDER BY 1)::text[]                            AS publications,
       ext.extname                                          AS extension,
       lk.locked                                            AS locked,
       greatest(c.relpages, 0)::bigint                      AS pages,
       -- functions not built in that an INSERT of a row with every value given runs,
       -- besides its triggers and rules: its constraints, its columns' domains, generated
       -- columns, index expressions and predicates, the partition key
       coalesce(calls.functions, '{}')::text[]              AS insert_calls
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_depend ed
       ON ed.classid = 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid AND ed.objid = c.oid
      AND ed.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension ext ON ext.oid = ed.refobjid
LEFT JOIN (WITH RECURSIVE reached(root, classid, objid) AS (       -- one walk for all tables
               SELECT t.oid, 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, t.oid
               FROM pg_catalog.pg_class t
               WHERE t.relkind IN ('r', 'p', 'f') AND t.oid >= '16384'::pg_catalog.oid
               UNION ALL
               SELECT k.conrelid, 'pg_catalog.pg_constraint'::pg_catalog.regclass::pg_catalog.oid,
                      k.oid
               FROM pg_catalog.pg_constraint k WHERE k.conrelid >= '16384'::pg_catalog.oid
               UNION ALL
               SELECT i.indrelid, 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid,
                      i.indexrelid
               FROM pg_catalog.pg_index i WHERE i.indrelid >= '16384'::pg_catalog.oid
               UNION ALL
               SELECT ad.adrelid, 'pg_catalog.pg_attrdef'::pg_catalog.regclass::pg_catalog.oid,
                      ad.oid
               FROM pg_catalog.pg_attrdef ad
               JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
               WHERE a.attgenerated <> ''
               %(reach)s)
           %(called)s) AS calls ON calls.root = c.oid
CROSS JOIN LATERAL (
    SELECT c.oid = ANY (%(locked)s::pg_catalog.oid[])
        OR (c.relkind IN ('v', 'm') AND EXISTS (
            SELECT 1 FROM pg_catalog.pg_rewrite r
            JOIN pg_catalog.pg_depend d
              ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass::pg_catalog.oid AND d.objid = r.oid
            WHERE r.ev_class = c.oid
              AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid
              AND d.refobjid = ANY (%(locked)s::pg_catalog.oid[]))) AS locked
) lk
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
  AND c.oid >= '16384'::pg_catalog.oid
  AND n.nspname <> 'pg_toast' AND n.nspname::text !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 2, 3
