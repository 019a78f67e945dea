//! Persistence for tickerwatch: the watchlist, OHLCV bars, quotes, company profiles, news, the
//! data-quality log, job runs, exports, tokens, the social data (posts, ticker mentions, scan
//! coverage and their aggregates) and the research agents' crew runs, notes and memory, in
//! SQLite (the default, zero-setup) or PostgreSQL (for shared deployments).
//!
//! This is the only crate with SQL. Everything it accepts and returns is a `domain` type (or a
//! small record defined here), so no caller ever sees a row, a column name or a backend.
//!
//! # Design decisions
//!
//! - **One code path, two pools.** [`Storage`] wraps either a `SqlitePool` or a `PgPool` and every
//!   method is written once; a small internal macro expands the body for each pool type. The SQL
//!   is deliberately the common subset of both dialects (`$n` placeholders, which SQLite also
//!   understands, `ON CONFLICT … DO UPDATE`, `excluded.`), so a query can never drift between
//!   backends. The one exception is the bulk bar insert, which uses `?` on SQLite because SQLite
//!   resolves `$n` names with a linear scan (quadratic over thousands of parameters). sqlx's `Any`
//!   driver was not used: it is a feature we do not build, it erases types at runtime and it
//!   cannot express backend-specific pool setup (WAL, busy timeout).
//! - **No compile-time checked queries.** The workspace builds sqlx without `macros` (no database
//!   needed at build time), so queries use `sqlx::query` with runtime binding and `Row::try_get`.
//!   The test suite in `tests/storage.rs` runs every query against both backends instead.
//! - **Migrations embedded with `include_str!`.** `migrate!()` needs the `macros` feature, so the
//!   files under `migrations/{sqlite,postgres}/` are embedded with `include_str!` and turned into
//!   a [`sqlx::migrate::Migrator`] at runtime ([`Storage::migrate`]). The applied-migrations table
//!   and checksums are sqlx's own, so the `sqlx` CLI can still inspect a database. A unit test
//!   fails if a file in those directories is not registered.
//! - **Time is integer unix seconds (UTC)** in every table and both backends: the same SQL, fast
//!   integer range scans on the primary key, no time-zone or driver-specific timestamp handling.
//!   Conversion to `chrono::DateTime<Utc>` happens at this crate's edge; sub-second precision is
//!   dropped (no vendor sends finer bars than one minute).
//! - **Missing is NULL, never 0.** Every price and volume column is nullable; `None` round-trips.
//!   Non-finite numbers are refused before any write (SQLite would silently turn `NaN` into NULL
//!   while PostgreSQL stores it, so accepting them would make the backends disagree).
//! - **One bar per trading day.** Bars are keyed by (symbol, interval, ts), where a daily bar's
//!   `ts` is its session date (see `domain::Bar::ts`), whatever the provider; `provider` is kept on
//!   the row as provenance. A second provider's bar of a stored day is reconciled (the preferred
//!   provider's stays, a final bar replaces a partial one) and differences beyond a tolerance are
//!   stored as disagreements.
//! - **Bulk upserts are one transaction of multi-row `INSERT … ON CONFLICT` statements** whose
//!   row counts are powers of two (see [`Storage::upsert_bars`]), so the handful of distinct
//!   statement texts stay in sqlx's prepared-statement cache, each statement stays below the
//!   backend's bind-parameter limit, and a failure anywhere rolls back the whole batch.
//! - **SQLite is tuned for one writer and many readers**: WAL journal (readers never block the
//!   writer), `synchronous=NORMAL` (durable across application crashes; an OS crash can lose only
//!   the last commits, never corrupt), foreign keys on, a busy timeout, and writes start with
//!   `BEGIN IMMEDIATE` so two writers queue instead of failing with `SQLITE_BUSY` mid-transaction.
//! - **Hot reads of a SQLite file bypass sqlx.** sqlx's SQLite driver hands rows from its worker
//!   thread one at a time (~2 µs each). Exports ([`Storage::stream_bar_chunks`]) read through a
//!   read-only rusqlite connection of their own; the API ([`Storage::visit_bars`]) through a few
//!   reader threads owned by the store, each with one (`read_pool.rs`: started lazily, stopped
//!   when idle and by [`Storage::close`]), with cached prepared statements and rows borrowed
//!   straight into the caller's visitor. PostgreSQL and in-memory SQLite use sqlx.

/// Expands `$body` once per backend with `$pool` bound to the concrete sqlx pool, so each method
/// is written once yet fully typed for both drivers.
macro_rules! with_pool {
    ($storage:expr, $pool:ident => $body:expr) => {
        match &$storage.pool {
            $crate::storage::DbPool::Sqlite($pool) => $body,
            $crate::storage::DbPool::Postgres($pool) => $body,
        }
    };
}

mod actions;
mod alerts;
mod analysis;
mod bars;
mod config;
mod error;
mod events;
mod exports;
mod instances;
mod migrations;
mod provider_requests;
mod read_pool;
mod records;
mod rows;
mod run_stats;
mod runs;
mod social;
mod storage;
mod stored;
#[cfg(test)]
mod text_enum;
mod tokens;
mod universe;
mod watchlist;

pub use alerts::{Alert, AlertDelivery, AlertRule};
pub use analysis::{CrewRunFinish, CrewRunRecord, CrewRunStatus, MemoryRecord, NewCrewRun};
pub use bars::{BarQuery, BarRow, DisagreementQuery, UpsertStats};
pub use config::{DatabaseConfig, redact_url};
pub use error::StorageError;
pub use exports::{ExportRecord, ExportStatus};
pub use instances::{InstanceRecord, Recovered};
pub use provider_requests::ProviderRequests;
pub use read_pool::ReadPoolStats;
pub use records::{QualityAction, QualityEvent};
pub use run_stats::RunStats;
pub use runs::{NewRun, RunItem, RunRecord, RunRequest, RunStatus};
pub use social::{
    BEARISH_THRESHOLD, BULLISH_THRESHOLD, MentionBucket, MentionBucketSize, SPIKE_BASELINE_HOURS,
    SocialSaveStats, TrendingRow, spike_score,
};
pub use storage::{Backend, Storage};
pub use stored::Stored;
pub use tokens::TokenRecord;
pub use universe::{StoredUniverse, UniverseRow, UniverseVersion};
pub use watchlist::WatchlistEntry;
