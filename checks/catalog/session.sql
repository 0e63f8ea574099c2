-- Who and what answers: server, database, role and its privileges that matter to the
-- checks, and the relations locked by other sessions (see locked.sql).
SELECT pg_catalog.current_setting('server_version')         AS server_version,
       pg_catalog.current_setting('server_version_num')::int AS server_version_num,
       pg_catalog.current_database()::text                  AS database,
       current_user::text                                   AS "user",
       r.rolsuper                                           AS superuser,
       r.rolbypassrls                                       AS bypass_rls,
       pg_catalog.pg_is_in_recovery()                       AS in_recovery,
       pg_catalog.current_setting('TimeZone')               AS timezone,
       pg_catalog.now()::text                               AS now,
       %(locked)s::bigint[]                                 AS locked
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user
