//! The read path of a SQLite file for the API: a small bounded pool of reader threads, each
//! owning one read-only rusqlite connection.
//!
//! Why it exists: sqlx's SQLite driver runs each connection on a worker thread and hands every
//! row over to the async side one by one, about 2 µs a row, so a one-year response cost half a
//! millisecond of CPU before any JSON was written. Here a whole query runs on a reader thread
//! with a prepared statement (`prepare_cached`), and each row goes straight to the caller's
//! visitor while it is still borrowed from SQLite.
//!
//! Why dedicated threads rather than `spawn_blocking`: tokio's blocking pool starts a new thread
//! whenever a task arrives while the thread that just finished one has not yet gone back to
//! waiting, so under load it held two dozen threads (each with its own malloc arena) for a
//! bound of four reads. Here a connection and its thread are one reader, at most `max` of them,
//! taking reads from one queue: a reader that finishes a read takes the next queued one without
//! going to sleep, so a busy pool costs no thread wake-up per read.
//!
//! Why it stays small and flat for months:
//! - **One owner, two bounds.** The pool belongs to a [`Storage`](crate::Storage) (shared by its
//!   clones through an `Arc`). At most `max` readers (threads, connections) exist; a reader is
//!   started only when a read is queued, all readers are busy and fewer than `max` exist. At most
//!   `2 × max` reads are queued or running (semaphore permits, released by the reader when the
//!   read is done); further reads wait on the async side, holding nothing, for at most
//!   `acquire_timeout` (then `PoolTimedOut`, as sqlx's pool would say). A read whose caller went
//!   away still finishes, holding its permit until then.
//! - **Opened lazily, closed when idle or with the store.** A reader that waits `idle_timeout`
//!   without a read closes its connection and stops. [`ReadPool::close`] waits for the reads
//!   queued or running (it takes every permit), stops every reader and waits until each has
//!   closed its connection; later reads fail with `PoolClosed`. Dropping the last handle without
//!   closing stops the readers too, each after its current read. A read that panics stops its
//!   reader (a new one starts if reads are waiting). SQLite itself keeps the descriptor of a
//!   closed connection while another connection of the process locks the file (closing it would
//!   drop that connection's POSIX locks) and reuses it for the next connection it opens, so
//!   readers coming and going never add descriptors; the last close releases them all.
//! - **Each reader's memory is its page cache** (512 KiB), a few prepared statements and its
//!   thread; nothing grows with the number of reads.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};

use crate::StorageError;

/// How long a reader waits on a lock. In WAL mode readers never wait on writers; only rare
/// events (WAL recovery after a crash, a checkpoint restarting the log) hold them up.
const READER_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection; the bar reads use two.
const STATEMENT_CACHE_CAPACITY: usize = 8;

/// Each reader's page cache, in KiB (SQLite's default is about 2 MB). Bar reads of random
/// symbols and windows find their pages in the operating system's cache either way: measured
/// on 500 symbols x 10 years, 256 KiB and 8 MiB read equally fast. The interior pages of the
/// bars table fit.
const READER_CACHE_KIB: i64 = 512;

/// How many readers (threads, each with one read-only connection) exist, for tests and
/// `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPoolStats {
    /// Readers running now, busy or idle; each has its connection open.
    pub open: usize,
    /// Readers waiting for a read now.
    pub idle: usize,
    /// The most that were ever running at once.
    pub peak: usize,
    /// The bound (`database.read_connections`).
    pub max: usize,
}

/// A read handed to a reader thread (type-erased, so one queue carries any read).
trait Task: Send {
    /// Runs the read on the reader's connection (or fails it with the reason the connection
    /// could not be opened). False when the read panicked: the connection is then closed, not
    /// reused.
    fn run(&mut self, connection: Result<&Connection, &str>) -> bool;
    /// Lets the permit go and hands the outcome to the caller.
    fn finish(self: Box<Self>);
}

type Outcome<T> = std::thread::Result<Result<T, StorageError>>;

struct ReadTask<T, F> {
    read: Option<F>,
    outcome: Option<Outcome<T>>,
    reply: oneshot::Sender<Outcome<T>>,
    permit: OwnedSemaphorePermit,
}

impl<T, F> Task for ReadTask<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StorageError> + Send,
{
    fn run(&mut self, connection: Result<&Connection, &str>) -> bool {
        let Some(read) = self.read.take() else { return true };
        let outcome = match connection {
            Ok(connection) => std::panic::catch_unwind(AssertUnwindSafe(|| read(connection))),
            Err(reason) => Ok(Err(StorageError::Bulk(reason.to_owned()))),
        };
        let healthy = outcome.is_ok();
        self.outcome = Some(outcome);
        healthy
    }

    fn finish(self: Box<Self>) {
        let Self { outcome, reply, permit, .. } = *self;
        drop(permit);
        if let Some(outcome) = outcome {
            // The caller may have gone away; the read is done all the same.
            let _ = reply.send(outcome);
        }
    }
}

#[derive(Default)]
struct Queue {
    tasks: VecDeque<Box<dyn Task>>,
    /// Readers waiting for a task.
    idle: usize,
    /// Readers running, busy or idle; each has its connection open (or is opening it).
    open: usize,
    peak: usize,
    closed: bool,
}

/// What the pool and its reader threads share.
struct Shared {
    path: PathBuf,
    max: usize,
    idle_timeout: Duration,
    queue: Mutex<Queue>,
    /// Signalled when a task is queued or the pool closes.
    ready: Condvar,
    /// Signalled by each reader as it exits.
    exited: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a reader when tasks wait that the idle readers will not take and fewer than `max`
    /// run. Called with the queue locked.
    fn start_reader_if_needed(self: &Arc<Self>, queue: &mut Queue) -> Result<(), String> {
        if queue.closed || queue.tasks.len() <= queue.idle || queue.open >= self.max {
            return Ok(());
        }
        let shared = Arc::clone(self);
        std::thread::Builder::new()
            .name("sqlite-reader".to_owned())
            .spawn(move || run_reader(&shared))
            .map_err(|error| format!("cannot start a SQLite reader thread: {error}"))?;
        queue.open += 1;
        queue.peak = queue.peak.max(queue.open);
        Ok(())
    }

    /// Answers `done` (the reader's previous read), then takes the next task, waiting for one
    /// up to the idle timeout; `None` when the pool closed or the reader idled too long.
    ///
    /// A reader counts as idle before it answers, so the caller, woken by the answer, finds it
    /// idle and does not start another reader for its next read.
    fn next_task(&self, done: Option<Box<dyn Task>>) -> Option<Box<dyn Task>> {
        let mut queue = self.lock();
        if let Some(task) = queue.tasks.pop_front() {
            drop(queue);
            if let Some(done) = done {
                done.finish();
            }
            return Some(task);
        }
        queue.idle += 1;
        if let Some(done) = done {
            // Not under the lock: answering wakes the caller, which may queue its next read
            // at once (and finds this reader idle). The queue is checked again below.
            drop(queue);
            done.finish();
            queue = self.lock();
        }
        let mut timed_out = false;
        loop {
            if let Some(task) = queue.tasks.pop_front() {
                queue.idle -= 1;
                return Some(task);
            }
            if queue.closed || timed_out {
                queue.idle -= 1;
                return None;
            }
            let (guard, waited) =
                self.ready.wait_timeout(queue, self.idle_timeout).unwrap_or_else(PoisonError::into_inner);
            queue = guard;
            timed_out = waited.timed_out();
        }
    }

    /// A reader counts itself out, after closing its connection, and hands its place to a new
    /// reader if tasks are still waiting.
    fn exit(self: &Arc<Self>) {
        {
            let mut queue = self.lock();
            queue.open -= 1;
            if let Err(error) = self.start_reader_if_needed(&mut queue) {
                tracing::error!(%error, "Cannot replace a SQLite reader.");
            }
        }
        self.exited.notify_waiters();
    }

    /// Refuses further reads and wakes every reader, which stop once the queue is empty.
    fn shut(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        self.ready.notify_all();
    }
}

/// See the module documentation.
pub(crate) struct ReadPool {
    acquire_timeout: Duration,
    permits: Arc<Semaphore>,
    /// Queued or running reads at most: twice the readers, so a reader finds the next read
    /// waiting when it finishes one.
    max_reads: usize,
    shared: Arc<Shared>,
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf, max: usize, acquire_timeout: Duration, idle_timeout: Duration) -> Self {
        let max = max.max(1);
        Self {
            acquire_timeout,
            permits: Arc::new(Semaphore::new(2 * max)),
            max_reads: 2 * max,
            shared: Arc::new(Shared {
                path,
                max,
                idle_timeout,
                queue: Mutex::default(),
                ready: Condvar::new(),
                exited: Notify::new(),
            }),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.shared.path
    }

    pub(crate) fn stats(&self) -> ReadPoolStats {
        let queue = self.shared.lock();
        ReadPoolStats { open: queue.open, idle: queue.idle, peak: queue.peak, max: self.shared.max }
    }

    /// Runs `read` on a reader thread with its connection and returns what it returns. A panic
    /// in `read` is resumed here (its reader stops and closes its connection).
    ///
    /// # Errors
    /// `Query(PoolClosed)` once the pool is closed, `Query(PoolTimedOut)` when the queue stayed
    /// full for the acquire timeout, [`StorageError::Bulk`] when a connection cannot be opened
    /// or a thread started, and whatever `read` returns.
    pub(crate) async fn run<T, F>(&self, read: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let permit =
            match tokio::time::timeout(self.acquire_timeout, Arc::clone(&self.permits).acquire_owned()).await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(_closed)) => return Err(StorageError::Query(sqlx::Error::PoolClosed)),
                Err(_elapsed) => return Err(StorageError::Query(sqlx::Error::PoolTimedOut)),
            };
        let (reply, outcome) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            if queue.closed {
                return Err(StorageError::Query(sqlx::Error::PoolClosed));
            }
            queue.tasks.push_back(Box::new(ReadTask { read: Some(read), outcome: None, reply, permit }));
            if let Err(error) = self.shared.start_reader_if_needed(&mut queue) {
                if queue.open == 0 {
                    // Nobody would ever take it.
                    queue.tasks.pop_back();
                    return Err(StorageError::Bulk(error));
                }
                tracing::warn!(%error, "Reads wait for the running SQLite readers.");
            }
            if queue.idle > 0 {
                self.shared.ready.notify_one();
            }
        }
        match outcome.await {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_dropped) => {
                Err(StorageError::Bulk("a SQLite reader thread stopped unexpectedly".to_owned()))
            }
        }
    }

    /// Waits for the reads queued or running, then stops every reader and waits until each has
    /// closed its connection. Idempotent.
    pub(crate) async fn close(&self) {
        let all = u32::try_from(self.max_reads).unwrap_or(u32::MAX);
        // Every permit: nothing is queued or running once we have them (a second close gets an
        // error at once, or when the first closes the semaphore).
        let permits = self.permits.acquire_many(all).await;
        self.permits.close();
        drop(permits);
        self.shared.shut();
        loop {
            let exited = self.shared.exited.notified();
            tokio::pin!(exited);
            exited.as_mut().enable();
            if self.shared.lock().open == 0 {
                break;
            }
            exited.await;
        }
    }
}

impl Drop for ReadPool {
    /// The store was dropped without [`ReadPool::close`]: stop the readers all the same, so no
    /// thread or connection outlives it for longer than the reads already queued.
    fn drop(&mut self) {
        self.shared.shut();
    }
}

/// A reader thread: opens its connection, then runs reads until it idles too long, the pool
/// closes, or a read panics. The connection is closed before the reader counts itself out, and
/// the read that stopped it is answered only after that, so a new reader cannot exceed `max`.
fn run_reader(shared: &Arc<Shared>) {
    let connection = open_read_only(&shared.path, READER_BUSY_TIMEOUT).and_then(|connection| {
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        connection
            .pragma_update(None, "cache_size", -READER_CACHE_KIB)
            .map_err(|e| StorageError::Bulk(e.to_string()))?;
        tracing::debug!(path = %shared.path.display(), "Opened a read-only SQLite connection.");
        Ok(connection)
    });
    let connection = connection.map_err(|error| error.to_string());
    let (mut done, mut leaving) = (None, None);
    while let Some(mut task) = shared.next_task(done.take()) {
        let healthy = task.run(connection.as_ref().map_err(String::as_str));
        if healthy && connection.is_ok() {
            done = Some(task);
        } else {
            leaving = Some(task);
            break;
        }
    }
    drop(connection);
    shared.exit();
    if let Some(task) = leaving {
        task.finish();
    }
}

/// A read-only connection to the SQLite file `path` (the pool's, and the export's own).
///
/// With the query planner stability guarantee (QPSG) on: a plan never depends on the values
/// bound. Without it SQLite marks a statement whose plan could use a bound value (since 3.51 the
/// `LIMIT ?` of every bar query; with ANALYZE statistics also the `ts` range) and re-prepares
/// it, parser and planner included, each time that parameter is bound, which made a cached
/// statement cost as much as a new one. Our queries have one good plan: the primary key's range.
pub(crate) fn open_read_only(path: &Path, busy_timeout: Duration) -> Result<Connection, StorageError> {
    let read_error = |e: rusqlite::Error| StorageError::Bulk(e.to_string());
    let connection =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(read_error)?;
    connection.busy_timeout(busy_timeout).map_err(read_error)?;
    connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(read_error)?;
    Ok(connection)
}
