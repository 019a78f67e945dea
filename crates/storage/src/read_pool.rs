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
//! bound of four reads. Here a connection and its thread are one thing, so threads, connections
//! and arenas are all bounded by `max`.
//!
//! Why it stays small and flat for months:
//! - **One owner, one bound.** The pool belongs to a [`Storage`](crate::Storage) (shared by its
//!   clones through an `Arc`). A read takes one of `max` semaphore permits before it is handed to
//!   an idle reader (or a new one), and the permit is released by the reader only after it is
//!   idle again (or gone), so at most `max` readers ever exist. Waiting reads wait on the async
//!   side, holding nothing, for at most `acquire_timeout` (then `PoolTimedOut`, as sqlx's pool
//!   would say). A read whose caller went away still finishes, holding its permit until then.
//! - **Opened lazily, closed when idle or with the store.** A reader is started by the first read
//!   that finds none idle, and readers are reused last-in first-out, so a quiet service keeps one
//!   busy and the others reach `idle_timeout`; a reader going back to idle stops those. Each
//!   reader closes its connection before it counts itself out. [`ReadPool::close`] waits for the
//!   reads in flight (it takes every permit), stops every reader and waits until all are gone;
//!   later reads fail with `PoolClosed`. Dropping the last handle without closing stops the idle
//!   readers too (busy ones stop when done).
//! - **Each reader's memory is its page cache** (512 KiB), a few prepared statements and its
//!   thread; nothing grows with the number of reads.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

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
    /// Readers idle now.
    pub idle: usize,
    /// The most that were ever running at once.
    pub peak: usize,
    /// The bound (`database.read_connections`).
    pub max: usize,
}

/// What a reader is sent: a read, or `None` to stop.
type Message = Option<Box<dyn Task>>;

/// A read handed to a reader thread (type-erased, so one channel carries any read).
trait Task: Send {
    /// Runs the read on the reader's connection (or fails it with the reason the connection
    /// could not be opened). False when the read panicked: the connection is then closed, not
    /// reused.
    fn run(&mut self, connection: Result<&Connection, &str>) -> bool;
    /// Lets the permit go and hands the outcome to the caller; called once the reader is idle
    /// again or gone.
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

struct Idle {
    jobs: SyncSender<Message>,
    since: Instant,
}

#[derive(Default)]
struct State {
    /// Most recently used last.
    idle: Vec<Idle>,
    /// Readers running, idle or busy.
    open: usize,
    peak: usize,
    closed: bool,
}

/// What the pool and its reader threads share.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled by each reader as it exits.
    exited: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts a reader that finished a read back among the idle ones, and stops the idle readers
    /// unused for `idle_timeout` on the way. False when the pool is closed: the reader stops.
    fn check_in(&self, jobs: &SyncSender<Message>, idle_timeout: Duration) -> bool {
        let stale: Vec<Idle> = {
            let mut state = self.lock();
            if state.closed {
                return false;
            }
            let now = Instant::now();
            // Oldest first: the ones idle too long form a prefix.
            let stale = state.idle.iter().take_while(|idle| now - idle.since >= idle_timeout).count();
            let stale = state.idle.drain(..stale).collect();
            state.idle.push(Idle { jobs: jobs.clone(), since: now });
            stale
        };
        stop(stale);
        true
    }

    /// A reader counts itself out, after closing its connection.
    fn exit(&self) {
        self.lock().open -= 1;
        self.exited.notify_waiters();
    }
}

/// Tells idle readers to stop (their channels are empty, so this never blocks).
fn stop(readers: Vec<Idle>) {
    for reader in readers {
        let _ = reader.jobs.try_send(None);
    }
}

/// See the module documentation.
pub(crate) struct ReadPool {
    path: PathBuf,
    max: usize,
    acquire_timeout: Duration,
    idle_timeout: Duration,
    permits: Arc<Semaphore>,
    shared: Arc<Shared>,
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf, max: usize, acquire_timeout: Duration, idle_timeout: Duration) -> Self {
        let max = max.max(1);
        Self {
            path,
            max,
            acquire_timeout,
            idle_timeout,
            permits: Arc::new(Semaphore::new(max)),
            shared: Arc::default(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn stats(&self) -> ReadPoolStats {
        let state = self.shared.lock();
        ReadPoolStats { open: state.open, idle: state.idle.len(), peak: state.peak, max: self.max }
    }

    /// Runs `read` on a reader thread with its connection and returns what it returns. A panic
    /// in `read` is resumed here (its reader stops and closes its connection).
    ///
    /// # Errors
    /// `Query(PoolClosed)` once the pool is closed, `Query(PoolTimedOut)` when no reader was
    /// free within the acquire timeout, [`StorageError::Bulk`] when a connection cannot be
    /// opened or a thread started, and whatever `read` returns.
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
        let task: Box<dyn Task> = Box::new(ReadTask { read: Some(read), outcome: None, reply, permit });
        let jobs = {
            let mut state = self.shared.lock();
            if state.closed {
                return Err(StorageError::Query(sqlx::Error::PoolClosed));
            }
            match state.idle.pop() {
                Some(idle) => Some(idle.jobs),
                None => {
                    // We hold a permit and every running reader either holds one or is idle,
                    // so this stays within `max`.
                    state.open += 1;
                    state.peak = state.peak.max(state.open);
                    None
                }
            }
        };
        let jobs = match jobs {
            Some(jobs) => jobs,
            None => self.start_reader()?,
        };
        match jobs.try_send(Some(task)) {
            Ok(()) => {}
            // An idle or new reader's channel is empty and its thread waits on it.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                return Err(StorageError::Bulk("a SQLite reader thread stopped unexpectedly".to_owned()));
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

    /// Starts a reader thread (already counted in `open`); it opens its connection itself.
    fn start_reader(&self) -> Result<SyncSender<Message>, StorageError> {
        let (jobs, inbox) = std::sync::mpsc::sync_channel(1);
        let (shared, path, me) = (Arc::clone(&self.shared), self.path.clone(), jobs.clone());
        let idle_timeout = self.idle_timeout;
        let started = std::thread::Builder::new()
            .name("sqlite-reader".to_owned())
            .spawn(move || run_reader(&shared, &path, &me, &inbox, idle_timeout));
        match started {
            Ok(_detached) => Ok(jobs),
            Err(error) => {
                self.shared.exit();
                Err(StorageError::Bulk(format!("cannot start a SQLite reader thread: {error}")))
            }
        }
    }

    /// Waits for the reads in flight, then stops every reader and waits until each has closed
    /// its connection. Idempotent.
    pub(crate) async fn close(&self) {
        let max = u32::try_from(self.max).unwrap_or(u32::MAX);
        // Every permit: no read is running once we have them (a second close gets an error at
        // once, or when the first closes the semaphore).
        let all = self.permits.acquire_many(max).await;
        self.permits.close();
        drop(all);
        self.shut();
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

    /// Refuses further reads and stops the idle readers; busy ones stop when their read is done.
    fn shut(&self) {
        let idle = {
            let mut state = self.shared.lock();
            state.closed = true;
            std::mem::take(&mut state.idle)
        };
        if !idle.is_empty() {
            tracing::debug!(readers = idle.len(), "Closing the read-only SQLite connections.");
        }
        stop(idle);
    }
}

impl Drop for ReadPool {
    /// The store was dropped without [`ReadPool::close`]: stop the readers all the same, so no
    /// thread or connection outlives it for longer than a read.
    fn drop(&mut self) {
        self.shut();
    }
}

/// A reader thread: opens its connection, then runs reads until told to stop, the pool closes,
/// or a read panics. The connection is closed before the reader counts itself out.
fn run_reader(
    shared: &Shared,
    path: &Path,
    me: &SyncSender<Message>,
    inbox: &Receiver<Message>,
    idle_timeout: Duration,
) {
    let connection = open_read_only(path, READER_BUSY_TIMEOUT).and_then(|connection| {
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        connection
            .pragma_update(None, "cache_size", -READER_CACHE_KIB)
            .map_err(|e| StorageError::Bulk(e.to_string()))?;
        tracing::debug!(path = %path.display(), "Opened a read-only SQLite connection.");
        Ok(connection)
    });
    let connection = connection.map_err(|error| error.to_string());
    let mut leaving = None;
    while let Ok(Some(mut task)) = inbox.recv() {
        let healthy = task.run(connection.as_ref().map_err(String::as_str));
        if healthy && connection.is_ok() && shared.check_in(me, idle_timeout) {
            task.finish();
        } else {
            leaving = Some(task);
            break;
        }
    }
    drop(connection);
    shared.exit();
    // Only now, with the connection closed and counted out, may another reader take its place.
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
