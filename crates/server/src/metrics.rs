//! Prometheus metrics at `GET /metrics`.
//!
//! What is covered, and where each number comes from:
//!
//! | metric | type | labels | source |
//! |---|---|---|---|
//! | `http_requests_total` | counter | `route`, `method`, `status` | the `record_http` middleware |
//! | `http_request_duration_seconds` | histogram | `route` | the `record_http` middleware |
//! | `http_connections_closed_total` | counter | `reason` (`header_timeout`, `idle_timeout`, `drain_deadline`) | connections the server closed on its own (`connection.rs`) |
//! | `provider_requests_total` | counter | `provider`, `outcome` (`ok` or the error kind) | every HTTP attempt of a provider's client (`outbound`, through `providers::http`), jobs and API alike |
//! | `provider_rate_limit_waits_total`, `provider_rate_limit_wait_seconds` | counter, histogram | `provider` | waits for a provider's client-side rate limit (`outbound`) |
//! | `provider_chain_requests_total` | counter | `provider`, `outcome` | which provider of the chain served or failed a quote fetched by the API (includes the offline sample) |
//! | `process_resident_memory_bytes` | gauge | | `/proc/self/status` on each scrape |
//! | `process_open_fds` | gauge | | `/proc/self/fd` on each scrape |
//! | `sqlite_read_connections_open`, `sqlite_read_connections_max` | gauge | | the SQLite file's read pool (`Storage::read_pool_stats`) on each scrape; absent for PostgreSQL |
//! | `job_runs_total` | gauge | `job`, `status` | stored runs, counted by the database on each scrape |
//! | `job_run_duration_seconds_sum` | gauge | `job`, `status` | stored runs (finished − started), summed on each scrape |
//!
//! Design decisions:
//! - **`route` is the matched path template** (`/api/symbols/{symbol}/bars`), never the raw
//!   path, and unmatched requests share the route `unmatched`, so the number of series is
//!   bounded by the code, not by what clients send. `method` is one of a fixed set.
//! - **Histograms have fixed buckets**, so a series costs the same memory after a month as after
//!   a minute; [`crate::Server`] runs the exporter's upkeep every few seconds, so samples never
//!   pile up between scrapes (or when nobody scrapes).
//! - **Job figures are read from the run history on scrape** rather than counted in memory: they
//!   survive restarts, include runs triggered by any process sharing the database, and cannot
//!   drift from what `GET /api/jobs/runs` shows. The query groups by job and status, so its
//!   result is at most jobs × 6 rows.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use providers::{Attempt, ChainError, ProviderError};
use storage::Storage;

/// Requests served, by route template, method and status.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// Time to produce a response (headers, not the streamed body), by route template.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// Chain-level provider outcomes of API quote fetches, by provider and outcome (`ok` or
/// [`ProviderError::kind`]); HTTP attempts are counted by the providers crate itself.
pub const PROVIDER_CHAIN_REQUESTS_TOTAL: &str = "provider_chain_requests_total";

/// Bucket bounds of the request-duration histogram, in seconds: fine below 5 ms (the bars
/// target's p99), coarse above.
const DURATION_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0];

/// The process-wide Prometheus recorder, installed on first use.
///
/// The `metrics` facade has one global recorder per process, so this is idempotent: every
/// [`crate::AppState`] (tests build many) shares the one handle. If some other recorder was
/// installed first, the returned handle renders only what it is given directly (process and job
/// figures) and a warning is logged.
pub fn install_recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()), &DURATION_BUCKETS)
                .expect("the duration buckets are a non-empty constant");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if let Err(error) = metrics::set_global_recorder(recorder) {
                tracing::warn!(%error, "Another metrics recorder is installed; HTTP metrics will not be exported.");
            }
            handle
        })
        .clone()
}

/// A static label for `method`, so odd methods cannot create new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware counting every request and timing it, labelled by the matched route template.
pub(crate) async fn record_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS_TOTAL, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

fn record_provider_error(error: &ProviderError) {
    metrics::counter!(PROVIDER_CHAIN_REQUESTS_TOTAL, "provider" => error.provider().as_str(), "outcome" => error.kind())
        .increment(1);
}

/// Counts the providers a chain call tried: each failed attempt by its error kind, and the one
/// that served (if any) as `ok`.
pub fn record_provider_outcomes(served_by: Option<domain::ProviderId>, failed: &[Attempt]) {
    for attempt in failed {
        record_provider_error(&attempt.error);
    }
    if let Some(provider) = served_by {
        metrics::counter!(PROVIDER_CHAIN_REQUESTS_TOTAL, "provider" => provider.as_str(), "outcome" => "ok")
            .increment(1);
    }
}

/// Counts the providers of a chain call that failed as a whole.
pub fn record_chain_error(error: &ChainError) {
    for provider_error in error.errors() {
        record_provider_error(provider_error);
    }
}

/// Resident set size in bytes, from `VmRSS` in `/proc/self/status` (Linux; `None` elsewhere).
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// Open file descriptors (sockets, files, pipes, epoll…), not counting the one used to list them.
fn open_fds() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some((entries.count() as u64).saturating_sub(1))
}

/// Escapes a label value for the Prometheus text format.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The full scrape: the recorder's metrics, then process and job figures computed now. When the
/// database is unreachable the job figures are left out (and a warning logged) rather than
/// failing the scrape: the process figures matter most exactly then.
pub(crate) async fn render(handle: &PrometheusHandle, storage: &Storage) -> String {
    let run_stats = storage.run_stats().await.unwrap_or_else(|error| {
        tracing::warn!(%error, "Cannot read run statistics; job metrics left out of this scrape.");
        Vec::new()
    });
    let mut text = handle.render();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    // Writing to a String cannot fail.
    if let Some(rss) = resident_memory_bytes() {
        let _ = writeln!(
            text,
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
             # TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}"
        );
    }
    if let Some(fds) = open_fds() {
        let _ = writeln!(
            text,
            "# HELP process_open_fds Number of open file descriptors.\n\
             # TYPE process_open_fds gauge\nprocess_open_fds {fds}"
        );
    }
    if let Some(readers) = storage.read_pool_stats() {
        let _ = writeln!(
            text,
            "# HELP sqlite_read_connections_open Read-only SQLite connections open (API reads).\n\
             # TYPE sqlite_read_connections_open gauge\nsqlite_read_connections_open {}\n\
             # HELP sqlite_read_connections_max Bound of the read-only SQLite connections.\n\
             # TYPE sqlite_read_connections_max gauge\nsqlite_read_connections_max {}",
            readers.open, readers.max
        );
    }
    let _ = writeln!(
        text,
        "# HELP job_runs_total Stored job runs by job and status.\n# TYPE job_runs_total gauge"
    );
    for stats in &run_stats {
        let _ = writeln!(
            text,
            "job_runs_total{{job=\"{}\",status=\"{}\"}} {}",
            escape_label(&stats.job),
            stats.status,
            stats.runs
        );
    }
    let _ = writeln!(
        text,
        "# HELP job_run_duration_seconds_sum Summed run time (finished - started) of stored job runs.\n\
         # TYPE job_run_duration_seconds_sum gauge"
    );
    for stats in &run_stats {
        let _ = writeln!(
            text,
            "job_run_duration_seconds_sum{{job=\"{}\",status=\"{}\"}} {}",
            escape_label(&stats.job),
            stats.status,
            stats.duration_secs
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_probes_read_proc() {
        assert!(resident_memory_bytes().is_some_and(|rss| rss > 1024 * 1024));
        assert!(open_fds().is_some_and(|fds| fds >= 3));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn odd_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
