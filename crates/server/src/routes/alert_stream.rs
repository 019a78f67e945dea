//! `GET /api/alerts/stream`: stored alerts as server-sent events, replayed from a cursor and then
//! live.
//!
//! Why the stream reads storage by id cursor instead of relaying a broadcast of new alerts:
//! a broadcast subscribed after the replay query loses an alert stored between the two, one
//! subscribed before it delivers that alert twice, and a broadcast channel is a per-client
//! buffer that a slow reader overflows. Here one loop reads `alerts_after(last id sent)` a page
//! at a time, so replay and live are the same query and an alert is sent exactly once, in id
//! order (storage makes ids visible in increasing order, also on PostgreSQL). Between reads the
//! loop sleeps until this process stores an alert (`Storage::alert_stored`, a watch channel: one
//! value, never a queue), the poll interval passes (alerts stored by another process, e.g. the
//! CLI's monitor), or the server shuts down. Memory per stream is one page of alerts; a client
//! that stops reading stops the loop (the body is polled only as hyper writes it). Nothing is
//! spawned: the stream lives in its connection's task, so it ends when the client goes (a
//! heartbeat write fails at the latest) and its slot frees with it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::Symbol;
use futures::Stream;
use serde::Deserialize;
use storage::{Alert, Storage, Stored};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;
use utoipa::openapi::schema::Object;

use super::alerts::AlertDto;
use crate::error::{ApiError, ErrorResponse};
use crate::extract::ApiQuery;
use crate::{ServerConfig, params};

/// Alerts read per query: the most a stream holds in memory at once.
const PAGE: u64 = 100;

/// The comment line of a heartbeat (`: heartbeat`).
const HEARTBEAT_TEXT: &str = "heartbeat";

/// Seconds a client refused for the stream limit is told to wait (`Retry-After`).
const RETRY_AFTER_SECS: &str = "5";

/// The open alert streams: their cap, their timing and the signal that ends them all.
/// One per [`crate::AppState`]; [`crate::Server`] closes it when its drain starts, so a stream never
/// holds a graceful shutdown up.
pub(crate) struct AlertStreams {
    slots: Arc<Semaphore>,
    max: usize,
    heartbeat: Duration,
    poll: Duration,
    closing: CancellationToken,
}

impl AlertStreams {
    pub(crate) fn new(config: &ServerConfig) -> Self {
        let max = config.sse_max_streams.max(1);
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
            heartbeat: config.sse_heartbeat(),
            poll: config.sse_poll(),
            closing: CancellationToken::new(),
        }
    }

    /// Ends every open stream (each sends what it is sending, then ends its body) and refuses new
    /// ones with 503.
    pub(crate) fn close(&self) {
        self.closing.cancel();
    }
}

/// Query of `GET /api/alerts/stream`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamParams {
    /// Send the stored alerts with a greater id first, oldest first, then live ones; for a
    /// browser's first connect (`EventSource` sends `Last-Event-ID` itself when it reconnects,
    /// and the header wins). 0 replays every stored alert. Without either, only alerts stored
    /// after the connect are sent.
    #[param(schema_with = cursor_schema)]
    since_id: Option<String>,
    /// Only alerts of this symbol.
    #[param(schema_with = params::symbol_schema)]
    symbol: Option<String>,
}

/// Headers of `GET /api/alerts/stream`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Read from the `HeaderMap`; declared for the spec.
pub(crate) struct StreamHeaders {
    /// The id of the last event received: the stream resumes after it (see `since_id`).
    #[param(rename = "Last-Event-ID", schema_with = cursor_schema)]
    last_event_id: Option<i64>,
}

/// An alert id to resume after: an integer from 0 to 2^63-1.
fn cursor_schema() -> Object {
    let mut schema = params::id_schema();
    schema.minimum = Some(0.into());
    schema
}

/// Parses a cursor (decimal digits, 0 to `i64::MAX`); a 400 naming `what` otherwise.
fn cursor(raw: &str, what: &str) -> Result<i64, ApiError> {
    if raw == "0" {
        return Ok(0);
    }
    params::id(raw, what)
}

/// Stored alerts as server-sent events: `id:` the alert id, `event: alert`, `data:` the alert as
/// `GET /api/alerts` shows it; a `: heartbeat` comment every `server.sse_heartbeat_secs` while
/// nothing else is sent. The stream does not end on its own: it ends when the client closes it
/// or the server shuts down (then reconnect with `Last-Event-ID`, which `EventSource` does).
#[utoipa::path(
    get,
    path = "/api/alerts/stream",
    operation_id = "stream_alerts",
    tag = "alerts",
    params(StreamParams, StreamHeaders),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "An endless `text/event-stream`: `id: <alert id>`, `event: alert`, `data: <alert JSON, as in GET /api/alerts>` per alert, in id order, and `: heartbeat` comments", content_type = "text/event-stream", body = String),
        (status = 400, description = "Invalid `since_id`, `Last-Event-ID` or symbol (`invalid_symbol`), or an unknown parameter (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 503, description = "`server.sse_max_streams` streams are open, or the server is shutting down (`unavailable`)", body = ErrorResponse,
            headers(("Retry-After" = u32, description = "Seconds to wait before reconnecting"))),
    )
)]
pub(crate) async fn stream(
    State(storage): State<Storage>,
    State(streams): State<Arc<AlertStreams>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<StreamParams>,
) -> Result<Response, ApiError> {
    let symbol = query.symbol.as_deref().map(|raw| params::symbol(raw, "query")).transpose()?;
    let header_cursor = match headers.get("last-event-id") {
        Some(value) => {
            let raw = value.to_str().map_err(|_| {
                ApiError::BadRequest("invalid Last-Event-ID: expected an alert id".to_owned())
            })?;
            Some(cursor(raw.trim(), "Last-Event-ID")?)
        }
        None => None,
    };
    let query_cursor = query.since_id.as_deref().map(|raw| cursor(raw, "since_id")).transpose()?;
    let refused = |message: String| {
        let retry = [(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS))];
        Ok((retry, ApiError::Unavailable(message)).into_response())
    };
    if streams.closing.is_cancelled() {
        return refused("the server is shutting down".to_owned());
    }
    let Ok(slot) = Arc::clone(&streams.slots).try_acquire_owned() else {
        tracing::warn!(max = streams.max, "Alert stream refused: the stream limit is reached.");
        return refused(format!(
            "{} alert streams are open, the most server.sse_max_streams allows; try again later",
            streams.max
        ));
    };
    // Subscribed before the first read, so an alert stored after that read wakes the stream.
    let stored = storage.alert_stored();
    let last_id = match header_cursor.or(query_cursor) {
        Some(id) => id,
        None => storage.last_alert_id().await?,
    };
    tracing::info!(last_id, symbol = symbol.as_ref().map(Symbol::as_str), "Alert stream opened.");
    let cursor = Cursor {
        storage,
        symbol,
        last_id,
        page: VecDeque::new(),
        stored,
        poll: streams.poll,
        closing: streams.closing.clone(),
        _slot: slot,
    };
    let keep_alive = KeepAlive::new().interval(streams.heartbeat).text(HEARTBEAT_TEXT);
    Ok(Sse::new(events(cursor)).keep_alive(keep_alive).into_response())
}

/// One stream's position and what it waits on. Dropping it (the client went, the server closed
/// the stream) frees its slot.
struct Cursor {
    storage: Storage,
    symbol: Option<Symbol>,
    /// The id of the last alert sent (or the starting point).
    last_id: i64,
    /// Alerts read and not yet sent: at most [`PAGE`].
    page: VecDeque<Stored<Alert>>,
    stored: watch::Receiver<i64>,
    poll: Duration,
    closing: CancellationToken,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Cursor {
    fn drop(&mut self) {
        tracing::debug!(last_id = self.last_id, "Alert stream closed.");
    }
}

/// The events of one stream: each alert after the cursor, in id order, forever (until closed).
fn events(cursor: Cursor) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(cursor, |mut cursor| async move {
        let alert = cursor.next_alert().await?;
        cursor.last_id = alert.id;
        let id = alert.id;
        let event = Event::default().id(id.to_string()).event("alert");
        let event = match event.json_data(AlertDto::from(alert)) {
            Ok(event) => event,
            // An `AlertDto` always serializes; should it not, say so rather than end the stream.
            Err(error) => {
                tracing::error!(alert_id = id, %error, "Cannot serialize an alert for the stream.");
                Event::default().comment(format!("alert {id} could not be serialized"))
            }
        };
        Some((Ok(event), cursor))
    })
}

impl Cursor {
    /// The next alert to send; none once the server closes the streams.
    async fn next_alert(&mut self) -> Option<Stored<Alert>> {
        loop {
            // Before what is left of the page: a client resumes from the last id it got.
            if self.closing.is_cancelled() {
                return None;
            }
            if let Some(alert) = self.page.pop_front() {
                return Some(alert);
            }
            // What is stored from here on changes the receiver again and ends the wait below.
            self.stored.borrow_and_update();
            match self.storage.alerts_after(self.last_id, self.symbol.as_ref(), PAGE).await {
                Ok(page) if !page.is_empty() => {
                    self.page = page.into();
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "Alert stream cannot read alerts; trying again at the next poll.");
                }
            }
            tokio::select! {
                () = self.closing.cancelled() => return None,
                // Never an error while `self.storage` (which owns the sender) lives.
                _ = self.stored.changed() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_zero_or_ids() {
        assert_eq!(cursor("0", "since_id").unwrap(), 0);
        assert_eq!(cursor("42", "since_id").unwrap(), 42);
        for bad in ["-1", "", "00x", "9223372036854775808", " 1"] {
            let error = cursor(bad, "Last-Event-ID").unwrap_err().to_string();
            assert!(error.contains("Last-Event-ID"), "{bad}: {error}");
        }
    }
}
