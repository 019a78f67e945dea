//! Test-only helpers for proving resource lifecycle.
//!
//! - [`ConnectionCountingProxy`]: a TCP proxy in front of a mock server (wiremock or
//!   [`CannedHttpServer`]) that counts the client
//!   connections it accepts, how many are open right now and the peak, and can inject faults
//!   (reset or close a connection after N response bytes).
//! - [`probes`]: open file descriptors (count and targets), alive tokio tasks and resident
//!   memory of this process, [`ResourceBaseline`] to compare them against a starting point, and
//!   [`run_exclusive`] to run a measuring test alone on its own runtime.
//! - [`CannedHttpServer`]: a keep-alive HTTP/1.1 server with fixed responses that, unlike
//!   wiremock, keeps no per-request state, for memory measurements.
//! - [`llm`]: [`llm::MockChatServer`], a scripted OpenAI-compatible chat-completions mock
//!   (tool calls, final answers, structured output, streaming, failure injection).
//! - [`payloads`]: vendor-shaped JSON bodies (Yahoo chart, Polygon aggregates and errors, a
//!   Reddit listing, a chat completion).
//! - [`lifecycle`]: the connection-lifecycle cases every HTTP adapter must pass, and
//!   [`lifecycle_cases!`] to run them once per adapter from one table (`tests/lifecycle.rs`).
//! - [`postgres`]: [`postgres_url`], whether a PostgreSQL suite runs, skips (locally, saying so)
//!   or fails (in CI, where a silent skip would test nothing).
//! - [`required`]: the run/skip/fail rule both share, for any outside service a suite needs.
//! - [`s3`]: [`s3::s3_endpoint`] and [`s3::S3Bucket`], the same run/skip/fail rule for the
//!   object-storage suites (an S3-compatible server such as `scripts/s3-server.sh`'s moto) and a
//!   fresh bucket per test.
//! - [`wait`]: [`wait_until`] and [`wait_for`] poll a condition up to a deadline, for tests that
//!   must wait for something to happen (never a fixed sleep); [`mock_server_ready`] for wiremock.
//!
//! Everything here runs inside the test process, so the proxy's own sockets appear in
//! `/proc/self/fd` as well; all of them are closed when a connection ends or the proxy is dropped.

pub mod canned;
pub mod lifecycle;
pub mod llm;
pub mod payloads;
pub mod postgres;
pub mod probes;
pub mod proxy;
pub mod required;
pub mod s3;
pub mod wait;

pub use canned::{CannedHttpServer, CannedResponse};
pub use payloads::{
    chat_completion_json, polygon_aggs_json, polygon_not_authorized_json, reddit_listing_json,
    yahoo_chart_json, yahoo_chart_not_found_json, yahoo_chart_path,
};
pub use postgres::{postgres_required, postgres_url};
pub use probes::{
    ResourceBaseline, ResourceDelta, ResourceWatch, alive_tasks, new_fds_since, open_fd_targets, open_fds,
    rss_bytes, run_exclusive, wait_for_fds_at_most, wait_for_steady_fds, wait_for_tasks_at_most,
};
pub use proxy::{ConnectionCountingProxy, Fault};
pub use wait::{mock_server_ready, wait_for, wait_until, wait_until_blocking};
