-- Migration 0002 (issue 13): why rank_reported is empty (a spreadsheet's STT was a row
-- number, not a rank). IF NOT EXISTS: warehouses built before numbered migrations
-- already have the columns.
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS rank_note VARCHAR;
ALTER TABLE staging.spreadsheet_scores ADD COLUMN IF NOT EXISTS rank_note VARCHAR;
ALTER TABLE staging.legacy_scores ADD COLUMN IF NOT EXISTS rank_note VARCHAR;
