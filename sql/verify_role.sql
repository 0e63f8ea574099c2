-- The role ops-verify runs as: what the checks need, and no more than that.
--
--   psql "$OWNER_DSN" -v role=ops_verify -f sql/verify_role.sql               # with probes
--   psql "$OWNER_DSN" -v role=ops_verify_ro -v probes=off -f sql/verify_role.sql  # --read-only
--   ... -v schema=trading                      the verified tables' schema (default public)
--   ... -v tables=active_positions,fills       SELECT on these tables only (see below)
--   ... -v standby=on                          also verifies read replicas (pg_read_all_stats)
--
-- Run it as the owner of the verified tables, the role the migrations run as (on RDS: the
-- master user), in the verified database; it is idempotent, so the deploy job can run it
-- after each migration. Then give the role a password (\password ops_verify) or IAM
-- authentication. What each grant is for:
--   CONNECT, USAGE on the schema   reach the tables
--   SELECT on every table of the   the data checks (duplicates, NOT VALID violations,
--   schema, now and later          freshness, custom SQL) and the probes' base row
--   INSERT on the tables that      enforcement probes only (probes=on); every probe runs in
--   have a CHECK rule              a transaction that is always rolled back
--   pg_read_all_stats              standby=on only: on a standby, the WAL receiver's state
--                                  (pg_stat_wal_receiver shows other roles its pid alone).
--                                  Without it a standby whose last replayed transaction is
--                                  older than max_replica_lag (an idle primary) cannot be
--                                  proven in step, and its checks error. It also shows every
--                                  session's query text: grant it only to a role that
--                                  verifies standbys. (The recovery functions,
--                                  pg_is_wal_replay_paused() and the replay positions, need
--                                  no grant.) Run this on the primary: standbys follow.
--   (INSERT on an [[upserts]]      optional: lets PostgreSQL itself plan the upsert (EXPLAIN,
--    table)                        never executed); without it the catalog answers)
--   nothing else                   the catalog (pg_catalog) is readable by every role; no
--                                  sequence privilege is needed: probes give keys explicit
--                                  values; the lock watcher's functions (pg_lock_status,
--                                  pg_blocking_pids, pg_stat_get_activity, pg_cancel_backend
--                                  on the role's own sessions) are every role's
-- A CONNECTION LIMIT on the role must allow [settings] concurrency + 1 sessions (the lock
-- watcher's); fewer, and every database check errors naming the limit.
--
-- Adding a table: SELECT on it comes with it (ALTER DEFAULT PRIVILEGES, for tables the
-- running role creates later), so a new [[unique]] or [[custom_sql]] entry needs no grant.
-- A new table with a CHECK rule to probe needs INSERT: run this script again. The trade-off:
-- the role may read every table of the schema, not only those the config names. Where a
-- table must stay unreadable (a secret), pass -v tables=... to grant SELECT on exactly the
-- tables the config reads (the ledger's included; list a new one before adding its entry).
--
-- If the verified tables use row-level security, also ALTER ROLE ... BYPASSRLS (a superuser
-- or, on RDS, rds_superuser): the suite runs with row_security = off, so a policy that would
-- hide rows from this role makes its checks an error instead of a pass over fewer rows.

\if :{?role}
\else
  \set role ops_verify
\endif
\if :{?probes}
\else
  \set probes on
\endif
\if :{?schema}
\else
  \set schema public
\endif
\if :{?tables}
  \set every_table off
\else
  \set every_table on
  \set tables ''
\endif
\if :{?standby}
\else
  \set standby off
\endif

SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :'role') AS new_role \gset
\if :new_role
  CREATE ROLE :"role" LOGIN;
\endif
ALTER ROLE :"role" NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
-- in this database only: a setting of the role everywhere would be one of every database's
SELECT pg_catalog.format('ALTER ROLE %I IN DATABASE %I SET default_transaction_read_only = on',
                         :'role', pg_catalog.current_database()) \gexec
SELECT pg_catalog.format('GRANT CONNECT ON DATABASE %I TO %I', pg_catalog.current_database(),
                         :'role') \gexec
GRANT USAGE ON SCHEMA :"schema" TO :"role";
\if :every_table
  GRANT SELECT ON ALL TABLES IN SCHEMA :"schema" TO :"role";
  ALTER DEFAULT PRIVILEGES IN SCHEMA :"schema" GRANT SELECT ON TABLES TO :"role";
\else
  ALTER DEFAULT PRIVILEGES IN SCHEMA :"schema" REVOKE SELECT ON TABLES FROM :"role";
  REVOKE SELECT ON ALL TABLES IN SCHEMA :"schema" FROM :"role";
  SELECT pg_catalog.format('GRANT SELECT ON %I.%I TO %I', :'schema', pg_catalog.btrim(t),
                           :'role')
    FROM pg_catalog.unnest(pg_catalog.string_to_array(:'tables', ',')) AS t \gexec
\endif
-- INSERT: exactly the tables that carry a CHECK rule (what the probes test), none else
REVOKE INSERT ON ALL TABLES IN SCHEMA :"schema" FROM :"role";
\if :probes
  SELECT pg_catalog.format('GRANT INSERT ON %I.%I TO %I', n.nspname, c.relname, :'role')
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = :'schema' AND c.relkind IN ('r', 'p')
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                  WHERE k.conrelid = c.oid AND k.contype = 'c') \gexec
\endif
\if :standby
  GRANT pg_read_all_stats TO :"role";
\else
  REVOKE pg_read_all_stats FROM :"role";
\endif
