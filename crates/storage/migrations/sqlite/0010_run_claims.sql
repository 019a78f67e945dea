-- Runs claimed by workers. Keep in step with ../postgres/0010_run_claims.sql.
--
-- Several instances share one database: an API instance queues a run, any worker claims it
-- (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite serialises writers, so its one instance claims
-- with the same UPDATE). A queued run has no owner (''); claiming stamps the worker's instance
-- id and counts an attempt. A worker that dies mid-run stops beating; the run is then queued
-- again while `attempts < max_attempts` (the job's policy) or ends `interrupted`.
-- `run_key` makes a cron tick fire once across every instance's scheduler.
ALTER TABLE job_runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_runs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE job_runs ADD COLUMN run_key TEXT;
CREATE UNIQUE INDEX job_runs_by_key ON job_runs (run_key) WHERE run_key IS NOT NULL;
CREATE INDEX job_runs_queued ON job_runs (job, id) WHERE status = 'queued';
