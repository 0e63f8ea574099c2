-- Models 1039_close_phantom_positions: data only, closes the one phantom position 13481 by hand.
UPDATE active_positions
   SET status = 'closed', close_reason = 'manual_reconciliation', closed_at = now()
 WHERE id = 13481 AND status = 'open';
