-- Settings of ALTER DATABASE / ALTER ROLE ... SET that apply to sessions of this database:
-- the database's own, each role's (everywhere, or in this database), and ALTER ROLE ALL's.
-- They change behaviour without touching the schema (default_transaction_read_only,
-- session_replication_role = replica, a search_path that puts a schema before pg_catalog).
SELECT CASE WHEN s.setrole = '0'::pg_catalog.oid AND s.setdatabase = '0'::pg_catalog.oid
                 THEN 'all roles'
            WHEN s.setrole = '0'::pg_catalog.oid THEN 'database'
            WHEN s.setdatabase = '0'::pg_catalog.oid THEN 'role ' || r.rolname::text
            ELSE 'role ' || r.rolname::text || ' in database' END AS scope,
       pg_catalog.split_part(c.setting, '=', 1)             AS name,
       pg_catalog.substr(c.setting, pg_catalog.strpos(c.setting, '=') + 1) AS value
FROM pg_catalog.pg_db_role_setting s
LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
CROSS JOIN LATERAL pg_catalog.unnest(s.setconfig) AS c(setting)
WHERE s.setdatabase = '0'::pg_catalog.oid
   OR s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d
                       WHERE d.datname = pg_catalog.current_database())
ORDER BY 1, 2
