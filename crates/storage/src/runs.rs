//! Job runs and their per-symbol items. The job engine owns the semantics; this module only
//! stores them, and enforces single-flight per (job, subject) through a partial unique index
//! (see migrations 0002 and 0004).

use chrono::{DateTime, Utc};
use domain::text_enum;

use domain::{OutputKind, RunOutput, RunTrigger, Symbol};

use crate::events::Event;
use crate::rows::{RowExt, count_to_u64, from_unix, now_unix, parsed_col, sql_limit};
use crate::{Storage, StorageError};

text_enum! {
    /// Where a run is in its life.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum RunStatus {
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        /// Finished, but some symbols failed.
        Partial => "partial",
        Failed => "failed",
        /// Was running when the process stopped (crash or shutdown past the grace period).
        Interrupted => "interrupted",
    }
    parse_error = "unknown run status {:?}";
}

impl RunStatus {
    /// True for queued and running runs.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

/// A stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub job: String,
    /// What the run is about: a symbol for the `analysis` job, none for whole-watchlist jobs.
    /// Single-flight is per (job, subject).
    pub subject: Option<Symbol>,
    pub status: RunStatus,
    pub trigger: RunTrigger,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// The instance that queued the run until a worker claims it, then the worker's (see
    /// `instances.rs`); `''` for a run queued again after its worker died.
    pub owner: String,
    /// The owner's latest heartbeat while the run was active.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// How many times a worker claimed it (0 while it waits for the first).
    pub attempts: u32,
    /// How many claims the job's policy allows: a run whose worker died goes back to the queue
    /// while `attempts < max_attempts`, else it ends `interrupted`.
    pub max_attempts: u32,
}

/// A run to queue.
#[derive(Debug, Clone, Copy)]
pub struct RunRequest<'a> {
    pub job: &'a str,
    /// What the run is about; single-flight is per (job, subject).
    pub subject: Option<&'a Symbol>,
    pub trigger: RunTrigger,
    /// See [`RunRecord::max_attempts`]; at least 1.
    pub max_attempts: u32,
    /// A key no other run may ever have, e.g. `schedule:reddit-scan:1733400000` for one cron
    /// tick: every instance's scheduler asks, one run is created.
    pub key: Option<&'a str>,
}

impl<'a> RunRequest<'a> {
    /// One attempt, no key.
    pub fn new(job: &'a str, subject: Option<&'a Symbol>, trigger: RunTrigger) -> Self {
        Self { job, subject, trigger, max_attempts: 1, key: None }
    }
}

/// What a run did for one symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct RunItem {
    pub symbol: String,
    pub succeeded: bool,
    pub bars: u64,
    pub provider: Option<String>,
    pub error: Option<String>,
}

/// The outcome of asking for a new run.
#[derive(Debug, Clone, PartialEq)]
pub enum NewRun {
    Created(RunRecord),
    /// The job already has a queued or running run for the same subject; nothing was created.
    AlreadyActive(RunRecord),
    /// A run with the same [`RunRequest::key`] exists (another instance fired this cron tick).
    KeyTaken(RunRecord),
}

const RUN_COLUMNS: &str = "id, job, subject, status, trigger, queued_at, started_at, finished_at, error, owner, \
                           heartbeat_at, attempts, max_attempts";

fn time_opt(row: &impl RowExt, column: &'static str) -> Result<Option<DateTime<Utc>>, StorageError> {
    row.int_opt(column)?.map(|secs| from_unix(column, secs)).transpose()
}

/// The stored `subject` of a run without one. Not NULL: the single-flight unique index on
/// (job, subject) treats NULLs as distinct, so it must be a value.
const NO_SUBJECT: &str = "";

fn subject_text(subject: Option<&Symbol>) -> &str {
    subject.map_or(NO_SUBJECT, Symbol::as_str)
}

fn run_from_row(row: &impl RowExt) -> Result<RunRecord, StorageError> {
    let subject = row.text("subject")?;
    Ok(RunRecord {
        id: row.int("id")?,
        job: row.text("job")?,
        subject: match subject.as_str() {
            NO_SUBJECT => None,
            text => Some(Symbol::parse(text).map_err(|e| StorageError::corrupt("subject", text, e))?),
        },
        status: parsed_col(row, "status")?,
        trigger: parsed_col(row, "trigger")?,
        queued_at: from_unix("queued_at", row.int("queued_at")?)?,
        started_at: time_opt(row, "started_at")?,
        finished_at: time_opt(row, "finished_at")?,
        error: row.text_opt("error")?,
        owner: row.text("owner")?,
        heartbeat_at: time_opt(row, "heartbeat_at")?,
        attempts: u32::try_from(row.int("attempts")?).unwrap_or_default(),
        max_attempts: u32::try_from(row.int("max_attempts")?).unwrap_or(1),
    })
}

fn item_from_row(row: &impl RowExt) -> Result<RunItem, StorageError> {
    Ok(RunItem {
        symbol: row.text("symbol")?,
        succeeded: row.text("status")? == "succeeded",
        bars: count_to_u64(row.int("bars")?),
        provider: row.text_opt("provider")?,
        error: row.text_opt("error")?,
    })
}

impl Storage {
    /// Queues a run of `job` with no subject (a whole-watchlist job), unless one is already
    /// queued or running (single-flight). Same as [`create_run_for`](Self::create_run_for) with
    /// no subject.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn create_run(&self, job: &str, trigger: RunTrigger) -> Result<NewRun, StorageError> {
        self.create_run_for(job, None, trigger).await
    }

    /// Queues a run of `job` about `subject` (e.g. a symbol), unless a run of the same job and
    /// subject is already queued or running (single-flight per job and subject).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn create_run_for(
        &self,
        job: &str,
        subject: Option<&Symbol>,
        trigger: RunTrigger,
    ) -> Result<NewRun, StorageError> {
        self.queue_run(&RunRequest::new(job, subject, trigger)).await
    }

    /// Queues a run unless one of the same job and subject is active (single-flight) or one with
    /// the same key exists; announces it to the workers of every instance (see `events.rs`).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn queue_run(&self, request: &RunRequest<'_>) -> Result<NewRun, StorageError> {
        let sql = format!(
            "INSERT INTO job_runs (job, subject, status, trigger, queued_at, heartbeat_at, owner, max_attempts, run_key) \
             VALUES ($1, $2, 'queued', $3, $4, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING {RUN_COLUMNS}"
        );
        let created = with_pool!(self, pool => {
            // fetch_all, not fetch_optional: SQLite keeps a write statement's lock until the
            // statement has run to completion, and a half-read RETURNING would hold it.
            match sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(request.job)
                .bind(subject_text(request.subject))
                .bind(request.trigger.as_str())
                .bind(now_unix())
                .bind(self.owner())
                .bind(i64::from(request.max_attempts.max(1)))
                .bind(request.key)
                .fetch_all(pool)
                .await?
                .first()
            {
                Some(row) => Some(run_from_row(row)?),
                None => None,
            }
        });
        if let Some(run) = created {
            self.announce(Event::Queued).await;
            return Ok(NewRun::Created(run));
        }
        if let Some(key) = request.key
            && let Some(taken) = self.run_with_key(key).await?
        {
            return Ok(NewRun::KeyTaken(taken));
        }
        match self.active_run_for(request.job, request.subject).await? {
            Some(active) => Ok(NewRun::AlreadyActive(active)),
            // The active run finished between our insert and our read: try once more.
            None => Box::pin(self.queue_run(request)).await,
        }
    }

    async fn run_with_key(&self, key: &str) -> Result<Option<RunRecord>, StorageError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE run_key = $1");
        Ok(with_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key).fetch_optional(pool).await? {
                Some(row) => Some(run_from_row(&row)?),
                None => None,
            }
        }))
    }

    /// How many runs of `job` wait for a worker.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn queued_run_count(&self, job: &str) -> Result<u64, StorageError> {
        const SQL: &str = "SELECT COUNT(*) AS n FROM job_runs WHERE job = $1 AND status = 'queued'";
        Ok(with_pool!(self, pool => {
            count_to_u64(sqlx::query(SQL).bind(job).fetch_one(pool).await?.int("n")?)
        }))
    }

    /// Claims the oldest queued run of `job` for this instance: it becomes `running`, owned by
    /// this handle's instance, with one more attempt. `queued_by` limits the claim to runs that
    /// instance queued (the CLI runs only its own). `None` when there is nothing to claim.
    ///
    /// On PostgreSQL the candidate row is locked `FOR UPDATE SKIP LOCKED`, so workers of several
    /// instances claiming at once each take a different run and none waits for another; SQLite
    /// serialises writers, and the `status = 'queued'` condition makes a second claim of one run
    /// a no-op either way.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn claim_run(
        &self,
        job: &str,
        queued_by: Option<&str>,
    ) -> Result<Option<RunRecord>, StorageError> {
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE job_runs SET status = 'running', owner = $1, started_at = $2, heartbeat_at = $2, \
             attempts = attempts + 1 \
             WHERE status = 'queued' AND id = (SELECT id FROM job_runs WHERE job = $3 AND status = 'queued' \
             AND ($4 IS NULL OR owner = $4) ORDER BY id LIMIT 1{lock}) RETURNING {RUN_COLUMNS}"
        );
        Ok(with_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(self.owner())
                .bind(now_unix())
                .bind(job)
                .bind(queued_by)
                .fetch_all(pool)
                .await?
                .first()
            {
                Some(row) => Some(run_from_row(row)?),
                None => None,
            }
        }))
    }

    /// Finishes a run this instance claimed, if it still holds that claim: the run is `running`,
    /// owned here, and on the same attempt. Returns false when the claim was lost (this
    /// instance was taken for dead and the run queued again or interrupted), so a worker that
    /// comes back from a long pause never overwrites the outcome of the run's next attempt.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn finish_claimed_run(
        &self,
        run: &RunRecord,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<bool, StorageError> {
        const SQL: &str = "UPDATE job_runs SET status = $2, finished_at = $3, error = $4 \
                           WHERE id = $1 AND status = 'running' AND owner = $5 AND attempts = $6";
        let finished = with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(run.id)
                .bind(status.as_str())
                .bind(now_unix())
                .bind(error)
                .bind(self.owner())
                .bind(i64::from(run.attempts))
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        });
        if finished {
            self.fail_unfinished_exports(run.id).await?;
            self.announce(Event::Finished(run.id)).await;
        }
        Ok(finished)
    }

    /// The queued or running run of `job` with no subject, if any; see
    /// [`active_run_for`](Self::active_run_for) and [`active_runs`](Self::active_runs).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn active_run(&self, job: &str) -> Result<Option<RunRecord>, StorageError> {
        self.active_run_for(job, None).await
    }

    /// The queued or running run of `job` about `subject`, if any.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn active_run_for(
        &self,
        job: &str,
        subject: Option<&Symbol>,
    ) -> Result<Option<RunRecord>, StorageError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM job_runs \
             WHERE job = $1 AND subject = $2 AND status IN ('queued', 'running')"
        );
        Ok(with_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job).bind(subject_text(subject)).fetch_optional(pool).await? {
                Some(row) => Some(run_from_row(&row)?),
                None => None,
            }
        }))
    }

    /// Every queued or running run of `job` (any subject), oldest first.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn active_runs(&self, job: &str) -> Result<Vec<RunRecord>, StorageError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM job_runs WHERE job = $1 AND status IN ('queued', 'running') ORDER BY id"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(job)
                .fetch_all(pool)
                .await?
                .iter()
                .map(run_from_row)
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Claims one queued run by id for this instance (see [`claim_run`](Self::claim_run)).
    /// Returns false if it was not queued (e.g. interrupted or claimed by another worker).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn start_run(&self, id: i64) -> Result<bool, StorageError> {
        const SQL: &str = "UPDATE job_runs SET status = 'running', started_at = $2, heartbeat_at = $2, owner = $3, \
                           attempts = attempts + 1 WHERE id = $1 AND status = 'queued'";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).bind(id).bind(now_unix()).bind(self.owner()).execute(pool).await?.rows_affected() > 0
        }))
    }

    /// Finishes an active run with a final status. Returns false if it was no longer active
    /// (e.g. recovered by another instance that took this one for dead).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn finish_run(
        &self,
        id: i64,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<bool, StorageError> {
        const SQL: &str = "UPDATE job_runs SET status = $2, finished_at = $3, error = $4 \
                           WHERE id = $1 AND status IN ('queued', 'running')";
        let finished = with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(id)
                .bind(status.as_str())
                .bind(now_unix())
                .bind(error)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        });
        self.fail_unfinished_exports(id).await?;
        if finished {
            self.announce(Event::Finished(id)).await;
        }
        Ok(finished)
    }

    /// A run ends with no export of its still being written: one cut off (the job aborted past
    /// the grace period) fails here, not at the next start-up.
    async fn fail_unfinished_exports(&self, run_id: i64) -> Result<(), StorageError> {
        const CUT_OFF: &str = "UPDATE exports SET status = 'failed', \
                               error = 'the run ended before the export was finished' \
                               WHERE run_id = $1 AND status = 'writing'";
        with_pool!(self, pool => {
            sqlx::query(CUT_OFF).bind(run_id).execute(pool).await?;
        });
        Ok(())
    }

    /// Records (or replaces) what a run did for one symbol.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn record_run_item(&self, run_id: i64, item: &RunItem) -> Result<(), StorageError> {
        const SQL: &str = "INSERT INTO job_run_items (run_id, symbol, status, bars, provider, error) \
                           VALUES ($1, $2, $3, $4, $5, $6) \
                           ON CONFLICT (run_id, symbol) DO UPDATE SET status = excluded.status, \
                           bars = excluded.bars, provider = excluded.provider, error = excluded.error";
        let bars = i64::try_from(item.bars).unwrap_or(i64::MAX);
        let status = if item.succeeded { "succeeded" } else { "failed" };
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(run_id)
                .bind(&item.symbol)
                .bind(status)
                .bind(bars)
                .bind(item.provider.as_deref())
                .bind(item.error.as_deref())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// One run.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>, StorageError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE id = $1");
        Ok(with_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await? {
                Some(row) => Some(run_from_row(&row)?),
                None => None,
            }
        }))
    }

    /// The per-symbol items of a run, sorted by symbol.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn run_items(&self, run_id: i64) -> Result<Vec<RunItem>, StorageError> {
        const SQL: &str = "SELECT symbol, status, bars, provider, error FROM job_run_items WHERE run_id = $1 ORDER BY symbol";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).bind(run_id).fetch_all(pool).await?.iter().map(item_from_row).collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Latest runs first, optionally of one job.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn runs(&self, job: Option<&str>, limit: u64) -> Result<Vec<RunRecord>, StorageError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM job_runs WHERE ($1 IS NULL OR job = $1) ORDER BY id DESC LIMIT $2"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(job)
                .bind(sql_limit(Some(limit)))
                .fetch_all(pool)
                .await?
                .iter()
                .map(run_from_row)
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Records that a run produced `output` (idempotent). Kept even when the run has finished:
    /// an export completed after its run was interrupted still belongs to that run.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails (e.g. the run does not exist).
    pub async fn attach_run_output(&self, run_id: i64, output: RunOutput) -> Result<(), StorageError> {
        const SQL: &str =
            "INSERT INTO job_run_outputs (run_id, kind, ref_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
        with_pool!(self, pool => {
            sqlx::query(SQL).bind(run_id).bind(output.kind.as_str()).bind(output.id).execute(pool).await?;
        });
        Ok(())
    }

    /// The outputs of a run, by kind then id.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn run_outputs(&self, run_id: i64) -> Result<Vec<RunOutput>, StorageError> {
        Ok(self.outputs_of_runs(&[run_id]).await?.into_iter().map(|(_, output)| output).collect())
    }

    /// The outputs of several runs as `(run id, output)` pairs, by run, kind and id: one query for
    /// a page of runs. Reads the id range spanned by `run_ids` (they are usually adjacent) and
    /// keeps the asked-for ones.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn outputs_of_runs(&self, run_ids: &[i64]) -> Result<Vec<(i64, RunOutput)>, StorageError> {
        let (Some(&low), Some(&high)) = (run_ids.iter().min(), run_ids.iter().max()) else {
            return Ok(Vec::new());
        };
        const SQL: &str = "SELECT run_id, kind, ref_id FROM job_run_outputs \
                           WHERE run_id BETWEEN $1 AND $2 ORDER BY run_id, kind, ref_id";
        let rows: Vec<(i64, RunOutput)> = with_pool!(self, pool => {
            let mut outputs = Vec::new();
            for row in sqlx::query(SQL).bind(low).bind(high).fetch_all(pool).await? {
                let kind: OutputKind = parsed_col(&row, "kind")?;
                outputs.push((row.int("run_id")?, RunOutput::new(kind, row.int("ref_id")?)));
            }
            outputs
        });
        Ok(rows.into_iter().filter(|(run_id, _)| run_ids.contains(run_id)).collect())
    }
}
