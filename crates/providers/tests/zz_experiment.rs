use std::time::Duration;
use domain::{Interval, Symbol};
use providers::yahoo::YahooProvider;
use providers::{BarsRequest, MarketData, Span, VendorConfig};
use test_support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(base_url: &str) -> VendorConfig {
    let mut config = VendorConfig::yahoo();
    config.base_url = base_url.to_owned();
    config.rate_limits.clear();
    config.max_retries = 0;
    config.pool_idle_timeout_secs = 60.0;
    config
}
fn daily(symbol: &str) -> BarsRequest {
    BarsRequest { symbol: Symbol::parse(symbol).unwrap(), interval: Interval::Day1, span: Span::parse_range("1y").unwrap() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment() {
    let mode = std::env::var("MODE").unwrap_or_default();
    let n: usize = std::env::var("N").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let server = if std::env::var("REC").is_ok() { MockServer::start().await } else { MockServer::builder().disable_request_recording().start().await };
    Mock::given(method("GET")).and(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(yahoo_chart_json("AAPL", 250, 1_704_205_800), "application/json"))
        .mount(&server).await;
    let canned = CannedHttpServer::start().await.unwrap();
    canned.route("/v8/finance/chart/AAPL", CannedResponse::json(200, yahoo_chart_json("AAPL", 250, 1_704_205_800)));
    let uri = if std::env::var("WM").is_ok() { server.uri() } else { canned.uri() };
    let shared = YahooProvider::new(&config(&uri)).unwrap();
    let t0 = alive_tasks();
    for round in 0..5 {
        let before = ResourceBaseline::capture();
        for _ in 0..n {
            match mode.as_str() {
                "create" => { let p = YahooProvider::new(&config(&uri)).unwrap(); drop(p); }
                "reqwest" => { let c = reqwest::Client::builder().build().unwrap(); drop(c); }
                "request" => { shared.bars(&daily("AAPL")).await.unwrap(); }
                _ => { let p = YahooProvider::new(&config(&uri)).unwrap(); p.bars(&daily("AAPL")).await.unwrap(); drop(p); }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        println!("{mode} round {round}: {} tasks {} (start {t0})", before.delta(), alive_tasks());
    }
}
