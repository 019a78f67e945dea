//! The web UI's pages: HTML over the same data the API serves, with its headers, escaping and
//! error pages.

use axum::http::{Method, StatusCode, header};
use domain::{CompanyProfile, ProviderId, Symbol};
use server::ServerConfig;

use crate::helpers::{Response, TestApp};

fn html(response: &Response) -> String {
    let content_type = response.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(content_type.starts_with("text/html"), "content type {content_type:?}");
    let csp =
        response.headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "CSP {csp:?}");
    assert_eq!(response.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    String::from_utf8(response.body.clone()).unwrap()
}

/// The watchlist refreshed from the offline sample, as a fresh machine has it.
async fn refreshed(symbols: &[&str]) -> TestApp {
    let app = TestApp::new().await;
    for symbol in symbols {
        app.storage.add_to_watchlist(&Symbol::parse(symbol).unwrap()).await.unwrap();
    }
    let accepted = app.authed(Method::POST, "/api/jobs/download-tracker/trigger", None).await.ok();
    let run = app.wait_for_run(accepted["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    app
}

#[tokio::test]
async fn the_dashboard_lists_the_watchlist_with_prices_sparklines_and_providers() {
    let app = refreshed(&["AAPL", "MSFT"]).await;
    let response = app.get("/").await;
    assert_eq!(response.status, StatusCode::OK);
    let page = html(&response);
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    for symbol in ["AAPL", "MSFT"] {
        assert!(
            page.contains(&format!(r#"<a href="/symbols/{symbol}"><strong>{symbol}</strong></a>"#)),
            "{page}"
        );
    }
    assert_eq!(page.matches("<svg class=\"spark").count(), 2, "a sparkline per row");
    assert!(page.contains("sample"), "each row names its provider");
    assert!(page.contains(r#"<link rel="stylesheet" href="/ui/app.css">"#));
    assert!(!page.contains("http://") && !page.contains("https://"), "nothing from another host");

    let css = app.get("/ui/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
    assert!(String::from_utf8_lossy(&css.body).contains("prefers-color-scheme: dark"));
}

#[tokio::test]
async fn an_empty_watchlist_says_how_to_fill_it() {
    let app = TestApp::new().await;
    let page = html(&app.get("/").await);
    assert!(page.contains("No symbols are watched yet."), "{page}");
}

#[tokio::test]
async fn a_symbol_page_draws_candles_for_the_chosen_range_with_a_table_fallback() {
    let app = refreshed(&["AAPL"]).await;
    let page = html(&app.get("/symbols/AAPL").await);
    assert!(page.contains("<svg class=\"chart\""), "the price chart is inline SVG");
    assert!(page.matches("#16A34A").count() > 10, "green candles");
    assert!(page.contains(r#"href="/symbols/AAPL?range=1y" aria-current="true""#), "1Y is the default");
    let rows = |page: &str| page.split("Latest sessions").nth(1).unwrap().matches("<tr><td>").count();
    assert_eq!(rows(&page), 30, "the latest 30 sessions as a table");

    let month = html(&app.get("/symbols/AAPL?range=1m").await);
    let quarter = html(&app.get("/symbols/AAPL?range=3m").await);
    let sessions = |page: &str| {
        let caption = page.split("candles of ").nth(1).unwrap();
        caption.split(' ').next().unwrap().parse::<usize>().unwrap()
    };
    assert!((18..=23).contains(&sessions(&month)), "a month of sessions: {}", sessions(&month));
    assert!(sessions(&month) < sessions(&quarter) && sessions(&quarter) < sessions(&page), "1M < 3M < 1Y");
}

#[tokio::test]
async fn unknown_symbols_and_bad_ranges_get_helpful_html_pages() {
    let app = refreshed(&["AAPL"]).await;
    let unknown = app.get("/symbols/ZZZZ").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let page = html(&unknown);
    assert!(page.contains("No prices are stored for ZZZZ") && page.contains("watchlist add ZZZZ"), "{page}");

    let malformed = app.get("/symbols/%3Cscript%3E").await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);
    let page = html(&malformed);
    assert!(page.contains("&lt;script&gt;") && !page.contains("<script>"), "{page}");

    let range = app.get("/symbols/AAPL?range=2y").await;
    assert_eq!(range.status, StatusCode::BAD_REQUEST);
    assert!(html(&range).contains("1m, 3m, 6m, 1y, 5y, max"));
}

#[tokio::test]
async fn vendor_text_is_escaped_on_every_page() {
    let app = refreshed(&["AAPL"]).await;
    let profile = CompanyProfile {
        symbol: Some(Symbol::parse("AAPL").unwrap()),
        name: Some("<img src=x onerror=alert(1)> Apple".to_owned()),
        provider: Some(ProviderId::Finnhub),
        ..CompanyProfile::default()
    };
    app.storage.save_profile(&profile).await.unwrap();
    for uri in ["/", "/symbols/AAPL"] {
        let page = html(&app.get(uri).await);
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt; Apple"), "{uri}: {page}");
        assert!(!page.contains("<img"), "{uri}");
    }
}

#[tokio::test]
async fn protected_reads_keep_the_pages_closed() {
    let mut config = ServerConfig::default();
    config.auth.protect_reads = true;
    let app = TestApp::with_config(config).await;
    app.storage.add_to_watchlist(&Symbol::parse("AAPL").unwrap()).await.unwrap();
    for uri in ["/", "/symbols/AAPL"] {
        let response = app.get(uri).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{uri}");
        let page = html(&response);
        assert!(page.contains("Sign-in required") && !page.contains("AAPL</strong>"), "{uri}: {page}");
    }
}
