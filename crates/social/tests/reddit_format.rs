//! Request shapes, payload parsing and error mapping of `RedditClient` against a wiremock Reddit
//! (`provider-apis.md` §5). Payloads live in `tests/data/reddit/`. Every mock states how often
//! it must be hit (`.expect(n)`), so a missing header or parameter fails the test by not
//! matching, and a retry or token fetch too many fails it on drop.

use std::time::{Duration, Instant};

use social::reddit::{ForbiddenReason, Listing, RedditClient, RedditConfig, RedditError, ScanStatus, Secret};
use wiremock::matchers::{
    basic_auth, body_string_contains, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const UA: &str = "linux:tickerwatch-test:0.1.0 (by /u/tickerwatch_bot)";
const CLIENT_SECRET: &str = "s3cr3t-client-XYZ";
const PASSWORD: &str = "hunter2!pass";

fn data(name: &str) -> String {
    let file = format!("{}/tests/data/reddit/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn json(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(data(name), "application/json")
}

fn token_json(token: &str, expires_in: f64) -> ResponseTemplate {
    let body = serde_json::json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in, "scope": "*"});
    ResponseTemplate::new(200).set_body_json(body)
}

fn public(server: &MockServer) -> RedditConfig {
    let mut config = RedditConfig::new(UA);
    config.base_url = server.uri();
    config.queries_per_minute = Some(10_000);
    config.max_retries = 0;
    config.backoff_base_ms = 1;
    config.backoff_max_ms = 5;
    config
}

fn oauth(server: &MockServer) -> RedditConfig {
    let mut config = public(server);
    config.base_url = "http://127.0.0.1:9".to_owned(); // must not be used with credentials
    config.oauth_base_url = server.uri();
    config.auth_url = format!("{}/api/v1/access_token", server.uri());
    config.client_id = Some("my-client-id".to_owned());
    config.client_secret = Some(Secret::new(CLIENT_SECRET));
    config
}

fn client(config: &RedditConfig) -> RedditClient {
    RedditClient::new(config).expect("valid config")
}

fn assert_no_secret(text: &str) {
    for secret in [CLIENT_SECRET, PASSWORD, "tok-abc-123"] {
        assert!(!text.contains(secret), "secret {secret:?} leaked into {text:?}");
    }
}

#[test]
fn config_rejects_unknown_keys_requires_a_user_agent_and_masks_secrets() {
    let ok = serde_json::json!({
        "user_agent": UA, "client_id": "id", "client_secret": CLIENT_SECRET,
        "username": "bot", "password": PASSWORD, "max_pages": 3
    });
    let config: RedditConfig = serde_json::from_value(ok.clone()).expect("valid config");
    assert_eq!(config.base_url, "https://www.reddit.com");
    assert_eq!(config.oauth_base_url, "https://oauth.reddit.com");
    assert_eq!(config.auth_url, "https://www.reddit.com/api/v1/access_token");
    assert_eq!(config.effective_queries_per_minute(), 100);
    assert!(config.validate().is_ok());
    let printed = serde_json::to_string(&config).expect("serialize");
    assert!(printed.contains(r#""client_secret":"***""#), "{printed}");
    assert!(printed.contains(r#""password":"***""#), "{printed}");
    assert_no_secret(&printed);
    assert_no_secret(&format!("{config:?}"));
    assert_no_secret(&format!("{:?}", client(&config)));

    let mut typo = ok.clone();
    typo["max_page"] = 3.into();
    let err = serde_json::from_value::<RedditConfig>(typo).expect_err("unknown key");
    assert!(err.to_string().contains("max_page"), "{err}");
    let err = serde_json::from_value::<RedditConfig>(serde_json::json!({})).expect_err("no UA");
    assert!(err.to_string().contains("user_agent"), "{err}");

    let public: RedditConfig = serde_json::from_value(serde_json::json!({"user_agent": UA})).expect("public");
    assert_eq!(public.effective_queries_per_minute(), 10);
    let err = RedditClient::new(&RedditConfig::new("tickerwatch/0.1")).expect_err("bad UA");
    assert!(matches!(err, RedditError::Invalid { .. }), "{err:?}");
    let mut half = public.clone();
    half.client_id = Some("id".to_owned());
    assert!(RedditClient::new(&half).is_err(), "client_id without client_secret");
}

#[tokio::test]
async fn public_listing_request_shape_and_parsing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/r/stocks/new.json"))
        .and(header("user-agent", UA))
        .and(query_param("raw_json", "1"))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("after"))
        .respond_with(json(200, "listing_new_page3.json"))
        .expect(1)
        .mount(&server)
        .await;
    let reddit = client(&public(&server));
    assert!(!reddit.uses_oauth());
    let report = reddit.scan("stocks", Listing::New, 500).await;
    assert!(report.is_complete(), "{:?}", report.status);
    assert_eq!((report.pages, report.posts.len()), (1, 2));
    let post = &report.posts[0];
    assert_eq!(post.id, "1c9x006");
    assert_eq!(post.subreddit, "stocks");
    assert_eq!(post.title, "What ETF for a Roth IRA?");
    assert_eq!(post.author, "user_42");
    assert_eq!(post.created_utc.timestamp(), 1_714_760_000 - 6 * 97);
    assert_eq!(post.score, 412 - 18);
    assert_eq!(post.num_comments, 388 - 12);
    assert_eq!(post.permalink, "/r/stocks/comments/1c9x006/what_etf_for_a_roth_ira?/");
    // Requests without credentials never carry an Authorization header.
    for request in server.received_requests().await.unwrap_or_default() {
        assert!(request.headers.get("authorization").is_none());
    }
}

#[tokio::test]
async fn paging_follows_after_up_to_the_limit_and_max_pages() {
    let server = MockServer::start().await;
    let pages = [
        (None, "listing_new_page1.json"),
        (Some("t3_1c9x002"), "listing_new_page2.json"),
        (Some("t3_1c9x005"), "listing_new_page3.json"),
    ];
    for (after, file) in pages {
        let mock =
            Mock::given(method("GET")).and(path("/r/stocks/new.json")).and(query_param("raw_json", "1"));
        let mock = match after {
            Some(after) => mock.and(query_param("after", after)),
            None => mock.and(query_param_is_missing("after")),
        };
        // Full scan: each page once; limited scan: pages 1-2; max_pages scan: pages 1-2.
        let expected = if after == Some("t3_1c9x005") { 1 } else { 3 };
        mock.respond_with(json(200, file)).expect(expected).mount(&server).await;
    }
    let reddit = client(&public(&server));
    let report = reddit.scan("stocks", Listing::New, 1_000).await;
    assert!(report.is_complete(), "{:?}", report.status);
    assert_eq!((report.pages, report.posts.len()), (3, 8), "stops when after is null");
    let ids: Vec<&str> = report.posts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["1c9x000", "1c9x001", "1c9x002", "1c9x003", "1c9x004", "1c9x005", "1c9x006", "1c9x007"]);
    assert_eq!(report.posts[3].author, "[deleted]");
    assert_eq!(
        report.posts[0].selftext,
        "Discuss here. Whisper number is 5.60 & guidance matters more than the beat."
    );
    assert_eq!(report.posts[3].selftext, "", "link post");

    let report = reddit.scan("stocks", Listing::New, 4).await;
    assert!(report.is_complete());
    assert_eq!((report.pages, report.posts.len()), (2, 4), "stops at the post limit");

    let mut config = public(&server);
    config.max_pages = 2;
    let report = client(&config).scan("stocks", Listing::New, 1_000).await;
    assert!(report.is_complete());
    assert_eq!((report.pages, report.posts.len()), (2, 6), "stops at max_pages");
}

#[tokio::test]
async fn hot_top_and_search_parameters() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/r/investing/hot.json"))
        .and(query_param("raw_json", "1"))
        .respond_with(json(200, "listing_new_page3.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/investing/top.json"))
        .and(query_param("t", "day"))
        .and(query_param("raw_json", "1"))
        .respond_with(json(200, "listing_new_page3.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/wallstreetbets/search.json"))
        .and(query_param("q", "NVDA OR $NVDA"))
        .and(query_param("restrict_sr", "1"))
        .and(query_param("sort", "new"))
        .and(query_param("t", "week"))
        .and(query_param("limit", "25"))
        .and(query_param("raw_json", "1"))
        .respond_with(json(200, "listing_new_page3.json"))
        .expect(1)
        .mount(&server)
        .await;
    let reddit = client(&public(&server));
    assert!(reddit.scan("investing", Listing::Hot, 10).await.is_complete());
    assert!(reddit.scan("investing", Listing::TopDay, 10).await.is_complete());
    let search = Listing::Search { query: "NVDA OR $NVDA".to_owned() };
    let report = reddit.scan("wallstreetbets", search, 25).await;
    assert!(report.is_complete(), "{:?}", report.status);
    assert_eq!(report.posts.len(), 2);

    let report = reddit.scan("../admin", Listing::New, 10).await;
    assert!(matches!(report.error(), Some(RedditError::Invalid { .. })), "{:?}", report.status);
}

#[tokio::test]
async fn oauth_uses_basic_auth_for_the_token_and_reuses_it_as_bearer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .and(basic_auth("my-client-id", CLIENT_SECRET))
        .and(header("user-agent", UA))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(json(200, "token.json"))
        .expect(1)
        .mount(&server)
        .await;
    let token: serde_json::Value = serde_json::from_str(&data("token.json")).expect("token json");
    let bearer = format!("bearer {}", token["access_token"].as_str().expect("access_token"));
    Mock::given(method("GET"))
        .and(path("/r/stocks/new")) // the OAuth host has no `.json`
        .and(header("authorization", bearer.as_str()))
        .and(header("user-agent", UA))
        .and(query_param("raw_json", "1"))
        .respond_with(json(200, "listing_new_page3.json"))
        .expect(3)
        .mount(&server)
        .await;
    let reddit = client(&oauth(&server));
    assert!(reddit.uses_oauth());
    for _ in 0..3 {
        let report = reddit.scan("stocks", Listing::New, 100).await;
        assert!(report.is_complete(), "{:?}", report.status);
        assert_eq!(report.posts.len(), 2);
    }
}

#[tokio::test]
async fn oauth_token_is_refreshed_before_expiry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .respond_with(token_json("tok-abc-123", 1.0))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/stocks/new"))
        .and(header("authorization", "bearer tok-abc-123"))
        .respond_with(json(200, "listing_new_page3.json"))
        .expect(3)
        .mount(&server)
        .await;
    let reddit = client(&oauth(&server));
    // Lifetime 1 s, refreshed at half of it: two calls share a token, the third needs a new one.
    assert!(reddit.scan("stocks", Listing::New, 10).await.is_complete());
    assert!(reddit.scan("stocks", Listing::New, 10).await.is_complete());
    // Models time, not synchronisation: half of the token's lifetime must pass.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(reddit.scan("stocks", Listing::New, 10).await.is_complete());
}

#[tokio::test]
async fn password_grant_sends_the_login_in_the_form_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .and(basic_auth("my-client-id", CLIENT_SECRET))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=password&username=bot_user&password=hunter2%21pass"))
        .respond_with(token_json("tok-abc-123", 86_400.0))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/stocks/hot"))
        .and(header("authorization", "bearer tok-abc-123"))
        .respond_with(json(200, "listing_new_page3.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = oauth(&server);
    config.username = Some(Secret::new("bot_user"));
    config.password = Some(Secret::new(PASSWORD));
    let report = client(&config).scan("stocks", Listing::Hot, 10).await;
    assert!(report.is_complete(), "{:?}", report.status);
}

#[tokio::test]
async fn bad_credentials_and_refused_grants_are_auth_errors_without_secrets() {
    for (status, file) in [(401, "token_unauthorized_401.json"), (200, "token_invalid_grant.json")] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/v1/access_token"))
            .respond_with(json(status, file))
            .expect(1) // not retried
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(json(200, "listing_new_page3.json"))
            .expect(0)
            .mount(&server)
            .await;
        let mut config = oauth(&server);
        config.max_retries = 3;
        let report = client(&config).scan("stocks", Listing::New, 10).await;
        let error = report.error().unwrap_or_else(|| panic!("{file}: {:?}", report.status));
        assert!(matches!(error, RedditError::Auth { .. }), "{file}: {error:?}");
        assert!(!error.is_retryable());
        assert_eq!(report.pages, 0);
        println!("{file}: {error}");
        if status == 200 {
            assert!(error.to_string().contains("invalid_grant"), "{error}");
        }
        assert_no_secret(&error.to_string());
        assert_no_secret(&format!("{error:?}"));
    }
}

#[tokio::test]
async fn a_rejected_bearer_token_is_replaced_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .respond_with(token_json("tok-abc-123", 86_400.0))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/stocks/new"))
        .respond_with(json(401, "token_unauthorized_401.json"))
        .expect(2)
        .mount(&server)
        .await;
    let report = client(&oauth(&server)).scan("stocks", Listing::New, 10).await;
    let error = report.error().expect("401 twice fails");
    assert!(matches!(error, RedditError::Auth { .. }), "{error:?}");
    assert_no_secret(&format!("{error} {error:?}"));
}

#[tokio::test]
async fn error_payloads_map_to_typed_errors() {
    let server = MockServer::start().await;
    let block = ResponseTemplate::new(200).set_body_raw(data("block_page.html"), "text/html; charset=utf-8");
    let block_403 = ResponseTemplate::new(403).set_body_raw(data("block_page.html"), "text/html");
    let cases: Vec<(&str, ResponseTemplate)> = vec![
        ("limited", json(429, "error_429.json").insert_header("x-ratelimit-reset", "42.0")),
        ("limited200", json(200, "error_429.json")),
        ("private", json(403, "error_403_private.json")),
        ("banned", json(403, "error_403_banned.json")),
        ("missing", json(404, "error_404.json")),
        (
            "nosuchsub",
            ResponseTemplate::new(302)
                .insert_header("location", "https://www.reddit.com/subreddits/search.json?q=nosuchsub"),
        ),
        ("broken", ResponseTemplate::new(502).set_body_string("upstream connect error")),
        ("blocked", block),
        ("blocked403", block_403),
        (
            "truncated",
            ResponseTemplate::new(200).set_body_raw(r#"{"kind":"Listing","data":{"chil"#, "application/json"),
        ),
        (
            "notalisting",
            ResponseTemplate::new(200).set_body_raw(r#"{"kind":"t5","data":{}}"#, "application/json"),
        ),
    ];
    for (sub, response) in cases {
        Mock::given(method("GET"))
            .and(path(format!("/r/{sub}/new.json")))
            .respond_with(response)
            .expect(1)
            .mount(&server)
            .await;
    }
    let reddit = client(&public(&server));
    let error = |sub: &'static str| {
        let reddit = &reddit;
        async move {
            let report = reddit.scan(sub, Listing::New, 100).await;
            assert_eq!((report.pages, report.posts.len()), (0, 0), "{sub}");
            println!("{sub}: {} {:?}", report.status_label(), report.status);
            report
        }
    };
    let report = error("limited").await;
    let err = report.error().expect("429");
    assert!(matches!(err, RedditError::RateLimited { .. }) && err.is_retryable(), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(42)));
    let report = error("limited200").await;
    assert!(matches!(report.error(), Some(RedditError::RateLimited { .. })), "HTTP 200 + error 429 body");
    let report = error("private").await;
    assert!(
        matches!(report.error(), Some(RedditError::Forbidden { reason: ForbiddenReason::Private, .. })),
        "{:?}",
        report.status
    );
    assert!(!report.error().is_some_and(RedditError::is_retryable));
    let report = error("banned").await;
    assert!(matches!(report.error(), Some(RedditError::Forbidden { reason: ForbiddenReason::Banned, .. })));
    for sub in ["missing", "nosuchsub"] {
        let report = error(sub).await;
        assert!(matches!(report.error(), Some(RedditError::NotFound { .. })), "{sub}: {:?}", report.status);
    }
    let report = error("broken").await;
    let err = report.error().expect("502");
    assert!(matches!(err, RedditError::Upstream { status: Some(502), .. }) && err.is_retryable(), "{err:?}");
    for sub in ["blocked", "blocked403"] {
        let report = error(sub).await;
        assert!(report.is_blocked(), "{sub}: a block page is blocked, never 0 posts: {:?}", report.status);
        assert_eq!(report.status_label(), "blocked");
        let ScanStatus::Blocked { reason } = &report.status else { unreachable!() };
        assert!(reason.contains("Blocked"), "{reason}");
    }
    for sub in ["truncated", "notalisting"] {
        let report = error(sub).await;
        assert!(matches!(report.error(), Some(RedditError::Malformed { .. })), "{sub}: {:?}", report.status);
    }
}

/// `Retry-After: 1e20` (or `X-Ratelimit-Reset: 1e20`) once panicked in `Duration::from_secs_f64`.
/// Now it is the longest wait a server can ask for, far beyond `max_rate_limit_wait_secs`: the
/// scan fails at once as rate limited, with that bounded wait.
#[tokio::test]
async fn an_absurd_server_wait_is_a_bounded_rate_limit_not_a_panic() {
    for header_name in ["retry-after", "x-ratelimit-reset"] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/r/stocks/new.json"))
            .respond_with(json(429, "error_429.json").insert_header(header_name, "1e20"))
            .expect(1)
            .mount(&server)
            .await;
        let mut config = public(&server);
        config.max_retries = 3;
        let started = Instant::now();
        let report = client(&config).scan("stocks", Listing::New, 10).await;
        let err = report.error().unwrap_or_else(|| panic!("{header_name}: {:?}", report.status));
        assert!(matches!(err, RedditError::RateLimited { .. }), "{header_name}: {err:?}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(24 * 60 * 60)), "{header_name}");
        assert!(started.elapsed() < Duration::from_secs(1), "{header_name}: slept {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn retryable_errors_are_retried_with_backoff_and_bounded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/r/stocks/new.json"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/stocks/new.json"))
        .respond_with(json(200, "listing_new_page3.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/down/new.json"))
        .respond_with(ResponseTemplate::new(500))
        .expect(4) // 1 + max_retries
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/private/new.json"))
        .respond_with(json(403, "error_403_private.json"))
        .expect(1) // not retryable
        .mount(&server)
        .await;
    let mut config = public(&server);
    config.max_retries = 3;
    let reddit = client(&config);
    assert!(reddit.scan("stocks", Listing::New, 10).await.is_complete());
    let report = reddit.scan("down", Listing::New, 10).await;
    assert!(matches!(report.error(), Some(RedditError::Upstream { status: Some(500), .. })));
    assert!(matches!(
        reddit.scan("private", Listing::New, 10).await.error(),
        Some(RedditError::Forbidden { .. })
    ));
}

#[tokio::test]
async fn a_failure_on_page_three_keeps_the_posts_of_pages_one_and_two() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param_is_missing("after"))
        .respond_with(json(200, "listing_new_page1.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("after", "t3_1c9x002"))
        .respond_with(json(200, "listing_new_page2.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("after", "t3_1c9x005"))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal error"))
        .expect(1)
        .mount(&server)
        .await;
    let report = client(&public(&server)).scan("stocks", Listing::New, 1_000).await;
    assert_eq!(report.status_label(), "failed");
    assert!(matches!(report.error(), Some(RedditError::Upstream { status: Some(500), .. })));
    assert_eq!((report.pages, report.posts.len()), (2, 6), "says how far it got");
}

#[tokio::test]
async fn rate_limit_headers_pause_until_reset() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param_is_missing("after"))
        .respond_with(
            json(200, "listing_new_page1.json")
                .insert_header("x-ratelimit-used", "100")
                .insert_header("x-ratelimit-remaining", "0.0")
                .insert_header("x-ratelimit-reset", "1"),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("after", "t3_1c9x002"))
        .respond_with(json(200, "listing_new_page3.json").insert_header("x-ratelimit-remaining", "97.0"))
        .expect(1)
        .mount(&server)
        .await;
    let reddit = client(&public(&server));
    let started = Instant::now();
    let report = reddit.scan("stocks", Listing::New, 100).await;
    let took = started.elapsed();
    assert!(report.is_complete(), "{:?}", report.status);
    assert_eq!(report.pages, 2);
    println!("two pages with an exhausted window in between took {took:?}");
    assert!(took >= Duration::from_millis(900), "slept until reset: {took:?}");

    // A window longer than we are willing to wait: the page fails as rate-limited, and the
    // posts of page 1 are kept.
    let mut config = public(&server);
    config.max_rate_limit_wait_secs = 0.2;
    let report = client(&config).scan("stocks", Listing::New, 100).await;
    assert!(matches!(report.error(), Some(RedditError::RateLimited { .. })), "{:?}", report.status);
    assert_eq!((report.pages, report.posts.len()), (1, 3));
}

#[tokio::test]
async fn the_queries_per_minute_budget_is_enforced_client_side() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param_is_missing("after"))
        .respond_with(json(200, "listing_new_page1.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("after", "t3_1c9x002"))
        .respond_with(json(200, "listing_new_page2.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = public(&server);
    config.queries_per_minute = Some(2);
    config.max_rate_limit_wait_secs = 0.1;
    let report = client(&config).scan("stocks", Listing::New, 100).await;
    // Two pages fit the budget; the third would wait ~30 s.
    assert_eq!(report.pages, 2);
    let err = report.error().expect("budget exhausted");
    assert!(matches!(err, RedditError::RateLimited { .. }), "{err:?}");
    assert!(err.to_string().contains("budget"), "{err}");
}

#[tokio::test]
async fn comments_are_flattened_with_authors_and_bounded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/r/stocks/comments/1c9x000.json"))
        .and(query_param("raw_json", "1"))
        .respond_with(json(200, "comments.json"))
        .expect(2)
        .mount(&server)
        .await;
    let reddit = client(&public(&server));
    let comments = reddit.comments("stocks", "1c9x000").await.expect("comments");
    let flat: Vec<(&str, &str, u32)> =
        comments.iter().map(|c| (c.author.as_str(), c.body.as_str(), c.depth)).collect();
    assert_eq!(
        flat,
        [
            ("bull_99", "Beat and raise, NVDA to the moon 🚀", 0),
            ("bear_42", "Priced in. Puts on open.", 1),
            ("bull_99", "Enjoy your losses & your puts", 2),
            ("[deleted]", "[deleted]", 0),
            ("quiet_investor", "Holding my shares, no trades.", 0),
        ]
    );
    assert_eq!(comments[1].score, -4);

    let mut config = public(&server);
    config.max_comments = 2;
    assert_eq!(client(&config).comments("stocks", "1c9x000").await.expect("comments").len(), 2);
}
