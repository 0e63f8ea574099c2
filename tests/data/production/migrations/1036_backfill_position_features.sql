-- Models 1036_backfill_position_features: data only, copies a recommendation's features_snapshot onto matching open positions.
UPDATE active_positions AS p
   SET entry_features_json = m.features_snapshot
  FROM (SELECT DISTINCT ON (p2.id) p2.id AS position_id, r.features_snapshot
          FROM active_positions p2
          JOIN dispatch_executions e ON e.ticker = p2.ticker
                                    AND e.execution_mode IN ('ALPACA_PAPER', 'LIVE')
                                    AND abs(e.entry_price::float - p2.entry_price::float) < 0.01
          JOIN dispatch_recommendations r ON r.id = e.recommendation_id AND r.features_snapshot IS NOT NULL
         WHERE p2.status = 'open'
           AND (p2.entry_features_json IS NULL OR p2.entry_features_json = '{}'::jsonb)
         ORDER BY p2.id, e.simulated_ts DESC) AS m
 WHERE p.id = m.position_id;
