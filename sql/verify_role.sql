-- The role ops-verify runs as: exactly what the checks need, nothing more.
--
--   psql "$OWNER_DSN" -v role=ops_verify -f sql/verify_role.sql               # with probes
--   psql "$OWNER_DSN" -v role=ops_verify_ro -v probes=off -f sql/verify_role.sql  # --read-only
--   ... -v standby=on                  # also verifies read replicas (see pg_read_all_stats)
--
-- Run it as the owner of the verified tables (on RDS: the master user), in the verified
-- database; it is idempotent. Then give the role a password (\password ops_verify) or IAM
-- authentication. What each grant is for:
--   CONNECT, USAGE on public   reach the tables
--   SELECT on the tables below the data checks (duplicates, NOT VALID violations, freshness,
--                              custom SQL) and the probes' base row
--   INSERT on probed tables    enforcement probes only (probes=on); every probe runs in a
--                              transaction that is always rolled back
--   pg_read_all_stats          standby=on only: on a standby, the WAL receiver's state
--                              (pg_stat_wal_receiver shows other roles its pid alone). Without
--                              it a standby whose last replayed transaction is older than
--                              max_replica_lag (an idle primary) cannot be proven in step, and
--                              its checks error. It also shows every session's query text:
--                              grant it only to a role that verifies standbys. (The recovery
--                              functions, pg_is_wal_replay_paused() and the replay positions,
--                              need no grant.) Run this on the primary: standbys follow.
--   (INSERT on an [[upserts]]  optional: lets PostgreSQL itself plan the upsert (EXPLAIN,
--    table)                    never executed); without it the catalog answers)
--   nothing else               the catalog (pg_catalog) is readable by every role; no
--                              sequence privilege is needed: probes give keys explicit values;
--                              the lock watcher's functions (pg_lock_status,
--                              pg_blocking_pids, pg_stat_get_activity, pg_cancel_backend on
--                              the role's own sessions) are every role's
-- A CONNECTION LIMIT on the role must allow [settings] concurrency + 1 sessions (the lock
-- watcher's); fewer, and every database check errors naming the limit.
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
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT ON public.schema_migrations, public.active_positions, public.position_history,
                public.alpaca_event_dedupe, public.service_heartbeats TO :"role";
\if :probes
  GRANT INSERT ON public.active_positions, public.position_history TO :"role";
\else
  REVOKE INSERT ON public.active_positions, public.position_history FROM :"role";
\endif
\if :standby
  GRANT pg_read_all_stats TO :"role";
\else
  REVOKE pg_read_all_stats FROM :"role";
\endif
