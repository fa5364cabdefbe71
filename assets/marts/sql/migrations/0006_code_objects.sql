-- Migration 0006 (issue 13): which version of the macros, views and column comments the
-- warehouse holds (one sha256 over their SQL and the migrations applied), so that
-- ensure_schema recreates them only when that changed (COMMENT ON for every column was
-- 0.3 s on every connection; assets/warehouse.py::ensure_schema).
CREATE TABLE IF NOT EXISTS meta.code_objects (content_sha256 VARCHAR, written_at TIMESTAMPTZ);
