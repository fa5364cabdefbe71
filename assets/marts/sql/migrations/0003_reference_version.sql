-- Migration 0003 (issue 13): which version of the reference data ref.* holds, so that
-- the ref/reference_tables asset rewrites them only when the catalogue or
-- data/reference/ changed (assets/marts/reference.py).
CREATE TABLE IF NOT EXISTS meta.reference_version (
    content_sha256 VARCHAR, written_at TIMESTAMPTZ);
