//! The steps of a running crew, written to its crew run while it runs, so the web UI and
//! `GET /api/analysis/runs/{id}` can show them as they happen (and any instance can read them:
//! they live in the database, not in this process).
//!
//! Why a `watch` channel: the crew's observer is called on the run's task and must not wait for
//! the database. It replaces the latest snapshot and returns; one writer task stores the newest
//! snapshot at most every [`WRITE_INTERVAL`], so a burst of steps costs one write and a slow
//! database never holds more than one pending snapshot. The writer ends when the run does; the
//! final trace is the one `finish_crew_run` writes.

use std::sync::Mutex;
use std::time::Duration;

use agents::{RunObserver, TraceStep};
use storage::Storage;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Steps kept in the live snapshot; later ones are counted (the final trace has its own cap).
const LIVE_STEPS_MAX: usize = 200;
/// At most one snapshot written per this interval.
const WRITE_INTERVAL: Duration = Duration::from_millis(250);

/// Passes every step to the caller's observer and publishes the steps so far.
pub(crate) struct LiveTrace<'a> {
    inner: &'a dyn RunObserver,
    steps: Mutex<Snapshot>,
    publish: watch::Sender<String>,
}

#[derive(Default)]
struct Snapshot {
    /// The steps as JSON objects joined by commas (no brackets), appended to in place.
    joined: String,
    kept: usize,
    dropped: u64,
}

impl<'a> LiveTrace<'a> {
    /// A live trace over `inner`, and the receiving end for [`write_snapshots`].
    pub(crate) fn new(inner: &'a dyn RunObserver) -> (Self, watch::Receiver<String>) {
        let (publish, updates) = watch::channel("[]".to_owned());
        (Self { inner, steps: Mutex::new(Snapshot::default()), publish }, updates)
    }
}

impl RunObserver for LiveTrace<'_> {
    fn on_step(&self, step: &TraceStep) {
        self.inner.on_step(step);
        let snapshot = {
            let mut steps = self.steps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if steps.kept < LIVE_STEPS_MAX {
                if let Ok(json) = serde_json::to_string(step) {
                    if steps.kept > 0 {
                        steps.joined.push(',');
                    }
                    steps.joined.push_str(&json);
                    steps.kept += 1;
                }
            } else {
                steps.dropped += 1;
            }
            match steps.dropped {
                0 => format!("[{}]", steps.joined),
                dropped => format!(r#"[{},{{"step":"truncated","dropped":{dropped}}}]"#, steps.joined),
            }
        };
        self.publish.send_replace(snapshot);
    }

    fn on_stream(&self, agent: &str, event: &llm::StreamEvent) {
        self.inner.on_stream(agent, event);
    }
}

/// Stores the newest snapshot of `updates` on crew run `crew_run_id` until `done` is cancelled
/// (the run ended) or the live trace is dropped. A failed write is logged and the run goes on:
/// watching is a convenience, the final trace is what counts.
pub(crate) async fn write_snapshots(
    storage: Storage,
    crew_run_id: i64,
    mut updates: watch::Receiver<String>,
    done: CancellationToken,
) {
    loop {
        tokio::select! {
            biased;
            () = done.cancelled() => return,
            changed = updates.changed() => if changed.is_err() { return },
        }
        let trace = updates.borrow_and_update().clone();
        if let Err(error) = storage.update_crew_run_trace(crew_run_id, &trace).await {
            tracing::warn!(crew_run_id, %error, "Could not store a running crew's steps so far.");
        }
        tokio::select! {
            () = done.cancelled() => return,
            () = tokio::time::sleep(WRITE_INTERVAL) => {}
        }
    }
}
