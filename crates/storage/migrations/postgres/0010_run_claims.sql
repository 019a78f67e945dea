-- Runs claimed by workers. Keep in step with ../sqlite/0010_run_claims.sql, which says why.
ALTER TABLE job_runs ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE job_runs ADD COLUMN max_attempts BIGINT NOT NULL DEFAULT 1;
ALTER TABLE job_runs ADD COLUMN run_key TEXT;
CREATE UNIQUE INDEX job_runs_by_key ON job_runs (run_key) WHERE run_key IS NOT NULL;
CREATE INDEX job_runs_queued ON job_runs (job, id) WHERE status = 'queued';
