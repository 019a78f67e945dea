//! The providers' adapter of [`outbound`]: one [`outbound::Client`] per provider, plus what the
//! four vendors share when classifying an answer into a [`ProviderError`].
//!
//! Why one owner per provider: the Python system this replaces leaked a session per provider.
//! Here the client, its pool and its limiters live in [`HttpClient`], which the provider owns;
//! dropping the provider closes every connection, on success and error paths alike. Bounds,
//! limits, retries, the call budget and `Retry-After` are `outbound`'s; this module says how a
//! provider's config maps onto them and how failures read as `ProviderError`s.

use domain::ProviderId;
use outbound::{Auth, BodySummary, Client, Failure, Redactor, Response, Retryable, Vendor};
use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;

use crate::config::VendorConfig;
use crate::error::ProviderError;

/// The vendor side of a provider's client: failures become `ProviderError`s of this provider.
#[derive(Debug, Clone, Copy)]
pub struct ProviderVendor(pub ProviderId);

impl Vendor for ProviderVendor {
    type Error = ProviderError;

    fn failure(&self, what: &str, failure: Failure) -> ProviderError {
        let (provider, what) = (self.0, what.to_owned());
        match failure {
            Failure::Timeout { after } => ProviderError::Timeout { provider, what, after },
            Failure::Transport { message } => {
                ProviderError::Upstream { provider, what, status: None, message }
            }
            Failure::TooLarge { .. } => {
                ProviderError::Upstream { provider, what, status: Some(200), message: failure.to_string() }
            }
            Failure::RateLimited { wait, .. } => ProviderError::RateLimited {
                provider,
                what,
                message: failure.to_string(),
                retry_after: Some(wait),
            },
            Failure::ShuttingDown => ProviderError::NotConfigured { provider, message: failure.to_string() },
        }
    }
}

impl Retryable for ProviderError {
    fn is_retryable(&self) -> bool {
        ProviderError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        ProviderError::retry_after(self)
    }

    fn kind(&self) -> &'static str {
        ProviderError::kind(self)
    }
}

/// A vendor's HTTP client. See the module docs for the invariants.
#[derive(Debug)]
pub struct HttpClient {
    provider: ProviderId,
    base_url: String,
    client: Client<ProviderVendor>,
}

impl HttpClient {
    /// Builds the client from a vendor's config, sending `auth` with every request.
    ///
    /// # Errors
    /// `NotConfigured` when the config is invalid or the TLS stack cannot start.
    pub fn new(provider: ProviderId, config: &VendorConfig, auth: Auth) -> Result<Self, ProviderError> {
        config.validate().map_err(|message| ProviderError::NotConfigured { provider, message })?;
        let client = Client::new(config.client_config(provider, auth), ProviderVendor(provider))
            .map_err(|e| ProviderError::NotConfigured { provider, message: e.to_string() })?;
        Ok(Self { provider, base_url: config.base_url.trim_end_matches('/').to_owned(), client })
    }

    /// The provider this client belongs to.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// The configured base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The client's usage counters (requests today, budgets left, last success and error).
    pub fn usage(&self) -> &outbound::Usage {
        self.client.usage()
    }

    /// True when the config gave this provider a key.
    pub fn has_key(&self) -> bool {
        self.client.has_auth()
    }

    /// The redactor holding this vendor's key.
    pub fn redactor(&self) -> &Redactor {
        self.client.redactor()
    }

    /// Fails with `NotConfigured` saying `missing` unless the config gave this provider a key
    /// (checked per request, so a config listing a provider without its key still starts and
    /// the chain can fall back).
    ///
    /// # Errors
    /// `NotConfigured` when there is no key.
    pub fn require_key(&self, missing: &str) -> Result<(), ProviderError> {
        if self.client.has_auth() {
            return Ok(());
        }
        Err(ProviderError::NotConfigured { provider: self.provider, message: missing.to_owned() })
    }

    /// Sends a request built by `build`, retrying retryable failures within the call budget, and
    /// hands the fully read response to `classify` (see [`outbound::Client::execute`]).
    ///
    /// # Errors
    /// The last error once retries or the budget are exhausted, or the first non-retryable one.
    pub async fn execute<T>(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        classify: impl Fn(&Response) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        self.client.execute(what, build, classify).await
    }

    /// Maps a non-success status to the typed error every vendor shares: 401 auth, 403
    /// entitlement, 429 rate limited (with the server's wait), 5xx upstream. A bare 404 is the
    /// endpoint's (a wrong `base_url`, a moved API), not the symbol's: each vendor recognises its
    /// own "unknown symbol" answer before calling this, so here it is an upstream error on which
    /// the chain moves on.
    /// `message` is the vendor's own error text when the caller could extract it.
    pub fn status_error(&self, what: &str, response: &Response, message: Option<String>) -> ProviderError {
        let provider = self.provider;
        let what = what.to_owned();
        let message = self.redactor().redact(&message.unwrap_or_else(|| self.body_excerpt(response)));
        match response.status.as_u16() {
            401 => ProviderError::Auth { provider, what, message },
            403 => ProviderError::Entitlement { provider, what, message },
            404 => ProviderError::Upstream {
                provider,
                what,
                status: Some(404),
                message: format!("the endpoint was not found (check the provider's base_url): {message}"),
            },
            429 => ProviderError::RateLimited { provider, what, message, retry_after: response.wait_hint() },
            400 | 422 => ProviderError::InvalidRequest { provider, what, message },
            status => ProviderError::Upstream { provider, what, status: Some(status), message },
        }
    }

    /// A short, redacted description of a body for error messages.
    pub fn body_excerpt(&self, response: &Response) -> String {
        match response.summary(200) {
            BodySummary::Html { title: Some(title) } => format!("HTML error page: {title}"),
            BodySummary::Html { title: None } => "HTML error page instead of data".to_owned(),
            BodySummary::Empty => format!("empty body (HTTP {})", response.status.as_u16()),
            BodySummary::Text(text) => self.redactor().redact(&text),
        }
    }

    /// Parses a JSON body, turning serde's error (with line and column) into `Malformed`.
    ///
    /// # Errors
    /// `Malformed` naming what was requested, with an HTML page or truncation called out.
    pub fn parse_json<T: DeserializeOwned>(
        &self,
        what: &str,
        response: &Response,
    ) -> Result<T, ProviderError> {
        serde_json::from_slice(&response.body).map_err(|e| {
            let message = if response.is_html() {
                self.body_excerpt(response)
            } else if e.is_eof() {
                format!("truncated JSON body ({} bytes): {e}", response.body.len())
            } else {
                format!("invalid JSON: {e}")
            };
            self.malformed(what, message)
        })
    }

    /// A `Malformed` error for this provider (redacted).
    pub fn malformed(&self, what: &str, message: impl AsRef<str>) -> ProviderError {
        ProviderError::Malformed {
            provider: self.provider,
            what: what.to_owned(),
            message: self.redactor().redact(message.as_ref()),
        }
    }
}
