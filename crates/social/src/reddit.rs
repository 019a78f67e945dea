//! The Reddit client: OAuth (or public JSON), listings with `after` paging, comments, rate
//! limits, typed errors and retries.
//!
//! Why it looks like this: the Python scanner this replaces left its Reddit session open when a
//! scan failed, and the service must run for months with flat memory and no leaked socket. So a
//! [`RedditClient`] (one per scan configuration) owns exactly one [`outbound::Client`] (connect
//! and total timeouts, requests in flight and the idle pool bounded by `max_idle_connections`,
//! an idle timeout, the queries-per-minute limit and Reddit's `X-Ratelimit-*` window), and every
//! request reads its response to the end or drops it:
//!
//! - a complete answer (success *or* an error status such as 500 with its body read) leaves a
//!   healthy keep-alive connection in the pool, reused by the next request and closed by the
//!   idle timeout or when the client is dropped;
//! - a failed exchange (timeout, reset, truncated or oversized body) drops the response, and
//!   hyper closes that connection at once — it is never handed back to the pool;
//! - dropping the client closes every pooled connection and ends the pool's tasks.
//!
//! The lifecycle tests of every adapter (`crates/test-support/tests/lifecycle.rs`) check all three
//! from the outside (a connection-counting proxy, `/proc/self/fd`, the runtime's task count and
//! RSS over a thousand clients); `tests/reddit_lifecycle.rs` adds what is Reddit's own: a scan
//! failing mid-way keeps its earlier pages and closes only the broken connection.
//!
//! What is Reddit's here: OAuth (a basic-auth token request, then a lower-case `bearer` header),
//! `.json` paths on the public host, redirects not followed (an unknown subreddit redirects to
//! search), the classification of its answers into [`RedditError`] (block pages, `{"error": 429}`
//! bodies with HTTP 200, 403 reasons) and which headers state its waits.
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

use std::time::{Duration, Instant};

use outbound::{BodySummary, Client, Failure, Response, Retryable, Vendor};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION};
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

/// The vendor side of the Reddit client: failures become [`RedditError`]s.
#[derive(Debug, Clone, Copy)]
struct Reddit;

impl Vendor for Reddit {
    type Error = RedditError;

    fn failure(&self, what: &str, failure: Failure) -> RedditError {
        let what = what.to_owned();
        match failure {
            Failure::Timeout { after } => RedditError::Timeout { what, after },
            Failure::Transport { message } => RedditError::Upstream { what, status: None, message },
            Failure::TooLarge { .. } => {
                RedditError::Upstream { what, status: None, message: failure.to_string() }
            }
            Failure::RateLimited { wait, .. } => {
                RedditError::RateLimited { what, message: failure.to_string(), retry_after: Some(wait) }
            }
            Failure::ShuttingDown => RedditError::Invalid { message: failure.to_string() },
        }
    }
}

impl Retryable for RedditError {
    fn is_retryable(&self) -> bool {
        RedditError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        RedditError::retry_after(self)
    }

    fn kind(&self) -> &'static str {
        RedditError::kind(self)
    }
}

/// A Reddit client for one scan configuration. See the module docs for its invariants.
pub struct RedditClient {
    http: Client<Reddit>,
    api_base: String,
    json_suffix: bool,
    oauth: Option<OAuth>,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    max_pages: u32,
    page_size: u32,
    max_comments: usize,
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
        let http = Client::new(config.client_config(), Reddit)
            .map_err(|e| RedditError::Invalid { message: e.to_string() })?;
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
        Ok(Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            json_suffix: oauth.is_none(),
            oauth,
            token: tokio::sync::Mutex::new(None),
            max_pages: config.max_pages,
            page_size: config.page_size,
            max_comments: config.max_comments,
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
        let max = self.max_comments;
        self.get(&what, &url, &params, |body| parse_comments(&what, body, max)).await
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
        self.get(&what, &url, &params, |body| parse_listing(&what, body)).await
    }

    fn api_url(&self, path: &str) -> String {
        let suffix = if self.json_suffix { ".json" } else { "" };
        format!("{}{path}{suffix}", self.api_base)
    }

    /// GETs an API URL (with the client's retries) and parses the body of a successful JSON
    /// answer. A rejected bearer token (revoked, expired early) is replaced once.
    async fn get<T>(
        &self,
        what: &str,
        url: &str,
        params: &[(&str, String)],
        parse: impl Fn(&[u8]) -> Result<T, RedditError>,
    ) -> Result<T, RedditError> {
        let mut token_renewed = false;
        loop {
            let token = self.bearer().await?;
            let authorization = token.as_ref().map(bearer_header).transpose()?;
            let result = self
                .http
                .execute(
                    what,
                    |client| {
                        let request = client.get(url).query(params);
                        match &authorization {
                            Some(value) => request.header(AUTHORIZATION, value.clone()),
                            None => request,
                        }
                    },
                    |response| {
                        self.classify(what, response)?;
                        parse(&response.body)
                    },
                )
                .await;
            match result {
                Err(RedditError::Auth { .. }) if token.is_some() && !token_renewed => {
                    debug!(what, "Bearer token rejected; fetching a new one.");
                    *self.token.lock().await = None;
                    token_renewed = true;
                }
                result => return result,
            }
        }
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
        self.http
            .execute(
                WHAT,
                |client| {
                    client
                        .post(&oauth.auth_url)
                        .basic_auth(&oauth.client_id, Some(oauth.client_secret.expose()))
                        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(body.clone())
                },
                |response| self.token_answer(WHAT, response),
            )
            .await
    }

    /// Reads the token endpoint's answer. Never quotes its body: it holds the token.
    fn token_answer(&self, what: &str, response: &Response) -> Result<CachedToken, RedditError> {
        if response.status == StatusCode::UNAUTHORIZED {
            return Err(RedditError::Auth { message: "client credentials rejected (HTTP 401)".to_owned() });
        }
        if !response.status.is_success() {
            self.classify(what, response)?;
            return Err(RedditError::Malformed {
                what: what.to_owned(),
                message: "unexpected answer".to_owned(),
            });
        }
        if response.is_html() {
            return Err(RedditError::Blocked { what: what.to_owned(), reason: html_reason(response) });
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
                what: what.to_owned(),
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
                    what: what.to_owned(),
                    message: "Too Many Requests".to_owned(),
                    retry_after: response.wait_hint(),
                });
            }
            return Err(RedditError::Auth { message: format!("token grant refused: {code}") });
        }
        let (Some(token), Some(expires_in)) = (parsed.access_token, parsed.expires_in) else {
            return Err(RedditError::Malformed {
                what: what.to_owned(),
                message: "token response without access_token or expires_in".to_owned(),
            });
        };
        if !(expires_in.is_finite() && expires_in > 0.0) || token.is_empty() {
            return Err(RedditError::Malformed {
                what: what.to_owned(),
                message: "unusable token lifetime".to_owned(),
            });
        }
        let lifetime = Duration::from_secs_f64(expires_in.min(1e7));
        let margin = TOKEN_REFRESH_MARGIN.min(lifetime / 2);
        debug!(?lifetime, "Fetched a Reddit access token.");
        Ok(CachedToken { value: Secret::new(token), refresh_at: Instant::now() + lifetime - margin })
    }

    /// Turns a complete response into `Ok` (a JSON answer to parse) or a typed error.
    fn classify(&self, what: &str, response: &Response) -> Result<(), RedditError> {
        let (status, headers, body) = (response.status, &response.headers, &response.body[..]);
        let what_owned = || what.to_owned();
        let html = response.is_html();
        match status.as_u16() {
            200..=299 if html => {
                Err(RedditError::Blocked { what: what_owned(), reason: html_reason(response) })
            }
            200..=299 => match error_body(body) {
                Some(error) => Err(self.body_error(what, response, error)),
                None => Ok(()),
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
            403 if html => Err(RedditError::Blocked { what: what_owned(), reason: html_reason(response) }),
            403 => Err(RedditError::Forbidden {
                what: what_owned(),
                reason: ForbiddenReason::parse(error_body(body).and_then(|e| e.reason).as_deref()),
            }),
            404 => Err(RedditError::NotFound { what: what_owned() }),
            429 => Err(RedditError::RateLimited {
                what: what_owned(),
                message: if html { html_reason(response) } else { "Too Many Requests (HTTP 429)".to_owned() },
                retry_after: response.wait_hint(),
            }),
            code => Err(RedditError::Upstream {
                what: what_owned(),
                status: Some(code),
                message: self.excerpt(response),
            }),
        }
    }

    /// The HTTP-200 error forms: `{"message": "Too Many Requests", "error": 429}` and friends.
    fn body_error(&self, what: &str, response: &Response, error: ErrorBody) -> RedditError {
        let what = what.to_owned();
        let message = self.http.redactor().redact(error.message.as_deref().unwrap_or("error in a 200 body"));
        match error.code() {
            Some(429) => RedditError::RateLimited { what, message, retry_after: response.wait_hint() },
            Some(403) => {
                RedditError::Forbidden { what, reason: ForbiddenReason::parse(error.reason.as_deref()) }
            }
            Some(404) => RedditError::NotFound { what },
            Some(401) => RedditError::Auth { message: format!("{what}: {message}") },
            Some(code) if code >= 500 => RedditError::Upstream { what, status: Some(code), message },
            _ => RedditError::Malformed { what, message: format!("error body: {message}") },
        }
    }

    fn excerpt(&self, response: &Response) -> String {
        match response.summary(200) {
            BodySummary::Html { .. } => html_reason(response),
            BodySummary::Empty => "empty body".to_owned(),
            BodySummary::Text(text) => self.http.redactor().redact(&text),
        }
    }
}

/// `bearer <token>`, lower case as Reddit documents it, marked sensitive.
fn bearer_header(token: &Secret) -> Result<HeaderValue, RedditError> {
    let mut value = HeaderValue::from_str(&format!("bearer {}", token.expose()))
        .map_err(|_| RedditError::Auth { message: "token is not a valid header value".to_owned() })?;
    value.set_sensitive(true);
    Ok(value)
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

/// A short description of an HTML page (a block page, a CDN error): its `<title>`, if any.
fn html_reason(response: &Response) -> String {
    match response.summary(200) {
        BodySummary::Html { title: Some(title) } => format!("HTML page instead of JSON: {title}"),
        _ => "HTML page instead of JSON".to_owned(),
    }
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
        let response = Response::new(StatusCode::OK, Default::default(), &page[..], None);
        assert!(response.is_html());
        assert_eq!(html_reason(&response), "HTML page instead of JSON: Blocked by network security");
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
