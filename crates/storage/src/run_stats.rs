//! Aggregates over job runs, for the `/metrics` endpoint: counts and summed durations per job and
//! status. Computed by the database on each scrape, so the numbers survive restarts and no
//! process keeps a counter that could drift from the stored history.

use crate::rows::{RowExt, count_to_u64};
use crate::{RunStatus, Storage, StorageError};

/// Runs of one job in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStats {
    pub job: String,
    pub status: RunStatus,
    /// How many runs.
    pub runs: u64,
    /// Sum of `finished_at - started_at` over those runs that have both, in seconds.
    pub duration_secs: u64,
}

impl Storage {
    /// Run counts and summed durations grouped by job and status; at most jobs × 6 rows.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for an unknown
    /// stored status.
    pub async fn run_stats(&self) -> Result<Vec<RunStats>, StorageError> {
        // CAST: PostgreSQL's SUM over BIGINT is NUMERIC; both backends read BIGINT back as i64.
        const SQL: &str = "SELECT job, status, COUNT(*) AS runs, \
            CAST(COALESCE(SUM(finished_at - started_at), 0) AS BIGINT) AS duration_secs \
            FROM job_runs GROUP BY job, status ORDER BY job, status";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    let status = row.text("status")?;
                    Ok(RunStats {
                        job: row.text("job")?,
                        status: status.parse().map_err(|e: String| StorageError::corrupt("status", &status, e))?,
                        runs: count_to_u64(row.int("runs")?),
                        duration_secs: count_to_u64(row.int("duration_secs")?),
                    })
                })
                .collect()
        })
    }
}
