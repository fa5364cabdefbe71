-- Migration 0005 (issue 15 §4): how each recomputed score was obtained, so the CLGQ rows
-- (a formula fitted on six real observations, not a published one) say so on every row.
-- IF NOT EXISTS: a warehouse that never had the column gets it; rebuilt months fill it.
ALTER TABLE marts.score_recomputation ADD COLUMN IF NOT EXISTS method VARCHAR;
