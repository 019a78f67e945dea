//! Provider configuration. Types here are deserialized from the `[providers]` section of
//! `tickerwatch.toml` (plus `TICKERWATCH_PROVIDERS__*` env overrides) by the binary; unknown keys
//! are rejected so a typo never silently falls back to a default.

use std::time::Duration;

use domain::ProviderId;
pub use outbound::RateLimit;
use outbound::{Auth, ClientConfig, Metrics, Redactor, check_http_url, check_positive_secs, check_wait_secs};
use serde::{Deserialize, Serialize};

/// An API key: masked in `Debug`, serialization, logs and errors (see [`outbound::Secret`]).
pub type ApiKey = outbound::Secret;

/// Settings of one networked vendor: where it lives, its key, and the bounds of its HTTP client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorConfig {
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKey>,
    pub user_agent: String,
    pub connect_timeout_secs: f64,
    /// Longest time for one attempt, body included.
    pub timeout_secs: f64,
    /// Longest time for one call, all attempts and backoff waits together (client-side
    /// rate-limit waits not counted): a vendor that hangs costs at most this before the chain
    /// asks the next one.
    pub call_budget_secs: f64,
    /// Upper bound on simultaneous connections (and in-flight requests) to this vendor.
    pub max_connections: usize,
    /// Idle pooled connections are closed after this long.
    pub pool_idle_timeout_secs: f64,
    pub max_retries: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// A vendor-requested wait longer than this is not slept through: the request fails as
    /// rate-limited and the chain moves on (Alpha Vantage's daily quota resets tomorrow).
    pub max_retry_wait_secs: f64,
    /// Responses larger than this are refused rather than buffered.
    pub max_body_bytes: usize,
    /// Client-side limits, seeded with each vendor's free tier.
    pub rate_limits: Vec<RateLimit>,
    /// Requests per UTC day (Alpha Vantage's free key: 25). The count is stored, so it survives
    /// a restart; once spent the provider fails fast as rate-limited (the chain moves on) and the
    /// download-tracker plans around it. Absent: no daily budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_budget: Option<u32>,
}

/// A browser-like User-Agent: Yahoo answers 429 to library UAs.
pub const BROWSER_USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

impl VendorConfig {
    fn with(base_url: &str, user_agent: &str, rate_limits: Vec<RateLimit>) -> Self {
        Self {
            base_url: base_url.to_owned(),
            api_key: None,
            user_agent: user_agent.to_owned(),
            connect_timeout_secs: 3.0,
            timeout_secs: 6.0,
            call_budget_secs: 10.0,
            max_connections: 4,
            pool_idle_timeout_secs: 30.0,
            max_retries: 3,
            backoff_base_ms: 500,
            backoff_max_ms: 20_000,
            max_retry_wait_secs: 60.0,
            max_body_bytes: 64 * 1024 * 1024,
            rate_limits,
            daily_budget: None,
        }
    }

    /// Defaults for Yahoo's unofficial chart API (no published budget; stay polite).
    pub fn yahoo() -> Self {
        Self::with(
            "https://query1.finance.yahoo.com",
            BROWSER_USER_AGENT,
            vec![RateLimit { requests: 5, per_secs: 1 }, RateLimit { requests: 2000, per_secs: 3600 }],
        )
    }

    /// Alpha Vantage free tier: 25 requests per day (stored, see `daily_budget`), 5 per minute
    /// and about 1 per second.
    pub fn alpha_vantage() -> Self {
        Self {
            daily_budget: Some(25),
            ..Self::with(
                "https://www.alphavantage.co",
                concat!("tickerwatch/", env!("CARGO_PKG_VERSION")),
                vec![RateLimit { requests: 1, per_secs: 1 }, RateLimit { requests: 5, per_secs: 60 }],
            )
        }
    }

    /// Polygon free tier: 5 requests per minute, no daily cap.
    pub fn polygon() -> Self {
        Self::with(
            "https://api.polygon.io",
            concat!("tickerwatch/", env!("CARGO_PKG_VERSION")),
            vec![RateLimit { requests: 5, per_secs: 60 }],
        )
    }

    /// Finnhub free tier: 60 per minute, 30 per second on every plan, no daily cap.
    pub fn finnhub() -> Self {
        Self::with(
            "https://finnhub.io/api/v1",
            concat!("tickerwatch/", env!("CARGO_PKG_VERSION")),
            vec![RateLimit { requests: 30, per_secs: 1 }, RateLimit { requests: 60, per_secs: 60 }],
        )
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.connect_timeout_secs)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs)
    }

    pub fn call_budget(&self) -> Duration {
        Duration::from_secs_f64(self.call_budget_secs)
    }

    pub fn pool_idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.pool_idle_timeout_secs)
    }

    pub fn max_retry_wait(&self) -> Duration {
        Duration::from_secs_f64(self.max_retry_wait_secs)
    }

    /// The key, unless absent or blank (an empty env var means "no key").
    pub fn key(&self) -> Option<ApiKey> {
        self.api_key.clone().filter(|key| !key.expose().trim().is_empty())
    }

    /// The HTTP client these settings describe, for `provider`, sending `auth`. Every key keeps
    /// its meaning: `timeout_secs` bounds one attempt, `call_budget_secs` the whole call,
    /// `max_connections` requests in flight and the idle pool, `max_retry_wait_secs` the longest
    /// wait slept through. Redirects are followed; `Retry-After` is the wait a vendor asks for;
    /// metrics are `provider_*{provider}`. The key and credential query parameters are masked in
    /// every message.
    pub fn client_config(&self, provider: ProviderId, auth: Auth) -> ClientConfig {
        ClientConfig {
            user_agent: self.user_agent.clone(),
            connect_timeout: self.connect_timeout(),
            timeout: self.timeout(),
            call_budget: Some(self.call_budget()),
            max_connections: self.max_connections,
            pool_idle_timeout: self.pool_idle_timeout(),
            max_retries: self.max_retries,
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms),
            max_retry_wait: self.max_retry_wait(),
            max_body_bytes: self.max_body_bytes,
            rate_limits: self.rate_limits.clone(),
            daily_budget: self.daily_budget,
            auth,
            redactor: Redactor::new(self.key()).with_credential_params(),
            metrics: Metrics { prefix: "provider", label: "provider", value: provider.as_str().to_owned() },
            ..ClientConfig::new(provider.as_str())
        }
    }

    /// Checks values a typo could make nonsensical; names the offending key.
    ///
    /// # Errors
    /// A message naming the key (relative to this vendor's table) and the bad value.
    pub fn validate(&self) -> Result<(), String> {
        check_http_url("base_url", &self.base_url)?;
        check_positive_secs(&[
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("timeout_secs", self.timeout_secs),
            ("call_budget_secs", self.call_budget_secs),
            ("pool_idle_timeout_secs", self.pool_idle_timeout_secs),
        ])?;
        check_wait_secs("max_retry_wait_secs", self.max_retry_wait_secs)?;
        if self.max_connections == 0 {
            return Err("max_connections must be at least 1".to_owned());
        }
        if let Some(limit) = self.rate_limits.iter().find(|l| l.requests == 0 || l.per_secs == 0) {
            return Err(format!("rate_limits entry {limit:?} must have requests and per_secs above 0"));
        }
        if self.daily_budget == Some(0) {
            return Err("daily_budget must be at least 1 (leave it out for no daily budget)".to_owned());
        }
        Ok(())
    }
}

/// The `[providers]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersConfig {
    /// Providers to try, in order, for each request. Defaults to the offline `sample` provider.
    pub order: Vec<ProviderId>,
    /// How many symbols a multi-symbol fetch works on at once.
    pub fetch_concurrency: usize,
    pub yahoo: VendorConfig,
    pub alpha_vantage: VendorConfig,
    pub polygon: VendorConfig,
    pub finnhub: VendorConfig,
}

impl Default for ProvidersConfig {
    fn default() -> Self {
        Self {
            order: vec![ProviderId::Sample],
            fetch_concurrency: 4,
            yahoo: VendorConfig::yahoo(),
            alpha_vantage: VendorConfig::alpha_vantage(),
            polygon: VendorConfig::polygon(),
            finnhub: VendorConfig::finnhub(),
        }
    }
}

impl ProvidersConfig {
    /// The settings of a networked vendor (`None` for the offline sample).
    pub fn vendor(&self, provider: ProviderId) -> Option<&VendorConfig> {
        match provider {
            ProviderId::Yahoo => Some(&self.yahoo),
            ProviderId::AlphaVantage => Some(&self.alpha_vantage),
            ProviderId::Polygon => Some(&self.polygon),
            ProviderId::Finnhub => Some(&self.finnhub),
            ProviderId::Sample => None,
        }
    }

    /// Mutable access, for tests and CLI overrides.
    pub fn vendor_mut(&mut self, provider: ProviderId) -> Option<&mut VendorConfig> {
        match provider {
            ProviderId::Yahoo => Some(&mut self.yahoo),
            ProviderId::AlphaVantage => Some(&mut self.alpha_vantage),
            ProviderId::Polygon => Some(&mut self.polygon),
            ProviderId::Finnhub => Some(&mut self.finnhub),
            ProviderId::Sample => None,
        }
    }

    /// Validates every vendor table and the order list.
    ///
    /// # Errors
    /// A message naming the full key (`providers.polygon.timeout_secs`) and the problem.
    pub fn validate(&self) -> Result<(), String> {
        if self.order.is_empty() {
            return Err("providers.order must name at least one provider".to_owned());
        }
        if self.fetch_concurrency == 0 {
            return Err("providers.fetch_concurrency must be at least 1".to_owned());
        }
        for provider in ProviderId::ALL {
            if let Some(vendor) = self.vendor(provider) {
                vendor.validate().map_err(|e| format!("providers.{provider}.{e}"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `[providers.polygon]` table as existing config files write it: every key still loads and
    /// means what it meant before the client moved to `outbound`.
    #[test]
    fn existing_vendor_tables_load_and_map_onto_the_client() {
        let table = serde_json::json!({
            "base_url": "https://api.polygon.io", "api_key": "pk-123", "user_agent": "ua/1",
            "connect_timeout_secs": 3.0, "timeout_secs": 6.0, "call_budget_secs": 10.0,
            "max_connections": 4, "pool_idle_timeout_secs": 30.0, "max_retries": 3,
            "backoff_base_ms": 500, "backoff_max_ms": 20000, "max_retry_wait_secs": 60.0,
            "max_body_bytes": 1024, "rate_limits": [{"requests": 5, "per_secs": 60}]
        });
        let config: VendorConfig = serde_json::from_value(table).expect("an existing table loads");
        assert!(config.validate().is_ok());
        let key = config.api_key.clone().expect("key");
        let client = config.client_config(ProviderId::Polygon, Auth::Bearer(key));
        assert_eq!(client.vendor, "polygon");
        assert_eq!(client.user_agent, "ua/1");
        assert_eq!(client.connect_timeout, Duration::from_secs(3));
        assert_eq!(client.timeout, Duration::from_secs(6));
        assert_eq!(client.call_budget, Some(Duration::from_secs(10)));
        assert_eq!(client.max_connections, 4);
        assert_eq!(client.pool_idle_timeout, Duration::from_secs(30));
        assert_eq!(client.max_retries, 3);
        assert_eq!(
            (client.backoff_base, client.backoff_max),
            (Duration::from_millis(500), Duration::from_secs(20))
        );
        assert_eq!(client.max_retry_wait, Duration::from_secs(60));
        assert_eq!(client.max_body_bytes, 1024);
        assert_eq!(client.rate_limits, [RateLimit { requests: 5, per_secs: 60 }]);
        assert!(client.follow_redirects);
        assert_eq!(
            client.metrics,
            Metrics { prefix: "provider", label: "provider", value: "polygon".to_owned() }
        );
        assert_eq!(client.redactor.redact("key pk-123 in ?apikey=x"), "key *** in ?apikey=***");
        assert!(!format!("{client:?}").contains("pk-123"));
    }
}
