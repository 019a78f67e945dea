//! The one resilient HTTP client of tickerwatch. Every vendor adapter (the market-data
//! providers, Reddit, the OpenAI-compatible chat client) and the monitor's webhooks talk HTTP
//! through a [`Client`], which owns what they would otherwise each write again:
//!
//! - one `reqwest::Client` (rustls, connect timeout, bounded idle pool with an idle timeout),
//!   built from a [`ClientConfig`];
//! - a semaphore bounding requests in flight, and so connections (reqwest has no per-host cap;
//!   see `CONNECTION_HAND_BACK` in `client.rs` for how the bound is kept exactly);
//! - client-side rate limits (governor) and a server's rate-limit window ([`ServerWindow`]);
//! - retries with capped, jittered exponential backoff honouring the server's wait
//!   (`Retry-After`, or vendor reset headers: [`WaitHeader`]), a give-up cap (a wait longer than
//!   `max_retry_wait` fails instead of sleeping) and a total budget per call;
//! - a body-size cap, HTML sniffing for block pages ([`summarize`]), redaction of secrets
//!   ([`Redactor`], [`Secret`]) and of URLs in transport errors;
//! - `metrics` counters and `tracing` spans (vendor, what) with a warning per retry;
//! - [`Usage`]: requests today against an optional daily budget (refused once spent), the
//!   minute's rate, the last success and error, and whether it is backing off, for health
//!   reports and run planning (bounded: a fixed set of counters).
//!
//! A vendor supplies only what differs: its auth ([`Auth`]: a header or a query parameter), the
//! headers it states waits in, a [`Vendor`] mapping the generic [`Failure`]s into its typed
//! error (which implements [`Retryable`]), and per call a closure classifying the response.
//! A plain JSON POST needs none of that: [`Client::plain`] and [`Client::post_json`] (or
//! [`Client::post_json_counted`], which also says how many attempts it took, for delivery logs).
//! A client that must decide where it may connect takes a [`Resolver`].
//!
//! Design decision: the retry loop is ours rather than backon's, because the wait must combine
//! the server's hint, the give-up cap, the call budget and jittered backoff, and attempts must
//! hold the in-flight permit. And a server's wait hint is never trusted: [`wait`] turns any header
//! value into a bounded `Duration` or "no usable wait", never a panic.
//!
//! Invariant: a client owns its pool; dropping it closes every connection, and a failed exchange
//! (timeout, reset, oversized or truncated body) drops its connection instead of pooling it.

mod client;
mod config;
mod plain;
pub mod redact;
mod response;
mod secret;
pub mod usage;
mod vendor;
pub mod wait;

pub use client::{BuildError, Client, Exchange};
pub use config::{
    Auth, ClientConfig, MAX_CONFIG_SECS, Metrics, RateLimit, Resolver, ServerWindow, check_http_url,
    check_positive_secs, check_wait_secs,
};
pub use plain::{Counted, Error, Plain};
pub use redact::Redactor;
pub use response::{BodySummary, Response, is_html, summarize};
pub use secret::{MASK, Secret};
pub use usage::{LastError, UnixDay, Usage, UsageSnapshot};
pub use vendor::{Failure, Pace, Retryable, Vendor};
pub use wait::{MAX_SERVER_WAIT, WaitHeader};
