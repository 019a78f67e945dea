//! Waiting for something to happen in a test, instead of sleeping for a guessed while.
//!
//! A fixed sleep is either too short on a loaded machine (the test flakes) or longer than
//! needed everywhere else (the suite crawls). These helpers poll a condition every few
//! milliseconds and give up at a deadline, so a test waits exactly as long as it must and fails
//! with its own message when the thing never happens. Sleeps that *model* time (a slow vendor, a
//! token that must expire, "still open a while later") are not synchronisation and stay sleeps.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::probes::wait_for_steady_fds;

/// How often conditions are checked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Polls `condition` until it holds or `timeout` has passed; true when it held. The condition is
/// checked once more at the deadline, so a zero timeout is a plain check.
///
/// ```no_run
/// # async fn example(done: &std::sync::atomic::AtomicBool) {
/// use std::sync::atomic::Ordering;
/// use std::time::Duration;
/// assert!(test_support::wait_until(Duration::from_secs(5), || done.load(Ordering::SeqCst)).await);
/// # }
/// ```
pub async fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Like [`wait_until`] for conditions that must await (a database read, an HTTP call): polls
/// `probe` until it returns `Some`, and returns that value; `None` when `timeout` passed first.
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Blocking [`wait_until`], for tests without a runtime (they watch a child process, a file).
pub fn wait_until_blocking(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Returns once a wiremock server's runtime is serving and the descriptors it opens on its own
/// thread have settled, so a test can take an fd baseline.
///
/// `MockServer::start` returns as soon as its port accepts connections, while the server's
/// runtime (its epoll and event fds) is still being built on another thread; a baseline taken then
/// counts the server's descriptors as the code's under test. An answered request proves the
/// runtime runs: a malformed one, which the server rejects before matching or recording it (so
/// `received_requests` is unchanged). Then the fd count is left to settle (the probe's sockets
/// closing).
///
/// # Panics
/// When the server does not answer within 5 s.
pub async fn mock_server_ready(server: &wiremock::MockServer) {
    const WITHIN: Duration = Duration::from_secs(5);
    let probe = async {
        let mut socket = TcpStream::connect(server.address()).await?;
        socket.write_all(b"NOT HTTP\r\n\r\n").await?;
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    match tokio::time::timeout(WITHIN, probe).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => panic!("the mock server at {} did not answer: {error}", server.address()),
        Err(_) => panic!("the mock server at {} did not answer within {WITHIN:?}", server.address()),
    }
    wait_for_steady_fds(Duration::from_millis(50), WITHIN).await;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn returns_as_soon_as_the_condition_holds() {
        let checks = AtomicU32::new(0);
        let started = Instant::now();
        assert!(wait_until(Duration::from_secs(10), || checks.fetch_add(1, Ordering::SeqCst) == 2).await);
        assert_eq!(checks.load(Ordering::SeqCst), 3);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn gives_up_at_the_deadline() {
        let started = Instant::now();
        assert!(!wait_until(Duration::from_millis(30), || false).await);
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(wait_for(Duration::ZERO, || async { None::<u8> }).await.is_none());
        assert!(!wait_until_blocking(Duration::from_millis(1), || false));
    }

    #[tokio::test]
    async fn hands_back_what_the_probe_found() {
        let flag = Arc::new(AtomicU32::new(0));
        let setter = {
            let flag = Arc::clone(&flag);
            tokio::spawn(async move { flag.store(7, Ordering::SeqCst) })
        };
        let found = wait_for(Duration::from_secs(5), || {
            let flag = Arc::clone(&flag);
            async move { Some(flag.load(Ordering::SeqCst)).filter(|v| *v != 0) }
        })
        .await;
        assert_eq!(found, Some(7));
        setter.await.unwrap();
        assert!(wait_until_blocking(Duration::from_secs(1), || flag.load(Ordering::SeqCst) == 7));
    }

    #[tokio::test]
    async fn a_mock_server_is_ready_without_recording_the_probe() {
        let server = wiremock::MockServer::start().await;
        mock_server_ready(&server).await;
        assert_eq!(server.received_requests().await.map(|r| r.len()), Some(0));
    }
}
