//! Whether the PostgreSQL suites run, skip or fail.
//!
//! Suites that need PostgreSQL read its URL from [`TEST_DATABASE_URL`]. Locally the variable is
//! often unset, and those tests then skip (saying so once per test binary). In CI a skipped
//! suite would pass silently while testing nothing, so when PostgreSQL is *required* (`CI` is set,
//! as CI services and `.ci/run` do, or [`REQUIRE_POSTGRES`] is) an unset URL fails the test. A URL
//! that is set but unreachable always fails: someone asked for PostgreSQL and did not get it.

use std::io::Write as _;
use std::sync::Once;

/// The PostgreSQL URL of the suites, e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// Set to `1` to require PostgreSQL outside CI. Deliberately not `TICKERWATCH_*`: the binary
/// refuses unknown variables with its settings prefix, and the CLI tests pass the environment on.
pub const REQUIRE_POSTGRES: &str = "TEST_REQUIRE_POSTGRES";

/// True when PostgreSQL suites must run: `CI` or [`REQUIRE_POSTGRES`] is set to anything but
/// empty, `0` or `false`.
pub fn postgres_required() -> bool {
    is_set(std::env::var("CI").ok().as_deref()) || is_set(std::env::var(REQUIRE_POSTGRES).ok().as_deref())
}

fn is_set(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.trim().is_empty() && v.trim() != "0" && !v.trim().eq_ignore_ascii_case("false"))
}

/// The URL of the PostgreSQL server for tests: `Some` when [`TEST_DATABASE_URL`] is set; `None`
/// (skip the test) when it is not, after telling stderr once per test binary.
///
/// # Panics
/// When PostgreSQL is [required](postgres_required) and the URL is not set.
pub fn postgres_url() -> Option<String> {
    match decide(std::env::var(TEST_DATABASE_URL).ok(), postgres_required()) {
        Decision::Run(url) => Some(url),
        Decision::Fail(message) => panic!("{message}"),
        Decision::Skip => {
            static TOLD: Once = Once::new();
            TOLD.call_once(|| {
                // Straight to the stream: the test harness captures `eprintln!` of passing tests.
                let note = format!(
                    "note: {TEST_DATABASE_URL} is not set, so the PostgreSQL tests of {} are SKIPPED (they \
                     pass without running); set it, e.g. \
                     {TEST_DATABASE_URL}=postgres://postgres@127.0.0.1:5432/test, and {REQUIRE_POSTGRES}=1 \
                     to make a missing database an error\n",
                    std::env::args().next().as_deref().map_or("this test binary", binary_name)
                );
                let _ = std::io::stderr().write_all(note.as_bytes());
            });
            None
        }
    }
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

/// What a PostgreSQL test does.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Run(String),
    Skip,
    Fail(String),
}

fn decide(url: Option<String>, required: bool) -> Decision {
    match url.filter(|url| !url.trim().is_empty()) {
        Some(url) => Decision::Run(url),
        None if required => Decision::Fail(format!(
            "{TEST_DATABASE_URL} is not set, but PostgreSQL is required here (CI or {REQUIRE_POSTGRES} is \
             set): start PostgreSQL and set {TEST_DATABASE_URL}=postgres://USER@HOST:PORT/DB"
        )),
        None => Decision::Skip,
    }
}

/// `storage-1a2b3c…` → `storage`: the test binary's name without cargo's hash.
pub(crate) fn binary_name(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.rsplit_once('-')
        .filter(|(_, hash)| hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .map_or(file, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthy_values() {
        for value in ["true", "1", "yes", "woodpecker", "TRUE"] {
            assert!(is_set(Some(value)), "{value}");
        }
        for value in [None, Some(""), Some(" "), Some("0"), Some("false"), Some("False")] {
            assert!(!is_set(value), "{value:?}");
        }
    }

    #[test]
    fn names_the_test_binary() {
        assert_eq!(binary_name("/w/target/debug/deps/storage-0123abcd"), "storage");
        assert_eq!(binary_name("runs_exports_tokens-9f8e"), "runs_exports_tokens");
        assert_eq!(binary_name("plain"), "plain");
    }

    #[test]
    fn a_set_url_runs_the_tests() {
        let url = "postgres://u@h/db".to_owned();
        assert_eq!(decide(Some(url.clone()), true), Decision::Run(url.clone()));
        assert_eq!(decide(Some(url.clone()), false), Decision::Run(url));
    }

    #[test]
    fn a_missing_url_skips_locally_and_fails_when_required() {
        assert_eq!(decide(None, false), Decision::Skip);
        assert_eq!(decide(Some(String::new()), false), Decision::Skip);
        let Decision::Fail(message) = decide(None, true) else { panic!("not a failure") };
        assert!(
            message.contains("PostgreSQL is required") && message.contains(TEST_DATABASE_URL),
            "{message}"
        );
    }
}
