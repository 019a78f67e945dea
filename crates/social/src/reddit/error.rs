//! Typed Reddit failures. Callers decide from the variant, not from text: a blocked scan must
//! be reported as blocked (never as "0 posts"), rate limits and transport failures are retried,
//! a private or banned subreddit is not. Messages never carry a secret: request URLs are
//! dropped from transport errors and known secrets are masked before an error is built.

use std::fmt;
use std::time::Duration;

/// Why Reddit refused a subreddit with 403 (`{"reason": "private", …}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForbiddenReason {
    Private,
    Banned,
    Gated,
    /// Another or no `reason`; the text is Reddit's, if any.
    Other(String),
}

impl ForbiddenReason {
    /// Maps Reddit's `reason` field.
    pub fn parse(reason: Option<&str>) -> Self {
        match reason {
            Some("private") => Self::Private,
            Some("banned") => Self::Banned,
            Some("gated" | "quarantined") => Self::Gated,
            other => Self::Other(other.unwrap_or("").to_owned()),
        }
    }
}

impl fmt::Display for ForbiddenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Private => f.write_str("private"),
            Self::Banned => f.write_str("banned"),
            Self::Gated => f.write_str("gated"),
            Self::Other(reason) if reason.is_empty() => f.write_str("forbidden"),
            Self::Other(reason) => f.write_str(reason),
        }
    }
}

/// A failed Reddit request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedditError {
    /// 429, or the HTTP-200 body `{"message": "Too Many Requests", "error": 429}`, or a server
    /// rate-limit window longer than `max_rate_limit_wait_secs`.
    #[error("Reddit rate limit for {what}: {message}")]
    RateLimited { what: String, message: String, retry_after: Option<Duration> },
    /// 403 with a reason (private, banned, gated subreddit).
    #[error("Reddit refused {what}: {reason}")]
    Forbidden { what: String, reason: ForbiddenReason },
    /// 404: no such subreddit or thread.
    #[error("Reddit has no {what}")]
    NotFound { what: String },
    /// An HTML block page instead of JSON: the network, UA or client is blocked.
    #[error("Reddit blocked {what}: {reason}")]
    Blocked { what: String, reason: String },
    /// Bad client credentials (401), a refused grant (200 `{"error":"invalid_grant"}`), or a
    /// rejected bearer token.
    #[error("Reddit authentication failed: {message}")]
    Auth { message: String },
    /// 5xx, another unexpected status, or a transport failure (refused, reset, truncated).
    #[error("Reddit upstream error for {what}{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Upstream { what: String, status: Option<u16>, message: String },
    /// No complete answer within the configured timeout.
    #[error("Reddit request for {what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    /// A body that is not the JSON shape Reddit documents.
    #[error("malformed Reddit response for {what}: {message}")]
    Malformed { what: String, message: String },
    /// Invalid configuration or arguments (never sent).
    #[error("invalid Reddit request: {message}")]
    Invalid { message: String },
}

impl RedditError {
    /// True for failures worth retrying after a backoff: rate limits, 5xx and transport
    /// errors, timeouts. Not for 4xx answers, block pages, auth or malformed bodies.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Timeout { .. } => true,
            Self::Upstream { status, .. } => status.is_none_or(|s| s >= 500),
            _ => false,
        }
    }

    /// How long Reddit asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short machine-readable kind, for reports and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::Blocked { .. } => "blocked",
            Self::Auth { .. } => "auth",
            Self::Upstream { .. } => "upstream",
            Self::Timeout { .. } => "timeout",
            Self::Malformed { .. } => "malformed",
            Self::Invalid { .. } => "invalid",
        }
    }
}
