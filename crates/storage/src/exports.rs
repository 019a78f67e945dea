//! Export records. A record is `writing` while its file is produced and becomes `ready` only
//! after the file was fsynced and renamed into place, so a crash never leaves a `ready` record
//! pointing at a partial file.

use chrono::{DateTime, Utc};
use domain::text_enum;

use crate::rows::{RowExt, count_to_u64, from_unix, now_unix, sql_limit, to_unix};
use crate::{Storage, StorageError};

text_enum! {
    /// Where an export is in its life.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ExportStatus {
        Writing => "writing",
        Ready => "ready",
        Failed => "failed",
    }
    parse_error = "unknown export status {:?}";
}

/// A stored export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    /// `csv`, `ndjson`, `xlsx`, `parquet`, `html`.
    pub format: String,
    /// `bars`, `summary`, `mentions` or `notes`.
    pub kind: String,
    pub status: ExportStatus,
    /// The file's name inside the export directory (never a path given by a user).
    pub file_name: String,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
    pub run_id: Option<i64>,
    pub error: Option<String>,
    /// The instance writing (or that wrote) it; see `instances.rs`.
    pub owner: String,
}

const EXPORT_COLUMNS: &str =
    "id, created_at, format, kind, status, file_name, rows, bytes, sha256, run_id, error, owner";

fn export_from_row(row: &impl RowExt) -> Result<ExportRecord, StorageError> {
    let status = row.text("status")?;
    Ok(ExportRecord {
        id: row.int("id")?,
        created_at: from_unix("created_at", row.int("created_at")?)?,
        format: row.text("format")?,
        kind: row.text("kind")?,
        status: status.parse().map_err(|e: String| StorageError::corrupt("status", &status, e))?,
        file_name: row.text("file_name")?,
        rows: row.int_opt("rows")?.map(count_to_u64),
        bytes: row.int_opt("bytes")?.map(count_to_u64),
        sha256: row.text_opt("sha256")?,
        run_id: row.int_opt("run_id")?,
        error: row.text_opt("error")?,
        owner: row.text("owner")?,
    })
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Storage {
    /// Registers an export about to be written (`writing`).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails (including a duplicate file name).
    pub async fn create_export(
        &self,
        format: &str,
        kind: &str,
        file_name: &str,
        run_id: Option<i64>,
    ) -> Result<ExportRecord, StorageError> {
        let sql = format!(
            "INSERT INTO exports (created_at, format, kind, status, file_name, run_id, owner) \
             VALUES ($1, $2, $3, 'writing', $4, $5, $6) RETURNING {EXPORT_COLUMNS}"
        );
        Ok(with_pool!(self, pool => {
            // fetch_all runs the write statement to completion (see `create_run`).
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now_unix())
                .bind(format)
                .bind(kind)
                .bind(file_name)
                .bind(run_id)
                .bind(self.owner())
                .fetch_all(pool)
                .await?;
            let row = rows.first().ok_or_else(|| StorageError::corrupt("exports", file_name, "INSERT returned no row"))?;
            export_from_row(row)?
        }))
    }

    /// Marks an export `ready` once its file is in place and, in the same transaction, lists it
    /// among its run's outputs: an export is never ready without its run knowing of it.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn complete_export(
        &self,
        id: i64,
        rows: u64,
        bytes: u64,
        sha256: &str,
    ) -> Result<(), StorageError> {
        const READY: &str =
            "UPDATE exports SET status = 'ready', rows = $2, bytes = $3, sha256 = $4 WHERE id = $1";
        const OUTPUT: &str = "INSERT INTO job_run_outputs (run_id, kind, ref_id) \
                              SELECT run_id, 'export', id FROM exports WHERE id = $1 AND run_id IS NOT NULL \
                              ON CONFLICT DO NOTHING";
        let begin = self.backend().begin_write();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(READY).bind(id).bind(as_i64(rows)).bind(as_i64(bytes)).bind(sha256).execute(&mut *tx).await?;
            sqlx::query(OUTPUT).bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Marks an export `failed` with the reason.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn fail_export(&self, id: i64, error: &str) -> Result<(), StorageError> {
        const SQL: &str = "UPDATE exports SET status = 'failed', error = $2 WHERE id = $1";
        with_pool!(self, pool => {
            sqlx::query(SQL).bind(id).bind(error).execute(pool).await?;
        });
        Ok(())
    }

    /// One export.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn export(&self, id: i64) -> Result<Option<ExportRecord>, StorageError> {
        let sql = format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE id = $1");
        Ok(with_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await? {
                Some(row) => Some(export_from_row(&row)?),
                None => None,
            }
        }))
    }

    /// Latest exports first.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn exports(&self, limit: u64) -> Result<Vec<ExportRecord>, StorageError> {
        let sql = format!("SELECT {EXPORT_COLUMNS} FROM exports ORDER BY id DESC LIMIT $1");
        Ok(with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(sql_limit(Some(limit)))
                .fetch_all(pool)
                .await?
                .iter()
                .map(export_from_row)
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Deletes an export record and returns it, so the caller can remove its file.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn delete_export(&self, id: i64) -> Result<Option<ExportRecord>, StorageError> {
        let sql = format!("DELETE FROM exports WHERE id = $1 RETURNING {EXPORT_COLUMNS}");
        Ok(with_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(pool).await?.first() {
                Some(row) => Some(export_from_row(row)?),
                None => None,
            }
        }))
    }

    /// Finished exports (ready or failed) that fall outside the retention policy: not among the
    /// newest `keep_last` *runs* (the exports one job run wrote, bars, summary, mentions and
    /// notes, count once; an export made outside a run counts on its own), or created before
    /// `older_than`. Writing exports are never returned.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn expired_exports(
        &self,
        keep_last: Option<u64>,
        older_than: Option<DateTime<Utc>>,
    ) -> Result<Vec<ExportRecord>, StorageError> {
        let sql = format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE status <> 'writing' ORDER BY id DESC");
        let finished: Vec<ExportRecord> = with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?.iter().map(export_from_row).collect::<Result<_, _>>()?
        });
        let keep = keep_last.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let cutoff = older_than.map(to_unix);
        // Newest first, so a run's rank is the number of distinct runs seen before its first
        // (newest) export.
        let mut groups_seen: Vec<(bool, i64)> = Vec::new();
        Ok(finished
            .into_iter()
            .filter(|export| {
                let group = export.run_id.map_or((false, export.id), |run| (true, run));
                let rank = match groups_seen.iter().position(|g| *g == group) {
                    Some(rank) => rank,
                    None => {
                        groups_seen.push(group);
                        groups_seen.len() - 1
                    }
                };
                rank >= keep || cutoff.is_some_and(|c| to_unix(export.created_at) < c)
            })
            .collect())
    }
}
