//! The harness shared by the storage test binaries: every check gets a fresh SQLite file, or a
//! fresh PostgreSQL schema `tw_test_<unix secs>_<pid>_<n>` selected through `search_path` and
//! dropped afterwards, pass or fail; schemas older than an hour (left by a killed run) are
//! dropped on startup. Each test binary is its own process, so the pid keeps their schemas apart.
//!
//! Without `TEST_DATABASE_URL` the PostgreSQL tests skip (one note per binary on stderr), except
//! where PostgreSQL is required (`CI` or `TEST_REQUIRE_POSTGRES` set): there they fail, as they
//! do whenever the URL is set but the server cannot be reached.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use sqlx::{Connection, PgConnection};
use storage::{Backend, DatabaseConfig, Storage};
use tempfile::TempDir;

const SCHEMA_PREFIX: &str = "tw_test_";
const STALE_SCHEMA_AGE_SECS: u64 = 3600;

pub(crate) fn config() -> DatabaseConfig {
    DatabaseConfig { max_connections: Some(4), acquire_timeout_secs: 10, ..DatabaseConfig::default() }
}

/// A migrated database for one test, and what must be cleaned up after it.
pub(crate) struct TestDb {
    storage: Storage,
    /// The URL `storage` was connected with (for tests that open their own connections).
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Deleted on drop.
    Sqlite(#[allow(dead_code)] TempDir),
    Postgres {
        admin_url: String,
        schema: String,
    },
}

impl TestDb {
    pub(crate) async fn sqlite() -> Self {
        Self::sqlite_with(true).await
    }

    /// `migrate: false` leaves the database empty (for migration tests).
    pub(crate) async fn sqlite_with(migrate: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("tickerwatch.db").display());
        let storage = Storage::connect(&url, &config()).await.expect("connect sqlite");
        if migrate {
            storage.migrate().await.expect("migrate sqlite");
        }
        Self { storage, url, cleanup: Cleanup::Sqlite(dir) }
    }

    /// `None` (skip) when `TEST_DATABASE_URL` is not set, unless PostgreSQL is required (CI):
    /// see [`test_support::postgres_url`].
    pub(crate) async fn postgres() -> Option<Self> {
        Self::postgres_with(true).await
    }

    /// `migrate: false` leaves the schema empty (for migration tests).
    pub(crate) async fn postgres_with(migrate: bool) -> Option<Self> {
        let admin_url = test_support::postgres_url()?;
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|error| {
            panic!(
                "TEST_DATABASE_URL is set, but PostgreSQL at {} is not reachable: {error}",
                storage::redact_url(&admin_url)
            )
        });
        drop_stale_schemas(&mut admin).await;

        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let schema = format!(
            "{SCHEMA_PREFIX}{}_{}_{}",
            unix_now(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("create test schema");
        admin.close().await.ok();

        // `options[search_path]` becomes `-c search_path=…` in the startup packet, so every pooled
        // connection (and the migrator) works inside the test's schema.
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options%5Bsearch_path%5D={schema}");
        let storage = Storage::connect(&url, &config()).await.expect("connect postgres");
        if migrate {
            storage.migrate().await.expect("migrate postgres");
        }
        Some(Self { storage, url, cleanup: Cleanup::Postgres { admin_url, schema } })
    }

    /// Drop can't be async, so this runs explicitly at the end of every test (also on panic).
    async fn finish(self) {
        self.storage.close().await;
        if let Cleanup::Postgres { admin_url, schema } = self.cleanup {
            let mut admin = PgConnection::connect(&admin_url).await.expect("connect for cleanup");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                .execute(&mut admin)
                .await
                .expect("drop test schema");
            admin.close().await.ok();
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Drops `tw_test_<secs>_…` schemas older than an hour: leftovers of killed runs. Younger ones
/// may belong to a test running concurrently (another process), so they are left alone.
async fn drop_stale_schemas(admin: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(SCHEMA_PREFIX)
            .fetch_all(&mut *admin)
            .await
            .expect("list test schemas");
    let now = unix_now();
    for name in names {
        let created = name[SCHEMA_PREFIX.len()..].split('_').next().and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > STALE_SCHEMA_AGE_SECS) {
            // The name is ours (prefix + digits/underscores); a concurrent run may race us to it.
            let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", name.replace('"', "\"\""));
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *admin).await.ok();
        }
    }
}

/// Runs `check` against `db` and always cleans up, re-raising a failed check's panic afterwards.
pub(crate) async fn run<F, Fut>(db: TestDb, backend: Backend, check: F)
where
    F: FnOnce(Storage) -> Fut,
    Fut: Future<Output = ()>,
{
    assert_eq!(db.storage.backend(), backend);
    let result = AssertUnwindSafe(check(db.storage.clone())).catch_unwind().await;
    db.finish().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Like [`run`], for checks that also need the database URL (e.g. to open their own
/// connections on an unmigrated database).
#[allow(dead_code)]
pub(crate) async fn run_with_url<F, Fut>(db: TestDb, backend: Backend, check: F)
where
    F: FnOnce(Storage, String) -> Fut,
    Fut: Future<Output = ()>,
{
    assert_eq!(db.storage.backend(), backend);
    let result = AssertUnwindSafe(check(db.storage.clone(), db.url.clone())).catch_unwind().await;
    db.finish().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Generates `sqlite_unmigrated::<check>` and `postgres_unmigrated::<check>` tests for checks
/// `async fn(Storage, url: String)` that get an empty, unmigrated database.
#[macro_export]
macro_rules! unmigrated_backend_tests {
    ($($check:ident),* $(,)?) => {
        mod sqlite_unmigrated {
            $(
                #[tokio::test]
                async fn $check() {
                    let db = $crate::common::TestDb::sqlite_with(false).await;
                    $crate::common::run_with_url(db, storage::Backend::Sqlite, super::$check).await;
                }
            )*
        }
        mod postgres_unmigrated {
            $(
                #[tokio::test]
                async fn $check() {
                    match $crate::common::TestDb::postgres_with(false).await {
                        Some(db) => $crate::common::run_with_url(db, storage::Backend::Postgres, super::$check).await,
                        // Skipped; `postgres_url` said so once for this binary.
                        None => {}
                    }
                }
            )*
        }
    };
}

/// Generates `sqlite::<check>` and `postgres::<check>` tests for each check.
#[macro_export]
macro_rules! backend_tests {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    $crate::common::run($crate::common::TestDb::sqlite().await, storage::Backend::Sqlite, super::$check).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    match $crate::common::TestDb::postgres().await {
                        Some(db) => $crate::common::run(db, storage::Backend::Postgres, super::$check).await,
                        // Skipped; `postgres_url` said so once for this binary.
                        None => {}
                    }
                }
            )*
        }
    };
}

/// Generates `sqlite_url::<check>` and `postgres_url::<check>` tests for checks
/// `async fn(Storage, url: String)` on a migrated database, for checks that open a second
/// handle (a second process) on the same database.
#[macro_export]
macro_rules! url_backend_tests {
    ($($check:ident),* $(,)?) => {
        mod sqlite_url {
            $(
                #[tokio::test]
                async fn $check() {
                    let db = $crate::common::TestDb::sqlite().await;
                    $crate::common::run_with_url(db, storage::Backend::Sqlite, super::$check).await;
                }
            )*
        }
        mod postgres_url {
            $(
                #[tokio::test]
                async fn $check() {
                    match $crate::common::TestDb::postgres().await {
                        Some(db) => $crate::common::run_with_url(db, storage::Backend::Postgres, super::$check).await,
                        // Skipped; `postgres_url` said so once for this binary.
                        None => {}
                    }
                }
            )*
        }
    };
}
