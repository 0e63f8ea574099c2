-- Models 1037_cleanup_stuck_closing_tiny: data only, tiny-account rows stuck in 'closing' become 'closed'.
UPDATE active_positions
   SET status = 'closed', closed_at = now(), close_reason = 'cleanup_stuck_closing'
 WHERE account_name = 'tiny' AND status = 'closing';
