use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::read_pool::{ReadPool, ReadPoolStats};
use crate::{DatabaseConfig, StorageError, migrations, redact_url};

/// How long a SQLite connection waits for another writer's lock before giving up. Writers hold
/// the lock for one batch; this is generous for a multi-million-row upsert.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Which database engine a [`Storage`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The lower-case name, for logs and status pages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// Picks the backend from the URL scheme (case-insensitive), or `None` if unsupported.
    fn from_url(url: &str) -> Option<Self> {
        let lower = url.trim_start().to_ascii_lowercase();
        if lower.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// The statement that opens a write transaction. SQLite's `IMMEDIATE` takes the write lock up
    /// front, so a writer waits (busy timeout) at `BEGIN` instead of failing with
    /// `SQLITE_BUSY` when it later upgrades a read lock another writer has invalidated.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone)]
pub(crate) enum DbPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A handle to the database: a bounded connection pool plus every query tickerwatch runs.
///
/// Cloning is cheap (the pool is reference-counted) and every clone shares the same pool, so
/// hand one clone to each task instead of wrapping it in an `Arc`.
#[derive(Clone)]
pub struct Storage {
    pub(crate) pool: DbPool,
    /// The SQLite file's read-only rusqlite connections, for reads that bypass sqlx (see
    /// `read_pool.rs`, `Storage::visit_bars` and `Storage::stream_bar_chunks`); `None` for
    /// PostgreSQL and in-memory databases.
    pub(crate) readers: Option<Arc<ReadPool>>,
    /// This handle's instance id: stamped on the runs, exports and crew runs it creates, so that
    /// recovery in another process leaves them alone while this one beats its heartbeat (see
    /// `instances.rs`). Fresh per `connect`; clones share it.
    pub(crate) owner: Arc<str>,
    /// Signals for live readers (queued and finished runs, stored alerts), relayed between
    /// instances on PostgreSQL (see `events.rs`). Clones share them.
    pub(crate) events: Arc<crate::events::Events>,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

impl Storage {
    /// Connects to `url`, using `options` for everything but the URL (`options.url` is ignored, so
    /// a command-line `--database` flag can override the configured one; see
    /// [`Storage::from_config`] to use it).
    ///
    /// Supported URLs:
    /// - `sqlite://PATH`: the file and its parent directories are created if missing. Journal
    ///   mode WAL, `synchronous=NORMAL`, foreign keys on, a 30 s busy timeout.
    /// - `sqlite::memory:`: a private in-memory database shared by the pool's connections, which
    ///   are kept open for the pool's lifetime because the database vanishes with the last one.
    /// - `postgres://…` or `postgresql://…`: everything libpq-style URLs allow (`sslmode`,
    ///   `options`, …).
    ///
    /// One connection is opened eagerly so a wrong URL, password or path fails here rather than at
    /// the first query. Does not create or migrate the schema; call [`Storage::migrate`].
    ///
    /// # Errors
    /// [`StorageError::UnsupportedUrl`] for another scheme, [`StorageError::InvalidUrl`] if sqlx
    /// cannot parse it, [`StorageError::InvalidConfig`] for a zero pool size or timeout,
    /// [`StorageError::CreateDir`] if the SQLite directory cannot be created and
    /// [`StorageError::Connect`] if the first connection fails. URLs in errors have the password
    /// masked.
    pub async fn connect(url: &str, options: &DatabaseConfig) -> Result<Self, StorageError> {
        let redacted = redact_url(url);
        let backend =
            Backend::from_url(url).ok_or_else(|| StorageError::UnsupportedUrl { url: redacted.clone() })?;
        if options.acquire_timeout_secs == 0 {
            return Err(StorageError::InvalidConfig("acquire_timeout_secs must be at least 1".to_owned()));
        }
        if options.max_connections == Some(0) {
            return Err(StorageError::InvalidConfig("max_connections must be at least 1".to_owned()));
        }
        if options.read_connections == 0 {
            return Err(StorageError::InvalidConfig("read_connections must be at least 1".to_owned()));
        }
        if !(options.idle_timeout_secs.is_finite() && options.idle_timeout_secs > 0.0) {
            return Err(StorageError::InvalidConfig(
                "idle_timeout_secs must be a positive number".to_owned(),
            ));
        }
        let acquire_timeout = Duration::from_secs(options.acquire_timeout_secs);
        let idle_timeout = Duration::from_secs_f64(options.idle_timeout_secs);
        let invalid = |source| StorageError::InvalidUrl { url: redacted.clone(), source };
        let connect_failed = |source| StorageError::Connect { url: redacted.clone(), source };

        let mut readers = None;
        let pool = match backend {
            Backend::Sqlite => {
                let max = options.max_connections.unwrap_or(DatabaseConfig::DEFAULT_SQLITE_MAX_CONNECTIONS);
                let in_memory = sqlite_url_is_memory(url);
                let mut connect = SqliteConnectOptions::from_str(url)
                    .map_err(invalid)?
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                let mut pool = SqlitePoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(acquire_timeout)
                    .idle_timeout(idle_timeout);
                if in_memory {
                    pool = pool.min_connections(1).idle_timeout(None).max_lifetime(None);
                } else {
                    connect = connect
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal);
                    create_parent_dir(connect.get_filename())?;
                    readers = Some(Arc::new(ReadPool::new(
                        connect.get_filename().to_path_buf(),
                        options.read_connections as usize,
                        acquire_timeout,
                        idle_timeout,
                    )));
                }
                DbPool::Sqlite(pool.connect_with(connect).await.map_err(connect_failed)?)
            }
            Backend::Postgres => {
                let max = options.max_connections.unwrap_or(DatabaseConfig::DEFAULT_POSTGRES_MAX_CONNECTIONS);
                let connect = PgConnectOptions::from_str(url).map_err(invalid)?;
                let pool = PgPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(acquire_timeout)
                    .idle_timeout(idle_timeout);
                DbPool::Postgres(pool.connect_with(connect).await.map_err(connect_failed)?)
            }
        };
        tracing::info!(url = %redacted, %backend, "connected to database");
        Ok(Self {
            pool,
            readers,
            owner: crate::instances::new_instance_id().into(),
            events: Arc::new(crate::events::Events::new()),
        })
    }

    /// [`Storage::connect`] to `config.url`.
    ///
    /// # Errors
    /// As [`Storage::connect`].
    pub async fn from_config(config: &DatabaseConfig) -> Result<Self, StorageError> {
        Self::connect(&config.url, config).await
    }

    /// Which engine this storage uses.
    pub fn backend(&self) -> Backend {
        match self.pool {
            DbPool::Sqlite(_) => Backend::Sqlite,
            DbPool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Brings the schema up to date. Idempotent: applied migrations are skipped, so it is safe
    /// (and intended) to call on every start. On PostgreSQL an advisory lock serialises concurrent
    /// callers, so several instances can start at once.
    ///
    /// # Errors
    /// [`StorageError::Migrate`] if a migration fails (it is rolled back) or if an applied
    /// migration's checksum no longer matches the embedded file (someone edited a released
    /// migration instead of adding a new one).
    pub async fn migrate(&self) -> Result<(), StorageError> {
        let backend = self.backend();
        let migrator = migrations::migrator(backend);
        match &self.pool {
            DbPool::Sqlite(pool) => migrator.run(pool).await?,
            DbPool::Postgres(pool) => migrator.run(pool).await?,
        }
        // Migration 5 moved the old bars aside; their conversion needs Rust (see bars.rs).
        self.convert_legacy_bars().await?;
        tracing::debug!(%backend, "database schema is up to date");
        Ok(())
    }

    /// Applies the migrations up to `version` only, leaving the schema as an older release made
    /// it: for tests of the migrations themselves.
    ///
    /// # Errors
    /// As [`Storage::migrate`].
    #[doc(hidden)]
    pub async fn migrate_up_to(&self, version: i64) -> Result<(), StorageError> {
        let migrator = migrations::migrator_up_to(self.backend(), version);
        match &self.pool {
            DbPool::Sqlite(pool) => migrator.run(pool).await?,
            DbPool::Postgres(pool) => migrator.run(pool).await?,
        }
        Ok(())
    }

    /// Checks that a connection can be acquired and answers a trivial query; for readiness probes.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the pool times out or the database does not answer.
    pub async fn ping(&self) -> Result<(), StorageError> {
        with_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Connections the pool holds right now, idle and in use. Idle ones are closed after
    /// `idle_timeout_secs` (except for `sqlite::memory:`), so a quiet service goes down to 0.
    pub fn open_connections(&self) -> u32 {
        with_pool!(self, pool => pool.size())
    }

    /// True once [`Storage::close`] has been called.
    pub fn is_closed(&self) -> bool {
        with_pool!(self, pool => pool.is_closed())
    }

    /// How many read-only connections the SQLite file's read pool has open (see
    /// [`Storage::visit_bars`]); `None` for PostgreSQL and in-memory databases, which have none.
    pub fn read_pool_stats(&self) -> Option<ReadPoolStats> {
        self.readers.as_ref().map(|readers| readers.stats())
    }

    /// Closes the pools: waits for checked-out connections (and reads in flight on the SQLite
    /// read pool) to come back, then closes them all. Further queries on any clone fail. Call it
    /// on shutdown so SQLite can checkpoint the WAL.
    pub async fn close(&self) {
        if let Some(listener) = self.events.take_listener() {
            listener.abort();
            let _ = listener.await;
        }
        if let Some(readers) = &self.readers {
            readers.close().await;
        }
        with_pool!(self, pool => pool.close().await);
        tracing::debug!(backend = %self.backend(), "database pool closed");
    }
}

/// True for the in-memory spellings sqlx accepts: `sqlite::memory:`, `sqlite://:memory:` and
/// `mode=memory`.
fn sqlite_url_is_memory(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory")
}

/// SQLite creates the file but not its directory; do it so the default `data/tickerwatch.db`
/// works on a fresh checkout. Blocking, but once per start and microseconds long.
fn create_parent_dir(file: &Path) -> Result<(), StorageError> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => {
            std::fs::create_dir_all(dir)
                .map_err(|source| StorageError::CreateDir { path: dir.to_owned(), source })?;
            tracing::info!(dir = %dir.display(), "created database directory");
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_schemes() {
        assert_eq!(Backend::from_url("sqlite://data/x.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("postgres://h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::from_url("PostgreSQL://h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::from_url("mysql://h/db"), None);
        assert_eq!(Backend::from_url("data/x.db"), None);
    }

    #[test]
    fn recognises_in_memory_sqlite() {
        assert!(sqlite_url_is_memory("sqlite::memory:"));
        assert!(sqlite_url_is_memory("sqlite://:memory:"));
        assert!(sqlite_url_is_memory("sqlite://x?mode=memory"));
        assert!(!sqlite_url_is_memory("sqlite://data/memory.db"));
    }
}
