-- Event triggers (creating one needs a superuser): a function run on every DDL command.
SELECT e.evtname                                            AS name,
       e.evtevent                                           AS event,
       e.evtfoid::pg_catalog.regprocedure::text             AS function,
       e.evtenabled::text                                   AS enabled,
       coalesce(e.evttags, '{}')::text[]                    AS tags,
       ext.extname                                          AS extension
FROM pg_catalog.pg_event_trigger e
LEFT JOIN pg_catalog.pg_depend ed
       ON ed.classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass::pg_catalog.oid
      AND ed.objid = e.oid AND ed.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension ext ON ext.oid = ed.refobjid
ORDER BY 1
