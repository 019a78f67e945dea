//! The web UI's pages: HTML over the same data the API serves, with its headers, escaping and
//! error pages.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
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
    for panel in ["price and volume chart", "RSI 14 chart", "MACD 12/26/9 chart"] {
        assert!(page.contains(panel), "{panel}");
    }
    assert!(page.matches("#16A34A").count() > 10, "green candles");
    assert!(page.contains(r#"href="/symbols/AAPL?range=1y" aria-current="true""#), "1Y is the default");
    // The offline sample's profile and headlines, stored by the refresh.
    assert!(page.contains("<h2>Company</h2>") && page.contains("Sample news"), "{page}");
    let rows = |page: &str| page.split("Latest sessions").nth(1).unwrap().matches("<tr><td>").count();
    assert_eq!(rows(&page), 30, "the latest 30 sessions as a table");

    let month = html(&app.get("/symbols/AAPL?range=1m").await);
    let quarter = html(&app.get("/symbols/AAPL?range=3m").await);
    let sessions = |page: &str| {
        let caption = page.split("One candle per session: ").nth(1).unwrap();
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

/// A form post, with the session cookie when given.
async fn post_form(app: &TestApp, uri: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Response {
    let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    app.send(request.body(Body::from(body.join("&"))).unwrap()).await
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect()
}

async fn get_with(app: &TestApp, uri: &str, cookie: &str) -> Response {
    app.send(Request::get(uri).header(header::COOKIE, cookie).body(Body::empty()).unwrap()).await
}

/// Signs in with the app's stored token; returns the `Cookie` header value.
async fn sign_in(app: &TestApp) -> String {
    let response = post_form(app, "/signin", &[("token", &app.token), ("next", "/")], None).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", String::from_utf8_lossy(&response.body));
    let set_cookie = response.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains(&app.token), "the token is not the cookie");
    set_cookie.split(';').next().unwrap().to_owned()
}

fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    page[start..start + 64].to_owned()
}

#[tokio::test]
async fn signed_in_users_change_the_watchlist_through_forms_that_carry_the_csrf_token() {
    let app = refreshed(&["AAPL"]).await;
    let anonymous = html(&app.get("/").await);
    assert!(!anonymous.contains("name=\"csrf\"") && anonymous.contains(r#"href="/signin""#));
    let refused = post_form(&app, "/signin", &[("token", "tw_wrong"), ("next", "/")], None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(html(&refused).contains("That token is not valid"));

    let cookie = sign_in(&app).await;
    let page = html(&get_with(&app, "/", &cookie).await);
    assert!(page.contains("Sign out"), "{page}");
    let csrf = csrf_of(&page);

    // Without the token, with another session's token: refused, nothing added.
    let other = sign_in(&app).await;
    let other_csrf = csrf_of(&html(&get_with(&app, "/", &other).await));
    for form in [vec![("symbol", "NVDA")], vec![("symbol", "NVDA"), ("csrf", other_csrf.as_str())]] {
        let response = post_form(&app, "/watchlist", &form, Some(&cookie)).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert!(html(&response).contains("Not allowed"));
    }
    // Without a session (an expired one is the same): sign in, then back to the page posted from.
    let expired = app
        .send(
            Request::post("/watchlist")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::HOST, "tw.local")
                .header(header::REFERER, "http://tw.local/symbols/AAPL?range=1m")
                .body(Body::from(format!("symbol=NVDA&csrf={csrf}")))
                .unwrap(),
        )
        .await;
    assert_eq!(expired.status, StatusCode::SEE_OTHER);
    assert_eq!(expired.headers[header::LOCATION], "/signin?next=/symbols/AAPL%3Frange%3D1m");
    let elsewhere = post_form(&app, "/watchlist", &[("symbol", "NVDA"), ("csrf", &csrf)], None).await;
    assert_eq!(elsewhere.headers[header::LOCATION], "/signin?next=/");
    let watched = |app: &TestApp| {
        let storage = app.storage.clone();
        async move {
            storage.watchlist().await.unwrap().into_iter().map(|e| e.symbol.to_string()).collect::<Vec<_>>()
        }
    };
    assert_eq!(watched(&app).await, ["AAPL"]);

    // A bad value: the form again, with the value and the field's error.
    let bad = post_form(&app, "/watchlist", &[("symbol", "NV DA"), ("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = html(&bad);
    assert!(page.contains(r#"value="NV DA""#) && page.contains("Not a ticker symbol"), "{page}");

    let added = post_form(&app, "/watchlist", &[("symbol", "nvda"), ("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    assert_eq!(watched(&app).await, ["AAPL", "NVDA"]);
    let removed = post_form(&app, "/watchlist/AAPL/remove", &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(watched(&app).await, ["NVDA"]);

    let signed_out = post_form(&app, "/signout", &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    assert!(signed_out.headers[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn protected_reads_send_the_browser_to_sign_in_and_back() {
    let mut config = ServerConfig::default();
    config.auth.protect_reads = true;
    let app = TestApp::with_config(config).await;
    app.storage.add_to_watchlist(&Symbol::parse("AAPL").unwrap()).await.unwrap();
    for cookie in [None, Some("tw_session=v1.99999999999.00.00"), Some("tw_session=garbage")] {
        let request = Request::get("/symbols/AAPL?range=1m");
        let request = match cookie {
            Some(cookie) => request.header(header::COOKIE, cookie),
            None => request,
        };
        let response = app.send(request.body(Body::empty()).unwrap()).await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{cookie:?}");
        assert_eq!(response.headers[header::LOCATION], "/signin?next=/symbols/AAPL%3Frange%3D1m");
        assert!(!String::from_utf8_lossy(&response.body).contains("AAPL</strong>"));
    }
    let form = html(&app.get("/signin?next=/symbols/AAPL%3Frange%3D1m").await);
    assert!(form.contains(r#"name="next" value="/symbols/AAPL?range=1m""#), "{form}");
    let response =
        post_form(&app, "/signin", &[("token", &app.token), ("next", "/symbols/AAPL?range=1m")], None).await;
    assert_eq!(response.headers[header::LOCATION], "/symbols/AAPL?range=1m");
    // Never to another site.
    let response =
        post_form(&app, "/signin", &[("token", &app.token), ("next", "//evil.example/")], None).await;
    assert_eq!(response.headers[header::LOCATION], "/");
    let cookie = sign_in(&app).await;
    assert_eq!(get_with(&app, "/", &cookie).await.status, StatusCode::OK);
    // The page's own script reads the API with the session cookie (an EventSource cannot send a
    // bearer token); the cookie never authorises a change.
    assert_eq!(app.get("/api/watchlist").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(get_with(&app, "/api/watchlist", &cookie).await.status, StatusCode::OK);
    assert_eq!(get_with(&app, "/api/jobs/runs", "tw_session=garbage").await.status, StatusCode::UNAUTHORIZED);
    let change = Request::post("/api/watchlist")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"symbol":"IBM"}"#))
        .unwrap();
    assert_eq!(app.send(change).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn jobs_are_triggered_from_the_jobs_page_and_their_runs_shown_until_done() {
    let app = TestApp::new().await;
    app.storage.add_to_watchlist(&Symbol::parse("AAPL").unwrap()).await.unwrap();
    let anonymous = html(&app.get("/jobs").await);
    assert!(anonymous.contains("download-tracker") && !anonymous.contains("/trigger\""), "{anonymous}");
    let cookie = sign_in(&app).await;
    let page = html(&get_with(&app, "/jobs", &cookie).await);
    let csrf = csrf_of(&page);
    assert!(page.contains(r#"action="/jobs/download-tracker/trigger""#));
    assert_eq!(
        post_form(&app, "/jobs/download-tracker/trigger", &[], Some(&cookie)).await.status,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );

    let triggered =
        post_form(&app, "/jobs/download-tracker/trigger", &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(triggered.status, StatusCode::SEE_OTHER);
    let location = triggered.headers[header::LOCATION].to_str().unwrap().to_owned();
    let run_id: i64 = location.strip_prefix("/jobs/runs/").unwrap().parse().unwrap();
    app.wait_for_run(run_id).await;
    let run = html(&get_with(&app, &location, &cookie).await);
    assert!(run.contains(r#"class="up">succeeded"#), "{run}");
    assert!(run.contains(r#"<td class="text up">ok</td>"#), "{run}");
    assert!(run.contains(r#"<a href="/symbols/AAPL">AAPL</a>"#), "per-symbol results");
    assert!(run.contains("/download\">download</a>"), "the export is linked");
    assert!(!run.contains("http-equiv"), "a finished run does not refresh");

    // A job whose run is held open: the page refreshes while it runs, a second trigger is refused.
    let held = post_form(&app, "/jobs/gate/trigger", &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(held.status, StatusCode::SEE_OTHER);
    let held_page = html(&get_with(&app, held.headers[header::LOCATION].to_str().unwrap(), &cookie).await);
    assert!(held_page.contains(r#"<meta http-equiv="refresh" content="3">"#), "{held_page}");
    let again = post_form(&app, "/jobs/gate/trigger", &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(html(&again).contains("already has an active run"));
    app.gate.add_permits(1);

    assert_eq!(app.get("/jobs/runs/999999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/jobs/runs/abc").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn exports_are_listed_made_from_the_form_downloaded_and_deleted() {
    let app = refreshed(&["AAPL", "MSFT"]).await;
    let anonymous = html(&app.get("/exports").await);
    assert!(anonymous.contains("/download\"") && !anonymous.contains("action=\"/exports\""), "{anonymous}");
    let cookie = sign_in(&app).await;
    let page = html(&get_with(&app, "/exports", &cookie).await);
    let csrf = csrf_of(&page);
    let before = app.storage.exports(100).await.unwrap().len();

    // Every field's error at once, with the values typed.
    let refused = post_form(
        &app,
        "/exports",
        &[
            ("csrf", &csrf),
            ("symbols", "AAPL, no way"),
            ("from", "2013-02-30"),
            ("to", "2013-01-01"),
            ("format", "pdf"),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = html(&refused);
    for expected in [r#"value="AAPL, no way""#, r#"value="2013-02-30""#, "A date like 2024-01-31.", "pdf"] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
    assert_eq!(app.storage.exports(100).await.unwrap().len(), before, "nothing written");

    let made = post_form(
        &app,
        "/exports",
        &[
            ("csrf", &csrf),
            ("symbols", "msft"),
            ("from", "2013-01-02"),
            ("to", "2013-01-31"),
            ("format", "csv"),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", String::from_utf8_lossy(&made.body));
    let newest = app.storage.exports(1).await.unwrap().remove(0);
    assert_eq!((newest.format.as_str(), newest.rows), ("csv", Some(21)), "{newest:?}");
    let page = html(&get_with(&app, "/exports", &cookie).await);
    let link = format!("/api/exports/{}/download", newest.id);
    assert!(page.contains(&link));
    let file = app.get(&link).await;
    assert_eq!(file.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&file.body).lines().skip(1).all(|line| line.contains("MSFT")));

    let deleted =
        post_form(&app, &format!("/exports/{}/delete", newest.id), &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(app.storage.export(newest.id).await.unwrap().is_none());
    let again =
        post_form(&app, &format!("/exports/{}/delete", newest.id), &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let forged = post_form(&app, "/exports/1/delete", &[("csrf", "00")], Some(&cookie)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_price_rule_made_on_the_alerts_page_fires_and_is_acknowledged_there() {
    let app = refreshed(&["AAPL"]).await;
    let cookie = sign_in(&app).await;
    let csrf = csrf_of(&html(&get_with(&app, "/alerts", &cookie).await));
    let add = |form: Vec<(&'static str, String)>| {
        let cookie = cookie.clone();
        let csrf = csrf.clone();
        let app = &app;
        async move {
            let mut fields: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
            fields.extend(form.iter().map(|(k, v)| (*k, v.as_str())));
            post_form(app, "/alerts/rules", &fields, Some(&cookie)).await
        }
    };

    let refused = add(vec![
        ("symbol", "ZZZZ".into()),
        ("level", "abc".into()),
        ("frequency", "every".into()),
        ("cooldown_minutes", "-5".into()),
    ])
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = html(&refused);
    for expected in ["ZZZZ has no stored prices", "A price above zero", "Whole minutes", r#"value="abc""#] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
    assert!(app.storage.alert_rules().await.unwrap().is_empty());

    let made = add(vec![
        ("symbol", "aapl".into()),
        ("direction", "above".into()),
        ("level", "1".into()),
        ("frequency", "once".into()),
    ])
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", String::from_utf8_lossy(&made.body));
    let duplicate =
        add(vec![("symbol", "AAPL".into()), ("direction", "above".into()), ("level", "1".into())]).await;
    assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&duplicate).contains("already watches this"));
    let rule = app.storage.alert_rules().await.unwrap().remove(0);

    // The next refresh evaluates it: the history shows the alert, unacknowledged.
    let accepted = app.authed(Method::POST, "/api/jobs/download-tracker/trigger", None).await.ok();
    app.wait_for_run(accepted["run_id"].as_i64().unwrap()).await;
    let alert = app.storage.alerts(None, None, 10).await.unwrap().remove(0);
    let page = html(&get_with(&app, "/alerts", &cookie).await);
    assert!(
        page.contains("price above 1") && page.contains(&format!(r#"action="/alerts/{}/ack""#, alert.id)),
        "{page}"
    );
    let ack = post_form(&app, &format!("/alerts/{}/ack", alert.id), &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(ack.status, StatusCode::SEE_OTHER);
    assert!(app.storage.alerts(None, None, 10).await.unwrap()[0].acknowledged_at.is_some());

    for (action, paused) in [("pause", true), ("resume", false)] {
        let changed = post_form(
            &app,
            &format!("/alerts/rules/{}/{action}", rule.id),
            &[("csrf", &csrf)],
            Some(&cookie),
        )
        .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER);
        assert_eq!(app.storage.alert_rule(rule.id).await.unwrap().unwrap().rule.paused, paused);
    }
    let deleted =
        post_form(&app, &format!("/alerts/rules/{}/delete", rule.id), &[("csrf", &csrf)], Some(&cookie))
            .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(app.storage.alert_rule(rule.id).await.unwrap().is_none());
    let gone =
        post_form(&app, &format!("/alerts/rules/{}/pause", rule.id), &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let anonymous = post_form(&app, "/alerts/rules", &[("symbol", "AAPL"), ("level", "2")], None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "to sign in first");
    assert!(app.storage.alert_rules().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_trending_page_ranks_mentions_over_the_chosen_window() {
    let app = TestApp::new().await;
    let empty = html(&app.get("/trending").await);
    assert!(empty.contains("No scan yet") && empty.contains("No mentions in this window."), "{empty}");
    app.store_mentions(&[
        ("p1", "alice", 30, 0.8, &["GME"]),
        ("p2", "bob", 60, 0.6, &["GME", "AMC"]),
        ("p3", "carol", 90, -0.7, &["AMC"]),
        ("p5", "erin", 120, 0.9, &["GME"]),
        ("p4", "dave", 60 * 24 * 3, 0.5, &["TSLA"]),
    ])
    .await;
    app.record_scan(domain::ScanStatus::Complete, 4, None).await;
    let day = html(&app.get("/trending").await);
    assert!(day.contains(r#"href="/symbols/GME""#) && day.contains(r#"href="/symbols/AMC""#), "{day}");
    assert!(!day.contains(r#"href="/symbols/TSLA""#), "three days ago is outside 24 hours");
    assert!(day.contains("r/stocks, r/wallstreetbets"));
    assert!(day.find("/symbols/GME").unwrap() < day.find("/symbols/AMC").unwrap(), "most mentioned first");
    let week = html(&app.get("/trending?window=7d").await);
    assert!(week.contains(r#"href="/symbols/TSLA""#));
    let bad = app.get("/trending?window=2y").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(html(&bad).contains("24h, 7d, 30d"));

    // Any text scored on the page as the scanner scores posts (a GET: nothing changes).
    let scored = html(
        &app.get("/trending?window=7d&text=bought%20spy%20puts%2C%20this%20is%20going%20to%20crash").await,
    );
    assert!(scored.contains("<strong>bearish</strong>"), "{scored}");
    assert!(scored.contains(r#"href="/symbols/SPY""#), "{scored}");
    let long = format!("/trending?text={}", "a".repeat(2_001));
    let refused = app.get(&long).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(html(&refused).contains("At most 2000 characters"));
}

#[tokio::test]
async fn the_providers_page_shows_each_providers_health() {
    let app = refreshed(&["AAPL"]).await;
    let page = html(&app.get("/providers").await);
    assert!(
        page.contains("<strong>sample</strong>") && page.contains(r#"class="text up">offline"#),
        "{page}"
    );
    assert!(page.contains("never shown here"));
}

#[tokio::test]
async fn run_analysis_from_the_symbol_page_and_read_the_note_there() {
    let app = refreshed(&["AAPL"]).await;
    let cookie = sign_in(&app).await;
    let page = html(&get_with(&app, "/symbols/AAPL", &cookie).await);
    assert!(page.contains("No note yet.") && page.contains(r#"action="/symbols/AAPL/analyze""#), "{page}");
    let csrf = csrf_of(&page);
    let started = post_form(&app, "/symbols/AAPL/analyze", &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER);
    let location = started.headers[header::LOCATION].to_str().unwrap().to_owned();
    let run_id: i64 = location.strip_prefix("/jobs/runs/").unwrap().parse().unwrap();
    let run = app.wait_for_run(run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let note = app.storage.research_notes(Some(&Symbol::parse("AAPL").unwrap()), 1).await.unwrap().remove(0);
    let run_page = html(&get_with(&app, &location, &cookie).await);
    assert!(run_page.contains(&format!(r#"href="/symbols/AAPL#note-{}""#, note.id)), "{run_page}");
    // The crew's steps, in words: each agent starts, asks the model, uses tools and finishes.
    assert!(run_page.contains("<h2>Crew steps</h2>") && run_page.contains("completed"), "{run_page}");
    for words in [
        "</strong> started “",
        "</strong> asked offline",
        "</strong> used get_quote(",
        "</strong> finished “",
    ] {
        assert!(run_page.contains(words), "{words}: {run_page}");
    }
    let page = html(&get_with(&app, "/symbols/AAPL", &cookie).await);
    assert!(page.contains(&format!(r#"id="note-{}""#, note.id)), "{page}");
    assert!(page.contains(&note.rating.to_string().to_uppercase()));
    let forged = post_form(&app, "/symbols/AAPL/analyze", &[("csrf", "00")], Some(&cookie)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn tokens_are_made_shown_once_used_and_revoked_from_settings() {
    let app = TestApp::new().await;
    let anonymous = app.get("/settings").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "settings need a sign-in even with public reads");
    assert_eq!(anonymous.headers[header::LOCATION], "/signin?next=/settings");
    let cookie = sign_in(&app).await;
    let page = html(&get_with(&app, "/settings", &cookie).await);
    assert!(page.contains("<td class=\"text\">tests</td>"), "the stored token is listed: {page}");
    let csrf = csrf_of(&page);

    let bad = post_form(&app, "/settings/tokens", &[("csrf", &csrf), ("name", "  ")], Some(&cookie)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let taken =
        post_form(&app, "/settings/tokens", &[("csrf", &csrf), ("name", "tests")], Some(&cookie)).await;
    assert!(html(&taken).contains("already has that name"));

    let made = post_form(&app, "/settings/tokens", &[("csrf", &csrf), ("name", "ci")], Some(&cookie)).await;
    assert_eq!(made.status, StatusCode::OK);
    let page = html(&made);
    let start = page.find("<code class=\"token\">").unwrap() + "<code class=\"token\">".len();
    let token = page[start..].split('<').next().unwrap().to_owned();
    assert!(token.starts_with(server::TOKEN_PREFIX), "{token}");
    assert!(!html(&get_with(&app, "/settings", &cookie).await).contains(&token), "shown once");
    let authed = |token: String| {
        let app = &app;
        async move {
            app.send(
                Request::post("/api/watchlist")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(r#"{"symbol":"IBM"}"#))
                    .unwrap(),
            )
            .await
            .status
        }
    };
    assert!(authed(token.clone()).await.is_success(), "the new token works on the API");

    let revoked =
        post_form(&app, "/settings/tokens/revoke", &[("csrf", &csrf), ("name", "ci")], Some(&cookie)).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(authed(token).await, StatusCode::FORBIDDEN, "revoked");
    assert!(html(&get_with(&app, "/settings", &cookie).await).contains("revoked "));
}

#[tokio::test]
async fn a_symbol_page_shows_its_reddit_mentions_and_the_rules_that_watch_it() {
    let app = refreshed(&["AAPL", "MSFT"]).await;
    app.store_mentions(&[
        ("p1", "alice", 30, 0.8, &["AAPL"]),
        ("p2", "bob", 60 * 30, -0.6, &["AAPL", "MSFT"]),
    ])
    .await;
    let rule = |symbol: Option<&str>, level: f64| storage::AlertRule {
        symbol: symbol.map(|s| Symbol::parse(s).unwrap()),
        name: None,
        rule: monitor::Rule {
            condition: monitor::Condition::Price { direction: monitor::Direction::Above, level },
            frequency: monitor::Frequency::Once,
            hysteresis: 0.0,
            expires_at: None,
            paused: false,
        },
        targets: Vec::new(),
    };
    app.storage.create_alert_rule(&rule(Some("AAPL"), 900.0)).await.unwrap();
    app.storage.create_alert_rule(&rule(Some("MSFT"), 901.0)).await.unwrap();
    app.storage.create_alert_rule(&rule(None, 902.0)).await.unwrap();
    let page = html(&app.get("/symbols/AAPL").await);
    assert_eq!(page.matches("<meter ").count(), 2, "two days with mentions: {page}");
    let posts = page.split("Latest Reddit posts").nth(1).expect("the posts that mention AAPL");
    let (newest, older) = (posts.find("post p1").unwrap(), posts.find("post p2").unwrap());
    assert!(newest < older, "newest first");
    assert!(page.contains("price above 900") && page.contains("price above 902 (every watched symbol)"));
    assert!(!page.contains("price above 901"), "MSFT's rule is not AAPL's");
}

#[tokio::test]
async fn revoking_a_token_ends_the_sessions_signed_in_with_it() {
    let app = TestApp::new().await;
    let cookie = sign_in(&app).await;
    let csrf = csrf_of(&html(&get_with(&app, "/settings", &cookie).await));
    let made =
        post_form(&app, "/settings/tokens", &[("csrf", &csrf), ("name", "laptop")], Some(&cookie)).await;
    let page = html(&made);
    let start = page.find("<code class=\"token\">").unwrap() + "<code class=\"token\">".len();
    let laptop_token = page[start..].split('<').next().unwrap().to_owned();
    let signed_in =
        post_form(&app, "/signin", &[("token", &laptop_token), ("next", "/settings")], None).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let laptop =
        signed_in.headers[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(get_with(&app, "/settings", &laptop).await.status, StatusCode::OK);

    let revoked =
        post_form(&app, "/settings/tokens/revoke", &[("csrf", &csrf), ("name", "laptop")], Some(&cookie))
            .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let after = get_with(&app, "/settings", &laptop).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the revoked token's session has ended");
    assert_eq!(after.headers[header::LOCATION], "/signin?next=/settings");
    assert_eq!(get_with(&app, "/settings", &cookie).await.status, StatusCode::OK, "other sessions go on");
}

#[tokio::test]
async fn a_configured_password_signs_in_and_changing_it_ends_its_sessions() {
    let password = "correct horse battery staple";
    let with_password = |password: &str| {
        let mut config = ServerConfig::default();
        config.auth.password = Some(server::ApiToken::new(password));
        config.auth.session_secret = Some(server::ApiToken::new("a shared session secret for both apps"));
        config
    };
    let app = TestApp::with_config(with_password(password)).await;
    let form = html(&app.get("/signin").await);
    assert!(form.contains("Password or API token"), "{form}");
    let wrong = post_form(&app, "/signin", &[("token", "correct horse battery"), ("next", "/")], None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(html(&wrong).contains("That password or token is not valid"));
    let right = post_form(&app, "/signin", &[("token", password), ("next", "/settings")], None).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert_eq!(right.headers[header::LOCATION], "/settings");
    let set_cookie = right.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(!set_cookie.contains("horse"), "the password is not the cookie: {set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    assert_eq!(get_with(&app, "/settings", &cookie).await.status, StatusCode::OK);
    // A config token signs in too, and its session is checked against the config.
    let by_config =
        post_form(&app, "/signin", &[("token", crate::helpers::CONFIG_TOKEN), ("next", "/")], None).await;
    assert_eq!(by_config.status, StatusCode::SEE_OTHER);

    // Another process with the same session secret but a new password: the old session is over.
    let changed = TestApp::with_config(with_password("a different password now")).await;
    let after = get_with(&changed, "/settings", &cookie).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the old password's session has ended");
    let same = TestApp::with_config(with_password(password)).await;
    assert_eq!(
        get_with(&same, "/settings", &cookie).await.status,
        StatusCode::OK,
        "same password, same secret"
    );
}

#[tokio::test]
async fn sign_in_attempts_are_throttled() {
    let app = TestApp::new().await;
    let statuses: Vec<StatusCode> = {
        let mut statuses = Vec::new();
        for _ in 0..25 {
            statuses
                .push(post_form(&app, "/signin", &[("token", "tw_guess"), ("next", "/")], None).await.status);
        }
        statuses
    };
    assert!(statuses[..20].iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let throttled = post_form(&app, "/signin", &[("token", &app.token), ("next", "/")], None).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS, "even the right token waits");
    assert!(html(&throttled).contains("wait a minute"));
}

#[tokio::test]
async fn rules_of_every_kind_are_made_and_edited_from_the_alerts_page() {
    let app = refreshed(&["AAPL"]).await;
    let cookie = sign_in(&app).await;
    let page = html(&get_with(&app, "/alerts", &cookie).await);
    let csrf = csrf_of(&page);
    let post = |uri: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let (app, cookie, csrf) = (&app, &cookie, &csrf);
        async move {
            let mut form = vec![("csrf", csrf.as_str())];
            form.extend(fields);
            post_form(app, uri, &form, Some(cookie)).await
        }
    };
    let made = post(
        "/alerts/rules",
        vec![
            ("symbol", "AAPL"),
            ("kind", "rsi"),
            ("direction", "below"),
            ("level", "30"),
            ("window", ""),
            ("name", "oversold"),
        ],
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", html(&made));
    let rules = app.storage.alert_rules().await.unwrap();
    let rule = rules.last().unwrap();
    assert_eq!(rule.rule.condition.describe(), "RSI(14) below 30", "the default period");
    assert_eq!(rule.name.as_deref(), Some("oversold"));

    // Every kind the form offers is accepted with sensible values.
    for (kind, level, window) in [
        ("change_percent", "5", "3"),
        ("gap", "2", ""),
        ("volume_spike", "2.5", "20"),
        ("cross", "", ""),
        ("new_extreme", "", ""),
        ("mention_spike", "3", ""),
        ("sentiment_shift", "0.3", ""),
        ("rating_change", "", ""),
    ] {
        let response = post(
            "/alerts/rules",
            vec![("symbol", "AAPL"), ("kind", kind), ("level", level), ("window", window)],
        )
        .await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{kind}: {}", html(&response));
    }
    assert_eq!(app.storage.alert_rules().await.unwrap().len(), 9);

    // Bad values come back with the field's error and what was typed.
    let bad = post("/alerts/rules", vec![("kind", "rsi"), ("level", "150"), ("window", "14")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&bad).contains("field-error"), "{}", html(&bad));
    let bad = post("/alerts/rules", vec![("kind", "volume_spike"), ("level", "2"), ("window", "two")]).await;
    assert!(html(&bad).contains("Whole days, like 14.") && html(&bad).contains(r#"value="two""#));
    let bad = post("/alerts/rules", vec![("kind", "astrology"), ("level", "2")]).await;
    assert!(html(&bad).contains("Choose one of price, change_percent"), "{}", html(&bad));

    // Edit the RSI rule into a price rule: the form shows its values, saving keeps its id.
    let edit = html(&get_with(&app, &format!("/alerts/rules/{}/edit", rule.id), &cookie).await);
    assert!(edit.contains(&format!(r#"action="/alerts/rules/{}""#, rule.id)), "{edit}");
    assert!(edit.contains(r#"<option value="rsi" selected>"#) && edit.contains(r#"value="oversold""#));
    let uri: &'static str = Box::leak(format!("/alerts/rules/{}", rule.id).into_boxed_str());
    let saved =
        post(uri, vec![("symbol", "AAPL"), ("kind", "price"), ("direction", "above"), ("level", "999")])
            .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", html(&saved));
    let edited = app.storage.alert_rule(rule.id).await.unwrap().unwrap();
    assert_eq!(edited.rule.condition.describe(), "price above 999");
    assert_eq!(edited.name, None, "the name was cleared");
    assert_eq!(app.get("/alerts/rules/999/edit").await.status, StatusCode::SEE_OTHER, "sign-in first");
    assert_eq!(get_with(&app, "/alerts/rules/999/edit", &cookie).await.status, StatusCode::NOT_FOUND);
}
