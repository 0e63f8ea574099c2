-- Models 016_create_lane_features_clean_view: the view itself is out of scope; this reads the rows it would expose (needs 007's volume_ratio).
SELECT count(*) AS clean_rows FROM lane_features WHERE volume_ratio IS NOT NULL;
