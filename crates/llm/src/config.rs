//! LLM configuration: the `[llm]` section of `tickerwatch.toml` (plus `TICKERWATCH_LLM__*` env
//! overrides), deserialized by the binary. Unknown keys are rejected so a typo never silently
//! falls back to a default; the key serializes as `***` so the effective config can be printed.

use std::time::Duration;

use outbound::{Auth, ClientConfig, Metrics, Redactor, WaitHeader, check_http_url, check_positive_secs};
use serde::{Deserialize, Serialize};

/// An API key: masked in `Debug`, serialization, logs and errors (see [`outbound::Secret`]).
pub type ApiKey = outbound::Secret;

/// Which chat model backs the agents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    /// The offline heuristic model: no network, deterministic, the default so a fresh install
    /// works without an account.
    #[default]
    Offline,
    /// Any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp), reached at `base_url`.
    Openai,
}

/// Settings of the chat model and the bounds of its HTTP client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    pub provider: LlmProvider,
    /// The API root **including** the version segment, e.g. `https://api.openai.com/v1` or
    /// Ollama's `http://localhost:11434/v1`; requests go to `{base_url}/chat/completions`.
    /// Including `/v1` lets servers that mount the API elsewhere (proxies, gateways) work
    /// without a second setting.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set (Ollama ignores it, vLLM needs it only with
    /// `--api-key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKey>,
    /// Total time for one non-streaming request; for a streaming request, the longest silence
    /// between two chunks (a long answer may stream for longer than this).
    pub timeout_secs: u64,
    pub connect_timeout_secs: u64,
    pub max_retries: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// A server-requested wait (`Retry-After`, `x-ratelimit-reset-*`) longer than this is not
    /// slept through: the call fails as rate-limited at once, carrying the wanted wait.
    pub max_retry_wait_secs: u64,
    /// Upper bound on simultaneous requests (and so connections) to the server.
    pub max_concurrent_requests: usize,
    /// Idle pooled connections are closed after this long: agents call in bursts, and a server
    /// (or a NAT in between) that drops idle connections silently would fail the next call.
    pub pool_idle_timeout_secs: f64,
    /// Used when a request does not set its own.
    pub temperature: Option<f32>,
    /// Send `response_format` when a request asks for JSON. Some servers reject the field:
    /// set this to false for them and rely on the prompt.
    pub json_mode: bool,
    /// Stream answers (SSE) in `chat_streaming`; otherwise it makes one plain call.
    pub stream: bool,
    /// Responses (and whole streams) larger than this are refused rather than buffered.
    pub max_body_bytes: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            provider: LlmProvider::Offline,
            base_url: "https://api.openai.com/v1".to_owned(),
            model: "gpt-4o-mini".to_owned(),
            api_key: None,
            timeout_secs: 60,
            connect_timeout_secs: 5,
            max_retries: 3,
            backoff_base_ms: 500,
            backoff_max_ms: 8_000,
            max_retry_wait_secs: 30,
            max_concurrent_requests: 4,
            pool_idle_timeout_secs: 30.0,
            temperature: Some(0.0),
            json_mode: true,
            stream: false,
            max_body_bytes: 4 * 1024 * 1024,
        }
    }
}

impl LlmConfig {
    /// Checks what serde cannot: the URL, the model name and the bounds.
    ///
    /// # Errors
    /// A message naming the offending key.
    pub fn validate(&self) -> Result<(), String> {
        check_http_url("base_url", &self.base_url)?;
        if self.model.trim().is_empty() {
            return Err("model must not be empty".to_owned());
        }
        for (key, value) in
            [("timeout_secs", self.timeout_secs), ("connect_timeout_secs", self.connect_timeout_secs)]
        {
            if value == 0 {
                return Err(format!("{key} must be at least 1"));
            }
        }
        check_positive_secs(&[("pool_idle_timeout_secs", self.pool_idle_timeout_secs)])?;
        if self.max_concurrent_requests == 0 {
            return Err("max_concurrent_requests must be at least 1".to_owned());
        }
        if self.max_body_bytes == 0 {
            return Err("max_body_bytes must be at least 1".to_owned());
        }
        if let Some(t) = self.temperature
            && !(t.is_finite() && (0.0..=2.0).contains(&t))
        {
            return Err(format!("temperature must be between 0 and 2, got {t}"));
        }
        Ok(())
    }

    /// The key, unless absent or blank (an empty env var means "no key", not "send an empty
    /// bearer token").
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref().filter(|key| !key.expose().trim().is_empty())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    pub fn max_retry_wait(&self) -> Duration {
        Duration::from_secs(self.max_retry_wait_secs)
    }

    /// The HTTP client these settings describe. `timeout_secs` bounds a plain request and the
    /// silence between two chunks of a stream; `max_concurrent_requests` bounds requests in flight
    /// and the idle pool; `max_retry_wait_secs` is the longest server wait slept through. The server's wait is
    /// `retry-after-ms`, `Retry-After`, or OpenAI's `x-ratelimit-reset-requests`/`-tokens` of a
    /// used-up budget. The key goes as a Bearer token and is masked, with any `sk-…` word, in every
    /// message. Metrics are `llm_*{model}`.
    pub fn client_config(&self) -> ClientConfig {
        const OPENAI_WAITS: [WaitHeader; 3] = [
            WaitHeader::Millis("retry-after-ms"),
            WaitHeader::RetryAfter,
            WaitHeader::BudgetResets {
                reset_prefix: "x-ratelimit-reset-",
                remaining_prefix: "x-ratelimit-remaining-",
                budgets: &["requests", "tokens"],
            },
        ];
        let key = self.api_key().cloned();
        ClientConfig {
            connect_timeout: self.connect_timeout(),
            timeout: self.timeout(),
            read_timeout: Some(self.timeout()),
            max_connections: self.max_concurrent_requests,
            pool_idle_timeout: Duration::from_secs_f64(self.pool_idle_timeout_secs),
            max_retries: self.max_retries,
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms),
            max_retry_wait: self.max_retry_wait(),
            max_body_bytes: self.max_body_bytes,
            wait_headers: OPENAI_WAITS.to_vec(),
            redactor: Redactor::new(key.clone()).with_key_prefix("sk-"),
            auth: key.map_or(Auth::None, Auth::Bearer),
            metrics: Metrics { prefix: "llm", label: "model", value: self.model.clone() },
            ..ClientConfig::new("openai")
        }
    }

    /// The chat-completions endpoint.
    pub fn chat_url(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_key_never_shows() {
        let mut config = LlmConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(config.provider, LlmProvider::Offline);
        config.api_key = Some(ApiKey::new("sk-secret-value"));
        assert!(!format!("{config:?}").contains("sk-secret-value"));
        let json = serde_json::to_string(&config).unwrap();
        assert!(!json.contains("sk-secret-value"));
        assert!(json.contains(r#""api_key":"***""#));
        assert_eq!(config.chat_url(), "https://api.openai.com/v1/chat/completions");
    }

    /// An `[analysis.llm]` table as existing config files write it: every key still loads and
    /// means what it meant before the client moved to `outbound`.
    #[test]
    fn existing_tables_load_and_map_onto_the_client() {
        let config: LlmConfig = serde_json::from_value(serde_json::json!({
            "provider": "openai", "base_url": "http://localhost:11434/v1", "model": "llama3",
            "api_key": "sk-abc123", "timeout_secs": 20, "connect_timeout_secs": 2, "max_retries": 1,
            "backoff_base_ms": 10, "backoff_max_ms": 20, "max_retry_wait_secs": 5,
            "max_concurrent_requests": 3, "temperature": 0.5, "json_mode": false, "stream": true,
            "max_body_bytes": 2048
        }))
        .expect("an existing table loads");
        assert_eq!(config.pool_idle_timeout_secs, 30.0, "the new key has the old fixed value by default");
        assert!(config.validate().is_ok());
        let client = config.client_config();
        assert_eq!(client.vendor, "openai");
        assert_eq!(client.user_agent, concat!("tickerwatch/", env!("CARGO_PKG_VERSION")));
        assert_eq!(
            (client.connect_timeout, client.timeout),
            (Duration::from_secs(2), Duration::from_secs(20))
        );
        assert_eq!(client.read_timeout, Some(Duration::from_secs(20)));
        assert_eq!(client.max_connections, 3);
        assert_eq!(client.pool_idle_timeout, Duration::from_secs(30));
        assert_eq!(client.max_retries, 1);
        assert_eq!(
            (client.backoff_base, client.backoff_max),
            (Duration::from_millis(10), Duration::from_millis(20))
        );
        assert_eq!(client.max_retry_wait, Duration::from_secs(5));
        assert_eq!(client.max_body_bytes, 2048);
        assert!(client.rate_limits.is_empty() && client.call_budget.is_none());
        assert!(matches!(client.auth, Auth::Bearer(_)));
        assert_eq!(client.metrics, Metrics { prefix: "llm", label: "model", value: "llama3".to_owned() });
        assert_eq!(client.redactor.redact("key sk-abc123, sk-other"), "key ***, ***");
        let keyless = LlmConfig { api_key: Some(ApiKey::new(" ")), ..LlmConfig::default() };
        assert!(matches!(keyless.client_config().auth, Auth::None));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(serde_json::from_str::<LlmConfig>(r#"{"modle":"x"}"#).is_err());
        let config: LlmConfig = serde_json::from_str(
            r#"{"provider":"openai","base_url":"http://localhost:11434/v1/","api_key":""}"#,
        )
        .unwrap();
        assert_eq!(config.provider, LlmProvider::Openai);
        assert!(config.api_key().is_none());
        assert_eq!(config.chat_url(), "http://localhost:11434/v1/chat/completions");
        for bad in [
            r#"{"base_url":"ftp://x"}"#,
            r#"{"base_url":"not a url"}"#,
            r#"{"model":" "}"#,
            r#"{"timeout_secs":0}"#,
            r#"{"max_concurrent_requests":0}"#,
            r#"{"pool_idle_timeout_secs":0}"#,
        ] {
            let config: LlmConfig = serde_json::from_str(bad).unwrap();
            assert!(config.validate().is_err(), "{bad}");
        }
    }
}
