//! Whether the PostgreSQL suites run, skip or fail (the rule of [`crate::required`]), and a
//! fresh schema per test.
//!
//! Suites that need PostgreSQL read its URL from [`TEST_DATABASE_URL`]. Locally the variable is
//! often unset, and those tests then skip (saying so once per test binary). In CI a skipped
//! suite would pass silently while testing nothing, so when PostgreSQL is *required* (`CI` is set,
//! as CI services and `.ci/run` do, or [`REQUIRE_POSTGRES`] is) an unset URL fails the test. A URL
//! that is set but unreachable always fails: someone asked for PostgreSQL and did not get it.

use crate::required::RequiredService;

/// The PostgreSQL URL of the suites, e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// Set to `1` to require PostgreSQL outside CI.
pub const REQUIRE_POSTGRES: &str = "TEST_REQUIRE_POSTGRES";

static POSTGRES: RequiredService = RequiredService::new(
    "PostgreSQL",
    TEST_DATABASE_URL,
    REQUIRE_POSTGRES,
    "PostgreSQL tests",
    "start PostgreSQL and set TEST_DATABASE_URL=postgres://USER@HOST:PORT/DB, e.g. \
     postgres://postgres@127.0.0.1:5432/test",
);

/// True when PostgreSQL suites must run: `CI` or [`REQUIRE_POSTGRES`] is set to anything but
/// empty, `0` or `false`.
pub fn postgres_required() -> bool {
    POSTGRES.required()
}

/// The URL of the PostgreSQL server for tests: `Some` when [`TEST_DATABASE_URL`] is set; `None`
/// (skip the test) when it is not, after telling stderr once per test binary.
///
/// # Panics
/// When PostgreSQL is [required](postgres_required) and the URL is not set.
pub fn postgres_url() -> Option<String> {
    POSTGRES.value()
}

/// A fresh PostgreSQL schema for one test, so that tests (and test binaries) running at once on
/// one database never see each other's rows. Every connection made with [`url`](Self::url)
/// works inside it. Drop it with [`drop_schema`](Self::drop_schema) at the end of the test.
pub struct PgSchema {
    admin_url: String,
    schema: String,
    url: String,
}

impl PgSchema {
    /// Creates `tw_<prefix>_<pid>_<n>`; `None` (skip) as [`postgres_url`] says.
    ///
    /// # Panics
    /// When PostgreSQL is required but not set, or cannot be reached.
    pub async fn create(prefix: &str) -> Option<Self> {
        use sqlx::Connection as _;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let admin_url = postgres_url()?;
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let schema = format!("tw_{prefix}_{}_{n}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{TEST_DATABASE_URL} is set but PostgreSQL cannot be reached: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        )))
        .execute(&mut admin)
        .await
        .expect("create the test schema");
        admin.close().await.ok();
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        // `options[search_path]` becomes `-c search_path=…` in the startup packet.
        let url = format!("{admin_url}{separator}options%5Bsearch_path%5D={schema}");
        Some(Self { admin_url, schema, url })
    }

    /// The URL of a connection inside the schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the schema and everything in it.
    pub async fn drop_schema(self) {
        use sqlx::Connection as _;
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ =
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)))
                    .execute(&mut admin)
                    .await;
            admin.close().await.ok();
        }
    }
}
