-- Models 1038_cleanup_stuck_closing_round2: data only, the same for 'tiny' again and for 'large' rows older than an hour.
UPDATE active_positions
   SET status = 'closed', closed_at = now(), close_reason = 'cleanup_stuck_closing_v2'
 WHERE account_name = 'tiny' AND status = 'closing';

UPDATE active_positions
   SET status = 'closed', closed_at = now(), close_reason = 'cleanup_stuck_closing_v2'
 WHERE account_name = 'large' AND status = 'closing' AND created_at < now() - interval '1 hour';
