//! The client: one `reqwest::Client` with its bounds, the pacing before each attempt, the retry
//! loop around it, and the exchange an attempt works with.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::RequestBuilder;
use reqwest::header::HeaderMap;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::config::{Auth, ClientConfig, RateLimit, ServerWindow};
use crate::redact::Redactor;
use crate::response::Response;
use crate::usage::Usage;
use crate::vendor::{Failure, Pace, Retryable, Vendor};
use crate::wait::{WaitHeader, wait_hint};

/// How long a permit is held after an attempt so its connection is back in the pool first.
///
/// hyper hands a finished HTTP/1 connection back to its pool from a spawned task, a moment after
/// the body is read. Releasing the permit before that lets the next request find the pool empty
/// and open an extra socket, exceeding `max_connections` (reqwest has no per-host connection
/// cap). Holding the permit for the hand-back keeps open connections within the bound; 2 ms is
/// negligible next to vendor latency and rate limits. The lifecycle tests
/// (`crates/test-support/tests/lifecycle.rs`, "bounded pool") fail without it.
const CONNECTION_HAND_BACK: Duration = Duration::from_millis(2);

/// The shortest attempt worth starting when the call budget is nearly spent.
const MIN_ATTEMPT: Duration = Duration::from_millis(500);

/// The client could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct BuildError(String);

struct Limiter {
    limit: RateLimit,
    inner: DefaultDirectRateLimiter,
}

struct MetricNames {
    requests_total: String,
    request_seconds: String,
    rate_limit_waits_total: String,
    rate_limit_wait_seconds: String,
    label: &'static str,
    value: String,
}

/// An HTTP client for one vendor. See the crate docs for its invariants.
pub struct Client<V> {
    vendor: V,
    name: String,
    http: reqwest::Client,
    permits: Semaphore,
    limiters: Vec<Limiter>,
    /// No request before this instant: the server said its window is used up.
    window_until: Mutex<Option<Instant>>,
    server_window: Option<ServerWindow>,
    wait_headers: Vec<WaitHeader>,
    auth: Auth,
    redactor: Redactor,
    timeout: Duration,
    read_timeout: Option<Duration>,
    call_budget: Option<Duration>,
    max_retries: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    max_retry_wait: Duration,
    max_body_bytes: usize,
    metrics: MetricNames,
    usage: Usage,
}

impl<V> std::fmt::Debug for Client<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("vendor", &self.name).field("auth", &self.auth).finish_non_exhaustive()
    }
}

impl<V: Vendor> Client<V> {
    /// Builds the client (and its one connection pool) for `vendor`.
    ///
    /// # Errors
    /// When `max_connections` is 0 or the TLS stack cannot start.
    pub fn new(config: ClientConfig, vendor: V) -> Result<Self, BuildError> {
        if config.max_connections == 0 {
            return Err(BuildError("max_connections must be at least 1".to_owned()));
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(config.max_connections)
            .pool_idle_timeout(config.pool_idle_timeout)
            .tcp_keepalive(config.tcp_keepalive);
        if let Some(read_timeout) = config.read_timeout {
            builder = builder.read_timeout(read_timeout);
        }
        if !config.follow_redirects {
            builder = builder.redirect(reqwest::redirect::Policy::none());
        }
        if let Some(resolver) = &config.resolver {
            builder = builder.dns_resolver(Arc::clone(&resolver.0)).no_proxy();
        }
        let http = builder.build().map_err(|e| BuildError(e.to_string()))?;
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
        let prefix = config.metrics.prefix;
        let usage = Usage::new(&config.rate_limits, config.daily_budget);
        Ok(Self {
            usage,
            vendor,
            name: config.vendor,
            http,
            permits: Semaphore::new(config.max_connections),
            limiters,
            window_until: Mutex::new(None),
            server_window: config.server_window,
            wait_headers: config.wait_headers,
            redactor: config.redactor.with_secrets(config.auth.secret().cloned()),
            auth: config.auth,
            timeout: config.timeout,
            read_timeout: config.read_timeout,
            call_budget: config.call_budget,
            max_retries: config.max_retries,
            backoff_base: config.backoff_base,
            backoff_max: config.backoff_max,
            max_retry_wait: config.max_retry_wait,
            max_body_bytes: config.max_body_bytes,
            metrics: MetricNames {
                requests_total: format!("{prefix}_requests_total"),
                request_seconds: format!("{prefix}_request_seconds"),
                rate_limit_waits_total: format!("{prefix}_rate_limit_waits_total"),
                rate_limit_wait_seconds: format!("{prefix}_rate_limit_wait_seconds"),
                label: config.metrics.label,
                value: config.metrics.value,
            },
        })
    }

    /// The vendor side of this client.
    pub fn vendor(&self) -> &V {
        &self.vendor
    }

    /// The redactor holding this client's secrets.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// What this client has done lately (requests today, budgets left, last success and error,
    /// back-off), and the handle to persist and seed its daily count.
    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    /// True when requests carry credentials.
    pub fn has_auth(&self) -> bool {
        !matches!(self.auth, Auth::None)
    }

    /// The common call: `build` a request (the client adds auth and the attempt's timeout), send
    /// it, read the whole body within `max_body_bytes`, and let `classify` turn the response into
    /// a value or the vendor's typed error (vendors report errors in 200 bodies, so status alone
    /// cannot decide). Retried as [`call`](Self::call) says.
    ///
    /// # Errors
    /// The last error once retries or the call budget are spent, or the first one not worth
    /// retrying.
    pub async fn execute<T>(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        classify: impl Fn(&Response) -> Result<T, V::Error>,
    ) -> Result<T, V::Error> {
        let (build, classify) = (&build, &classify);
        self.call(what, |exchange| async move {
            let response = exchange.send(build(exchange.http())).await?;
            let response = exchange.read(response).await?;
            classify(&response)
        })
        .await
    }

    /// The general call: `attempt` runs one exchange (it may stream its body); the client bounds
    /// and paces it and decides about the next one.
    ///
    /// Before each attempt: a permit of the in-flight bound, then the server's window and the
    /// client-side limits (a wait longer than `max_retry_wait` fails with
    /// [`Failure::RateLimited`] instead). After a retryable error: the wait the error carries
    /// (from `Retry-After` or a reset header; longer than `max_retry_wait` ends the call) or
    /// exponential backoff with jitter, whichever is longer, if the call budget leaves room for
    /// another attempt. Every attempt is counted in the metrics; the call runs in a span with
    /// the vendor and `what`, and each retry logs a warning.
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn call<'a, T, F, Fut>(&'a self, what: &'a str, mut attempt: F) -> Result<T, V::Error>
    where
        F: FnMut(Exchange<'a, V>) -> Fut,
        Fut: Future<Output = Result<T, V::Error>>,
    {
        // The span gives debug lines their context; warnings carry vendor and what themselves, so
        // they read the same under the default `warn` filter, which disables info spans.
        let vendor = self.name.as_str();
        let span = tracing::info_span!("outbound", vendor, what);
        async move {
            let started = Instant::now();
            // Time spent waiting for limits is the configured pace, not the vendor failing: it
            // does not count against the call budget.
            let mut paced = Duration::ZERO;
            let spent = |paced: Duration| started.elapsed().saturating_sub(paced);
            let mut retries = 0;
            loop {
                let attempt_started;
                let result = {
                    let Ok(_permit) = self.permits.acquire().await else {
                        return Err(self.vendor.failure(what, Failure::ShuttingDown));
                    };
                    let pace_started = Instant::now();
                    if let Err(failure) = self.pace().await {
                        let error = self.vendor.failure(what, failure);
                        let now = SystemTime::now();
                        if let Some(wait) = error.retry_after() {
                            self.usage.record_backoff(now, wait);
                        }
                        self.usage.record_error(now, &self.redactor.redact(&error.to_string()));
                        return Err(error);
                    }
                    paced += pace_started.elapsed();
                    attempt_started = Instant::now();
                    self.usage.record_attempt(SystemTime::now(), attempt_started);
                    let exchange =
                        Exchange { client: self, what, number: retries + 1, timeout: self.attempt_timeout(spent(paced)) };
                    let result = attempt(exchange).await;
                    tokio::time::sleep(CONNECTION_HAND_BACK).await;
                    result
                };
                let outcome = match &result {
                    Ok(_) => "ok",
                    Err(error) => error.kind(),
                };
                let m = &self.metrics;
                metrics::counter!(m.requests_total.clone(), m.label => m.value.clone(), "outcome" => outcome)
                    .increment(1);
                metrics::histogram!(m.request_seconds.clone(), m.label => m.value.clone())
                    .record(attempt_started.elapsed().as_secs_f64());
                let error = match result {
                    Ok(value) => {
                        self.usage.record_success(SystemTime::now());
                        return Ok(value);
                    }
                    Err(error) => {
                        let now = SystemTime::now();
                        if let Some(wait) = error.retry_after() {
                            self.usage.record_backoff(now, wait);
                        }
                        self.usage.record_error(now, &self.redactor.redact(&error.to_string()));
                        if error.is_retryable() && retries < self.max_retries {
                            error
                        } else {
                            tracing::debug!(vendor, what, %error, attempts = retries + 1, "Request failed.");
                            return Err(error);
                        }
                    }
                };
                let backoff = self.backoff(retries);
                let wait = match error.retry_after() {
                    Some(wanted) if wanted > self.max_retry_wait => {
                        tracing::warn!(
                            vendor,
                            what,
                            %error,
                            ?wanted,
                            "Server asked for a longer wait than allowed; giving up."
                        );
                        return Err(error);
                    }
                    Some(wanted) => wanted.max(backoff),
                    None => backoff,
                };
                if let Some(budget) = self.call_budget
                    && spent(paced) + wait + MIN_ATTEMPT.min(self.timeout) > budget
                {
                    tracing::warn!(vendor, what, %error, attempt = retries + 1, ?budget, "Call budget spent; not retrying.");
                    return Err(error);
                }
                tracing::warn!(vendor, what, %error, attempt = retries + 1, ?wait, "Retrying request.");
                tokio::time::sleep(wait).await;
                retries += 1;
            }
        }
        .instrument(span)
        .await
    }

    /// The next attempt's time: the configured timeout, or less when the call budget is nearly
    /// spent (but never below `MIN_ATTEMPT`, nor above the timeout).
    fn attempt_timeout(&self, spent: Duration) -> Duration {
        match self.call_budget {
            Some(budget) => self.timeout.min(budget.saturating_sub(spent).max(MIN_ATTEMPT)),
            None => self.timeout,
        }
    }

    /// Exponential backoff with jitter: a random wait in `[base·2^attempt / 2, base·2^attempt]`,
    /// capped, so many clients retrying together spread out.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.backoff_base.saturating_mul(1 << attempt.min(16)).min(self.backoff_max);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }

    /// Waits for the server's window and every client-side limit, after checking the daily
    /// budget (which is never slept through: it resets at midnight UTC).
    async fn pace(&self) -> Result<(), Failure> {
        if let Err(wait) = self.usage.check_daily(SystemTime::now()) {
            let requests = self.usage.daily_budget().unwrap_or_default();
            return Err(Failure::RateLimited { pace: Pace::DailyBudget { requests }, wait });
        }
        let until = *self.window_until.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(until) = until {
            let wait = until.saturating_duration_since(Instant::now());
            if wait > self.max_retry_wait {
                return Err(Failure::RateLimited { pace: Pace::ServerWindow, wait });
            }
            if !wait.is_zero() {
                tracing::info!(?wait, "Server rate-limit window used up; sleeping until it resets.");
                tokio::time::sleep(wait).await;
            }
        }
        for limiter in &self.limiters {
            while let Err(not_until) = limiter.inner.check() {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let RateLimit { requests, per_secs } = limiter.limit;
                if wait > self.max_retry_wait {
                    return Err(Failure::RateLimited { pace: Pace::Client { requests, per_secs }, wait });
                }
                tracing::debug!(?wait, "Waiting for the client-side rate limit.");
                let m = &self.metrics;
                metrics::counter!(m.rate_limit_waits_total.clone(), m.label => m.value.clone()).increment(1);
                metrics::histogram!(m.rate_limit_wait_seconds.clone(), m.label => m.value.clone())
                    .record(wait.as_secs_f64());
                tokio::time::sleep(wait).await;
            }
        }
        Ok(())
    }

    /// Remembers the server's window from a response's headers.
    fn note_window(&self, headers: &HeaderMap) {
        let Some(window) = &self.server_window else { return };
        let remaining = headers
            .get(window.remaining)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|n| !n.is_nan());
        let Some(remaining) = remaining else { return };
        let mut until = self.window_until.lock().unwrap_or_else(PoisonError::into_inner);
        if remaining <= 0.0 {
            // Bounded by `MAX_SERVER_WAIT`, so the addition cannot overflow.
            let reset = window.reset.read(headers).unwrap_or(Duration::from_secs(1));
            tracing::debug!(?reset, "Server rate-limit window used up; pausing.");
            *until = Instant::now().checked_add(reset);
            self.usage.record_backoff(SystemTime::now(), reset);
        } else {
            *until = None;
        }
    }

    fn transport_failure(&self, error: reqwest::Error, after: Duration) -> Failure {
        if error.is_timeout() {
            return Failure::Timeout { after };
        }
        // reqwest puts the URL (query string and key included) in its message: drop it, then
        // walk the causes and redact.
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        Failure::Transport { message: self.redactor.redact(&text) }
    }
}

/// One attempt of a call: sends and reads with the client's bounds, and maps failures into the
/// vendor's error.
pub struct Exchange<'a, V> {
    client: &'a Client<V>,
    what: &'a str,
    number: u32,
    timeout: Duration,
}

impl<'a, V: Vendor> Exchange<'a, V> {
    /// 1 for the first attempt of a call, 2 for the first retry …
    pub fn number(&self) -> u32 {
        self.number
    }

    /// What is being requested, as the call named it.
    pub fn what(&self) -> &'a str {
        self.what
    }

    /// The reqwest client, to build a request with.
    pub fn http(&self) -> &'a reqwest::Client {
        &self.client.http
    }

    /// Sends `request` with the client's auth and this attempt's timeout (which covers reading
    /// the body too), and notes the server's window from the answer's headers.
    ///
    /// # Errors
    /// The vendor's error for a timeout or a transport failure.
    pub async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, V::Error> {
        self.send_with(request.timeout(self.timeout), self.timeout).await
    }

    /// [`send`](Self::send) for a body read as a stream: no total timeout, only the client's
    /// `read_timeout` between chunks.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_streaming(&self, request: RequestBuilder) -> Result<reqwest::Response, V::Error> {
        self.send_with(request, self.client.read_timeout.unwrap_or(self.timeout)).await
    }

    async fn send_with(
        &self,
        request: RequestBuilder,
        after: Duration,
    ) -> Result<reqwest::Response, V::Error> {
        let response = self
            .client
            .auth
            .apply(request)
            .send()
            .await
            .map_err(|e| self.failure(self.client.transport_failure(e, after)))?;
        self.client.note_window(response.headers());
        Ok(response)
    }

    /// Reads the whole body, refusing one over `max_body_bytes` (announced or counted) without
    /// buffering it. On any error the response is dropped unread, which closes its connection
    /// instead of pooling it.
    ///
    /// # Errors
    /// The vendor's error for an oversized body or a failure while reading.
    pub async fn read(&self, mut response: reqwest::Response) -> Result<Response, V::Error> {
        let limit = self.client.max_body_bytes;
        if response.content_length().is_some_and(|len| len > limit as u64) {
            return Err(self.failure(Failure::TooLarge { limit }));
        }
        let mut body = Vec::new();
        let transport_error = |e| self.failure(self.client.transport_failure(e, self.timeout));
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > limit {
                return Err(self.failure(Failure::TooLarge { limit }));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(status = response.status().as_u16(), bytes = body.len(), "Vendor responded.");
        Ok(self.response(&mut response, body))
    }

    /// Reads at most `limit` bytes of the body (an error body, read only for its message): the
    /// rest is dropped, and so is a read error, keeping what arrived.
    pub async fn read_prefix(&self, mut response: reqwest::Response, limit: usize) -> Response {
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            if body.len() + chunk.len() > limit {
                body.extend_from_slice(&chunk[..limit - body.len()]);
                break;
            }
            body.extend_from_slice(&chunk);
        }
        self.response(&mut response, body)
    }

    fn response(&self, response: &mut reqwest::Response, body: Vec<u8>) -> Response {
        let headers = std::mem::take(response.headers_mut());
        let hint = wait_hint(&self.client.wait_headers, &headers);
        Response::new(response.status(), headers, body, hint)
    }

    /// The wait hint of a response not read through [`read`](Self::read) (a stream).
    pub fn wait_hint(&self, response: &reqwest::Response) -> Option<Duration> {
        wait_hint(&self.client.wait_headers, response.headers())
    }

    /// The vendor's error for a reqwest error met while reading a body by hand (a stream).
    pub fn transport_error(&self, error: reqwest::Error) -> V::Error {
        let after = self.client.read_timeout.unwrap_or(self.timeout);
        self.failure(self.client.transport_failure(error, after))
    }

    /// The vendor's error for `failure` of this request.
    pub fn failure(&self, failure: Failure) -> V::Error {
        self.client.vendor.failure(self.what, failure)
    }

    /// The largest body this client buffers.
    pub fn max_body_bytes(&self) -> usize {
        self.client.max_body_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Plain;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let mut config = ClientConfig::new("test");
        config.backoff_base = Duration::from_millis(100);
        config.backoff_max = Duration::from_millis(1_000);
        let client = Client::new(config, Plain).expect("client");
        for _ in 0..50 {
            let first = client.backoff(0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let late = client.backoff(10);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1_000), "{late:?}");
            assert!(client.backoff(u32::MAX) <= Duration::from_millis(1_000));
        }
    }

    #[test]
    fn attempts_get_what_the_budget_leaves_within_the_timeout() {
        let mut config = ClientConfig::new("test");
        config.timeout = Duration::from_secs(6);
        config.call_budget = Some(Duration::from_secs(10));
        let client = Client::new(config.clone(), Plain).expect("client");
        assert_eq!(client.attempt_timeout(Duration::ZERO), Duration::from_secs(6));
        assert_eq!(client.attempt_timeout(Duration::from_secs(7)), Duration::from_secs(3));
        assert_eq!(client.attempt_timeout(Duration::from_secs(30)), MIN_ATTEMPT);
        config.timeout = Duration::from_millis(100);
        let client = Client::new(config, Plain).expect("client");
        assert_eq!(client.attempt_timeout(Duration::from_secs(30)), Duration::from_millis(100));
        assert!(Client::new(ClientConfig { max_connections: 0, ..ClientConfig::new("x") }, Plain).is_err());
    }
}
