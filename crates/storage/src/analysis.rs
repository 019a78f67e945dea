//! What the research agents leave behind: crew runs (with the trace of every step), research
//! notes, and the agents' optional long-term memory.
//!
//! JSON values (a note's risks, key figures and sources, a crew run's trace) are stored as TEXT
//! in both backends, so the bytes read back are the bytes written and no JSON operator is needed.
//! Memory is housekept on every write: expired rows go first, then the oldest rows of the
//! written scope beyond its entry and byte caps, in the same transaction as the insert, so a
//! scope never holds more than its caps however often an agent writes.

use domain::text_enum;
use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;

use domain::{ResearchNote, Symbol};

use crate::Stored;
use crate::rows::{
    RowExt, count_to_u64, from_unix, now_unix, parsed_col, sql_limit, symbol_col, time_col, to_unix,
};
use crate::{Storage, StorageError};

/// How many symbols [`Storage::latest_research_notes`] binds per statement (well below both
/// backends' bind-parameter limits).
const SYMBOLS_PER_QUERY: usize = 500;

// ---------------------------------------------------------------------------------------------
// Crew runs
// ---------------------------------------------------------------------------------------------

text_enum! {
    /// Where a crew run is in its life.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum CrewRunStatus {
        Running => "running",
        /// The crew finished its work.
        Completed => "completed",
        /// The crew was stopped by a budget (calls, tokens, time) before it finished.
        LimitReached => "limit_reached",
        Failed => "failed",
        Cancelled => "cancelled",
    }
    parse_error = "unknown crew run status {:?}";
}

/// A crew run to begin.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCrewRun {
    /// The job run that started the crew, if any (must exist).
    pub job_run_id: Option<i64>,
    pub crew: String,
    /// What the crew works on, e.g. a symbol.
    pub subject: String,
    pub model: String,
}

/// How a crew run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CrewRunFinish {
    /// Any status but [`CrewRunStatus::Running`].
    pub status: CrewRunStatus,
    pub llm_calls: u64,
    pub tool_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub error: Option<String>,
    /// The steps as a JSON array; the caller bounds its size.
    pub trace: String,
}

/// A stored crew run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrewRunRecord {
    pub id: i64,
    pub job_run_id: Option<i64>,
    pub crew: String,
    pub subject: String,
    pub model: String,
    pub status: CrewRunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub llm_calls: u64,
    pub tool_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub error: Option<String>,
    /// The steps as a JSON array (`[]` while running).
    pub trace: String,
}

const CREW_RUN_COLUMNS: &str = "id, job_run_id, crew, subject, model, status, started_at, finished_at, \
     llm_calls, tool_calls, prompt_tokens, completion_tokens, error, trace";

fn crew_run_from_row(row: &impl RowExt) -> Result<CrewRunRecord, StorageError> {
    let status = row.text("status")?;
    Ok(CrewRunRecord {
        id: row.int("id")?,
        job_run_id: row.int_opt("job_run_id")?,
        crew: row.text("crew")?,
        subject: row.text("subject")?,
        model: row.text("model")?,
        status: status.parse().map_err(|e: String| StorageError::corrupt("crew_runs.status", &status, e))?,
        started_at: time_col(row, "started_at")?,
        finished_at: row.int_opt("finished_at")?.map(|secs| from_unix("finished_at", secs)).transpose()?,
        llm_calls: count_to_u64(row.int("llm_calls")?),
        tool_calls: count_to_u64(row.int("tool_calls")?),
        prompt_tokens: count_to_u64(row.int("prompt_tokens")?),
        completion_tokens: count_to_u64(row.int("completion_tokens")?),
        error: row.text_opt("error")?,
        trace: row.text("trace")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Research notes
// ---------------------------------------------------------------------------------------------

const NOTE_COLUMNS: &str = "id, crew_run_id, symbol, rating, confidence, horizon, thesis, risks, \
     key_figures, sources, markdown, model, crew, created_at";

fn json_col<T: serde::de::DeserializeOwned>(
    row: &impl RowExt,
    column: &'static str,
) -> Result<T, StorageError> {
    let text = row.text(column)?;
    serde_json::from_str(&text).map_err(|e| StorageError::corrupt(column, &text, e))
}

fn note_from_row(row: &impl RowExt) -> Result<Stored<ResearchNote>, StorageError> {
    Ok(Stored {
        id: row.int("id")?,
        created_at: time_col(row, "created_at")?,
        value: ResearchNote {
            crew_run_id: row.int_opt("crew_run_id")?,
            symbol: symbol_col(row, "symbol")?,
            rating: parsed_col(row, "rating")?,
            confidence: row.real("confidence")?,
            horizon: row.text("horizon")?,
            thesis: row.text("thesis")?,
            risks: json_col(row, "risks")?,
            key_figures: json_col(row, "key_figures")?,
            sources: json_col(row, "sources")?,
            markdown: row.text("markdown")?,
            model: row.text("model")?,
            crew: row.text("crew")?,
        },
    })
}

fn to_json(what: &'static str, value: &impl Serialize) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|e| StorageError::invalid(what, e))
}

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

/// One remembered text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryRecord {
    pub id: i64,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn memory_from_row(row: &impl RowExt) -> Result<MemoryRecord, StorageError> {
    Ok(MemoryRecord {
        id: row.int("id")?,
        content: row.text("content")?,
        created_at: time_col(row, "created_at")?,
        expires_at: time_col(row, "expires_at")?,
    })
}

fn u64_to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Whole seconds of `ttl`, rounded up (so a positive TTL never expires at once), saturating.
fn ttl_secs(ttl: Duration) -> i64 {
    let secs = ttl.as_secs().saturating_add(u64::from(ttl.subsec_nanos() > 0));
    u64_to_sql(secs)
}

impl Storage {
    // -- crew runs ------------------------------------------------------------------------------

    /// Records that a crew started (status `running`) and returns the crew run's id.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, e.g. for a `job_run_id` that does not exist.
    pub async fn begin_crew_run(&self, run: &NewCrewRun) -> Result<i64, StorageError> {
        const SQL: &str = "INSERT INTO crew_runs (job_run_id, crew, subject, model, status, started_at, owner) \
                           VALUES ($1, $2, $3, $4, 'running', $5, $6) RETURNING id";
        Ok(with_pool!(self, pool => {
            // fetch_all runs the write statement to completion (see `create_run`).
            let rows = sqlx::query(SQL)
                .bind(run.job_run_id)
                .bind(&run.crew)
                .bind(&run.subject)
                .bind(&run.model)
                .bind(now_unix())
                .bind(self.owner())
                .fetch_all(pool)
                .await?;
            rows.first()
                .ok_or_else(|| StorageError::corrupt("crew_runs", &run.crew, "INSERT returned no row"))?
                .int("id")?
        }))
    }

    /// Finishes a running crew run. Returns false if it was not running (unknown or finished).
    ///
    /// # Errors
    /// [`StorageError::Invalid`] (nothing written) for the status `running` or a trace that is
    /// not a JSON array; [`StorageError::Query`] if the database fails.
    pub async fn finish_crew_run(&self, id: i64, finish: &CrewRunFinish) -> Result<bool, StorageError> {
        if finish.status == CrewRunStatus::Running {
            return Err(StorageError::invalid("crew run status", "a finished crew run cannot be running"));
        }
        serde_json::from_str::<Vec<serde::de::IgnoredAny>>(&finish.trace)
            .map_err(|e| StorageError::invalid("crew run trace", format!("not a JSON array: {e}")))?;
        const SQL: &str = "UPDATE crew_runs SET status = $2, finished_at = $3, llm_calls = $4, \
                           tool_calls = $5, prompt_tokens = $6, completion_tokens = $7, error = $8, \
                           trace = $9 WHERE id = $1 AND status = 'running'";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(id)
                .bind(finish.status.as_str())
                .bind(now_unix())
                .bind(u64_to_sql(finish.llm_calls))
                .bind(u64_to_sql(finish.tool_calls))
                .bind(u64_to_sql(finish.prompt_tokens))
                .bind(u64_to_sql(finish.completion_tokens))
                .bind(finish.error.as_deref())
                .bind(&finish.trace)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// Replaces a running crew run's trace with the steps so far, so a run can be watched while
    /// it is under way. Returns false (nothing written) once the run has finished: the final
    /// trace of [`Storage::finish_crew_run`] is never overwritten by a late snapshot.
    ///
    /// # Errors
    /// [`StorageError::Invalid`] for a trace that is not a JSON array; [`StorageError::Query`] if
    /// the database fails.
    pub async fn update_crew_run_trace(&self, id: i64, trace: &str) -> Result<bool, StorageError> {
        serde_json::from_str::<Vec<serde::de::IgnoredAny>>(trace)
            .map_err(|e| StorageError::invalid("crew run trace", format!("not a JSON array: {e}")))?;
        const SQL: &str = "UPDATE crew_runs SET trace = $2 WHERE id = $1 AND status = 'running'";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).bind(id).bind(trace).execute(pool).await?.rows_affected() > 0
        }))
    }

    /// The crew runs a job run started, oldest first.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn crew_runs_of_job_run(&self, job_run_id: i64) -> Result<Vec<CrewRunRecord>, StorageError> {
        let sql = format!("SELECT {CREW_RUN_COLUMNS} FROM crew_runs WHERE job_run_id = $1 ORDER BY id");
        Ok(with_pool!(self, pool => {
            sqlx::query(AssertSqlSafe(sql))
                .bind(job_run_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(crew_run_from_row)
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// One crew run.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn crew_run(&self, id: i64) -> Result<Option<CrewRunRecord>, StorageError> {
        let sql = format!("SELECT {CREW_RUN_COLUMNS} FROM crew_runs WHERE id = $1");
        Ok(with_pool!(self, pool => {
            match sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await? {
                Some(row) => Some(crew_run_from_row(&row)?),
                None => None,
            }
        }))
    }

    /// Crew runs, newest first, of one subject or of all, at most `limit`.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn crew_runs(
        &self,
        subject: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CrewRunRecord>, StorageError> {
        let sql = match subject {
            Some(_) => {
                format!(
                    "SELECT {CREW_RUN_COLUMNS} FROM crew_runs WHERE subject = $2 ORDER BY id DESC LIMIT $1"
                )
            }
            None => format!("SELECT {CREW_RUN_COLUMNS} FROM crew_runs ORDER BY id DESC LIMIT $1"),
        };
        Ok(with_pool!(self, pool => {
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(i64::from(limit));
            if let Some(subject) = subject {
                query = query.bind(subject);
            }
            query.fetch_all(pool).await?.iter().map(crew_run_from_row).collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Deletes finished crew runs started before `cutoff` (retention; their notes stay, with
    /// `crew_run_id` set to NULL) and returns how many there were.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn delete_crew_runs_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StorageError> {
        const SQL: &str = "DELETE FROM crew_runs WHERE started_at < $1 AND status <> 'running'";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).bind(to_unix(cutoff)).execute(pool).await?.rows_affected()
        }))
    }

    // -- research notes -------------------------------------------------------------------------

    /// Stores a research note (created now) and returns it as stored.
    ///
    /// # Errors
    /// [`StorageError::Invalid`] (nothing written) for a confidence that is not a finite number
    /// in `0..=1`; [`StorageError::Query`] if the database fails, e.g. for a `crew_run_id` that
    /// does not exist.
    pub async fn insert_research_note(
        &self,
        note: &ResearchNote,
    ) -> Result<Stored<ResearchNote>, StorageError> {
        if !(note.confidence.is_finite() && (0.0..=1.0).contains(&note.confidence)) {
            return Err(StorageError::invalid(
                "research note confidence",
                format!("{} for {} is not a number between 0 and 1", note.confidence, note.symbol),
            ));
        }
        let risks = to_json("research note risks", &note.risks)?;
        let key_figures = to_json("research note key figures", &note.key_figures)?;
        let sources = to_json("research note sources", &note.sources)?;
        let sql = format!(
            "INSERT INTO research_notes (crew_run_id, symbol, rating, confidence, horizon, thesis, risks, \
             key_figures, sources, markdown, model, crew, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {NOTE_COLUMNS}"
        );
        Ok(with_pool!(self, pool => {
            // fetch_all runs the write statement to completion (see `create_run`).
            let rows = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(note.crew_run_id)
                .bind(note.symbol.as_str())
                .bind(note.rating.as_str())
                .bind(note.confidence)
                .bind(&note.horizon)
                .bind(&note.thesis)
                .bind(&risks)
                .bind(&key_figures)
                .bind(&sources)
                .bind(&note.markdown)
                .bind(&note.model)
                .bind(&note.crew)
                .bind(now_unix())
                .fetch_all(pool)
                .await?;
            let row = rows
                .first()
                .ok_or_else(|| StorageError::corrupt("research_notes", &note.symbol, "INSERT returned no row"))?;
            note_from_row(row)?
        }))
    }

    /// Research notes, newest first, of one symbol or of all, at most `limit`.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails; [`StorageError::Corrupt`] for a stored
    /// value this crate did not write.
    pub async fn research_notes(
        &self,
        symbol: Option<&Symbol>,
        limit: u32,
    ) -> Result<Vec<Stored<ResearchNote>>, StorageError> {
        let sql = match symbol {
            Some(_) => format!(
                "SELECT {NOTE_COLUMNS} FROM research_notes WHERE symbol = $2 \
                 ORDER BY created_at DESC, id DESC LIMIT $1"
            ),
            None => format!(
                "SELECT {NOTE_COLUMNS} FROM research_notes ORDER BY created_at DESC, id DESC LIMIT $1"
            ),
        };
        Ok(with_pool!(self, pool => {
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(i64::from(limit));
            if let Some(symbol) = symbol {
                query = query.bind(symbol.as_str());
            }
            query.fetch_all(pool).await?.iter().map(note_from_row).collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// The newest note of each of `symbols` that has one, in the order of `symbols` (each
    /// symbol once), for the export.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails; [`StorageError::Corrupt`] for a stored
    /// value this crate did not write.
    pub async fn latest_research_notes(
        &self,
        symbols: &[Symbol],
    ) -> Result<Vec<Stored<ResearchNote>>, StorageError> {
        let mut latest: HashMap<Symbol, Stored<ResearchNote>> = HashMap::new();
        for chunk in symbols.chunks(SYMBOLS_PER_QUERY) {
            let placeholders = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT {NOTE_COLUMNS} FROM research_notes n WHERE n.symbol IN ({placeholders}) \
                 AND n.id = (SELECT m.id FROM research_notes m WHERE m.symbol = n.symbol \
                 ORDER BY m.created_at DESC, m.id DESC LIMIT 1)"
            );
            let notes = with_pool!(self, pool => {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for symbol in chunk {
                    query = query.bind(symbol.as_str());
                }
                query.fetch_all(pool).await?.iter().map(note_from_row).collect::<Result<Vec<_>, _>>()?
            });
            latest.extend(notes.into_iter().map(|note| (note.value.symbol.clone(), note)));
        }
        Ok(symbols.iter().filter_map(|symbol| latest.remove(symbol)).collect())
    }

    /// Deletes notes created before `cutoff` (retention) and returns how many there were.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn delete_research_notes_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StorageError> {
        const SQL: &str = "DELETE FROM research_notes WHERE created_at < $1";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).bind(to_unix(cutoff)).execute(pool).await?.rows_affected()
        }))
    }

    // -- memory ---------------------------------------------------------------------------------

    /// Remembers `content` in `scope` for `ttl` (whole seconds, rounded up; a zero TTL is stored
    /// already expired, so it is never recalled) and returns the entry's id. In the same
    /// transaction it deletes every expired entry (of any scope; before the insert) and then the
    /// oldest entries of `scope` beyond `max_entries_per_scope` entries or `max_bytes_per_scope`
    /// bytes of content (UTF-8), so the new entry is always kept.
    ///
    /// # Errors
    /// [`StorageError::Invalid`] (nothing written) when `max_entries_per_scope` is 0 or the
    /// content alone is larger than `max_bytes_per_scope`; [`StorageError::Query`] (everything
    /// rolled back) if the database fails.
    pub async fn remember(
        &self,
        scope: &str,
        content: &str,
        ttl: Duration,
        max_entries_per_scope: u32,
        max_bytes_per_scope: u64,
    ) -> Result<i64, StorageError> {
        if max_entries_per_scope == 0 {
            return Err(StorageError::invalid("memory cap", "max_entries_per_scope must be at least 1"));
        }
        let bytes = content.len() as u64;
        if bytes > max_bytes_per_scope {
            return Err(StorageError::invalid(
                "memory entry",
                format!("{bytes} bytes exceed the cap of {max_bytes_per_scope} bytes per scope"),
            ));
        }
        const PURGE_SQL: &str = "DELETE FROM agent_memory WHERE expires_at <= $1";
        const INSERT_SQL: &str = "INSERT INTO agent_memory (scope, content, bytes, created_at, expires_at) \
                                  VALUES ($1, $2, $3, $4, $5) RETURNING id";
        const ENTRIES_SQL: &str = "DELETE FROM agent_memory WHERE scope = $1 AND id NOT IN \
                                   (SELECT id FROM agent_memory WHERE scope = $1 ORDER BY id DESC LIMIT $2)";
        // The running total over the scope, newest first; everything from the first entry that
        // takes it past the cap is deleted (sizes are never negative, so the total only grows).
        const BYTES_SQL: &str = "DELETE FROM agent_memory WHERE id IN (SELECT id FROM \
                                 (SELECT id, SUM(bytes) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS total \
                                 FROM agent_memory WHERE scope = $1) AS newest WHERE total > $2)";
        let now = now_unix();
        let expires_at = now.saturating_add(ttl_secs(ttl));
        let backend = self.backend();
        let (id, purged, evicted) = with_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let purged = sqlx::query(PURGE_SQL).bind(now).execute(&mut *tx).await?.rows_affected();
            let rows = sqlx::query(INSERT_SQL)
                .bind(scope)
                .bind(content)
                .bind(u64_to_sql(bytes))
                .bind(now)
                .bind(expires_at)
                .fetch_all(&mut *tx)
                .await?;
            let id = rows
                .first()
                .ok_or_else(|| StorageError::corrupt("agent_memory", scope, "INSERT returned no row"))?
                .int("id")?;
            let mut evicted = sqlx::query(ENTRIES_SQL)
                .bind(scope)
                .bind(i64::from(max_entries_per_scope))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            evicted += sqlx::query(BYTES_SQL)
                .bind(scope)
                .bind(u64_to_sql(max_bytes_per_scope))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            (id, purged, evicted)
        });
        tracing::debug!(scope, id, bytes, purged, evicted, "remembered");
        Ok(id)
    }

    /// The unexpired entries of `scope`, newest first, at most `limit`.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn recall(&self, scope: &str, limit: u32) -> Result<Vec<MemoryRecord>, StorageError> {
        const SQL: &str = "SELECT id, content, created_at, expires_at FROM agent_memory \
                           WHERE scope = $1 AND expires_at > $2 ORDER BY id DESC LIMIT $3";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(scope)
                .bind(now_unix())
                .bind(sql_limit(Some(u64::from(limit))))
                .fetch_all(pool)
                .await?
                .iter()
                .map(memory_from_row)
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Deletes every expired memory entry and returns how many there were.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn forget_expired(&self) -> Result<u64, StorageError> {
        const SQL: &str = "DELETE FROM agent_memory WHERE expires_at <= $1";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).bind(now_unix()).execute(pool).await?.rows_affected()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crew_run_statuses_round_trip() {
        for status in CrewRunStatus::ALL {
            assert_eq!(status.as_str().parse::<CrewRunStatus>(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    #[test]
    fn ttl_rounds_up() {
        assert_eq!(ttl_secs(Duration::ZERO), 0);
        assert_eq!(ttl_secs(Duration::from_millis(1)), 1);
        assert_eq!(ttl_secs(Duration::from_secs(60)), 60);
        assert_eq!(ttl_secs(Duration::MAX), i64::MAX);
    }
}
