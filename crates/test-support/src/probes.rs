//! Process resource probes (Linux): open file descriptors and resident set size.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Runs `future` to completion on a fresh multi-thread tokio runtime while no other test of
/// this process does, and shuts the runtime down before letting the next one in.
///
/// Why: tests in one binary run as parallel threads of one process, so another test's sockets,
/// tasks and runtime (its epoll and eventfd descriptors) would show up in this one's
/// `/proc/self/fd` count and its allocations in RSS. `#[tokio::test]` builds its runtime before
/// the test body could take any lock, so tests that measure process resources are plain
/// `#[test]` functions calling this; a thread waiting here holds nothing. Panics propagate (the
/// lock is not poisoned for the next test).
pub fn run_exclusive<F: Future>(worker_threads: usize, future: F) -> F::Output {
    static PROCESS: Mutex<()> = Mutex::new(());
    let _serial = PROCESS.lock().unwrap_or_else(PoisonError::into_inner);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads.max(1))
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    let output = runtime.block_on(future);
    drop(runtime);
    output
}

/// Open file descriptors of this process: the entries of `/proc/self/fd`, not counting the
/// descriptor used to list them. Sockets, files, pipes, epoll and eventfd handles all count.
///
/// # Panics
/// When `/proc/self/fd` cannot be read (not Linux): a lifecycle test must not pass silently.
pub fn open_fds() -> usize {
    let entries = std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd (Linux only)");
    // The listing includes the directory handle `read_dir` itself holds open.
    entries.count().saturating_sub(1)
}

/// What each open descriptor points at (`socket:[123]`, `anon_inode:[eventpoll]`, a path),
/// sorted by fd number; for diagnosing a failed fd assertion.
pub fn open_fd_targets() -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return Vec::new() };
    let listing = format!("/proc/{}/fd", std::process::id());
    let mut targets: Vec<(u32, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        // The handle `read_dir` holds for this listing.
        .filter(|(_, target)| *target != listing)
        .collect();
    targets.sort();
    targets
}

/// Descriptors open now that were not in `before` (same number, same target), for messages.
pub fn new_fds_since(before: &[(u32, String)]) -> Vec<(u32, String)> {
    open_fd_targets().into_iter().filter(|entry| !before.contains(entry)).collect()
}

/// Tasks alive on the current tokio runtime (spawned and not yet finished or cancelled).
///
/// # Panics
/// Outside a tokio runtime.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

/// Polls until at most `limit` tasks are alive on the current runtime; returns the last count.
pub async fn wait_for_tasks_at_most(limit: usize, timeout: Duration) -> usize {
    crate::wait_until(timeout, || alive_tasks() <= limit).await;
    alive_tasks()
}

/// Resident set size of this process in bytes.
///
/// Uses `memory-stats` (`/proc/self/statm` × page size on Linux), falling back to `VmRSS` in
/// `/proc/self/status`.
///
/// # Panics
/// When neither source is available.
pub fn rss_bytes() -> u64 {
    if let Some(stats) = memory_stats::memory_stats() {
        return stats.physical_mem as u64;
    }
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmRSS in /proc/self/status")
}

/// Polls until at most `limit` descriptors are open (closing is asynchronous: tasks that own
/// sockets run a little after the owner is dropped). Returns the last count seen.
pub async fn wait_for_fds_at_most(limit: usize, timeout: Duration) -> usize {
    crate::wait_until(timeout, || open_fds() <= limit).await;
    open_fds()
}

/// Polls until the open fd count has not changed for `quiet` (or `timeout` passed), for a
/// baseline after something that opens and closes descriptors on its own threads (wiremock's
/// server runtime, a closing pool). Returns the last count seen.
pub async fn wait_for_steady_fds(quiet: Duration, timeout: Duration) -> usize {
    let mut last = open_fds();
    let mut since = Instant::now();
    crate::wait_until(timeout, || {
        let now = open_fds();
        if now != last {
            (last, since) = (now, Instant::now());
        }
        since.elapsed() >= quiet
    })
    .await;
    last
}

/// Resource usage captured at one point, to compare against later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceBaseline {
    pub fds: usize,
    pub rss_bytes: u64,
}

impl ResourceBaseline {
    /// Captures open fds and RSS now.
    pub fn capture() -> Self {
        Self { fds: open_fds(), rss_bytes: rss_bytes() }
    }

    /// The change from this baseline to now.
    pub fn delta(&self) -> ResourceDelta {
        ResourceDelta { before: *self, after: Self::capture() }
    }

    /// Waits (up to `timeout`) for the fd count to come back to at most `baseline + slack`, then
    /// returns the change from this baseline.
    pub async fn settle(&self, slack: usize, timeout: Duration) -> ResourceDelta {
        wait_for_fds_at_most(self.fds + slack, timeout).await;
        self.delta()
    }
}

/// Two [`ResourceBaseline`]s: before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceDelta {
    pub before: ResourceBaseline,
    pub after: ResourceBaseline,
}

impl ResourceDelta {
    /// Descriptors opened (positive) or closed (negative) since the baseline.
    pub fn fd_growth(&self) -> isize {
        self.after.fds as isize - self.before.fds as isize
    }

    /// RSS growth in bytes (negative when memory was returned).
    pub fn rss_growth(&self) -> i64 {
        self.after.rss_bytes as i64 - self.before.rss_bytes as i64
    }
}

impl fmt::Display for ResourceDelta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fds {} -> {} ({:+}), rss {:.2} MiB -> {:.2} MiB ({:+.1} KiB)",
            self.before.fds,
            self.after.fds,
            self.fd_growth(),
            self.before.rss_bytes as f64 / (1024.0 * 1024.0),
            self.after.rss_bytes as f64 / (1024.0 * 1024.0),
            self.rss_growth() as f64 / 1024.0,
        )
    }
}

/// Open fds, their targets and alive tokio tasks at one point in time, to check later that a
/// piece of code gave back everything it took.
pub struct ResourceWatch {
    /// Open fds at the snapshot.
    pub fds: usize,
    targets: Vec<(u32, String)>,
    /// Alive tokio tasks at the snapshot.
    pub tasks: usize,
}

impl ResourceWatch {
    /// Takes the snapshot (inside a tokio runtime).
    pub fn start() -> Self {
        Self { fds: open_fds(), targets: open_fd_targets(), tasks: alive_tasks() }
    }

    /// Waits up to `within` for fds and tasks to be back at the snapshot, prints the figures and
    /// panics (naming the new fds) if they are not.
    pub async fn assert_back(&self, after: &str, within: Duration) {
        let fds = wait_for_fds_at_most(self.fds, within).await;
        let tasks = wait_for_tasks_at_most(self.tasks, within).await;
        println!("fds {} -> {fds}, tokio tasks {} -> {tasks} after {after}", self.fds, self.tasks);
        assert!(
            fds <= self.fds,
            "fds {} -> {fds} after {after}; new: {:?}",
            self.fds,
            new_fds_since(&self.targets)
        );
        assert!(tasks <= self.tasks, "tokio tasks {} -> {tasks} after {after}", self.tasks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_newly_opened_file() {
        run_exclusive(1, async {
            let before = open_fds();
            let targets = open_fd_targets();
            assert_eq!(targets.len(), before, "{targets:?}");
            let file = std::fs::File::open("/proc/self/status").unwrap();
            assert_eq!(open_fds(), before + 1);
            assert_eq!(new_fds_since(&targets).len(), 1);
            drop(file);
            assert_eq!(open_fds(), before);
        });
    }

    #[test]
    fn rss_is_plausible_and_grows_with_touched_memory() {
        run_exclusive(1, async {
            let before = rss_bytes();
            assert!(before > 1024 * 1024, "{before}");
            let block = vec![1_u8; 32 * 1024 * 1024];
            let after = rss_bytes();
            assert!(after >= before + 16 * 1024 * 1024, "{before} -> {after}");
            drop(std::hint::black_box(block));
        });
    }

    #[test]
    fn counts_alive_tasks() {
        run_exclusive(1, async {
            let before = alive_tasks();
            let task = tokio::spawn(std::future::pending::<()>());
            assert_eq!(alive_tasks(), before + 1);
            task.abort();
            assert_eq!(wait_for_tasks_at_most(before, Duration::from_secs(1)).await, before);
        });
    }
}
