//! Issue 12: `GET /api/alerts/stream` over real TCP (replay after `Last-Event-ID`, then live,
//! in id order, none lost or sent twice; heartbeats; the stream cap; shutdown with a stream
//! open) and `GET /api/alerts/{id}/deliveries`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, TimeZone, Utc};
use domain::Symbol;
use monitor::RuleState;
use serde_json::{Value, json};
use server::{Server, ServerConfig};
use storage::{Alert, AlertDelivery, DatabaseConfig, Storage};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::helpers::{TestApp, bar, day};

/// Long enough that an alert arriving sooner was woken by the in-process signal, not the poll.
const NO_POLL: f64 = 600.0;
/// How long a test waits for something that should happen at once.
const SOON: Duration = Duration::from_secs(5);

fn stream_config(heartbeat_secs: f64, poll_secs: f64, max_streams: usize) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        sse_heartbeat_secs: heartbeat_secs,
        sse_poll_secs: poll_secs,
        sse_max_streams: max_streams,
        ..ServerConfig::default()
    }
}

/// A served app and what stops it.
struct Running {
    addr: SocketAddr,
    app: TestApp,
    rule_id: i64,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: JoinHandle<Result<(), server::ServerError>>,
}

async fn start(config: ServerConfig, drain: Duration) -> Running {
    start_on(config, drain, None).await
}

async fn start_on(config: ServerConfig, drain: Duration, url: Option<&str>) -> Running {
    let app = TestApp::with_config_on(config, url).await;
    app.store_bars("AAPL", &[bar(day(2024, 5, 1), Some(100.0))]).await;
    let rule = json!({
        "symbol": "AAPL",
        "condition": {"kind": "price", "direction": "above", "level": 100.0},
        "frequency": {"kind": "every", "cooldown_secs": 0},
    });
    let rule_id =
        app.authed(Method::POST, "/api/alerts/rules", Some(rule)).await.ok()["id"].as_i64().unwrap();
    let server = Server::bind(app.state.clone()).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(
        async move {
            let _ = stopped.await;
        },
        drain,
    ));
    Running { addr, app, rule_id, stop, serving }
}

impl Running {
    /// Stores one alert of `symbol` fired at `second` seconds past a fixed instant (alerts are
    /// unique per rule, symbol and instant) through `storage`, and returns its id.
    async fn store_alert_in(&self, storage: &Storage, symbol: &str, second: i64) -> i64 {
        let at: DateTime<Utc> =
            Utc.with_ymd_and_hms(2024, 5, 2, 14, 0, 0).unwrap() + chrono::Duration::seconds(second);
        let symbol = Symbol::parse(symbol).unwrap();
        let alert = Alert {
            rule_id: Some(self.rule_id),
            symbol: symbol.clone(),
            kind: "price".to_owned(),
            rule: "AAPL above 100".to_owned(),
            fired_at: at,
            day: at.date_naive(),
            observed: 101.0,
            threshold: 100.0,
            previous: Some(99.0),
            provider: Some("sample".to_owned()),
            acknowledged_at: None,
        };
        let state = RuleState::armed(at.date_naive());
        let stored = storage.record_rule_evaluation(self.rule_id, &symbol, &state, &[alert]).await.unwrap();
        stored[0].id
    }

    async fn store_alert(&self, symbol: &str, second: i64) -> i64 {
        self.store_alert_in(&self.app.storage, symbol, second).await
    }

    async fn open(&self, query: &str, last_event_id: Option<&str>) -> reqwest::Response {
        let mut request =
            reqwest::Client::new().get(format!("http://{}/api/alerts/stream{query}", self.addr));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        request.send().await.unwrap()
    }

    async fn stream(&self, query: &str, last_event_id: Option<&str>) -> EventReader {
        let response = self.open(query, last_event_id).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventReader { response, buffer: String::new() }
    }

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

/// One server-sent event: its fields, or a comment.
#[derive(Debug)]
enum Block {
    Event { id: i64, event: String, data: Value },
    Comment(String),
}

/// Reads a `text/event-stream` body block by block.
struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    /// The next block, `None` when the stream ended; panics when nothing comes within `within`.
    async fn next_block(&mut self, within: Duration) -> Option<Block> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse_block(&block));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("nothing within {within:?}; buffered {:?}", self.buffer));
            match chunk.unwrap() {
                Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => return None,
            }
        }
    }

    /// The next alert event's (id, data), skipping heartbeats.
    async fn next_alert(&mut self) -> (i64, Value) {
        loop {
            match self.next_block(SOON).await.expect("the stream is open") {
                Block::Event { id, event, data } => {
                    assert_eq!(event, "alert");
                    return (id, data);
                }
                Block::Comment(_) => {}
            }
        }
    }

    /// Ids of the next `n` alerts.
    async fn next_ids(&mut self, n: usize) -> Vec<i64> {
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            ids.push(self.next_alert().await.0);
        }
        ids
    }
}

fn parse_block(block: &str) -> Block {
    let (mut id, mut event, mut data) = (None, None, None);
    for line in block.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix(':') {
            return Block::Comment(comment.trim().to_owned());
        }
        let (field, value) = line.split_once(": ").unwrap_or_else(|| panic!("bad line {line:?}"));
        match field {
            "id" => id = Some(value.parse().unwrap()),
            "event" => event = Some(value.to_owned()),
            "data" => data = Some(serde_json::from_str(value).unwrap()),
            other => panic!("unexpected field {other:?} in {block:?}"),
        }
    }
    Block::Event { id: id.expect("an id"), event: event.expect("an event name"), data: data.expect("data") }
}

#[tokio::test]
async fn replays_after_last_event_id_then_sends_live_alerts_in_id_order() {
    let running = start(stream_config(15.0, NO_POLL, 8), Duration::from_secs(5)).await;
    let first = running.store_alert("AAPL", 1).await;
    let second = running.store_alert("AAPL", 2).await;
    let third = running.store_alert("AAPL", 3).await;

    // The header wins over the query (a reconnecting EventSource keeps its first URL).
    let mut stream = running.stream("?since_id=0", Some(&first.to_string())).await;
    let (id, data) = stream.next_alert().await;
    assert_eq!(id, second);
    // The same JSON as `GET /api/alerts`.
    let listed = running.app.get("/api/alerts").await.ok();
    let listed = listed.as_array().unwrap().iter().find(|a| a["id"] == second).unwrap().clone();
    assert_eq!(data, listed);
    assert_eq!(stream.next_alert().await.0, third);

    // Live: woken by the store itself (the poll is ten minutes away).
    let started = Instant::now();
    let fourth = running.store_alert("AAPL", 4).await;
    assert_eq!(stream.next_alert().await.0, fourth);
    assert!(started.elapsed() < SOON);

    // `since_id` alone replays too; without a cursor only what comes next is sent.
    let mut from_query = running.stream(&format!("?since_id={third}"), None).await;
    assert_eq!(from_query.next_alert().await.0, fourth);
    let mut live_only = running.stream("", None).await;
    let fifth = running.store_alert("AAPL", 5).await;
    assert_eq!(live_only.next_alert().await.0, fifth);
    assert_eq!(from_query.next_alert().await.0, fifth);
    running.stop().await;
}

#[tokio::test]
async fn no_alert_is_lost_or_sent_twice_while_streams_connect() {
    let running = start(stream_config(15.0, NO_POLL, 8), Duration::from_secs(5)).await;
    const N: i64 = 60;
    let writer_storage = running.app.storage.clone();
    let running = std::sync::Arc::new(running);
    let writer = {
        let running = std::sync::Arc::clone(&running);
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for second in 0..N {
                ids.push(running.store_alert_in(&writer_storage, "AAPL", second).await);
                if second % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            ids
        })
    };
    // Streams connect while the writer stores: one from the start, one from no cursor.
    let mut from_start = running.stream("?since_id=0", None).await;
    let mut from_now = running.stream("", None).await;
    let stored = writer.await.unwrap();
    assert_eq!(from_start.next_ids(stored.len()).await, stored, "every alert once, in order");
    // The live-only stream starts somewhere in the sequence and then misses nothing.
    let (first, _) = from_now.next_alert().await;
    let at = stored.iter().position(|id| *id == first).expect("a stored id");
    assert_eq!(from_now.next_ids(stored.len() - at - 1).await, stored[at + 1..]);
    // And nothing more: the next event is the next alert stored.
    let next = running.store_alert("AAPL", N).await;
    assert_eq!(from_start.next_alert().await.0, next);
    assert_eq!(from_now.next_alert().await.0, next);
    drop((from_start, from_now));
    let Ok(running) = std::sync::Arc::try_unwrap(running) else { panic!("the writer is done") };
    running.stop().await;
}

#[tokio::test]
async fn alerts_of_another_process_arrive_by_the_poll_and_the_symbol_filter_holds() {
    let running = start(stream_config(15.0, 0.2, 8), Duration::from_secs(5)).await;
    let other_process = Storage::connect(&running.app.db_url, &DatabaseConfig::default()).await.unwrap();
    let mut msft = running.stream("?symbol=msft&since_id=0", None).await;
    running.store_alert_in(&other_process, "AAPL", 1).await;
    let id = running.store_alert_in(&other_process, "MSFT", 2).await;
    let (got, data) = msft.next_alert().await;
    assert_eq!((got, data["symbol"].as_str()), (id, Some("MSFT")));
    other_process.close().await;
    running.stop().await;
}

/// Issue 15: with several instances on PostgreSQL, an alert stored by any instance (a worker's
/// monitor run) reaches the streams of every API instance at once, through `LISTEN/NOTIFY`: the
/// poll is ten minutes here.
#[tokio::test]
async fn alerts_stored_by_another_instance_arrive_at_once_on_postgres() {
    let Some(schema) = test_support::postgres::PgSchema::create("sse_notify").await else { return };
    let running = start_on(stream_config(15.0, NO_POLL, 8), Duration::from_secs(5), Some(schema.url())).await;
    let worker = Storage::connect(schema.url(), &DatabaseConfig::default()).await.unwrap();
    let mut stream = running.stream("?since_id=0", None).await;
    // Until the app's listener has subscribed, a notification is lost (the poll would deliver
    // it): wait until it hears one from the other instance.
    let mut heard = running.app.storage.run_queued();
    let mut warmed_up = false;
    for attempt in 0..50 {
        heard.borrow_and_update();
        let request = storage::RunRequest::new("warm-up", None, domain::RunTrigger::Api);
        let job = format!("warm-up-{attempt}");
        worker.queue_run(&storage::RunRequest { job: &job, ..request }).await.unwrap();
        if tokio::time::timeout(Duration::from_millis(100), heard.changed()).await.is_ok() {
            warmed_up = true;
            break;
        }
    }
    assert!(warmed_up, "the app hears the other instance");
    let started = Instant::now();
    let id = running.store_alert_in(&worker, "AAPL", 1).await;
    let (got, data) = stream.next_alert().await;
    assert_eq!((got, data["symbol"].as_str()), (id, Some("AAPL")));
    assert!(started.elapsed() < SOON, "arrived by notification, not by the poll");
    worker.close().await;
    running.stop().await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_heartbeat_comment_goes_out_while_no_alert_does() {
    let running = start(stream_config(0.2, NO_POLL, 8), Duration::from_secs(5)).await;
    let mut stream = running.stream("", None).await;
    for _ in 0..2 {
        match stream.next_block(SOON).await.expect("open") {
            Block::Comment(text) => assert_eq!(text, "heartbeat"),
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }
    running.stop().await;
}

#[tokio::test]
async fn past_the_stream_limit_a_client_gets_503_and_a_slot_frees_when_a_client_goes() {
    let running = start(stream_config(0.1, NO_POLL, 1), Duration::from_secs(5)).await;
    let first = running.stream("", None).await;
    let refused = running.open("", None).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(body["error"]["message"].as_str().unwrap().contains("server.sse_max_streams"), "{body}");
    // The client goes: its stream ends (at the latest when a heartbeat cannot be written) and
    // frees the slot; no task is left behind holding it.
    drop(first);
    let reopened = test_support::wait_for(SOON, || async {
        let response = running.open("", None).await;
        (response.status() == 200).then_some(response)
    })
    .await;
    assert!(reopened.is_some(), "the slot was not freed");
    running.stop().await;
}

/// A stream never ends on its own; the server ends it when it shuts down, so it does not hold
/// the drain up to its deadline.
#[tokio::test]
async fn an_open_stream_ends_at_shutdown_without_holding_the_drain() {
    let drain = Duration::from_secs(10);
    let running = start(stream_config(15.0, NO_POLL, 8), drain).await;
    let id = running.store_alert("AAPL", 1).await;
    let mut stream = running.stream("?since_id=0", None).await;
    assert_eq!(stream.next_alert().await.0, id);
    let took = running.stop().await;
    assert!(took < Duration::from_secs(2), "stopped after {took:?}: the stream held the drain");
    assert!(stream.next_block(SOON).await.is_none(), "the stream ended");
}

#[tokio::test]
async fn stream_parameters_are_checked() {
    let app = TestApp::new().await;
    for uri in
        ["/api/alerts/stream?since_id=-1", "/api/alerts/stream?since_id=x", "/api/alerts/stream?limit=1"]
    {
        app.get(uri).await.error(StatusCode::BAD_REQUEST, "bad_request");
    }
    app.get("/api/alerts/stream?symbol=no%20such").await.error(StatusCode::BAD_REQUEST, "invalid_symbol");
    let request = axum::http::Request::get("/api/alerts/stream")
        .header("Last-Event-ID", "abc")
        .body(axum::body::Body::empty())
        .unwrap();
    app.send(request).await.error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn deliveries_are_listed_with_secrets_masked() {
    let running = start(stream_config(15.0, NO_POLL, 8), Duration::from_secs(5)).await;
    let id = running.store_alert("AAPL", 1).await;
    let empty = running.app.get(&format!("/api/alerts/{id}/deliveries")).await.ok();
    assert_eq!(empty, json!([]));
    let attempted_at = Utc.with_ymd_and_hms(2024, 5, 2, 14, 0, 5).unwrap();
    // As the monitor records them (target masked), and one with the URL in the clear, as an
    // older record or a library's error message might hold it.
    for (target, delivered, error) in [
        ("webhook (slack) https://hooks.slack.com/***", true, None),
        (
            "webhook (json) https://hooks.example.com/services/T000/SECRETPATH?token=SECRETQUERY",
            false,
            Some("HTTP 500 from https://user:SECRETPW@hooks.example.com/services/T000/SECRETPATH"),
        ),
    ] {
        let delivery = AlertDelivery {
            alert_id: id,
            target: target.to_owned(),
            delivered,
            attempts: if delivered { 1 } else { 4 },
            latency_ms: 12,
            http_status: Some(if delivered { 200 } else { 500 }),
            error: error.map(str::to_owned),
            attempted_at,
        };
        running.app.storage.record_alert_delivery(&delivery).await.unwrap();
    }
    let response = running.app.get(&format!("/api/alerts/{id}/deliveries")).await;
    let text = String::from_utf8(response.body.clone()).unwrap();
    assert!(!text.contains("SECRET"), "{text}");
    let listed = response.ok();
    assert_eq!(listed[0]["target"], "webhook (slack) https://hooks.slack.com/***");
    assert_eq!(
        (listed[0]["status"].as_str(), listed[0]["attempts"].as_u64(), listed[0]["http_status"].as_u64()),
        (Some("delivered"), Some(1), Some(200))
    );
    assert_eq!(listed[1]["target"], "webhook (json) https://hooks.example.com/***");
    assert_eq!(listed[1]["error"], "HTTP 500 from https://hooks.example.com/***");
    assert_eq!(
        (listed[1]["status"].as_str(), listed[1]["attempts"].as_u64(), listed[1]["latency_ms"].as_u64()),
        (Some("failed"), Some(4), Some(12))
    );
    assert_eq!(listed[1]["attempted_at"], "2024-05-02T14:00:05Z");
    running.app.get("/api/alerts/4242/deliveries").await.error(StatusCode::NOT_FOUND, "not_found");
    running.app.get("/api/alerts/0/deliveries").await.error(StatusCode::BAD_REQUEST, "bad_request");
    running.stop().await;
}
