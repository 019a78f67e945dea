//! [`Heartbeat`]: this process's claim on the work it owns in a database shared with others.
//!
//! Why: a `serve`, a CLI `jobs trigger` and (later) several instances share one database. Each
//! stamps its runs, exports and crew runs with its instance id (`Storage::owner`); while it
//! beats, the others leave that work alone. When it stops beating (crash, kill, suspended
//! machine) for longer than the stale limit, the next beat of any live process — or the next
//! start-up — interrupts its runs and fails its unfinished exports. An orderly stop marks the
//! instance stopped at once.

use std::time::Duration;

use storage::{Recovered, Storage, StorageError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{debug, info, warn};

/// The error of work taken over from a dead owner.
const DEAD_OWNER: &str = "interrupted: the process that owned it stopped";

/// This process's registration plus the task that keeps it alive. Dropping it aborts the task
/// (the instance then goes stale and its work is recovered by others); [`stop`](Self::stop)
/// also marks it stopped.
pub struct Heartbeat {
    storage: Storage,
    stop: CancellationToken,
    task: Option<AbortOnDropHandle<()>>,
}

impl Heartbeat {
    /// Registers this process (`storage.owner()`), takes over the work of dead owners once, and
    /// starts beating every `interval`; an owner is dead after `stale_after` without a beat.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn start(
        storage: &Storage,
        interval: Duration,
        stale_after: Duration,
    ) -> Result<Self, StorageError> {
        storage.register_instance().await?;
        log_recovered(storage.recover_dead_owners(stale_after, DEAD_OWNER).await?);
        let stop = CancellationToken::new();
        let task = tokio::spawn(beat(storage.clone(), interval, stale_after, stop.clone()));
        debug!(owner = storage.owner(), interval_ms = interval.as_millis(), "Heartbeat started.");
        Ok(Self { storage: storage.clone(), stop, task: Some(AbortOnDropHandle::new(task)) })
    }

    /// This process's instance id.
    pub fn owner(&self) -> &str {
        self.storage.owner()
    }

    /// Stops beating and marks the instance stopped. Call after the job engine stopped: work
    /// still active then is the others' to recover.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Err(error) = self.storage.stop_instance().await {
            warn!(%error, "Cannot mark this instance stopped; it goes stale instead.");
        }
    }
}

async fn beat(storage: Storage, interval: Duration, stale_after: Duration, stop: CancellationToken) {
    let mut every = tokio::time::interval(interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        match storage.beat().await {
            Ok(true) => {}
            // Taken for dead (a long suspend) and pruned: our runs were interrupted meanwhile,
            // but from now on new work is ours again.
            Ok(false) => {
                warn!(owner = storage.owner(), "This instance was taken for dead; registering again.");
                if let Err(error) = storage.register_instance().await {
                    warn!(%error, "Cannot register this instance again.");
                }
            }
            Err(error) => warn!(%error, "Heartbeat failed; retrying at the next beat."),
        }
        match storage.recover_dead_owners(stale_after, DEAD_OWNER).await {
            Ok(recovered) => log_recovered(recovered),
            Err(error) => warn!(%error, "Cannot recover the work of stopped processes."),
        }
    }
}

fn log_recovered(recovered: Recovered) {
    if !recovered.is_empty() {
        info!(
            runs = recovered.runs,
            requeued = recovered.requeued,
            exports = recovered.exports,
            crew_runs = recovered.crew_runs,
            "Took over the unfinished work of processes that stopped."
        );
    }
}
