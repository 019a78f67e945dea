//! The `[server]` settings.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// What a masked secret serializes as.
const MASK: &str = "***";

/// The `[server]` section. Unknown keys are errors, so a typo never silently leaves the API open
/// or the limits at their defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    pub auth: AuthConfig,
    /// Largest request body accepted; larger ones get 413 before the handler runs.
    pub request_body_limit_bytes: usize,
    /// Time a handler may take to produce a response (not to stream it: a large download is not
    /// cut off); past it the client gets 408.
    pub request_timeout_secs: u64,
    /// Origins allowed to call the API from a browser. Empty (the default) means CORS is closed:
    /// no `Access-Control-Allow-Origin` header is ever sent.
    pub cors_allowed_origins: Vec<String>,
    /// How long a `GET /api/symbols/{symbol}/bars` response is served again from memory
    /// (a bounded cache: 256 responses, 8 MiB); 0 turns the cache off. At most a minute, since
    /// newly stored bars show up only after it.
    pub bars_cache_ttl_ms: u64,
    /// Time a client has to send a complete request head: counted from the accept for a new
    /// connection, and from the first byte of the next request on a kept-alive one. Past it the
    /// connection is closed without an answer, so a silent or half-sent request cannot hold a
    /// connection (and its file descriptor) for long.
    pub header_read_timeout_secs: f64,
    /// A kept-alive connection with no request in flight is closed after this long without a
    /// new request starting. A request in flight (a slow download included) is never cut by it.
    pub idle_timeout_secs: f64,
    /// The most connections served at once. Further clients are not refused: they wait in the
    /// listen backlog (connected, unanswered) until a connection closes, which the timeouts above
    /// make happen soon. Keep it well below the open-file limit (`ulimit -n`, often 1024), which
    /// the database, exports and outgoing connections share.
    pub max_connections: usize,
    /// `GET /api/alerts/stream` writes a comment line this often while no alert goes out, so
    /// proxies keep the connection open and a client gone away is noticed (the write fails).
    pub sse_heartbeat_secs: f64,
    /// How often an alert stream looks in the database for alerts stored by another process
    /// (alerts stored by this one wake it at once).
    pub sse_poll_secs: f64,
    /// The most alert streams open at once; one more is refused with 503. Each holds a
    /// connection (see `max_connections`) for as long as its client stays, so keep it well
    /// below `max_connections`, or streams can take every connection.
    pub sse_max_streams: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            auth: AuthConfig::default(),
            request_body_limit_bytes: 64 * 1024,
            request_timeout_secs: 30,
            cors_allowed_origins: Vec::new(),
            bars_cache_ttl_ms: Self::DEFAULT_BARS_CACHE_TTL_MS,
            header_read_timeout_secs: Self::DEFAULT_HEADER_READ_TIMEOUT_SECS,
            idle_timeout_secs: Self::DEFAULT_IDLE_TIMEOUT_SECS,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            sse_heartbeat_secs: Self::DEFAULT_SSE_HEARTBEAT_SECS,
            sse_poll_secs: Self::DEFAULT_SSE_POLL_SECS,
            sse_max_streams: Self::DEFAULT_SSE_MAX_STREAMS,
        }
    }
}

impl ServerConfig {
    /// Default of [`ServerConfig::bars_cache_ttl_ms`]: one second.
    pub const DEFAULT_BARS_CACHE_TTL_MS: u64 = 1_000;
    /// Largest [`ServerConfig::bars_cache_ttl_ms`].
    pub const MAX_BARS_CACHE_TTL_MS: u64 = 60_000;

    /// Default of [`ServerConfig::header_read_timeout_secs`].
    pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: f64 = 10.0;
    /// Default of [`ServerConfig::idle_timeout_secs`].
    pub const DEFAULT_IDLE_TIMEOUT_SECS: f64 = 60.0;
    /// Default of [`ServerConfig::max_connections`]: half the usual soft open-file limit of 1024.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
    /// Largest [`ServerConfig::max_connections`]: far above any file-descriptor limit.
    pub const MAX_MAX_CONNECTIONS: usize = 1 << 20;
    /// Default of [`ServerConfig::sse_heartbeat_secs`].
    pub const DEFAULT_SSE_HEARTBEAT_SECS: f64 = 15.0;
    /// Default of [`ServerConfig::sse_poll_secs`].
    pub const DEFAULT_SSE_POLL_SECS: f64 = 5.0;
    /// Default of [`ServerConfig::sse_max_streams`]: an eighth of the default connection cap, so
    /// streams never starve the rest of the API of connections.
    pub const DEFAULT_SSE_MAX_STREAMS: usize = 64;
    /// Largest SSE heartbeat or poll interval accepted: an hour (proxies close idle connections
    /// far sooner).
    const MAX_SSE_INTERVAL_SECS: f64 = 3_600.0;

    /// Largest connection timeout accepted (a day): beyond it a timeout protects nothing.
    const MAX_CONNECTION_TIMEOUT_SECS: f64 = 86_400.0;

    /// [`ServerConfig::header_read_timeout_secs`] as a duration (validated: positive, finite).
    pub fn header_read_timeout(&self) -> Duration {
        secs(self.header_read_timeout_secs)
    }

    /// [`ServerConfig::idle_timeout_secs`] as a duration (validated: positive, finite).
    pub fn idle_timeout(&self) -> Duration {
        secs(self.idle_timeout_secs)
    }

    /// [`ServerConfig::sse_heartbeat_secs`] as a duration (validated: positive, finite).
    pub fn sse_heartbeat(&self) -> Duration {
        secs(self.sse_heartbeat_secs)
    }

    /// [`ServerConfig::sse_poll_secs`] as a duration (validated: positive, finite).
    pub fn sse_poll(&self) -> Duration {
        secs(self.sse_poll_secs)
    }

    /// [`ServerConfig::bars_cache_ttl_ms`] as a duration (zero: no cache).
    pub fn bars_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.bars_cache_ttl_ms)
    }

    /// [`ServerConfig::request_timeout_secs`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// Checks values serde cannot: a zero timeout or body limit would refuse every request.
    ///
    /// # Errors
    /// A message naming the offending key.
    pub fn validate(&self) -> Result<(), String> {
        if self.request_timeout_secs == 0 {
            return Err("server.request_timeout_secs must be at least 1".to_owned());
        }
        if self.request_body_limit_bytes == 0 {
            return Err("server.request_body_limit_bytes must be at least 1".to_owned());
        }
        for (key, value) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
        ] {
            if !(0.001..=Self::MAX_CONNECTION_TIMEOUT_SECS).contains(&value) {
                return Err(format!(
                    "server.{key} must be between 0.001 and {} seconds",
                    Self::MAX_CONNECTION_TIMEOUT_SECS
                ));
            }
        }
        if !(1..=Self::MAX_MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(format!(
                "server.max_connections must be between 1 and {}",
                Self::MAX_MAX_CONNECTIONS
            ));
        }
        for (key, value) in
            [("sse_heartbeat_secs", self.sse_heartbeat_secs), ("sse_poll_secs", self.sse_poll_secs)]
        {
            if !(0.01..=Self::MAX_SSE_INTERVAL_SECS).contains(&value) {
                return Err(format!(
                    "server.{key} must be between 0.01 and {} seconds",
                    Self::MAX_SSE_INTERVAL_SECS
                ));
            }
        }
        if !(1..=Self::MAX_MAX_CONNECTIONS).contains(&self.sse_max_streams) {
            return Err(format!(
                "server.sse_max_streams must be between 1 and {}",
                Self::MAX_MAX_CONNECTIONS
            ));
        }
        if self.bars_cache_ttl_ms > Self::MAX_BARS_CACHE_TTL_MS {
            return Err(format!(
                "server.bars_cache_ttl_ms must be at most {} (one minute); 0 turns the cache off",
                Self::MAX_BARS_CACHE_TTL_MS
            ));
        }
        // The message never echoes a token, not even a bad one.
        if self.auth.tokens.iter().any(|t| t.expose().trim().len() < 16) {
            return Err("server.auth.tokens: every token must be at least 16 characters".to_owned());
        }
        if self.auth.password.as_ref().is_some_and(|p| p.expose().chars().count() < 12) {
            return Err("server.auth.password must be at least 12 characters".to_owned());
        }
        for origin in &self.cors_allowed_origins {
            if origin.parse::<axum::http::HeaderValue>().is_err() || origin == "*" {
                return Err(format!(
                    "server.cors_allowed_origins: {origin:?} is not an origin like \"https://example.com\""
                ));
            }
        }
        Ok(())
    }
}

/// Seconds as a duration; out-of-range values (refused by `validate`) saturate instead of
/// panicking.
fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
}

/// The `[server.auth]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Tokens accepted besides the ones created with `tickerwatch token create` (which live in
    /// the database, hashed). Handy for a single-user setup via `TICKERWATCH_SERVER__AUTH__TOKENS`.
    pub tokens: Vec<ApiToken>,
    /// Require a token for reads (GET) too. Off by default: the data is market data, and the
    /// docs UI and dashboards work without setup. The web UI then asks to sign in first.
    pub protect_reads: bool,
    /// Signs the web UI's session cookies. Without one, each process draws a random secret and
    /// sessions end when it restarts; several instances behind one address need the same value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_secret: Option<ApiToken>,
    /// How long a web UI sign-in lasts, in hours (default 12).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_hours: Option<u32>,
    /// A password for the web UI's sign-in page, for people who would rather not paste a token
    /// (at least 12 characters). API requests still need a token. Changing it ends the sessions
    /// signed in with the old one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<ApiToken>,
}

/// A bearer token from config. Serializes and debug-prints as `***`, so the effective config can
/// be shown or logged without leaking it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct ApiToken(SecretString);

impl ApiToken {
    /// Wraps a token value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The token itself, for the constant-time comparison in `auth`.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

impl Serialize for ApiToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_closed_and_local() {
        let config = ServerConfig::default();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.request_body_limit_bytes, 65_536);
        assert_eq!(config.request_timeout_secs, 30);
        assert!(config.cors_allowed_origins.is_empty());
        assert!(!config.auth.protect_reads);
        assert_eq!(config.bars_cache_ttl(), Duration::from_secs(1));
        assert_eq!(config.header_read_timeout(), Duration::from_secs(10));
        assert_eq!(config.idle_timeout(), Duration::from_secs(60));
        assert_eq!(config.max_connections, 512);
        assert_eq!(config.sse_heartbeat(), Duration::from_secs(15));
        assert_eq!(config.sse_max_streams, 64);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn tokens_serialize_masked() {
        let mut config = ServerConfig::default();
        config.auth.tokens.push(ApiToken::new("tw_supersecretvalue123"));
        let json = serde_json::to_string(&config).unwrap();
        assert!(!json.contains("supersecret"), "{json}");
        assert!(json.contains("\"***\""), "{json}");
        assert!(!format!("{config:?}").contains("supersecret"));
    }

    #[test]
    fn the_web_password_is_masked_and_must_be_long_enough() {
        let mut config = ServerConfig::default();
        config.auth.password = Some(ApiToken::new("short pw"));
        let error = config.validate().unwrap_err();
        assert!(error.contains("server.auth.password") && !error.contains("short pw"), "{error}");
        config.auth.password = Some(ApiToken::new("a long enough password"));
        assert!(config.validate().is_ok());
        let json = serde_json::to_string(&config).unwrap();
        assert!(!json.contains("enough") && json.contains(r#""password":"***""#), "{json}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let error = serde_json::from_str::<ServerConfig>(r#"{"listn": "127.0.0.1:1"}"#).unwrap_err();
        assert!(error.to_string().contains("listn"), "{error}");
        let parsed: ServerConfig =
            serde_json::from_str(r#"{"auth": {"tokens": ["tw_0123456789abcdef"], "protect_reads": true}}"#)
                .unwrap();
        assert_eq!(parsed.auth.tokens[0].expose(), "tw_0123456789abcdef");
        assert!(parsed.auth.protect_reads);
    }

    #[test]
    fn validate_rejects_zero_limits_and_wildcard_cors() {
        let config = ServerConfig { request_timeout_secs: 0, ..ServerConfig::default() };
        assert!(config.validate().unwrap_err().contains("request_timeout_secs"));
        let config = ServerConfig { cors_allowed_origins: vec!["*".to_owned()], ..ServerConfig::default() };
        assert!(config.validate().unwrap_err().contains("cors_allowed_origins"));
        let config = ServerConfig { bars_cache_ttl_ms: 60_001, ..ServerConfig::default() };
        assert!(config.validate().unwrap_err().contains("bars_cache_ttl_ms"));
        assert!(ServerConfig { bars_cache_ttl_ms: 0, ..ServerConfig::default() }.validate().is_ok());
    }

    #[test]
    fn validate_rejects_connection_limits_that_protect_nothing() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 86_401.0] {
            let config = ServerConfig { header_read_timeout_secs: bad, ..ServerConfig::default() };
            assert!(config.validate().unwrap_err().contains("header_read_timeout_secs"), "{bad}");
            let config = ServerConfig { idle_timeout_secs: bad, ..ServerConfig::default() };
            assert!(config.validate().unwrap_err().contains("idle_timeout_secs"), "{bad}");
        }
        let config = ServerConfig { max_connections: 0, ..ServerConfig::default() };
        assert!(config.validate().unwrap_err().contains("max_connections"));
        for bad in [0.0, -1.0, f64::NAN, 3_601.0] {
            let config = ServerConfig { sse_heartbeat_secs: bad, ..ServerConfig::default() };
            assert!(config.validate().unwrap_err().contains("sse_heartbeat_secs"), "{bad}");
            let config = ServerConfig { sse_poll_secs: bad, ..ServerConfig::default() };
            assert!(config.validate().unwrap_err().contains("sse_poll_secs"), "{bad}");
        }
        for bad in [0, ServerConfig::MAX_MAX_CONNECTIONS + 1] {
            let config = ServerConfig { sse_max_streams: bad, ..ServerConfig::default() };
            assert!(config.validate().unwrap_err().contains("sse_max_streams"), "{bad}");
        }
        let config = ServerConfig { header_read_timeout_secs: 0.3, ..ServerConfig::default() };
        assert_eq!(config.header_read_timeout(), Duration::from_millis(300));
    }
}
