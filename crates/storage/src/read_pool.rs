//! The read path of a SQLite file for the API: a small bounded pool of read-only rusqlite
//! connections, used on blocking threads.
//!
//! Why it exists: sqlx's SQLite driver runs each connection on a worker thread and hands every
//! row over to the async side one by one, about 2 µs a row, so a one-year response cost half a
//! millisecond of CPU before any JSON was written. Here a whole query runs on one blocking thread
//! with a prepared statement (`prepare_cached`), and each row goes straight to the caller's
//! visitor while it is still borrowed from SQLite.
//!
//! Why it stays small and flat for months:
//! - **One owner, one bound.** The pool belongs to a [`Storage`](crate::Storage) (shared by its
//!   clones through an `Arc`). A semaphore of `max` permits is taken before a blocking thread is
//!   asked for, so at most `max` reads run at once, at most `max` connections are ever open, and
//!   waiting readers wait on the async side without holding a thread. A read waits at most
//!   `acquire_timeout` for a permit (then `PoolTimedOut`, as sqlx's pool would say).
//! - **Opened lazily, closed when idle or with the store.** A connection is opened by the first
//!   read that finds none idle, and reused last-in first-out, so a quiet service uses one and the
//!   others reach `idle_timeout` and are closed by the next read's return. [`ReadPool::close`]
//!   waits for the reads in flight (it takes every permit), then closes the semaphore (later
//!   reads fail with `PoolClosed`) and every connection.
//! - **Each connection's memory is SQLite's page cache** (its default, about 2 MB at most) plus a
//!   few prepared statements; nothing grows with the number of reads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::StorageError;

/// How long a reader waits on a lock. In WAL mode readers never wait on writers; only rare
/// events (WAL recovery after a crash, a checkpoint restarting the log) hold them up.
const READER_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection; the bar reads use two.
const STATEMENT_CACHE_CAPACITY: usize = 8;

/// How many read connections are open, for tests and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPoolStats {
    /// Connections open now, in use or idle.
    pub open: usize,
    /// Connections idle now.
    pub idle: usize,
    /// The most that were ever open at once.
    pub peak: usize,
    /// The bound (`database.read_connections`).
    pub max: usize,
}

struct IdleConnection {
    connection: Connection,
    since: Instant,
}

#[derive(Default)]
struct State {
    /// Most recently used last.
    idle: Vec<IdleConnection>,
    /// Idle plus checked out.
    open: usize,
    peak: usize,
}

/// See the module documentation.
pub(crate) struct ReadPool {
    path: PathBuf,
    max: usize,
    acquire_timeout: Duration,
    idle_timeout: Duration,
    permits: Arc<Semaphore>,
    state: Mutex<State>,
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
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.permits.is_closed()
    }

    pub(crate) fn stats(&self) -> ReadPoolStats {
        let state = self.lock();
        ReadPoolStats { open: state.open, idle: state.idle.len(), peak: state.peak, max: self.max }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `read` with a pooled connection on a blocking thread and returns what it returns.
    /// A panic in `read` is resumed here (its connection is closed, not reused).
    ///
    /// # Errors
    /// `Query(PoolClosed)` once the pool is closed, `Query(PoolTimedOut)` when no connection
    /// was free within the acquire timeout, [`StorageError::Bulk`] when a connection cannot be
    /// opened, and whatever `read` returns.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T, StorageError>
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
        let pool = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let checkout = Checkout { connection: Some(pool.checkout()?), pool: &pool };
            let result = read(checkout.connection.as_ref().expect("checked out"));
            drop(checkout);
            drop(permit);
            result
        });
        match task.await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(StorageError::Bulk(error.to_string())),
        }
    }

    /// The most recently used idle connection, or a new one. Only called with a permit, so at
    /// most `max` are open.
    fn checkout(&self) -> Result<Connection, StorageError> {
        {
            let mut state = self.lock();
            if let Some(idle) = state.idle.pop() {
                return Ok(idle.connection);
            }
            state.open += 1;
            state.peak = state.peak.max(state.open);
        }
        self.open_connection().inspect_err(|_| self.lock().open -= 1)
    }

    fn open_connection(&self) -> Result<Connection, StorageError> {
        let read_error = |e: rusqlite::Error| StorageError::Bulk(e.to_string());
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(read_error)?;
        connection.busy_timeout(READER_BUSY_TIMEOUT).map_err(read_error)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        tracing::debug!(path = %self.path.display(), "Opened a read-only SQLite connection.");
        Ok(connection)
    }

    /// Takes a connection back: idle for the next read, or closed when the pool is closed or the
    /// read panicked. Connections idle longer than the idle timeout are closed on the way.
    fn checkin(&self, connection: Connection, reuse: bool) {
        let mut closing = Vec::new();
        {
            let mut state = self.lock();
            if reuse && !self.is_closed() {
                let now = Instant::now();
                // Oldest first: the ones idle too long form a prefix.
                let stale =
                    state.idle.iter().take_while(|idle| now - idle.since >= self.idle_timeout).count();
                closing.extend(state.idle.drain(..stale).map(|idle| idle.connection));
                state.idle.push(IdleConnection { connection, since: now });
            } else {
                closing.push(connection);
            }
            state.open -= closing.len();
        }
        // Closing touches files; not under the lock.
        drop(closing);
    }

    /// Waits for the reads in flight, then refuses new ones and closes every connection.
    /// Idempotent.
    pub(crate) async fn close(&self) {
        let max = u32::try_from(self.max).unwrap_or(u32::MAX);
        // Every permit: no read is running once we have them (a second close gets an error at
        // once, or when the first closes the semaphore).
        let all = self.permits.acquire_many(max).await;
        self.permits.close();
        drop(all);
        let idle: Vec<IdleConnection> = {
            let mut state = self.lock();
            let idle = std::mem::take(&mut state.idle);
            state.open -= idle.len();
            idle
        };
        if !idle.is_empty() {
            tracing::debug!(connections = idle.len(), "Closed the read-only SQLite connections.");
        }
    }
}

/// A checked-out connection, given back on drop (also when the read panics).
struct Checkout<'a> {
    connection: Option<Connection>,
    pool: &'a ReadPool,
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.pool.checkin(connection, !std::thread::panicking());
        }
    }
}
