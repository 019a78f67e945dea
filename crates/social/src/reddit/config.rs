//! Settings of one Reddit scan configuration. Deserialized from the `[social.reddit]` table;
//! unknown keys are rejected so a typo never silently falls back to a default, and secrets
//! serialize as `***` so the effective config can be printed or logged safely.

use std::time::Duration;

use outbound::{
    ClientConfig, RateLimit, Redactor, ServerWindow, WaitHeader, check_http_url, check_positive_secs,
    check_wait_secs,
};
pub use outbound::{MASK, Secret};
use serde::{Deserialize, Serialize};

fn default_base_url() -> String {
    "https://www.reddit.com".to_owned()
}
fn default_oauth_base_url() -> String {
    "https://oauth.reddit.com".to_owned()
}
fn default_auth_url() -> String {
    "https://www.reddit.com/api/v1/access_token".to_owned()
}
fn default_max_pages() -> u32 {
    10
}
fn default_page_size() -> u32 {
    100
}
fn default_connect_timeout() -> f64 {
    5.0
}
fn default_timeout() -> f64 {
    30.0
}
fn default_pool_idle_timeout() -> f64 {
    30.0
}
fn default_max_idle_connections() -> usize {
    2
}
fn default_max_retries() -> u32 {
    3
}
fn default_backoff_base_ms() -> u64 {
    500
}
fn default_backoff_max_ms() -> u64 {
    20_000
}
fn default_max_rate_limit_wait() -> f64 {
    120.0
}
fn default_max_comments() -> usize {
    500
}
fn default_max_body_bytes() -> usize {
    16 * 1024 * 1024
}

/// Public JSON listings allow about 10 queries per minute.
pub const PUBLIC_QUERIES_PER_MINUTE: u32 = 10;
/// OAuth clients get 100 queries per minute (averaged over 10 minutes).
pub const OAUTH_QUERIES_PER_MINUTE: u32 = 100;

/// One Reddit scan configuration; a [`super::RedditClient`] is built from it.
///
/// Without `client_id`/`client_secret` the client reads the public JSON listings on
/// `base_url`; with them it authenticates against `auth_url` and reads `oauth_base_url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedditConfig {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default = "default_oauth_base_url")]
    pub oauth_base_url: String,
    #[serde(default = "default_auth_url")]
    pub auth_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// Script apps only: the password grant instead of client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Required by Reddit: `<platform>:<app ID>:<version> (by /u/<name>)`; default UAs get 429.
    pub user_agent: String,
    /// Client-side budget; defaults to 10 for public listings and 100 with OAuth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queries_per_minute: Option<u32>,
    /// Upper bound on pages one scan reads, whatever the post limit.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    /// Posts asked for per page (Reddit caps this at 100).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: f64,
    /// Total time for one request, body included.
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// Idle pooled connections are closed after this long.
    #[serde(default = "default_pool_idle_timeout")]
    pub pool_idle_timeout_secs: f64,
    /// Idle connections kept per host, and requests in flight at once (so open connections).
    #[serde(default = "default_max_idle_connections")]
    pub max_idle_connections: usize,
    /// Retries of a retryable failure (5xx, transport, timeout, 429) per request.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    #[serde(default = "default_backoff_base_ms")]
    pub backoff_base_ms: u64,
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// A wait Reddit asks for (rate-limit reset) longer than this is not slept through: the
    /// request fails as rate-limited instead.
    #[serde(default = "default_max_rate_limit_wait")]
    pub max_rate_limit_wait_secs: f64,
    /// Upper bound on comments read from one thread.
    #[serde(default = "default_max_comments")]
    pub max_comments: usize,
    /// Responses larger than this are refused rather than buffered.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
}

impl RedditConfig {
    /// Defaults (public listings) with the given User-Agent.
    pub fn new(user_agent: impl Into<String>) -> Self {
        Self {
            base_url: default_base_url(),
            oauth_base_url: default_oauth_base_url(),
            auth_url: default_auth_url(),
            client_id: None,
            client_secret: None,
            username: None,
            password: None,
            user_agent: user_agent.into(),
            queries_per_minute: None,
            max_pages: default_max_pages(),
            page_size: default_page_size(),
            connect_timeout_secs: default_connect_timeout(),
            timeout_secs: default_timeout(),
            pool_idle_timeout_secs: default_pool_idle_timeout(),
            max_idle_connections: default_max_idle_connections(),
            max_retries: default_max_retries(),
            backoff_base_ms: default_backoff_base_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            max_rate_limit_wait_secs: default_max_rate_limit_wait(),
            max_comments: default_max_comments(),
            max_body_bytes: default_max_body_bytes(),
        }
    }

    /// True when client credentials are configured (OAuth host), false for public listings.
    pub fn uses_oauth(&self) -> bool {
        self.client_id.is_some() && self.client_secret.is_some()
    }

    /// The effective client-side budget.
    pub fn effective_queries_per_minute(&self) -> u32 {
        self.queries_per_minute.unwrap_or(if self.uses_oauth() {
            OAUTH_QUERIES_PER_MINUTE
        } else {
            PUBLIC_QUERIES_PER_MINUTE
        })
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.connect_timeout_secs)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs)
    }

    pub fn pool_idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.pool_idle_timeout_secs)
    }

    pub fn max_rate_limit_wait(&self) -> Duration {
        Duration::from_secs_f64(self.max_rate_limit_wait_secs)
    }

    /// The HTTP client these settings describe. `max_idle_connections` bounds the idle pool and
    /// requests in flight; `max_rate_limit_wait_secs` is the longest wait slept through; the
    /// queries-per-minute budget is a client-side limit; Reddit's wait is `X-Ratelimit-Reset`
    /// (else `Retry-After`), and an `X-Ratelimit-Remaining` of 0 pauses every request until the
    /// reset. Redirects are not followed (an unknown subreddit redirects to search). The client
    /// secret and the password are masked in every message.
    pub fn client_config(&self) -> ClientConfig {
        const RESET: WaitHeader = WaitHeader::Seconds("x-ratelimit-reset");
        ClientConfig {
            user_agent: self.user_agent.clone(),
            connect_timeout: self.connect_timeout(),
            timeout: self.timeout(),
            max_connections: self.max_idle_connections,
            pool_idle_timeout: self.pool_idle_timeout(),
            follow_redirects: false,
            max_retries: self.max_retries,
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms),
            max_retry_wait: self.max_rate_limit_wait(),
            max_body_bytes: self.max_body_bytes,
            rate_limits: vec![RateLimit {
                requests: self.effective_queries_per_minute().max(1),
                per_secs: 60,
            }],
            wait_headers: vec![RESET, WaitHeader::RetryAfter],
            server_window: Some(ServerWindow { remaining: "x-ratelimit-remaining", reset: RESET }),
            redactor: Redactor::new([&self.client_secret, &self.password].into_iter().flatten().cloned()),
            ..ClientConfig::new("reddit")
        }
    }

    /// Checks values a typo could make nonsensical; names the offending key.
    ///
    /// # Errors
    /// A message naming the key and what is wrong with it (never a secret's value).
    pub fn validate(&self) -> Result<(), String> {
        check_http_url("base_url", &self.base_url)?;
        check_http_url("oauth_base_url", &self.oauth_base_url)?;
        check_http_url("auth_url", &self.auth_url)?;
        if !valid_user_agent(&self.user_agent) {
            return Err(format!(
                "user_agent {:?} must look like `<platform>:<app ID>:<version> (by /u/<name>)`",
                self.user_agent
            ));
        }
        match (&self.client_id, &self.client_secret) {
            (Some(id), Some(_)) if id.trim().is_empty() => return Err("client_id is empty".to_owned()),
            (Some(_), None) => return Err("client_id is set but client_secret is not".to_owned()),
            (None, Some(_)) => return Err("client_secret is set but client_id is not".to_owned()),
            _ => {}
        }
        match (&self.username, &self.password) {
            (Some(_), None) | (None, Some(_)) => {
                return Err("username and password must be set together".to_owned());
            }
            (Some(_), Some(_)) if !self.uses_oauth() => {
                return Err("username/password need client_id and client_secret".to_owned());
            }
            _ => {}
        }
        check_positive_secs(&[
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("timeout_secs", self.timeout_secs),
            ("pool_idle_timeout_secs", self.pool_idle_timeout_secs),
        ])?;
        check_wait_secs("max_rate_limit_wait_secs", self.max_rate_limit_wait_secs)?;
        if self.queries_per_minute == Some(0) {
            return Err("queries_per_minute must be at least 1".to_owned());
        }
        if self.max_idle_connections == 0 {
            return Err("max_idle_connections must be at least 1".to_owned());
        }
        if self.max_pages == 0 {
            return Err("max_pages must be at least 1".to_owned());
        }
        if !(1..=100).contains(&self.page_size) {
            return Err(format!("page_size must be in 1..=100, got {}", self.page_size));
        }
        Ok(())
    }
}

/// `platform:app:version (by /u/name)`, loosely: three colon-separated parts before a
/// `(by /u/…)` suffix.
fn valid_user_agent(ua: &str) -> bool {
    let Some((head, tail)) = ua.split_once(" (by /u/") else { return false };
    let name = tail.strip_suffix(')').unwrap_or("");
    let parts: Vec<&str> = head.splitn(3, ':').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.trim().is_empty()) && !name.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `[social.reddit]` table as existing config files write it: every key still loads and
    /// means what it meant before the client moved to `outbound`.
    #[test]
    fn existing_tables_load_and_map_onto_the_client() {
        let table = serde_json::json!({
            "user_agent": "linux:tw:0.1 (by /u/me)", "client_id": "id", "client_secret": "cs-1",
            "username": "bot", "password": "pw-2", "queries_per_minute": 50, "max_pages": 3,
            "page_size": 50, "connect_timeout_secs": 2.0, "timeout_secs": 9.0,
            "pool_idle_timeout_secs": 12.0, "max_idle_connections": 3, "max_retries": 1,
            "backoff_base_ms": 10, "backoff_max_ms": 20, "max_rate_limit_wait_secs": 7.0,
            "max_comments": 5, "max_body_bytes": 4096
        });
        let config: RedditConfig = serde_json::from_value(table).expect("an existing table loads");
        assert!(config.validate().is_ok());
        let client = config.client_config();
        assert_eq!(client.vendor, "reddit");
        assert_eq!(client.user_agent, "linux:tw:0.1 (by /u/me)");
        assert_eq!(
            (client.connect_timeout, client.timeout),
            (Duration::from_secs(2), Duration::from_secs(9))
        );
        assert_eq!(client.pool_idle_timeout, Duration::from_secs(12));
        assert_eq!(client.max_connections, 3);
        assert_eq!(client.max_retries, 1);
        assert_eq!(
            (client.backoff_base, client.backoff_max),
            (Duration::from_millis(10), Duration::from_millis(20))
        );
        assert_eq!(client.max_retry_wait, Duration::from_secs(7));
        assert_eq!(client.max_body_bytes, 4096);
        assert_eq!(client.rate_limits, [RateLimit { requests: 50, per_secs: 60 }]);
        assert_eq!(client.call_budget, None);
        assert!(!client.follow_redirects);
        assert_eq!(client.redactor.redact("cs-1 pw-2 id"), "*** *** id");
        let mut public = RedditConfig::new("linux:tw:0.1 (by /u/me)");
        assert_eq!(public.client_config().rate_limits, [RateLimit { requests: 10, per_secs: 60 }]);
        public.max_idle_connections = 0;
        assert!(public.validate().is_err());
    }

    #[test]
    fn user_agent_format() {
        assert!(valid_user_agent("linux:tickerwatch:0.1.0 (by /u/someone)"));
        assert!(!valid_user_agent("tickerwatch/0.1"));
        assert!(!valid_user_agent("linux:tickerwatch (by /u/someone)"));
        assert!(!valid_user_agent("linux:tickerwatch:0.1 (by /u/)"));
    }
}
