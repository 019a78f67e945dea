//! How a [`crate::Client`] is set up. Adapters map their own config sections (whose key names
//! stay theirs) onto a [`ClientConfig`]; nothing here is read from a file directly except
//! [`RateLimit`], which keeps the `{ requests, per_secs }` shape the providers' config has used.

use std::sync::Arc;
use std::time::Duration;

use reqwest::RequestBuilder;
use reqwest::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::redact::Redactor;
use crate::secret::Secret;
use crate::wait::WaitHeader;

/// The largest number of seconds a config key may hold (about 31 years): larger values are
/// typos, and `Duration::from_secs_f64` panics on the largest ones.
pub const MAX_CONFIG_SECS: f64 = 1e9;

/// Checks a config key naming an HTTP endpoint: an `http` or `https` URL.
///
/// # Errors
/// A message naming `key` and the value.
pub fn check_http_url(key: &str, value: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(value).map_err(|e| format!("{key} {value:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{key} {value:?} must be http or https"));
    }
    Ok(())
}

/// Checks config keys holding a time in seconds that must be more than zero (timeouts).
///
/// # Errors
/// A message naming the first offending key and its value.
pub fn check_positive_secs(keys: &[(&str, f64)]) -> Result<(), String> {
    match keys.iter().find(|(_, secs)| !(*secs > 0.0 && *secs <= MAX_CONFIG_SECS)) {
        Some((key, secs)) => Err(format!("{key} must be a positive number of seconds, got {secs}")),
        None => Ok(()),
    }
}

/// Checks a config key holding a time in seconds that may be zero (the longest wait to sleep).
///
/// # Errors
/// A message naming the key and its value.
pub fn check_wait_secs(key: &str, secs: f64) -> Result<(), String> {
    if (0.0..=MAX_CONFIG_SECS).contains(&secs) {
        Ok(())
    } else {
        Err(format!("{key} must be >= 0, got {secs}"))
    }
}

/// `requests` per `per_secs` seconds, e.g. Polygon's free tier is 5 per 60.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u32,
    pub per_secs: u64,
}

/// How requests prove who sends them. The client adds it to every request after the vendor's
/// own builder, so a query parameter comes last, and masks its secret in every message.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// `Authorization: Bearer <secret>`.
    Bearer(Secret),
    /// A header of the vendor's, e.g. `X-Finnhub-Token: <secret>` (marked sensitive).
    Header { name: HeaderName, value: Secret },
    /// A query parameter, e.g. `?apikey=<secret>`.
    Query { name: &'static str, value: Secret },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer(_) => f.write_str("Bearer(***)"),
            Self::Header { name, .. } => write!(f, "Header({name}: ***)"),
            Self::Query { name, .. } => write!(f, "Query({name}=***)"),
        }
    }
}

impl Auth {
    /// Adds the credentials to `request`.
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Self::None => request,
            Self::Bearer(token) => request.bearer_auth(token.expose()),
            Self::Header { name, value } => match HeaderValue::from_str(value.expose()) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    request.header(name, value)
                }
                // Sending then fails as a builder error, whose message does not quote the value.
                Err(_) => request.header(name, value.expose()),
            },
            Self::Query { name, value } => request.query(&[(*name, value.expose())]),
        }
    }

    /// The secret, if any.
    pub fn secret(&self) -> Option<&Secret> {
        match self {
            Self::None => None,
            Self::Bearer(value) | Self::Header { value, .. } | Self::Query { value, .. } => Some(value),
        }
    }
}

/// A server's rate-limit window: after a response whose `remaining` header says 0 (or less), no
/// request goes out before the wait in `reset` (1 s when it gives none) has passed; a wait longer
/// than `max_retry_wait` fails the request as rate-limited instead. A response without the
/// header (a CDN-cached one) leaves the window as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerWindow {
    pub remaining: &'static str,
    pub reset: WaitHeader,
}

/// Metric names and the label naming who is called. Every attempt counts in
/// `{prefix}_requests_total` (labels `{label}` and `outcome`: `ok` or the error's kind) and
/// `{prefix}_request_seconds`; waits for a client-side limit in `{prefix}_rate_limit_waits_total`
/// and `{prefix}_rate_limit_wait_seconds`. The `metrics` facade makes them no-ops until a recorder
/// is installed (the server installs the Prometheus one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub prefix: &'static str,
    pub label: &'static str,
    pub value: String,
}

/// A DNS resolver used instead of the system's, for a client that must decide where it may
/// connect (the monitor's webhooks refuse private addresses after resolution). Whatever
/// addresses it returns are the only ones connected to, so a check made inside it cannot be
/// undone by a second lookup (DNS rebinding).
///
/// Two things bypass any resolver, and a client with one handles both: hosts written as IP
/// literals are never resolved (the caller checks those itself), and a proxy would resolve the
/// name on its own, so a client with a resolver uses no proxy.
#[derive(Clone)]
pub struct Resolver(pub Arc<dyn reqwest::dns::Resolve>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver(custom)")
    }
}

/// Everything a [`crate::Client`] is built from. [`ClientConfig::new`] gives defaults for a
/// plain JSON endpoint (a webhook); adapters set what their config section says.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Names the vendor in spans and log lines (`yahoo`, `reddit`, `openai`, `webhook`).
    pub vendor: String,
    pub user_agent: String,
    pub connect_timeout: Duration,
    /// One attempt, body included (a streamed body: see `read_timeout`).
    pub timeout: Duration,
    /// The longest silence while reading; the only time bound of a streamed body.
    pub read_timeout: Option<Duration>,
    /// One call, all attempts and backoff waits together (waits for rate limits not counted):
    /// attempts get what is left, and no retry starts that could not finish.
    pub call_budget: Option<Duration>,
    /// Requests in flight at once, and so open connections; also the idle pool's size.
    pub max_connections: usize,
    /// Idle pooled connections are closed after this long.
    pub pool_idle_timeout: Duration,
    pub tcp_keepalive: Option<Duration>,
    /// Follow redirects (up to 10); off where a redirect means something (Reddit's unknown
    /// subreddit).
    pub follow_redirects: bool,
    /// Resolves host names instead of the system resolver, and turns proxies off; see
    /// [`Resolver`].
    pub resolver: Option<Resolver>,
    /// Retries of a retryable failure per call.
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A wait a server (or a client-side limit) asks for that is longer than this is not slept
    /// through: the call fails as rate-limited, carrying the wait.
    pub max_retry_wait: Duration,
    /// Bodies larger than this are refused rather than buffered.
    pub max_body_bytes: usize,
    /// Client-side limits; all must allow a request before it goes out.
    pub rate_limits: Vec<RateLimit>,
    /// Requests per UTC day; once spent, calls fail as rate-limited until midnight UTC without
    /// sending anything (see [`crate::Usage`], whose count the owner persists).
    pub daily_budget: Option<u32>,
    /// Where the server states how long to wait, first usable one wins.
    pub wait_headers: Vec<WaitHeader>,
    pub server_window: Option<ServerWindow>,
    pub auth: Auth,
    /// Masks secrets in messages; the client adds the secret of `auth`.
    pub redactor: Redactor,
    pub metrics: Metrics,
}

impl ClientConfig {
    /// Defaults for `vendor`: 5 s to connect, 30 s an attempt, 4 connections, 30 s idle, 3
    /// retries from 500 ms to 8 s, waits up to 30 s, 16 MiB bodies, `Retry-After`, credential
    /// query parameters redacted, metrics `outbound_*{vendor}`.
    pub fn new(vendor: impl Into<String>) -> Self {
        let vendor = vendor.into();
        Self {
            metrics: Metrics { prefix: "outbound", label: "vendor", value: vendor.clone() },
            vendor,
            user_agent: concat!("tickerwatch/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            read_timeout: None,
            call_budget: None,
            max_connections: 4,
            pool_idle_timeout: Duration::from_secs(30),
            tcp_keepalive: Some(Duration::from_secs(30)),
            follow_redirects: true,
            resolver: None,
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_retry_wait: Duration::from_secs(30),
            max_body_bytes: 16 * 1024 * 1024,
            rate_limits: Vec::new(),
            daily_budget: None,
            wait_headers: vec![WaitHeader::RetryAfter],
            server_window: None,
            auth: Auth::None,
            redactor: Redactor::default().with_credential_params(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_checks_name_the_key() {
        assert!(check_http_url("base_url", "https://api.polygon.io").is_ok());
        assert_eq!(
            check_http_url("base_url", "ftp://x").unwrap_err(),
            r#"base_url "ftp://x" must be http or https"#
        );
        assert!(
            check_http_url("auth_url", "not a url")
                .unwrap_err()
                .starts_with(r#"auth_url "not a url" is not a URL"#)
        );
        assert!(check_positive_secs(&[("timeout_secs", 6.0), ("connect_timeout_secs", 0.5)]).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e20] {
            let err = check_positive_secs(&[("a", 1.0), ("timeout_secs", bad)]).unwrap_err();
            assert!(err.starts_with("timeout_secs must be a positive number of seconds"), "{err}");
        }
        assert!(check_wait_secs("max_retry_wait_secs", 0.0).is_ok());
        for bad in [-0.5, f64::NAN, 1e20] {
            assert!(check_wait_secs("max_retry_wait_secs", bad).is_err(), "{bad}");
        }
    }
}
