//! What a vendor adapter supplies: its typed error, how the generic failures map into it, and
//! what of that error the retry loop needs to know.

use std::fmt;
use std::time::Duration;

/// The decisions the retry loop takes from an adapter's typed error. Each adapter keeps its own
/// error enum (and its own `is_retryable()`); this trait only lends the loop those answers.
pub trait Retryable: fmt::Display {
    /// Worth repeating the same request after a wait.
    fn is_retryable(&self) -> bool;

    /// The wait the server asked for, if it did (already bounded; see [`crate::wait`]). A wait
    /// longer than the client's `max_retry_wait` ends the call with this error instead of a
    /// sleep.
    fn retry_after(&self) -> Option<Duration>;

    /// A short stable label (`rate_limited`, `timeout` …): the `outcome` of the request metric.
    fn kind(&self) -> &'static str;
}

/// One vendor's side of the client: its error type and how the failures that happen before (or
/// instead of) a classifiable answer become one. Authentication and the headers it reads for
/// waits are data in [`crate::ClientConfig`]; how an answer is classified is the closure given
/// to each call.
pub trait Vendor: Send + Sync {
    /// The adapter's typed error.
    type Error: Retryable + Send;

    /// Maps a [`Failure`] of the request for `what` into the adapter's error.
    fn failure(&self, what: &str, failure: Failure) -> Self::Error;
}

/// Why an exchange ended without an answer to classify. Messages are redacted and carry no URL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    /// No complete answer within the attempt's time.
    #[error("no complete answer within {after:?}")]
    Timeout { after: Duration },
    /// The connection failed: refused, reset, closed mid-body, TLS, DNS.
    #[error("{message}")]
    Transport { message: String },
    /// The body is larger than `max_body_bytes`; it was not buffered.
    #[error("response larger than {limit} bytes refused")]
    TooLarge { limit: usize },
    /// A client-side limit or the server's rate-limit window would need a wait longer than
    /// `max_retry_wait`; nothing was sent.
    #[error("{pace}: the next request is allowed in {wait:?}")]
    RateLimited { pace: Pace, wait: Duration },
    /// The client is being dropped.
    #[error("the client is shutting down")]
    ShuttingDown,
}

/// Which limit held a request back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// A client-side [`crate::RateLimit`].
    Client { requests: u32, per_secs: u64 },
    /// The server said its window is used up (a remaining count of 0 in [`crate::ServerWindow`]).
    ServerWindow,
    /// The configured requests per UTC day are spent.
    DailyBudget { requests: u32 },
}

impl fmt::Display for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client { requests, per_secs } => {
                write!(f, "client-side budget of {requests} requests per {per_secs} s used up")
            }
            Self::ServerWindow => f.write_str("the server's rate-limit window is used up"),
            Self::DailyBudget { requests } => {
                write!(f, "daily budget of {requests} requests used up (resets at 00:00 UTC)")
            }
        }
    }
}
