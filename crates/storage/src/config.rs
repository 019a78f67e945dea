use std::fmt;

use serde::{Deserialize, Serialize};

/// The `[database]` section of the configuration.
///
/// `Debug` masks the password in `url` (see [`redact_url`]) so the whole configuration can be
/// logged at startup without leaking credentials.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (relative paths are relative to the working directory), `sqlite::memory:`,
    /// or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    pub url: String,
    /// Upper bound of the connection pool; `None` picks 8 for SQLite (one writer at a time, so
    /// more only helps readers) and 10 for PostgreSQL.
    pub max_connections: Option<u32>,
    /// How long a query may wait for a free connection before failing, so an overloaded or
    /// unreachable database surfaces as an error instead of a hang.
    pub acquire_timeout_secs: u64,
    /// Pooled connections idle this long are closed (not for `sqlite::memory:`, whose database
    /// lives in its connections), so a quiet service holds no more files and sockets than it
    /// needs.
    pub idle_timeout_secs: f64,
    /// SQLite files only: the most reader threads, each with one read-only connection, that the
    /// API's bar reads use (see [`Storage::visit_bars`](crate::Storage::visit_bars)); started on
    /// demand, stopped after `idle_timeout_secs` unused and with the store. Twice as many reads
    /// may be queued or running; more wait (up to `acquire_timeout_secs`).
    pub read_connections: u32,
}

impl DatabaseConfig {
    /// Default for [`idle_timeout_secs`](Self::idle_timeout_secs).
    pub const DEFAULT_IDLE_TIMEOUT_SECS: f64 = 300.0;
    /// The default database: a file under `data/` next to where the service runs, so a fresh
    /// install works without any setup.
    pub const DEFAULT_URL: &'static str = "sqlite://data/tickerwatch.db";
    /// Default pool size for SQLite.
    pub const DEFAULT_SQLITE_MAX_CONNECTIONS: u32 = 8;
    /// Default pool size for PostgreSQL.
    pub const DEFAULT_POSTGRES_MAX_CONNECTIONS: u32 = 10;
    /// Default for [`acquire_timeout_secs`](Self::acquire_timeout_secs).
    pub const DEFAULT_ACQUIRE_TIMEOUT_SECS: u64 = 10;
    /// Default for [`read_connections`](Self::read_connections): enough to keep two cores busy
    /// while some reads wait on the disk.
    pub const DEFAULT_READ_CONNECTIONS: u32 = 4;
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Self::DEFAULT_URL.to_owned(),
            max_connections: None,
            acquire_timeout_secs: Self::DEFAULT_ACQUIRE_TIMEOUT_SECS,
            idle_timeout_secs: Self::DEFAULT_IDLE_TIMEOUT_SECS,
            read_connections: Self::DEFAULT_READ_CONNECTIONS,
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .field("idle_timeout_secs", &self.idle_timeout_secs)
            .field("read_connections", &self.read_connections)
            .finish()
    }
}

/// Returns `url` with its password replaced by `***`, for logs and error messages.
///
/// Masks the password of the user-info part (`postgres://user:***@host/db`) and every query
/// parameter whose name contains `password` (`?password=***`). It errs on the side of masking:
/// the user info ends at the *last* `@`, so a password containing `@`, `/` or `?` is still
/// masked whole. Input that is not a URL at all is returned unchanged apart from query masking.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_query(url);
    };
    match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let host_and_more = &rest[at + 1..];
            let userinfo = match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***"),
                None => userinfo.to_owned(),
            };
            format!("{scheme}://{userinfo}@{}", redact_query(host_and_more))
        }
        None => format!("{scheme}://{}", redact_query(rest)),
    }
}

fn redact_query(s: &str) -> String {
    let Some((head, query)) = s.split_once('?') else {
        return s.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.to_ascii_lowercase().contains("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{head}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_userinfo_password() {
        assert_eq!(
            redact_url("postgres://tw:s3cret@db.example:5432/tw"),
            "postgres://tw:***@db.example:5432/tw"
        );
        assert_eq!(redact_url("postgresql://tw:p@ss/w?rd@db/tw"), "postgresql://tw:***@db/tw");
    }

    #[test]
    fn masks_password_query_parameter() {
        assert_eq!(
            redact_url("postgres://db/tw?user=tw&password=s3cret&sslmode=require"),
            "postgres://db/tw?user=tw&password=***&sslmode=require"
        );
    }

    #[test]
    fn leaves_urls_without_password_alone() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "sqlite://data/tickerwatch.db",
            "sqlite::memory:",
            "not a url",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn debug_masks_password() {
        let config =
            DatabaseConfig { url: "postgres://tw:s3cret@db/tw".to_owned(), ..DatabaseConfig::default() };
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("tw:***@db"), "{debug}");
    }

    #[test]
    fn default_is_local_sqlite_file() {
        let config = DatabaseConfig::default();
        assert_eq!(config.url, "sqlite://data/tickerwatch.db");
        assert_eq!(config.max_connections, None);
        assert!(config.acquire_timeout_secs > 0);
        assert_eq!(config.read_connections, 4);
    }
}
