-- Relations that other sessions hold, or wait for, ACCESS EXCLUSIVE: reading their
-- definitions would wait for the lock, so the capture leaves those out.
SELECT coalesce(pg_catalog.array_agg(DISTINCT l.relation), '{}')::pg_catalog.oid[]
FROM pg_catalog.pg_locks l
WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
  AND l.pid <> pg_catalog.pg_backend_pid()
  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                    WHERE d.datname = pg_catalog.current_database())
