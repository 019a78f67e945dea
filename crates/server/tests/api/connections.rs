//! Issue 11: connections as a misbehaving client sees them, over real TCP. A silent client, a
//! half-sent request and an idle kept-alive connection are closed by the server after their
//! timeouts; a slow download is not cut by them; past `max_connections`, new clients wait in the
//! backlog until a connection closes; the drain at shutdown has a deadline.

use std::net::SocketAddr;
use std::time::Duration;

use server::{Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::helpers::TestApp;

/// A started server and what stops it.
struct Running {
    addr: SocketAddr,
    app: TestApp,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: JoinHandle<Result<(), server::ServerError>>,
}

async fn start(config: ServerConfig, drain: Duration) -> Running {
    let config = ServerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..config };
    let app = TestApp::with_config(config).await;
    let server = Server::bind(app.state.clone()).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(
        async move {
            let _ = stopped.await;
        },
        drain,
    ));
    Running { addr, app, stop, serving }
}

impl Running {
    async fn stop(self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(20), self.serving)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
        started.elapsed()
    }
}

fn timeouts(header_read_secs: f64, idle_secs: f64) -> ServerConfig {
    ServerConfig {
        header_read_timeout_secs: header_read_secs,
        idle_timeout_secs: idle_secs,
        ..ServerConfig::default()
    }
}

/// Waits up to `within` for the server to close `stream` (EOF or reset; any bytes it sends
/// first are returned) and says when, or `None` if it is still open.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<(Instant, Vec<u8>)> {
    let mut received = Vec::new();
    let read_all = async {
        let mut buf = [0_u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read_all).await.ok().map(|()| (Instant::now(), received))
}

/// Reads one HTTP/1.1 response with a `Content-Length` body: (head, body).
async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut data = Vec::new();
    let mut buf = [0_u8; 64 * 1024];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before a response head: {:?}", String::from_utf8_lossy(&data));
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
        })
        .expect("a content-length");
    let mut body = data.split_off(head_end);
    while body.len() < length {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed after {} of {length} body bytes", body.len());
        body.extend_from_slice(&buf[..n]);
    }
    (head, body)
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
const HALF_A_REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";

#[tokio::test]
async fn a_silent_client_and_a_half_sent_request_are_closed_after_the_header_timeout() {
    let running = start(timeouts(0.3, 60.0), Duration::from_secs(5)).await;
    let opened = Instant::now();
    let mut silent = TcpStream::connect(running.addr).await.unwrap();
    let mut half = TcpStream::connect(running.addr).await.unwrap();
    half.write_all(HALF_A_REQUEST).await.unwrap();

    for (what, stream) in [("silent", &mut silent), ("half-sent", &mut half)] {
        let (at, received) = closed_within(stream, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("the {what} connection is still open after 10 s"));
        let after = at - opened;
        assert!(after >= Duration::from_millis(250), "{what} closed after {after:?}, before its timeout");
        assert!(received.is_empty(), "{what}: {:?}", String::from_utf8_lossy(&received));
    }
    // The server itself is fine.
    let mut client = TcpStream::connect(running.addr).await.unwrap();
    client.write_all(HEALTHZ).await.unwrap();
    assert!(read_response(&mut client).await.0.starts_with("HTTP/1.1 200"));
    drop(client);
    running.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_closes_after_the_idle_timeout_not_the_header_timeout() {
    let running = start(timeouts(0.3, 1.0), Duration::from_secs(5)).await;
    let mut client = TcpStream::connect(running.addr).await.unwrap();
    // Two requests on one connection: it is kept alive.
    for _ in 0..2 {
        client.write_all(HEALTHZ).await.unwrap();
        let (head, body) = read_response(&mut client).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(!body.is_empty());
    }
    let idle_from = Instant::now();
    let (at, received) =
        closed_within(&mut client, Duration::from_secs(10)).await.expect("the idle connection is closed");
    let idle = at - idle_from;
    assert!(received.is_empty());
    assert!(
        idle >= Duration::from_millis(900),
        "closed after {idle:?} idle: the header timeout is 0.3 s, idle 1 s"
    );

    // A kept-alive connection that starts a request and stalls gets the header timeout, not
    // the idle one.
    let mut client = TcpStream::connect(running.addr).await.unwrap();
    client.write_all(HEALTHZ).await.unwrap();
    read_response(&mut client).await;
    client.write_all(HALF_A_REQUEST).await.unwrap();
    let stalled_from = Instant::now();
    let (at, _) =
        closed_within(&mut client, Duration::from_secs(10)).await.expect("the stalled connection is closed");
    let stalled = at - stalled_from;
    assert!(stalled < Duration::from_millis(900), "a stalled head was given {stalled:?}, the idle timeout");
    running.stop().await;
}

/// Stores a ready export whose file is `bytes` long (sparse: cheap to create) and returns its id.
async fn big_export(app: &TestApp, bytes: u64) -> i64 {
    let dir = app.state.exports.dir().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let name = "export-big.csv";
    std::fs::File::create(dir.join(name)).unwrap().set_len(bytes).unwrap();
    let record = app.storage.create_export("csv", "bars", name, None).await.unwrap();
    app.storage.complete_export(record.id, 1, bytes, "00").await.unwrap();
    record.id
}

const BIG: u64 = 32 * 1024 * 1024;

#[tokio::test]
async fn a_download_read_slowly_is_not_cut_by_the_connection_timeouts() {
    let running = start(timeouts(0.2, 0.4), Duration::from_secs(5)).await;
    let id = big_export(&running.app, BIG).await;
    let mut client = TcpStream::connect(running.addr).await.unwrap();
    client
        .write_all(format!("GET /api/exports/{id}/download HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // The client reads nothing for longer than both timeouts (models a slow reader; the server
    // is blocked on a full socket buffer meanwhile), then reads the whole file.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let (head, body) = read_response(&mut client).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body.len() as u64, BIG);
    // And the connection is kept alive for the next request.
    client.write_all(HEALTHZ).await.unwrap();
    assert!(read_response(&mut client).await.0.starts_with("HTTP/1.1 200"));
    running.stop().await;
}

#[tokio::test]
async fn past_the_connection_cap_a_client_waits_until_a_silent_one_times_out() {
    let running =
        start(ServerConfig { max_connections: 2, ..timeouts(2.0, 60.0) }, Duration::from_secs(5)).await;
    let mut silent: Vec<TcpStream> = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(running.addr).await.unwrap());
    }
    // The third client connects (the kernel's backlog takes it) but is not served while both
    // slots are held.
    let mut client = TcpStream::connect(running.addr).await.unwrap();
    client.write_all(HEALTHZ).await.unwrap();
    let mut byte = [0_u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), client.peek(&mut byte)).await;
    assert!(early.is_err(), "served past the cap of 2: {early:?}");
    // Once the silent connections time out, it is served.
    let (head, _) = tokio::time::timeout(Duration::from_secs(10), read_response(&mut client))
        .await
        .expect("served once a slot is free");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    for stream in &mut silent {
        assert!(
            closed_within(stream, Duration::from_secs(5)).await.is_some(),
            "a silent connection is still open"
        );
    }
    running.stop().await;
}

/// Issue 11: before, the drain waited for every open connection without end; now it closes the
/// ones left at its deadline, and the server stops within it.
#[tokio::test]
async fn the_drain_closes_a_stalled_download_and_a_half_sent_request_at_its_deadline() {
    let drain = Duration::from_millis(500);
    let running = start(timeouts(60.0, 60.0), drain).await;
    let id = big_export(&running.app, BIG).await;
    let mut download = TcpStream::connect(running.addr).await.unwrap();
    download
        .write_all(format!("GET /api/exports/{id}/download HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = [0_u8; 12];
    download.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let mut half = TcpStream::connect(running.addr).await.unwrap();
    half.write_all(HALF_A_REQUEST).await.unwrap();
    // An idle kept-alive connection closes at once.
    let mut idle = TcpStream::connect(running.addr).await.unwrap();
    idle.write_all(HEALTHZ).await.unwrap();
    read_response(&mut idle).await;

    let took = running.stop().await;
    assert!(took >= Duration::from_millis(400), "stopped after {took:?}: the download was not drained");
    assert!(took < drain + Duration::from_secs(1), "stopped after {took:?}, drain deadline {drain:?}");
    assert!(closed_within(&mut half, Duration::from_secs(1)).await.is_some());
    assert!(closed_within(&mut idle, Duration::from_secs(1)).await.is_some());
    // The download was cut: its client gets fewer bytes than the file.
    let (_, rest) = closed_within(&mut download, Duration::from_secs(10)).await.expect("download closed");
    assert!((rest.len() as u64) < BIG, "{} bytes", rest.len());
}
