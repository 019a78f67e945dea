//! Signals between the processes sharing one database: "a run was queued", "a run finished",
//! "an alert was stored".
//!
//! Why signals and not messages: every reader (a worker's lanes, an API instance's alert
//! streams, `wait_for`) reads the truth from its table anyway, by id cursor or claim; a signal
//! only says "look now" instead of waiting for the next poll. So each signal is a `watch`
//! channel (one value, never a queue, whatever the number of readers), and a lost signal costs
//! one poll interval, never a run or an alert.
//!
//! Within one process the writer signals directly. Across processes, on PostgreSQL, the writer
//! also sends `NOTIFY tickerwatch, 'queued'`, `'finished <run id>'` or `'alert <alert id>'`, and every instance that called
//! [`Storage::listen`] runs one task holding a `LISTEN` connection (taken from its pool) that
//! turns notifications into the same signals. The task is owned by the storage handle: it ends
//! when the pool closes ([`Storage::close`] also aborts it) or the last clone is dropped.
//! SQLite serves one instance, so it needs no listener.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Storage;
use crate::storage::DbPool;

/// The PostgreSQL channel every instance listens on.
const CHANNEL: &str = "tickerwatch";
/// How long the listener waits before connecting again after an error.
const RECONNECT_WAIT: Duration = Duration::from_secs(1);

/// What a notification says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A run was queued (or queued again after its worker died).
    Queued,
    /// The run with this id finished.
    Finished(i64),
    /// The alert with this id was stored.
    Alert(i64),
}

impl Event {
    fn payload(self) -> String {
        match self {
            Self::Queued => "queued".to_owned(),
            Self::Finished(id) => format!("finished {id}"),
            Self::Alert(id) => format!("alert {id}"),
        }
    }
}

/// The watch channels readers subscribe to; shared by the handle and its listener task.
pub(crate) struct Signals {
    /// Bumped for every queued run (the value counts signals; readers only wait for a change).
    pub(crate) queued: watch::Sender<u64>,
    /// The id of the latest run known to have finished.
    pub(crate) finished: watch::Sender<i64>,
    /// The newest alert id known to be stored.
    pub(crate) alert: watch::Sender<i64>,
}

impl Signals {
    fn raise(&self, event: Event) {
        match event {
            Event::Queued => {
                self.queued.send_modify(|count| *count = count.wrapping_add(1));
            }
            Event::Finished(id) => {
                self.finished.send_replace(id);
            }
            Event::Alert(id) => {
                self.alert.send_if_modified(|last| {
                    let newer = id > *last;
                    if newer {
                        *last = id;
                    }
                    newer
                });
            }
        }
    }
}

/// The signals plus the listener task, if one was started. Dropping it (with the last storage
/// clone) aborts the task.
pub(crate) struct Events {
    pub(crate) signals: Arc<Signals>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl Events {
    pub(crate) fn new() -> Self {
        Self {
            signals: Arc::new(Signals {
                queued: watch::Sender::new(0),
                finished: watch::Sender::new(0),
                alert: watch::Sender::new(0),
            }),
            listener: Mutex::new(None),
        }
    }

    /// Takes the listener task out (to abort and await it at close).
    pub(crate) fn take_listener(&self) -> Option<JoinHandle<()>> {
        self.listener.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        if let Some(task) = self.take_listener() {
            task.abort();
        }
    }
}

impl Storage {
    /// Starts listening for other instances' signals (PostgreSQL; a no-op on SQLite and when
    /// already listening). Call once per process that serves or works; one pool connection is
    /// held for it while the storage is open.
    pub fn listen(&self) {
        let DbPool::Postgres(pool) = &self.pool else { return };
        let mut listener = self.events.listener.lock().unwrap_or_else(PoisonError::into_inner);
        if listener.is_none() {
            let task = tokio::spawn(relay(pool.clone(), Arc::clone(&self.events.signals)));
            *listener = Some(task);
        }
    }

    /// Changes whenever a run is queued here or, with [`listen`](Self::listen), by any instance.
    pub fn run_queued(&self) -> watch::Receiver<u64> {
        self.events.signals.queued.subscribe()
    }

    /// Changes whenever a run finishes here or, with [`listen`](Self::listen), on any instance
    /// (its value: that run's id).
    pub fn run_finished(&self) -> watch::Receiver<i64> {
        self.events.signals.finished.subscribe()
    }

    /// Signals `event` in this process and, on PostgreSQL, to every listening instance. A failed
    /// `NOTIFY` is only logged: readers poll as well.
    pub(crate) async fn announce(&self, event: Event) {
        self.events.signals.raise(event);
        if let DbPool::Postgres(pool) = &self.pool
            && let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(event.payload())
                .execute(pool)
                .await
        {
            tracing::debug!(%error, "Cannot notify other instances; they will see it at their next poll.");
        }
    }
}

/// The listener task: relays notifications into `signals` until the pool closes.
async fn relay(pool: PgPool, signals: Arc<Signals>) {
    loop {
        match listen_once(&pool, &signals).await {
            Ok(()) => return,
            Err(error) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(%error, "Lost the database notification channel; listening again shortly.");
                // Whatever was announced meanwhile: let every reader look once.
                signals.raise(Event::Queued);
                tokio::time::sleep(RECONNECT_WAIT).await;
            }
        }
    }
}

/// One listening connection; `Ok` when the pool closed.
async fn listen_once(pool: &PgPool, signals: &Signals) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        match listener.recv().await {
            Ok(notification) => {
                if let Some(event) = parse(notification.payload()) {
                    signals.raise(event);
                }
            }
            Err(sqlx::Error::PoolClosed) => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

fn parse(payload: &str) -> Option<Event> {
    if payload == "queued" {
        return Some(Event::Queued);
    }
    let (kind, value) = payload.split_once(' ')?;
    match kind {
        "finished" => value.parse().ok().map(Event::Finished),
        "alert" => value.parse().ok().map(Event::Alert),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_back() {
        for event in [Event::Queued, Event::Finished(42), Event::Alert(7)] {
            assert_eq!(parse(&event.payload()), Some(event));
        }
        assert_eq!(parse("finished x"), None);
        assert_eq!(parse("other 1"), None);
        assert_eq!(parse(""), None);
    }
}
