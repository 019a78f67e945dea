use std::path::PathBuf;

use chrono::{DateTime, Utc};
use domain::Symbol;

/// Everything that can go wrong in the storage layer.
///
/// Variants that mention a database URL always carry it with the password masked (see
/// [`redact_url`](crate::redact_url)), so an error can be logged or shown to a user as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A read through rusqlite failed: the bulk reader of exports, or the pooled read-only
    /// connections of the API's bar reads (see [`Storage::visit_bars`](crate::Storage::visit_bars)).
    #[error("SQLite read failed: {0}")]
    Bulk(String),

    /// The URL's scheme is none of the supported ones.
    #[error(
        "unsupported database URL {url:?}: expected sqlite://PATH, sqlite::memory:, postgres://… or postgresql://…"
    )]
    UnsupportedUrl {
        /// The URL with any password masked.
        url: String,
    },

    /// The URL has a supported scheme but sqlx could not parse it.
    #[error("invalid database URL {url:?}: {source}")]
    InvalidUrl {
        /// The URL with any password masked.
        url: String,
        #[source]
        source: sqlx::Error,
    },

    /// A [`DatabaseConfig`](crate::DatabaseConfig) value is out of range.
    #[error("invalid database configuration: {0}")]
    InvalidConfig(String),

    /// The parent directory of a SQLite database file could not be created.
    #[error("cannot create directory {} for the SQLite database: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The first connection to the database failed.
    #[error("cannot connect to database {url:?}: {source}")]
    Connect {
        /// The URL with any password masked.
        url: String,
        #[source]
        source: sqlx::Error,
    },

    /// Applying the schema migrations failed; the failing migration was rolled back.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A query failed (connection lost, constraint violated, pool timed out, …). A write that
    /// fails this way has been rolled back completely.
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),

    /// A bar holds NaN or an infinity. Refused before writing anything, because SQLite would
    /// store NaN as NULL and PostgreSQL as NaN, and neither is a price.
    #[error("bar {symbol} at {ts} has a non-finite {field}; nothing of the batch was stored")]
    NonFinite { symbol: Symbol, ts: DateTime<Utc>, field: &'static str },

    /// A value to be stored lacks a field the schema needs (e.g. a profile without a symbol).
    #[error("cannot store {what}: {field} is missing")]
    MissingField { what: &'static str, field: &'static str },

    /// A value to be stored breaks a rule of the schema (a confidence outside 0..=1, a memory
    /// entry larger than its scope's cap, …). Refused before anything was written.
    #[error("invalid {what}: {reason}; nothing was stored")]
    Invalid { what: &'static str, reason: String },

    /// An alert rule that would fire on the same events as rule `existing` (same symbol and
    /// condition). Its own variant so the API can answer 409 rather than 422.
    #[error("rule {existing} already watches the same symbol and condition")]
    DuplicateAlertRule { existing: i64 },

    /// A stored row could not be turned back into a domain value (e.g. an unknown provider
    /// name), which means the database was edited by something other than this crate.
    #[error("invalid stored {column} value {value:?}: {reason}")]
    Corrupt { column: &'static str, value: String, reason: String },
}

impl StorageError {
    pub(crate) fn invalid(what: &'static str, reason: impl ToString) -> Self {
        Self::Invalid { what, reason: reason.to_string() }
    }

    pub(crate) fn corrupt(column: &'static str, value: impl ToString, reason: impl ToString) -> Self {
        Self::Corrupt { column, value: value.to_string(), reason: reason.to_string() }
    }
}
