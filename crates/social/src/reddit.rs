//! The Reddit client: OAuth (or public JSON), listings with `after` paging, comments, rate
//! limits, typed errors and retries.
//!
//! Why it looks like this: the Python scanner this replaces left its Reddit session open when a
//! scan failed, and the service must run for months with flat memory and no leaked socket. So a
//! [`RedditClient`] (one per scan configuration) owns exactly one `reqwest::Client` with connect
//! and total timeouts and a bounded idle pool with an idle timeout, and every request reads its
//! response to the end or drops it:
//!
//! - a complete answer (success *or* an error status such as 500 with its body read) leaves a
//!   healthy keep-alive connection in the pool, reused by the next request and closed by the
//!   idle timeout or when the client is dropped;
//! - a failed exchange (timeout, reset, truncated or oversized body) drops the response, and
//!   hyper closes that connection at once — it is never handed back to the pool;
//! - dropping the client closes every pooled connection and ends the pool's tasks.
//!
//! `tests/reddit_lifecycle.rs` checks all three from the outside (a connection-counting proxy,
//! `/proc/self/fd`, the runtime's task count and RSS over 500 failing scans).
//!
//! A scan never turns a failure into "0 posts": [`RedditClient::scan`] returns a
//! [`ScanReport`] whose status says complete, blocked (HTML block page) or failed (with the
//! typed error), and keeps the posts of the pages read before the failure.
//!
//! Secrets (client secret, password, bearer token) travel only in headers or the token form
//! body; errors drop request URLs, never quote response bodies of the token endpoint, and mask
//! configured secrets in whatever text they carry.

mod config;
mod error;
mod model;

use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use serde::Deserialize;
use tracing::{debug, info, warn};

pub use config::{MASK, OAUTH_QUERIES_PER_MINUTE, PUBLIC_QUERIES_PER_MINUTE, RedditConfig, Secret};
pub use error::{ForbiddenReason, RedditError};
pub use model::{Comment, Listing, Post, ScanReport, ScanStatus};

use model::{Page, parse_comments, parse_listing};

/// Error bodies are tiny; only bodies up to this size are checked for the `{"error": …}` form.
const ERROR_BODY_PROBE: usize = 4096;
/// A token is refreshed this long before it expires (or at half its lifetime, if shorter).
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);

struct OAuth {
    auth_url: String,
    client_id: String,
    client_secret: Secret,
    login: Option<(Secret, Secret)>,
}

struct CachedToken {
    value: Secret,
    refresh_at: Instant,
}

/// A fully read response.
struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A Reddit client for one scan configuration. See the module docs for its invariants.
pub struct RedditClient {
    http: reqwest::Client,
    api_base: String,
    json_suffix: bool,
    oauth: Option<OAuth>,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    limiter: DefaultDirectRateLimiter,
    /// No API request before this instant: Reddit said its window is used up.
    server_window: Mutex<Option<Instant>>,
    secrets: Vec<Secret>,
    max_pages: u32,
    page_size: u32,
    max_comments: usize,
    max_retries: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    max_rate_limit_wait: Duration,
    timeout: Duration,
    max_body_bytes: usize,
}

impl std::fmt::Debug for RedditClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedditClient")
            .field("api_base", &self.api_base)
            .field("oauth", &self.oauth.is_some())
            .finish_non_exhaustive()
    }
}

impl RedditClient {
    /// Builds the client (and its one connection pool) from a validated config.
    ///
    /// # Errors
    /// `Invalid` when the config is invalid or the HTTP stack cannot start.
    pub fn new(config: &RedditConfig) -> Result<Self, RedditError> {
        config.validate().map_err(|message| RedditError::Invalid { message })?;
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout())
            .timeout(config.timeout())
            .pool_max_idle_per_host(config.max_idle_connections)
            .pool_idle_timeout(config.pool_idle_timeout())
            // Reddit answers an unknown subreddit with a redirect to subreddit search, whose
            // Listing (of `t5`s) would read as "0 posts"; redirects are classified instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| RedditError::Invalid { message: format!("cannot build HTTP client: {e}") })?;
        let oauth = match (&config.client_id, &config.client_secret) {
            (Some(client_id), Some(client_secret)) => Some(OAuth {
                auth_url: config.auth_url.clone(),
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                login: config.username.clone().zip(config.password.clone()),
            }),
            _ => None,
        };
        let api_base = if oauth.is_some() { &config.oauth_base_url } else { &config.base_url };
        let qpm = NonZeroU32::new(config.effective_queries_per_minute()).unwrap_or(NonZeroU32::MIN);
        let secrets = [&config.client_secret, &config.password].into_iter().flatten().cloned().collect();
        Ok(Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            json_suffix: oauth.is_none(),
            oauth,
            token: tokio::sync::Mutex::new(None),
            limiter: RateLimiter::direct(Quota::per_minute(qpm)),
            server_window: Mutex::new(None),
            secrets,
            max_pages: config.max_pages,
            page_size: config.page_size,
            max_comments: config.max_comments,
            max_retries: config.max_retries,
            backoff_base: Duration::from_millis(config.backoff_base_ms),
            backoff_max: Duration::from_millis(config.backoff_max_ms),
            max_rate_limit_wait: config.max_rate_limit_wait(),
            timeout: config.timeout(),
            max_body_bytes: config.max_body_bytes,
        })
    }

    /// True when this client reads the OAuth host with a bearer token.
    pub fn uses_oauth(&self) -> bool {
        self.oauth.is_some()
    }

    /// Reads up to `limit` posts of `listing` in `subreddit`, page by page (at most
    /// `max_pages`), following `after` until the limit or the end of the listing.
    ///
    /// Never fails as a whole: a failure on page N ends the scan with
    /// [`ScanStatus::Failed`] (or [`ScanStatus::Blocked`] for a block page) and keeps the posts
    /// of pages 1..N; `pages` says how far it got.
    pub async fn scan(&self, subreddit: &str, listing: Listing, limit: usize) -> ScanReport {
        let mut report = ScanReport {
            subreddit: subreddit.to_owned(),
            listing,
            posts: Vec::new(),
            pages: 0,
            status: ScanStatus::Complete,
        };
        let mut after: Option<String> = None;
        while report.posts.len() < limit && report.pages < self.max_pages {
            let want = (limit - report.posts.len()).min(self.page_size as usize) as u32;
            match self.page(subreddit, &report.listing, after.as_deref(), want).await {
                Ok(page) => {
                    report.pages += 1;
                    let room = limit - report.posts.len();
                    report.posts.extend(page.posts.into_iter().take(room));
                    // A repeated cursor would loop forever; the end of a listing is `null`.
                    if page.after.is_none() || page.after == after {
                        break;
                    }
                    after = page.after;
                }
                Err(RedditError::Blocked { reason, .. }) => {
                    warn!(%reason, subreddit, listing = %report.listing, pages = report.pages, "Scan blocked.");
                    report.status = ScanStatus::Blocked { reason };
                    break;
                }
                Err(error) => {
                    warn!(%error, subreddit, listing = %report.listing, pages = report.pages, posts = report.posts.len(), "Scan failed.");
                    report.status = ScanStatus::Failed { error };
                    break;
                }
            }
        }
        if report.is_complete() {
            info!(subreddit, listing = %report.listing, pages = report.pages, posts = report.posts.len(), "Scan complete.");
        }
        report
    }

    /// The comments of one thread, flattened depth-first, at most `max_comments`.
    ///
    /// # Errors
    /// The typed error of the request once retries are exhausted, or `Malformed`.
    pub async fn comments(&self, subreddit: &str, post_id: &str) -> Result<Vec<Comment>, RedditError> {
        check_name("subreddit", subreddit)?;
        check_name("post id", post_id)?;
        let what = format!("r/{subreddit}/comments/{post_id}");
        let url = self.api_url(&format!("/r/{subreddit}/comments/{post_id}"));
        let params = vec![("limit", self.max_comments.min(500).to_string()), ("raw_json", "1".to_owned())];
        let body = self.get(&what, &url, &params).await?;
        parse_comments(&what, &body, self.max_comments)
    }

    async fn page(
        &self,
        subreddit: &str,
        listing: &Listing,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page, RedditError> {
        check_name("subreddit", subreddit)?;
        let endpoint = listing.endpoint();
        let what = format!("r/{subreddit}/{endpoint}");
        let url = self.api_url(&format!("/r/{subreddit}/{endpoint}"));
        let mut params = vec![("limit", limit.to_string()), ("raw_json", "1".to_owned())];
        params.extend(listing.params());
        if let Some(after) = after {
            params.push(("after", after.to_owned()));
        }
        let body = self.get(&what, &url, &params).await?;
        parse_listing(&what, &body)
    }

    fn api_url(&self, path: &str) -> String {
        let suffix = if self.json_suffix { ".json" } else { "" };
        format!("{}{path}{suffix}", self.api_base)
    }

    /// GETs an API URL with retries; returns the body of a successful JSON answer.
    async fn get(&self, what: &str, url: &str, params: &[(&str, String)]) -> Result<Vec<u8>, RedditError> {
        let mut attempt = 0;
        let mut token_renewed = false;
        loop {
            let result = match self.bearer().await {
                Ok(token) => {
                    let sent_token = token.is_some();
                    self.get_once(what, url, params, token).await.map_err(|e| (e, sent_token))
                }
                Err(error) => Err((error, false)),
            };
            match result {
                Ok(body) => return Ok(body),
                // A rejected bearer token (revoked, expired early): fetch a new one, once.
                Err((RedditError::Auth { .. }, true)) if !token_renewed => {
                    debug!(what, "Bearer token rejected; fetching a new one.");
                    *self.token.lock().await = None;
                    token_renewed = true;
                }
                Err((error, _)) if error.is_retryable() && attempt < self.max_retries => {
                    let backoff = self.backoff(attempt);
                    let wait = match error.retry_after() {
                        Some(wanted) if wanted > self.max_rate_limit_wait => return Err(error),
                        Some(wanted) => wanted.max(backoff),
                        None => backoff,
                    };
                    warn!(%error, what, attempt, ?wait, "Retrying Reddit request.");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    async fn get_once(
        &self,
        what: &str,
        url: &str,
        params: &[(&str, String)],
        token: Option<Secret>,
    ) -> Result<Vec<u8>, RedditError> {
        self.wait_for_budget(what).await?;
        let mut request = self.http.get(url).query(params);
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("bearer {}", token.expose()))
                .map_err(|_| RedditError::Auth { message: "token is not a valid header value".to_owned() })?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        let response = self.send(what, request).await?;
        self.note_rate_headers(&response.headers);
        self.classify(what, response)
    }

    /// The current bearer token, fetching or refreshing it when needed; `None` without OAuth.
    async fn bearer(&self) -> Result<Option<Secret>, RedditError> {
        let Some(oauth) = &self.oauth else { return Ok(None) };
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(Some(token.value.clone()));
        }
        *cached = None;
        let token = self.fetch_token(oauth).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(Some(value))
    }

    async fn fetch_token(&self, oauth: &OAuth) -> Result<CachedToken, RedditError> {
        const WHAT: &str = "access token";
        // The serializer is not `Send`; it is dropped before the first await so the scan future
        // can run on a multi-threaded runtime (the job engine spawns it).
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            match &oauth.login {
                Some((username, password)) => form
                    .append_pair("grant_type", "password")
                    .append_pair("username", username.expose())
                    .append_pair("password", password.expose()),
                None => form.append_pair("grant_type", "client_credentials"),
            };
            form.finish()
        };
        let request = self
            .http
            .post(&oauth.auth_url)
            .basic_auth(&oauth.client_id, Some(oauth.client_secret.expose()))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        let response = self.send(WHAT, request).await?;
        if response.status == StatusCode::UNAUTHORIZED {
            return Err(RedditError::Auth { message: "client credentials rejected (HTTP 401)".to_owned() });
        }
        if !response.status.is_success() {
            self.classify(WHAT, response)?;
            return Err(RedditError::Malformed {
                what: WHAT.to_owned(),
                message: "unexpected answer".to_owned(),
            });
        }
        if looks_html(&response.body) {
            return Err(RedditError::Blocked { what: WHAT.to_owned(), reason: html_title(&response.body) });
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: Option<String>,
            expires_in: Option<f64>,
            error: Option<serde_json::Value>,
        }
        // serde's messages can quote the input; the input holds the token. Say only what is wrong.
        let parsed: TokenResponse =
            serde_json::from_slice(&response.body).map_err(|_| RedditError::Malformed {
                what: WHAT.to_owned(),
                message: "token response is not JSON of the documented shape".to_owned(),
            })?;
        if let Some(error) = parsed.error {
            let code = match &error {
                serde_json::Value::String(code) => {
                    code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
                }
                other => other.to_string(),
            };
            if code == "429" {
                return Err(RedditError::RateLimited {
                    what: WHAT.to_owned(),
                    message: "Too Many Requests".to_owned(),
                    retry_after: None,
                });
            }
            return Err(RedditError::Auth { message: format!("token grant refused: {code}") });
        }
        let (Some(token), Some(expires_in)) = (parsed.access_token, parsed.expires_in) else {
            return Err(RedditError::Malformed {
                what: WHAT.to_owned(),
                message: "token response without access_token or expires_in".to_owned(),
            });
        };
        if !(expires_in.is_finite() && expires_in > 0.0) || token.is_empty() {
            return Err(RedditError::Malformed {
                what: WHAT.to_owned(),
                message: "unusable token lifetime".to_owned(),
            });
        }
        let lifetime = Duration::from_secs_f64(expires_in.min(1e7));
        let margin = TOKEN_REFRESH_MARGIN.min(lifetime / 2);
        debug!(?lifetime, "Fetched a Reddit access token.");
        Ok(CachedToken { value: Secret::new(token), refresh_at: Instant::now() + lifetime - margin })
    }

    /// Sends one request and reads the whole body (bounded). On any error the response is
    /// dropped unread, which closes its connection instead of pooling it.
    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Result<Response, RedditError> {
        let mut response = request.send().await.map_err(|e| self.transport_error(what, e))?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        if response.content_length().is_some_and(|len| len as usize > self.max_body_bytes) {
            return Err(self.too_large(what));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport_error(what, e))? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(self.too_large(what));
            }
            body.extend_from_slice(&chunk);
        }
        debug!(what, status = status.as_u16(), bytes = body.len(), "Reddit responded.");
        Ok(Response { status, headers, body })
    }

    /// Turns a complete response into its body or a typed error.
    fn classify(&self, what: &str, response: Response) -> Result<Vec<u8>, RedditError> {
        let Response { status, headers, body } = response;
        let what_owned = || what.to_owned();
        let html = looks_html(&body);
        match status.as_u16() {
            200..=299 if html => Err(RedditError::Blocked { what: what_owned(), reason: html_title(&body) }),
            200..=299 => match error_body(&body) {
                Some(error) => Err(self.body_error(what, &headers, error)),
                None => Ok(body),
            },
            300..=399 => {
                let location = headers.get(LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("");
                if location.contains("/subreddits/search") {
                    Err(RedditError::NotFound { what: what_owned() })
                } else {
                    let target: String = location.split('?').next().unwrap_or("").chars().take(200).collect();
                    Err(RedditError::Upstream {
                        what: what_owned(),
                        status: Some(status.as_u16()),
                        message: format!("unexpected redirect to {target:?}"),
                    })
                }
            }
            401 => Err(RedditError::Auth { message: format!("{what}: access denied (HTTP 401)") }),
            403 if html => Err(RedditError::Blocked { what: what_owned(), reason: html_title(&body) }),
            403 => Err(RedditError::Forbidden {
                what: what_owned(),
                reason: ForbiddenReason::parse(error_body(&body).and_then(|e| e.reason).as_deref()),
            }),
            404 => Err(RedditError::NotFound { what: what_owned() }),
            429 => Err(RedditError::RateLimited {
                what: what_owned(),
                message: if html { html_title(&body) } else { "Too Many Requests (HTTP 429)".to_owned() },
                retry_after: rate_limit_reset(&headers).or_else(|| retry_after(&headers)),
            }),
            code => Err(RedditError::Upstream {
                what: what_owned(),
                status: Some(code),
                message: self.excerpt(&body),
            }),
        }
    }

    /// The HTTP-200 error forms: `{"message": "Too Many Requests", "error": 429}` and friends.
    fn body_error(&self, what: &str, headers: &HeaderMap, error: ErrorBody) -> RedditError {
        let what = what.to_owned();
        let message = self.redact(error.message.as_deref().unwrap_or("error in a 200 body"));
        match error.code() {
            Some(429) => RedditError::RateLimited { what, message, retry_after: rate_limit_reset(headers) },
            Some(403) => {
                RedditError::Forbidden { what, reason: ForbiddenReason::parse(error.reason.as_deref()) }
            }
            Some(404) => RedditError::NotFound { what },
            Some(401) => RedditError::Auth { message: format!("{what}: {message}") },
            Some(code) if code >= 500 => RedditError::Upstream { what, status: Some(code), message },
            _ => RedditError::Malformed { what, message: format!("error body: {message}") },
        }
    }

    /// Remembers Reddit's window: when `X-Ratelimit-Remaining` ≤ 0, no request goes out before
    /// `X-Ratelimit-Reset` seconds from now (CDN-cached answers carry no headers; ignored).
    fn note_rate_headers(&self, headers: &HeaderMap) {
        let Some(remaining) = header_f64(headers, "x-ratelimit-remaining") else { return };
        let mut window = self.server_window.lock().unwrap_or_else(PoisonError::into_inner);
        if remaining <= 0.0 {
            let reset = rate_limit_reset(headers).unwrap_or(Duration::from_secs(1));
            debug!(?reset, "Reddit rate-limit window used up; pausing.");
            *window = Some(Instant::now() + reset);
        } else {
            *window = None;
        }
    }

    /// Waits for Reddit's window and the client-side queries-per-minute budget.
    async fn wait_for_budget(&self, what: &str) -> Result<(), RedditError> {
        let until = *self.server_window.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(until) = until {
            let wait = until.saturating_duration_since(Instant::now());
            if wait > self.max_rate_limit_wait {
                return Err(RedditError::RateLimited {
                    what: what.to_owned(),
                    message: format!("Reddit's rate-limit window resets in {wait:?}"),
                    retry_after: Some(wait),
                });
            }
            if !wait.is_zero() {
                info!(?wait, what, "Reddit rate limit exhausted; sleeping until reset.");
                tokio::time::sleep(wait).await;
            }
        }
        loop {
            match self.limiter.check() {
                Ok(()) => return Ok(()),
                Err(not_until) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    if wait > self.max_rate_limit_wait {
                        return Err(RedditError::RateLimited {
                            what: what.to_owned(),
                            message: "client-side queries-per-minute budget used up".to_owned(),
                            retry_after: Some(wait),
                        });
                    }
                    debug!(?wait, what, "Waiting for the queries-per-minute budget.");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Exponential backoff with full jitter in `[ceiling / 2, ceiling]`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.backoff_base.saturating_mul(1 << attempt.min(16)).min(self.backoff_max);
        let ms = ceiling.as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }

    fn transport_error(&self, what: &str, error: reqwest::Error) -> RedditError {
        if error.is_timeout() {
            return RedditError::Timeout { what: what.to_owned(), after: self.timeout };
        }
        // reqwest's message includes the URL; drop it, then walk the causes.
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        RedditError::Upstream { what: what.to_owned(), status: None, message: self.redact(&text) }
    }

    fn too_large(&self, what: &str) -> RedditError {
        RedditError::Upstream {
            what: what.to_owned(),
            status: None,
            message: format!("response larger than {} bytes refused", self.max_body_bytes),
        }
    }

    fn excerpt(&self, body: &[u8]) -> String {
        if looks_html(body) {
            return html_title(body);
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
        let text: String = text.chars().take(200).collect();
        let text = text.trim();
        if text.is_empty() { "empty body".to_owned() } else { self.redact(text) }
    }

    /// Masks configured secrets in `text`.
    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if !secret.expose().is_empty() {
                text = text.replace(secret.expose(), MASK);
            }
        }
        text
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: serde_json::Value,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

impl ErrorBody {
    fn code(&self) -> Option<u16> {
        self.error.as_u64().and_then(|c| u16::try_from(c).ok())
    }
}

/// A small JSON object with an `error` key (Reddit's error envelope), if that is what `body` is.
fn error_body(body: &[u8]) -> Option<ErrorBody> {
    if body.len() > ERROR_BODY_PROBE || body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// True when the body is an HTML page (block pages, CDN errors) rather than JSON.
fn looks_html(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// A short description of an HTML page: its `<title>`, if any.
fn html_title(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(8192)]);
    let lower = text.to_ascii_lowercase();
    let title = lower.find("<title>").and_then(|start| {
        let rest = &text[start + 7..];
        rest.find("</").map(|end| rest[..end].split_whitespace().collect::<Vec<_>>().join(" "))
    });
    match title {
        Some(title) if !title.is_empty() => {
            format!("HTML page instead of JSON: {}", title.chars().take(120).collect::<String>())
        }
        _ => "HTML page instead of JSON".to_owned(),
    }
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `X-Ratelimit-Reset`: seconds until Reddit's window ends (a float like `"412.0"`).
fn rate_limit_reset(headers: &HeaderMap) -> Option<Duration> {
    header_f64(headers, "x-ratelimit-reset").filter(|s| *s >= 0.0).map(Duration::from_secs_f64)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_f64(headers, RETRY_AFTER.as_str()).filter(|s| *s >= 0.0).map(Duration::from_secs_f64)
}

/// Subreddit names and thing ids are `[A-Za-z0-9_]`; anything else would change the path.
fn check_name(kind: &str, name: &str) -> Result<(), RedditError> {
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(RedditError::Invalid { message: format!("invalid {kind} {name:?}") });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_titles() {
        let page = b"  <!DOCTYPE html><html><head><TITLE>Blocked\n by network security</title></head></html>";
        assert!(looks_html(page));
        assert_eq!(html_title(page), "HTML page instead of JSON: Blocked by network security");
        assert!(!looks_html(br#"{"kind":"Listing"}"#));
    }

    #[test]
    fn error_bodies() {
        let body = error_body(br#"{"message": "Too Many Requests", "error": 429}"#).expect("error body");
        assert_eq!(body.code(), Some(429));
        assert!(error_body(br#"{"kind":"Listing","data":{}}"#).is_none());
        let body = error_body(br#"{"error":"invalid_grant"}"#).expect("error body");
        assert_eq!(body.code(), None);
    }

    #[test]
    fn names() {
        assert!(check_name("subreddit", "wallstreetbets").is_ok());
        assert!(check_name("subreddit", "a/../b").is_err());
        assert!(check_name("subreddit", "").is_err());
    }
}
