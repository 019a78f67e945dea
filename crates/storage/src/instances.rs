//! Instances: the processes sharing one database, and who owns which unfinished work.
//!
//! Every [`Storage`] handle has an instance id (fresh per `connect`, shared by clones) that it
//! stamps on the job runs, exports and crew runs it creates. A process that runs work registers
//! its id here and beats a heartbeat (the `jobs` crate's `Heartbeat` does both); start-up
//! recovery, and every heartbeat, then interrupt only the unfinished work of *dead* owners: ones
//! that stopped, whose heartbeat is older than the stale limit, or that never registered (rows
//! from before owners existed have the owner ''). A second `serve` or a CLI `jobs trigger` on the
//! same database therefore never interrupts the live server's runs or fails its exports.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::rows::{RowExt, from_unix, now_unix};
use crate::{Storage, StorageError};

/// A registered process.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRecord {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
}

/// What one recovery pass took over from dead owners.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Running job runs marked `interrupted` (their job allows no further attempt).
    pub runs: u64,
    /// Running job runs queued again for another worker (attempts left).
    pub requeued: u64,
    /// `writing` exports marked `failed` (their files are the export service's to remove).
    pub exports: u64,
    /// Running crew runs marked `cancelled`.
    pub crew_runs: u64,
}

impl Recovered {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// 16 hex digits from the process's random hasher keys, the clock and the pid: unique enough
/// for the handful of processes that share a database, with no random-number crate.
pub(crate) fn new_instance_id() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_i64(Utc::now().timestamp_nanos_opt().unwrap_or_default());
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// The SQL condition "the owner of this row is not a live instance", for a table aliased `t`
/// with an `owner` column; `$1` is this instance's id and `$2` the oldest live heartbeat.
const DEAD_OWNER: &str = "t.owner <> $1 AND NOT EXISTS (SELECT 1 FROM instances i \
                          WHERE i.id = t.owner AND i.stopped_at IS NULL AND i.heartbeat_at >= $2)";

fn instance_from_row(row: &impl RowExt) -> Result<InstanceRecord, StorageError> {
    Ok(InstanceRecord {
        id: row.text("id")?,
        host: row.text("host")?,
        pid: u32::try_from(row.int("pid")?).unwrap_or_default(),
        started_at: from_unix("started_at", row.int("started_at")?)?,
        heartbeat_at: from_unix("heartbeat_at", row.int("heartbeat_at")?)?,
        stopped_at: row.int_opt("stopped_at")?.map(|secs| from_unix("stopped_at", secs)).transpose()?,
    })
}

impl Storage {
    /// This handle's instance id, stamped on the work it creates.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Registers this handle's instance as live (again, after a stop or after another process
    /// pruned it as dead).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn register_instance(&self) -> Result<(), StorageError> {
        const SQL: &str = "INSERT INTO instances (id, host, pid, started_at, heartbeat_at) \
                           VALUES ($1, $2, $3, $4, $4) \
                           ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(self.owner())
                .bind(host_name())
                .bind(i64::from(std::process::id()))
                .bind(now_unix())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// One heartbeat: this instance and its active runs are alive now. Returns false when the
    /// instance is not registered (never was, or was pruned as dead while this process was
    /// suspended); the caller then registers again.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn beat(&self) -> Result<bool, StorageError> {
        const INSTANCE: &str = "UPDATE instances SET heartbeat_at = $2 WHERE id = $1 AND stopped_at IS NULL";
        const RUNS: &str =
            "UPDATE job_runs SET heartbeat_at = $2 WHERE owner = $1 AND status IN ('queued', 'running')";
        let now = now_unix();
        Ok(with_pool!(self, pool => {
            let alive = sqlx::query(INSTANCE).bind(self.owner()).bind(now).execute(pool).await?.rows_affected() > 0;
            sqlx::query(RUNS).bind(self.owner()).bind(now).execute(pool).await?;
            alive
        }))
    }

    /// Marks this instance stopped: its unfinished work (there should be none after an orderly
    /// shutdown) becomes another process's to recover at once.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn stop_instance(&self) -> Result<(), StorageError> {
        const SQL: &str = "UPDATE instances SET stopped_at = $2 WHERE id = $1";
        with_pool!(self, pool => {
            sqlx::query(SQL).bind(self.owner()).bind(now_unix()).execute(pool).await?;
        });
        Ok(())
    }

    /// Registered instances, newest first.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn instances(&self) -> Result<Vec<InstanceRecord>, StorageError> {
        const SQL: &str = "SELECT id, host, pid, started_at, heartbeat_at, stopped_at FROM instances ORDER BY started_at DESC, id";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).fetch_all(pool).await?.iter().map(instance_from_row).collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Takes over the unfinished work of dead owners (see the module docs): their running job
    /// runs go back to the queue while the job allows another attempt (`attempts <
    /// max_attempts`, the error saying why) and become `interrupted` with `reason` otherwise;
    /// their `writing` exports become `failed` and their running crew runs `cancelled`; then
    /// dead instances are forgotten. Queued runs wait for any worker whoever queued them. An
    /// owner is dead when it stopped, has not beaten for `stale_after`, or is not registered.
    /// This handle's own work is never touched.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn recover_dead_owners(
        &self,
        stale_after: Duration,
        reason: &str,
    ) -> Result<Recovered, StorageError> {
        let now = now_unix();
        let stale_secs = i64::try_from(stale_after.as_secs()).unwrap_or(i64::MAX);
        let oldest_live = now.saturating_sub(stale_secs);
        // $1 owner, $2 oldest live heartbeat (DEAD_OWNER), $3 reason, $4 now.
        let requeue = format!(
            "UPDATE job_runs AS t SET status = 'queued', owner = '', started_at = NULL, heartbeat_at = $4, \
             error = 'queued again after attempt ' || t.attempts || ': ' || $3 \
             WHERE t.status = 'running' AND t.attempts < t.max_attempts AND {DEAD_OWNER}"
        );
        let runs = format!(
            "UPDATE job_runs AS t SET status = 'interrupted', error = $3, finished_at = $4 \
             WHERE t.status = 'running' AND {DEAD_OWNER}"
        );
        let crew_runs = format!(
            "UPDATE crew_runs AS t SET status = 'cancelled', error = $3, finished_at = $4 \
             WHERE t.status = 'running' AND {DEAD_OWNER}"
        );
        let exports = format!(
            "UPDATE exports AS t SET status = 'failed', error = $3 WHERE t.status = 'writing' AND {DEAD_OWNER}"
        );
        const PRUNE: &str =
            "DELETE FROM instances WHERE id <> $1 AND (stopped_at IS NOT NULL OR heartbeat_at < $2)";
        let recovered = with_pool!(self, pool => {
            // Exports first: a requeued run's next attempt writes a new one.
            let exports = sqlx::query(sqlx::AssertSqlSafe(exports))
                .bind(self.owner())
                .bind(oldest_live)
                .bind(reason)
                .execute(pool)
                .await?
                .rows_affected();
            let mut timed = [0_u64; 3];
            for (count, sql) in timed.iter_mut().zip([requeue, runs, crew_runs]) {
                *count = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(self.owner())
                    .bind(oldest_live)
                    .bind(reason)
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected();
            }
            sqlx::query(PRUNE).bind(self.owner()).bind(oldest_live).execute(pool).await?;
            let [requeued, runs, crew_runs] = timed;
            Recovered { runs, requeued, exports, crew_runs }
        });
        if recovered.requeued > 0 {
            self.announce(crate::events::Event::Queued).await;
        }
        Ok(recovered)
    }
}
