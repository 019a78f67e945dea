//! The one HTTP stack every vendor uses: a single `reqwest::Client` per provider with bounded
//! connections, client-side rate limits, retries with backoff and jitter, and redaction.
//!
//! Why one owner per provider: the Python system this replaces leaked a session per provider.
//! Here the client, its pool and its limiter live in [`HttpClient`], which the provider owns;
//! dropping the provider closes every connection, on success and error paths alike.

use std::num::NonZeroU32;
use std::time::Duration;

use bytes::Bytes;
use domain::ProviderId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::config::{RateLimit, VendorConfig};
use crate::error::ProviderError;
use crate::redact::Redactor;

/// Every attempt against a vendor, labelled `provider` and `outcome` (`ok` or the error kind),
/// through the `metrics` facade: the server exports it at `/metrics`; elsewhere it is a no-op.
pub const PROVIDER_REQUESTS_TOTAL: &str = "provider_requests_total";
/// Times a request waited for a client-side rate limit, by `provider`.
pub const RATE_LIMIT_WAITS_TOTAL: &str = "provider_rate_limit_waits_total";
/// How long those waits were, by `provider`.
pub const RATE_LIMIT_WAIT_SECONDS: &str = "provider_rate_limit_wait_seconds";

/// How long a permit is held after a response so its connection is back in the pool first.
const CONNECTION_HAND_BACK: Duration = Duration::from_millis(2);

/// A fully read response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// The body as text, lossily (for error messages).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// True when the body looks like an HTML page (block pages, nginx errors).
    pub fn is_html(&self) -> bool {
        let head = self.body.iter().copied().skip_while(u8::is_ascii_whitespace).take(15).collect::<Vec<_>>();
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        head.starts_with("<!doctype html") || head.starts_with("<html") || head.starts_with('<')
    }
}

struct Limiter {
    limit: RateLimit,
    inner: DefaultDirectRateLimiter,
}

/// A vendor's HTTP client. See the module docs for the invariants.
pub struct HttpClient {
    provider: ProviderId,
    client: reqwest::Client,
    base_url: String,
    permits: Semaphore,
    limiters: Vec<Limiter>,
    redactor: Redactor,
    max_retries: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    max_retry_wait: Duration,
    timeout: Duration,
    call_budget: Duration,
    max_body_bytes: usize,
}

/// The shortest attempt worth starting when the call budget is nearly spent.
const MIN_ATTEMPT: Duration = Duration::from_millis(500);

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl HttpClient {
    /// Builds the client from a vendor's config.
    ///
    /// # Errors
    /// `NotConfigured` when the config is invalid or the TLS stack cannot start.
    pub fn new(provider: ProviderId, config: &VendorConfig) -> Result<Self, ProviderError> {
        config.validate().map_err(|message| ProviderError::NotConfigured { provider, message })?;
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout())
            .timeout(config.timeout())
            .pool_max_idle_per_host(config.max_connections)
            .pool_idle_timeout(config.pool_idle_timeout())
            .tcp_keepalive(Duration::from_secs(30))
            .build()
            .map_err(|e| ProviderError::NotConfigured {
                provider,
                message: format!("cannot build HTTP client: {e}"),
            })?;
        let limiters = config
            .rate_limits
            .iter()
            .filter_map(|limit| {
                let burst = NonZeroU32::new(limit.requests)?;
                let period = Duration::from_secs(limit.per_secs) / limit.requests;
                let quota = Quota::with_period(period)?.allow_burst(burst);
                Some(Limiter { limit: *limit, inner: RateLimiter::direct(quota) })
            })
            .collect();
        Ok(Self {
            provider,
            client,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            permits: Semaphore::new(config.max_connections),
            limiters,
            redactor: Redactor::new(config.api_key.iter().map(|k| k.secret())),
            max_retries: config.max_retries,
            backoff_base: Duration::from_millis(config.backoff_base_ms),
            backoff_max: Duration::from_millis(config.backoff_max_ms),
            max_retry_wait: config.max_retry_wait(),
            timeout: config.timeout(),
            call_budget: config.call_budget(),
            max_body_bytes: config.max_body_bytes,
        })
    }

    /// The provider this client belongs to.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// The configured base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The redactor holding this vendor's key.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Sends a request built by `build`, retrying retryable failures, and hands the fully read
    /// response to `classify`, which turns it into a value or a typed error (vendors report
    /// errors in 200 bodies, so status alone cannot decide).
    ///
    /// The whole call (attempts and backoff waits) stays within `call_budget_secs`: each attempt
    /// gets the smaller of `timeout_secs` and what is left, and no retry starts that could not
    /// finish in time. Time spent waiting for the client-side rate limiter is not counted: that
    /// wait is the user's configured pace, not the vendor failing.
    ///
    /// # Errors
    /// The last error once retries or the budget are exhausted, or the first non-retryable one.
    pub async fn execute<T>(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        classify: impl Fn(&HttpResponse) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let mut attempt = 0;
        let started = std::time::Instant::now();
        let mut limiter_waits = Duration::ZERO;
        let spent = |limiter_waits: Duration| started.elapsed().saturating_sub(limiter_waits);
        loop {
            let result = {
                let _permit = self.permits.acquire().await.map_err(|_| ProviderError::NotConfigured {
                    provider: self.provider,
                    message: "client is shutting down".to_owned(),
                })?;
                let limiter_started = std::time::Instant::now();
                self.wait_for_rate_limit(what).await?;
                limiter_waits += limiter_started.elapsed();
                let attempt_timeout =
                    self.timeout.min(self.call_budget.saturating_sub(spent(limiter_waits))).max(MIN_ATTEMPT);
                let sent = self.send_once(what, &build, attempt_timeout).await;
                // hyper hands a finished HTTP/1 connection back to its pool from a spawned task,
                // a moment after the body is read. Releasing the permit before that lets the next
                // request find the pool empty and open an extra socket, exceeding
                // `max_connections` (reqwest has no per-host connection cap). Holding the permit
                // for the hand-back keeps open connections within the bound; 2 ms is negligible
                // next to vendor latency and rate limits. See tests/lifecycle.rs.
                tokio::time::sleep(CONNECTION_HAND_BACK).await;
                match sent {
                    Ok(response) => classify(&response),
                    Err(error) => Err(error),
                }
            };
            let outcome = match &result {
                Ok(_) => "ok",
                Err(error) => error.kind(),
            };
            metrics::counter!(PROVIDER_REQUESTS_TOTAL, "provider" => self.provider.as_str(), "outcome" => outcome)
                .increment(1);
            match result {
                Ok(value) => return Ok(value),
                Err(error) if error.is_retryable() && attempt < self.max_retries => {
                    let wait = match error.retry_after() {
                        Some(wanted) if wanted > self.max_retry_wait => return Err(error),
                        Some(wanted) => wanted.max(self.backoff(attempt)),
                        None => self.backoff(attempt),
                    };
                    if spent(limiter_waits) + wait + MIN_ATTEMPT > self.call_budget {
                        tracing::warn!(provider = %self.provider, %error, attempt, budget = ?self.call_budget, "Call budget spent; not retrying.");
                        return Err(error);
                    }
                    tracing::warn!(provider = %self.provider, %error, attempt, ?wait, "Retrying request.");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Exponential backoff with full jitter: a random wait in `[base·2^attempt / 2, base·2^attempt]`,
    /// capped, so many clients retrying together spread out.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.backoff_base.saturating_mul(1 << attempt.min(16)).min(self.backoff_max);
        let ms = ceiling.as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }

    async fn wait_for_rate_limit(&self, what: &str) -> Result<(), ProviderError> {
        for limiter in &self.limiters {
            loop {
                match limiter.inner.check() {
                    Ok(()) => break,
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(DefaultClock::default().now());
                        if wait > self.max_retry_wait {
                            return Err(ProviderError::RateLimited {
                                provider: self.provider,
                                what: what.to_owned(),
                                message: format!(
                                    "client-side limit of {} requests per {} s reached",
                                    limiter.limit.requests, limiter.limit.per_secs
                                ),
                                retry_after: Some(wait),
                            });
                        }
                        tracing::debug!(provider = %self.provider, ?wait, "Waiting for rate limit.");
                        metrics::counter!(RATE_LIMIT_WAITS_TOTAL, "provider" => self.provider.as_str())
                            .increment(1);
                        metrics::histogram!(RATE_LIMIT_WAIT_SECONDS, "provider" => self.provider.as_str())
                            .record(wait.as_secs_f64());
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        Ok(())
    }

    async fn send_once(
        &self,
        what: &str,
        build: &impl Fn(&reqwest::Client) -> RequestBuilder,
        timeout: Duration,
    ) -> Result<HttpResponse, ProviderError> {
        let transport_error = |e| self.transport_error(what, e, timeout);
        let mut response = build(&self.client).timeout(timeout).send().await.map_err(transport_error)?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        if let Some(len) = response.content_length()
            && len as usize > self.max_body_bytes
        {
            return Err(self.too_large(what));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(self.too_large(what));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(provider = %self.provider, what, status = status.as_u16(), bytes = body.len(), "Vendor responded.");
        Ok(HttpResponse { status, headers, body: Bytes::from(body) })
    }

    fn too_large(&self, what: &str) -> ProviderError {
        ProviderError::Upstream {
            provider: self.provider,
            what: what.to_owned(),
            status: Some(200),
            message: format!("response larger than {} bytes refused", self.max_body_bytes),
        }
    }

    fn transport_error(&self, what: &str, error: reqwest::Error, timeout: Duration) -> ProviderError {
        let what = what.to_owned();
        if error.is_timeout() {
            return ProviderError::Timeout { provider: self.provider, what, after: timeout };
        }
        // reqwest puts the URL (query string and key included) in its message: drop it, then redact.
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        ProviderError::Upstream {
            provider: self.provider,
            what,
            status: None,
            message: self.redactor.redact(&text),
        }
    }

    /// Maps a non-success status to the typed error every vendor shares: 401 auth, 403
    /// entitlement, 429 rate limited (with `Retry-After`), 5xx upstream. A bare 404 is the
    /// endpoint's (a wrong `base_url`, a moved API), not the symbol's: each vendor recognises its
    /// own "unknown symbol" answer before calling this, so here it is an upstream error on which
    /// the chain moves on.
    /// `message` is the vendor's own error text when the caller could extract it.
    pub fn status_error(
        &self,
        what: &str,
        response: &HttpResponse,
        message: Option<String>,
    ) -> ProviderError {
        let provider = self.provider;
        let what = what.to_owned();
        let message = self.redactor.redact(&message.unwrap_or_else(|| self.body_excerpt(response)));
        match response.status.as_u16() {
            401 => ProviderError::Auth { provider, what, message },
            403 => ProviderError::Entitlement { provider, what, message },
            404 => ProviderError::Upstream {
                provider,
                what,
                status: Some(404),
                message: format!("the endpoint was not found (check the provider's base_url): {message}"),
            },
            429 => ProviderError::RateLimited {
                provider,
                what,
                message,
                retry_after: retry_after(&response.headers),
            },
            400 | 422 => ProviderError::InvalidRequest { provider, what, message },
            status => ProviderError::Upstream { provider, what, status: Some(status), message },
        }
    }

    /// A short, redacted description of a body for error messages.
    pub fn body_excerpt(&self, response: &HttpResponse) -> String {
        if response.is_html() {
            let text = response.text();
            let title = text.find("<title>").and_then(|start| {
                text[start + 7..]
                    .find("</title>")
                    .map(|end| text[start + 7..start + 7 + end].trim().to_owned())
            });
            return match title {
                Some(title) => format!("HTML error page: {title}"),
                None => "HTML error page instead of data".to_owned(),
            };
        }
        let text = response.text();
        let excerpt: String = text.chars().take(200).collect();
        let excerpt = excerpt.trim();
        if excerpt.is_empty() {
            format!("empty body (HTTP {})", response.status.as_u16())
        } else {
            self.redactor.redact(excerpt)
        }
    }

    /// Parses a JSON body, turning serde's error (with line and column) into `Malformed`.
    ///
    /// # Errors
    /// `Malformed` naming what was requested, with an HTML page or truncation called out.
    pub fn parse_json<T: DeserializeOwned>(
        &self,
        what: &str,
        response: &HttpResponse,
    ) -> Result<T, ProviderError> {
        serde_json::from_slice(&response.body).map_err(|e| {
            let message = if response.is_html() {
                self.body_excerpt(response)
            } else if e.is_eof() {
                format!("truncated JSON body ({} bytes): {e}", response.body.len())
            } else {
                format!("invalid JSON: {e}")
            };
            ProviderError::Malformed {
                provider: self.provider,
                what: what.to_owned(),
                message: self.redactor.redact(&message),
            }
        })
    }

    /// A `Malformed` error for this provider (redacted).
    pub fn malformed(&self, what: &str, message: impl AsRef<str>) -> ProviderError {
        ProviderError::Malformed {
            provider: self.provider,
            what: what.to_owned(),
            message: self.redactor.redact(message.as_ref()),
        }
    }
}

/// Parses `Retry-After` as seconds (the HTTP-date form is rare at these vendors and ignored).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut config = VendorConfig::polygon();
        config.backoff_base_ms = 100;
        config.backoff_max_ms = 1_000;
        let client = HttpClient::new(ProviderId::Polygon, &config).unwrap();
        for _ in 0..50 {
            let first = client.backoff(0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            assert!(client.backoff(10) <= Duration::from_millis(1_000));
            assert!(client.backoff(10) >= Duration::from_millis(500));
        }
    }
}
