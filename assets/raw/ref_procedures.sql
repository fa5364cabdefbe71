-- ref.procedures: the procedure catalogue, replaced whole by the ref/procedures asset
-- (assets/raw/procedures.py) from the latest complete catalogue crawl.
CREATE TABLE IF NOT EXISTS ref.procedures (
    procedure_id VARCHAR, code VARCHAR, name VARCHAR, state VARCHAR,
    department_id VARCHAR, publishing_department_ids VARCHAR[],
    applied_department_ids VARCHAR[], page INTEGER, captured_at TIMESTAMPTZ,
    raw_sha256 VARCHAR);
COMMENT ON TABLE ref.procedures IS 'The portal''s procedure catalogue (thủ tục hành chính, /formalities), from the latest complete weekly crawl: one row per procedure';
COMMENT ON COLUMN ref.procedures.procedure_id IS 'The portal''s procedure id (formalityId in filtered requests)';
COMMENT ON COLUMN ref.procedures.code IS 'Procedure code, e.g. 2.000815';
COMMENT ON COLUMN ref.procedures.name IS 'Procedure name (Vietnamese, as the portal gives it)';
COMMENT ON COLUMN ref.procedures.state IS 'The portal''s state: ACTIVE, UPDATED, INACTIVE…';
COMMENT ON COLUMN ref.procedures.department_id IS 'departmentId of the catalogue item (may be NULL)';
COMMENT ON COLUMN ref.procedures.publishing_department_ids IS 'Departments that publish the procedure';
COMMENT ON COLUMN ref.procedures.applied_department_ids IS 'Departments (provinces'' units among them) that apply it';
COMMENT ON COLUMN ref.procedures.page IS 'Catalogue page the row came from';
COMMENT ON COLUMN ref.procedures.captured_at IS 'When that page was captured';
COMMENT ON COLUMN ref.procedures.raw_sha256 IS 'sha256 of the raw page (data/raw/formalities/…)';
