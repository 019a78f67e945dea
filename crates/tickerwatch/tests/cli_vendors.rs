//! The binary against a mock Yahoo server: the chain's fallback and "bad input loses nothing".

use std::process::Output;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn chart(n_bars: usize) -> String {
    test_support::yahoo_chart_json("AAPL", n_bars, 1_704_205_800)
}

async fn run(db_url: &str, yahoo: &str, order: &str, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickerwatch"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env("TICKERWATCH_DATABASE__URL", db_url)
        .env("TICKERWATCH_PROVIDERS__ORDER", order)
        .env("TICKERWATCH_PROVIDERS__YAHOO__BASE_URL", yahoo)
        .env("TICKERWATCH_PROVIDERS__YAHOO__MAX_RETRIES", "1")
        .env("TICKERWATCH_PROVIDERS__YAHOO__BACKOFF_BASE_MS", "1")
        .env("TICKERWATCH_PROVIDERS__YAHOO__TIMEOUT_SECS", "2");
    command.output().await.unwrap()
}

fn bar_lines(output: &Output) -> usize {
    String::from_utf8_lossy(&output.stdout).lines().count().saturating_sub(1)
}

#[tokio::test]
async fn yahoo_fetch_then_bad_bodies_leave_stored_bars_intact() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("tw.db").display());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_string(chart(20)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let ok = run(&db, &server.uri(), "[\"yahoo\"]", &["fetch", "AAPL", "--from", "2024-01-01"]).await;
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("yahoo"));
    let stored = run(&db, &server.uri(), "[\"yahoo\"]", &["bars", "AAPL", "--format", "csv"]).await;
    assert_eq!(bar_lines(&stored), 20);

    let bad_bodies = [
        ResponseTemplate::new(200).set_body_string("{\"chart\":{\"result\":[{\"meta\":{"),
        ResponseTemplate::new(200).set_body_string("not json at all"),
        ResponseTemplate::new(502).set_body_string("<html><title>502 Bad Gateway</title></html>"),
        ResponseTemplate::new(404).set_body_string(
            r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#,
        ),
    ];
    for body in bad_bodies {
        server.reset().await;
        Mock::given(method("GET")).respond_with(body).mount(&server).await;
        let failed = run(&db, &server.uri(), "[\"yahoo\"]", &["fetch", "AAPL", "--from", "2024-01-01"]).await;
        assert_eq!(failed.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(stderr.contains("AAPL") && stderr.contains("yahoo"), "{stderr}");
        let stored = run(&db, &server.uri(), "[\"yahoo\"]", &["bars", "AAPL", "--format", "csv"]).await;
        assert_eq!(bar_lines(&stored), 20, "stored bars changed after: {stderr}");
    }
}

#[tokio::test]
async fn failing_vendor_falls_back_to_sample_and_rows_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("tw.db").display());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).set_body_string("Edge: Too Many Requests"))
        .expect(2) // one try and one retry
        .mount(&server)
        .await;
    let out = run(&db, &server.uri(), "[\"yahoo\",\"sample\"]", &["fetch", "MSFT", "--range", "5d"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sample"));
    let csv = run(&db, &server.uri(), "[\"sample\"]", &["bars", "MSFT", "--format", "csv"]).await;
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(text.lines().skip(1).all(|l| l.ends_with(",sample,false,")), "{text}");
}
