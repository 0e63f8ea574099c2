-- Where a standby's replay stands: sent only when the session facts say the server is in
-- recovery. Every recovery function is behind pg_is_in_recovery() (on a primary they raise
-- "recovery is not in progress", and a promotion may happen in between). The WAL
-- receiver's columns are NULL for a role without pg_read_all_stats (its pid is not).
-- %(pause_state)s: pg_get_wal_replay_pause_state() from PostgreSQL 14, else NULL.
SELECT r.in_recovery                                                          AS in_recovery,
       CASE WHEN r.in_recovery THEN pg_catalog.pg_is_wal_replay_paused() END AS paused,
       CASE WHEN r.in_recovery THEN %(pause_state)s END                       AS pause_state,
       pg_catalog.pg_last_wal_receive_lsn()::text                            AS receive_lsn,
       pg_catalog.pg_last_wal_replay_lsn()::text                             AS replay_lsn,
       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(),
                                  pg_catalog.pg_last_wal_replay_lsn())::float8 AS pending_bytes,
       pg_catalog.pg_last_xact_replay_timestamp()::text                      AS last_replay_at,
       extract(epoch FROM pg_catalog.clock_timestamp()
                          - pg_catalog.pg_last_xact_replay_timestamp())::float8 AS last_replay_age_s,
       w.pid                                                                 AS receiver_pid,
       w.status::text                                                        AS receiver_status
FROM (SELECT pg_catalog.pg_is_in_recovery() AS in_recovery) AS r
LEFT JOIN pg_catalog.pg_stat_wal_receiver AS w ON true
