//! The client against a wiremock server, through the plain vendor: what every adapter gets
//! (retries, server waits, the give-up cap, the call budget, the in-flight bound, limits, the
//! server window, the body cap, auth and redaction) without any vendor's specifics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use outbound::{
    Auth, Client, ClientConfig, Error, Failure, MAX_SERVER_WAIT, Pace, Plain, RateLimit, Retryable, Secret,
    ServerWindow, WaitHeader,
};
use reqwest::header::HeaderName;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config() -> ClientConfig {
    let mut config = ClientConfig::new("test");
    config.max_retries = 2;
    config.backoff_base = Duration::from_millis(1);
    config.backoff_max = Duration::from_millis(5);
    config.timeout = Duration::from_secs(5);
    config
}

fn client(config: ClientConfig) -> Client<Plain> {
    Client::plain(config).expect("a client")
}

#[tokio::test]
async fn a_plain_json_post_needs_nothing_vendor_specific() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header("content-type", "application/json"))
        .and(header("user-agent", concat!("tickerwatch/", env!("CARGO_PKG_VERSION"))))
        .and(body_json(serde_json::json!({"alert": "NVDA above 900"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let webhook = client(ClientConfig::new("webhook"));
    let url = format!("{}/hook", server.uri());
    let response = webhook.post_json("alert", &url, &serde_json::json!({"alert": "NVDA above 900"})).await;
    assert_eq!(response.expect("delivered").status.as_u16(), 204);
}

#[tokio::test]
async fn server_errors_are_retried_then_returned() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .expect(3)
        .mount(&server)
        .await;
    let err = client(config()).get("x", &format!("{}/x", server.uri())).await.expect_err("503");
    assert_eq!(err, Error::Status { what: "x".into(), status: 503, message: "busy".into() });
    assert!(err.is_retryable());

    let server = MockServer::start().await;
    Mock::given(path("/x")).respond_with(ResponseTemplate::new(404)).expect(1).mount(&server).await;
    let err = client(config()).get("x", &format!("{}/x", server.uri())).await.expect_err("404");
    assert!(matches!(err, Error::Status { status: 404, .. }) && !err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn retry_after_is_waited_for() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0.3"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/x")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    let started = Instant::now();
    client(config()).get("x", &format!("{}/x", server.uri())).await.expect("second attempt");
    assert!(started.elapsed() >= Duration::from_millis(290), "waited only {:?}", started.elapsed());
}

#[tokio::test]
async fn a_wait_beyond_max_retry_wait_fails_at_once() {
    for (value, wanted) in [("3600", Duration::from_secs(3600)), ("1e20", MAX_SERVER_WAIT)] {
        let server = MockServer::start().await;
        Mock::given(path("/x"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", value))
            .expect(1)
            .mount(&server)
            .await;
        let started = Instant::now();
        let err = client(config()).get("x", &format!("{}/x", server.uri())).await.expect_err("429");
        assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
        assert_eq!(err.retry_after(), Some(wanted), "{value}");
        assert!(started.elapsed() < Duration::from_secs(1), "{value}: slept {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn the_call_budget_stops_retries_that_could_not_finish() {
    let server = MockServer::start().await;
    Mock::given(path("/x")).respond_with(ResponseTemplate::new(503)).expect(2).mount(&server).await;
    let mut config = config();
    config.max_retries = 5;
    config.backoff_base = Duration::from_millis(400);
    config.backoff_max = Duration::from_secs(5);
    config.call_budget = Some(Duration::from_secs(1));
    // First backoff 200-400 ms; the second (400-800 ms) plus a 500 ms attempt overruns 1 s.
    let started = Instant::now();
    let err = client(config).get("x", &format!("{}/x", server.uri())).await.expect_err("budget");
    assert!(matches!(err, Error::Status { status: 503, .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_short_budget_shortens_the_attempt_never_the_configured_timeout_upwards() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(600)))
        .mount(&server)
        .await;
    let mut config = config();
    config.max_retries = 0;
    config.timeout = Duration::from_millis(150);
    config.call_budget = Some(Duration::from_secs(10));
    let started = Instant::now();
    let err = client(config).get("slow", &format!("{}/slow", server.uri())).await.expect_err("timeout");
    assert!(matches!(err, Error::Failed { failure: Failure::Timeout { .. }, .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(450), "{:?}", started.elapsed());
}

#[tokio::test]
async fn requests_in_flight_are_bounded() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(200)))
        .expect(6)
        .mount(&server)
        .await;
    let mut config = config();
    config.max_connections = 2;
    let client = Arc::new(client(config));
    let url = format!("{}/x", server.uri());
    let started = Instant::now();
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (client, url) = (Arc::clone(&client), url.clone());
            tokio::spawn(async move { client.get("x", &url).await.map(|_| ()) })
        })
        .collect();
    for call in calls {
        call.await.expect("joined").expect("ok");
    }
    // Six 200 ms answers two at a time: three rounds.
    assert!(started.elapsed() >= Duration::from_millis(590), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_client_side_limit_waits_or_fails_without_a_request() {
    let server = MockServer::start().await;
    Mock::given(path("/x")).respond_with(ResponseTemplate::new(200)).expect(2).mount(&server).await;
    let url = format!("{}/x", server.uri());
    let mut config = config();
    config.rate_limits = vec![RateLimit { requests: 2, per_secs: 60 }];
    config.max_retry_wait = Duration::from_millis(100);
    let client = client(config);
    client.get("x", &url).await.expect("first");
    client.get("x", &url).await.expect("second");
    let err = client.get("x", &url).await.expect_err("the third waits 30 s");
    let Error::Failed { failure: Failure::RateLimited { pace, wait }, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*pace, Pace::Client { requests: 2, per_secs: 60 });
    assert!(*wait > Duration::from_secs(20), "{wait:?}");
    assert!(err.to_string().contains("budget"), "{err}");
}

#[tokio::test]
async fn a_used_up_server_window_pauses_the_next_request() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "0.0")
                .insert_header("x-ratelimit-reset", "0.5"),
        )
        .expect(2)
        .mount(&server)
        .await;
    let url = format!("{}/x", server.uri());
    let mut config = config();
    config.server_window = Some(ServerWindow {
        remaining: "x-ratelimit-remaining",
        reset: WaitHeader::Seconds("x-ratelimit-reset"),
    });
    let client = client(config.clone());
    client.get("x", &url).await.expect("first");
    let started = Instant::now();
    client.get("x", &url).await.expect("second, after the reset");
    assert!(started.elapsed() >= Duration::from_millis(450), "{:?}", started.elapsed());

    // A window longer than we wait for: no request, a rate-limited error.
    config.max_retry_wait = Duration::from_millis(100);
    let client = Client::plain(config).expect("client");
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1e20"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("{}/x", server.uri());
    client.get("x", &url).await.expect("first");
    let err = client.get("x", &url).await.expect_err("window");
    assert!(
        matches!(err, Error::Failed { failure: Failure::RateLimited { pace: Pace::ServerWindow, wait }, .. } if wait <= MAX_SERVER_WAIT),
        "{err:?}"
    );
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(2048)))
        .mount(&server)
        .await;
    let mut config = config();
    config.max_body_bytes = 1024;
    let err = client(config).get("big", &format!("{}/big", server.uri())).await.expect_err("too large");
    assert!(matches!(err, Error::Failed { failure: Failure::TooLarge { limit: 1024 }, .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn auth_goes_where_the_vendor_wants_it_and_never_into_messages() {
    let server = MockServer::start().await;
    Mock::given(path("/q"))
        .and(query_param("apikey", "k-123"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/h"))
        .and(header("x-token", "k-123"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/b"))
        .and(header("authorization", "Bearer k-123"))
        .respond_with(ResponseTemplate::new(401).set_body_string("bad key k-123"))
        .expect(1)
        .mount(&server)
        .await;
    let with = |auth| {
        let mut config = config();
        config.auth = auth;
        client(config)
    };
    let key = Secret::new("k-123");
    let query = with(Auth::Query { name: "apikey", value: key.clone() });
    query.get("q", &format!("{}/q", server.uri())).await.expect("query");
    let header = with(Auth::Header { name: HeaderName::from_static("x-token"), value: key.clone() });
    header.get("h", &format!("{}/h", server.uri())).await.expect("header");
    let bearer = with(Auth::Bearer(key.clone()));
    let err = bearer.get("b", &format!("{}/b", server.uri())).await.expect_err("401");
    assert_eq!(err.to_string(), "b: HTTP 401: bad key ***");
    assert!(!format!("{bearer:?}").contains("k-123"));

    // A transport error carries neither the URL nor the key.
    let err = query.get("down", "http://127.0.0.1:9/x?token=k-123").await.expect_err("refused");
    let text = format!("{err} {err:?}");
    assert!(matches!(err, Error::Failed { failure: Failure::Transport { .. }, .. }), "{err:?}");
    assert!(!text.contains("k-123") && !text.contains("127.0.0.1:9/x"), "{text}");
}

#[tokio::test]
async fn a_counted_post_says_how_many_attempts_it_took() {
    let server = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/hook")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    let url = format!("{}/hook", server.uri());
    let counted = client(config()).post_json_counted("alert", &url, &serde_json::json!({"a": 1})).await;
    assert_eq!(counted.result.expect("second attempt").status.as_u16(), 200);
    assert_eq!(counted.attempts, 2);

    let server = MockServer::start().await;
    Mock::given(path("/hook")).respond_with(ResponseTemplate::new(503)).expect(3).mount(&server).await;
    let url = format!("{}/hook", server.uri());
    let counted = client(config()).post_json_counted("alert", &url, &serde_json::json!({"a": 1})).await;
    assert!(matches!(counted.result, Err(Error::Status { status: 503, .. })));
    assert_eq!(counted.attempts, 3, "one attempt and max_retries = 2 retries");
}

/// Resolves `hook.test` to one address and refuses every other name.
struct OneName(std::net::SocketAddr);

impl reqwest::dns::Resolve for OneName {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let result: Result<reqwest::dns::Addrs, Box<dyn std::error::Error + Send + Sync>> =
            if name.as_str() == "hook.test" {
                Ok(Box::new(std::iter::once(self.0)))
            } else {
                Err(format!("{} refused by the test resolver", name.as_str()).into())
            };
        Box::pin(std::future::ready(result))
    }
}

#[tokio::test]
async fn a_custom_resolver_decides_where_names_go() {
    let server = MockServer::start().await;
    Mock::given(path("/hook")).respond_with(ResponseTemplate::new(204)).expect(1).mount(&server).await;
    let mut config = config();
    config.resolver = Some(outbound::Resolver(Arc::new(OneName(*server.address()))));
    let webhook = client(config);
    let url = format!("http://hook.test:{}/hook", server.address().port());
    let response = webhook.post_json("alert", &url, &serde_json::json!({})).await.expect("resolved");
    assert_eq!(response.status.as_u16(), 204);

    let url = format!("http://other.test:{}/hook", server.address().port());
    let err = webhook.post_json("alert", &url, &serde_json::json!({})).await.expect_err("refused");
    assert!(err.to_string().contains("refused by the test resolver"), "{err}");
}

#[tokio::test]
async fn usage_counts_requests_successes_failures_and_backs_off_after_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/ok")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    Mock::given(path("/busy"))
        .respond_with(
            ResponseTemplate::new(429).insert_header("retry-after", "120").set_body_string("slow down"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config();
    config.rate_limits = vec![RateLimit { requests: 5, per_secs: 60 }];
    config.daily_budget = Some(25);
    let client = client(config);
    let fresh = client.usage().snapshot();
    assert_eq!((fresh.requests_today, fresh.daily_left, fresh.minute_left), (0, Some(25), Some(5)));

    client.get("ok", &format!("{}/ok", server.uri())).await.expect("200");
    let after_success = client.usage().snapshot();
    assert_eq!(after_success.requests_today, 1);
    assert_eq!((after_success.daily_left, after_success.minute_left), (Some(24), Some(4)));
    assert!(after_success.last_success.is_some() && after_success.last_error.is_none());

    // 120 s is past `max_retry_wait` (30 s): one request, the call fails, the client backs off.
    let before = std::time::SystemTime::now();
    client.get("busy", &format!("{}/busy", server.uri())).await.expect_err("429");
    let after_429 = client.usage().snapshot();
    assert_eq!(after_429.requests_today, 2);
    assert!(
        after_429.last_error.as_ref().is_some_and(|e| e.message.contains("rate limited: slow down")),
        "{after_429:?}"
    );
    assert!(after_429.is_backing_off(std::time::SystemTime::now()));
    let until = after_429.backing_off_until.expect("until when");
    assert!(until >= before + Duration::from_secs(119), "{until:?}");

    // A success ends the back-off; the failure stays on record.
    client.get("ok", &format!("{}/ok", server.uri())).await.expect("200");
    let recovered = client.usage().snapshot();
    assert_eq!(recovered.backing_off_until, None);
    assert!(recovered.last_error.is_some());
    assert_eq!(client.usage().take_unflushed().iter().map(|(_, n)| n).sum::<u64>(), 3);
}

#[tokio::test]
async fn a_spent_daily_budget_fails_without_a_request_even_after_a_restart() {
    let server = MockServer::start().await;
    Mock::given(path("/x")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    let mut config = config();
    config.daily_budget = Some(25);
    let client = client(config);
    // 24 requests were stored before the restart: one is left.
    let today = outbound::usage::unix_day(std::time::SystemTime::now());
    client.usage().seed(today, 24);
    client.get("x", &format!("{}/x", server.uri())).await.expect("the last request of the day");
    let err = client.get("x", &format!("{}/x", server.uri())).await.expect_err("budget spent");
    let Error::Failed { failure: Failure::RateLimited { pace, wait }, .. } = &err else {
        panic!("expected a rate limit, got {err:?}")
    };
    assert_eq!(*pace, Pace::DailyBudget { requests: 25 });
    assert!(*wait <= Duration::from_secs(86_400));
    let snapshot = client.usage().snapshot();
    assert_eq!((snapshot.requests_today, snapshot.daily_left), (25, Some(0)));
    assert!(snapshot.is_backing_off(std::time::SystemTime::now()), "until midnight UTC");
}
