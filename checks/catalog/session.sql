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
       %(locked)s::bigint[]                                 AS locked,
       -- the timeouts this session began with (a role's or database's own: ALTER ROLE /
       -- DATABASE ... SET, or the server's) that the suite's pins override, as sentences;
       -- every operator on exactly its pg_catalog types (a user's operator on other types
       -- would be chosen over a coercion: see test_trust's hijack), no casts
       ARRAY(
         SELECT coalesce(w.level, 'the server''s or the connection''s') || ' ' || p.name
                || ' ' || coalesce(w.value, CASE WHEN p.reset_val ~ '^[0-9]+000$'
                                                 THEN pg_catalog."left"(p.reset_val, -3) || 's'
                                                 ELSE p.reset_val || 'ms' END)
                || ' was overridden by the suite''s ' || pg_catalog.current_setting(p.name)
         FROM pg_catalog.pg_settings p
         LEFT JOIN LATERAL (
           SELECT CASE WHEN s.setrole <> '0'::oid AND s.setdatabase <> '0'::oid
                       THEN 'the role''s (in this database)'
                       WHEN s.setrole <> '0'::oid THEN 'the role''s'
                       WHEN s.setdatabase <> '0'::oid THEN 'the database''s'
                       ELSE 'every role''s (ALTER ROLE ALL)' END AS level,
                  pg_catalog.split_part(c.setting, '=', 2) AS value
           FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) AS c(setting)
           WHERE pg_catalog.split_part(c.setting, '=', 1) = p.name
             AND s.setrole IN ('0'::oid, (SELECT l.oid FROM pg_catalog.pg_roles l
                                   WHERE l.rolname = session_user))
             AND s.setdatabase IN ('0'::oid, (SELECT d.oid FROM pg_catalog.pg_database d
                                       WHERE d.datname = pg_catalog.current_database()))
           -- PostgreSQL's precedence: role in database, role, database, every role
           ORDER BY s.setrole <> '0'::oid AND s.setdatabase <> '0'::oid DESC,
                    s.setrole <> '0'::oid DESC, s.setdatabase <> '0'::oid DESC
           LIMIT 1) AS w ON true
         WHERE p.name IN ('statement_timeout', 'lock_timeout',
                          'idle_in_transaction_session_timeout')
           AND p.reset_val <> p.setting
           AND (w.level IS NOT NULL OR p.reset_val <> p.boot_val)
         ORDER BY p.name)                                   AS overridden
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user
