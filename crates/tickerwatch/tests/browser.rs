//! The web UI in a real browser: headless Chromium driven through chromedriver (both from the
//! system: Debian's `chromium` and `chromium-driver`, which `.ci/run` installs), against the
//! real server on the offline sample data. A person's path through it: sign in, the dashboard,
//! a symbol's chart and its range, triggering the download-tracker and watching the run finish,
//! downloading its export, running the analysis crew and reading its note, an alert rule that
//! fires and shows up live in the open alerts page,
//! signing out — with no console error on any page. Screenshots of every page, light and dark, go to `$CARGO_TARGET_TMPDIR/screenshots`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use domain::{ProviderId, Symbol};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tickerwatch::config::Config;
use tickerwatch::startup::Application;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
            "the browser tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}); \
             .ci/run installs them: apt-get install chromium chromium-driver"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let ready = test_support::wait_for(Duration::from_secs(20), || async {
            let status = reqwest::get(format!("{url}/status")).await.ok()?;
            status.status().is_success().then_some(())
        })
        .await;
        assert!(ready.is_some(), "chromedriver did not start");
        Self { child, url }
    }

    /// A headless browser session; `dark` makes the pages see `prefers-color-scheme: dark`.
    async fn browser(&self, dark: bool) -> Client {
        self.browser_sized(dark, "1280,1000").await
    }

    /// A headless browser session with a window of `size` ("width,height" in CSS pixels).
    async fn browser_sized(&self, dark: bool, size: &str) -> Client {
        let window = format!("--window-size={size}");
        let mut args = vec!["--headless=new", "--no-sandbox", "--disable-gpu", window.as_str()];
        if dark {
            args.push("--force-dark-mode");
        }
        let capabilities = json!({
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver's browser log (console messages, failed loads, CSP violations) since the last
/// call: not part of W3C WebDriver, so sent as a custom command.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// Fails on any console error or warning the page produced.
async fn assert_quiet_console(browser: &Client, page: &str) {
    let log = browser.issue_cmd(BrowserLog).await.expect("browser log");
    let noisy: Vec<&Value> = log
        .as_array()
        .map(|entries| entries.iter().filter(|e| e["level"] != "INFO" && e["level"] != "DEBUG").collect())
        .unwrap_or_default();
    assert!(noisy.is_empty(), "{page}: console messages {noisy:?}");
}

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

/// Waits (reloads come from the page's own refresh) until `selector` has `text` in it.
async fn wait_for_text(browser: &Client, selector: &str, texts: &[&str], within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(element) = browser.find(Locator::Css(selector)).await
            && let Ok(found) = element.text().await
            && texts.iter().any(|t| found.contains(t))
        {
            return found;
        }
        assert!(Instant::now() < deadline, "{selector} never showed any of {texts:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Queues a download-tracker run as another client would (the API, with the token): the id.
async fn trigger_through_the_api(base: &str, token: &str) -> i64 {
    let accepted: Value = reqwest::Client::new()
        .post(format!("{base}/api/jobs/download-tracker/trigger"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    accepted["run_id"].as_i64().unwrap_or_else(|| panic!("not accepted: {accepted}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uses_the_web_ui_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("ui.db").display());
    config.exports.dir = dir.path().join("exports");
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    let token = server::generate_token();
    config.server.auth.tokens = vec![server::ApiToken::new(token.clone())];
    config.providers.order = vec![ProviderId::Sample];
    // The analysis crew talks to a mock OpenAI-compatible server that takes 400 ms per answer,
    // so its steps can be watched arriving on the run page.
    let model = test_support::llm::MockChatServer::builder()
        .answer_delay(Duration::from_millis(400))
        .start()
        .await
        .unwrap();
    config.analysis.llm.provider = llm::LlmProvider::Openai;
    model.uri().clone_into(&mut config.analysis.llm.base_url);
    config.analysis.llm.api_key = Some(llm::ApiKey::new("sk-test-0123456789abcdef"));
    let application = Application::build(config).await.unwrap();
    for symbol in ["AAPL", "MSFT"] {
        application.storage().add_to_watchlist(&Symbol::parse(symbol).unwrap()).await.unwrap();
    }
    let storage = application.storage().clone();
    let base = format!("http://{}", application.local_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(application.run_until_stopped(async {
        let _ = stop_rx.await;
    }));

    let driver = Driver::start().await;
    let browser = driver.browser(false).await;

    // Sign in: the form takes the token and comes back to the dashboard.
    browser.goto(&format!("{base}/signin")).await.unwrap();
    screenshot(&browser, "signin-light").await;
    browser.find(Locator::Css("#token")).await.unwrap().send_keys(&token).await.unwrap();
    browser.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "h1", &["Watchlist"], Duration::from_secs(10)).await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/");
    assert!(
        browser
            .find(Locator::Css(".session button"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("Sign out")
    );

    // Trigger the download-tracker from the jobs page; its run page refreshes itself until done.
    browser.goto(&format!("{base}/jobs")).await.unwrap();
    browser
        .find(Locator::Css(r#"form[action="/jobs/download-tracker/trigger"] button"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status = wait_for_text(
        &browser,
        "dl.facts div:first-child dd",
        &["succeeded", "partial", "failed"],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(status, "succeeded");
    assert!(browser.current_url().await.unwrap().path().starts_with("/jobs/runs/"));
    screenshot(&browser, "run-light").await;

    // On the jobs page, a run triggered elsewhere (the API) appears in the runs table and
    // finishes there, with no reload of the page.
    let run_url = browser.current_url().await.unwrap();
    browser.goto(&format!("{base}/jobs")).await.unwrap();
    browser.execute("window.stillTheSamePage = true", vec![]).await.unwrap();
    let new_run = trigger_through_the_api(&base, &token).await;
    let selector = format!(r#"tr[data-run-id="{new_run}"] [data-field="status"]"#);
    let status =
        wait_for_text(&browser, &selector, &["succeeded", "partial", "failed"], Duration::from_secs(60))
            .await;
    assert_eq!(status, "succeeded");
    let same = browser.execute("return window.stillTheSamePage === true", vec![]).await.unwrap();
    assert_eq!(same, Value::Bool(true), "the page was not reloaded");
    browser.goto(run_url.as_str()).await.unwrap();

    // Its export downloads with the checksum the exports page lists.
    let link =
        browser.find(Locator::LinkText("download")).await.unwrap().attr("href").await.unwrap().unwrap();
    let export_id: i64 =
        link.trim_start_matches("/api/exports/").trim_end_matches("/download").parse().unwrap();
    let file = reqwest::get(format!("{base}{link}")).await.unwrap().bytes().await.unwrap();
    let listed = storage.export(export_id).await.unwrap().unwrap().sha256.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&file)), listed);
    browser.goto(&format!("{base}/exports")).await.unwrap();
    let shown = browser.find(Locator::Css("td code")).await.unwrap().attr("title").await.unwrap().unwrap();
    assert!(!shown.is_empty());
    screenshot(&browser, "exports-light").await;

    // The dashboard now has prices and sparklines.
    browser.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(browser.find_all(Locator::Css("svg.spark")).await.unwrap().len(), 2);
    screenshot(&browser, "dashboard-light").await;

    // A symbol's chart has candles; a shorter range has fewer.
    browser.find(Locator::LinkText("AAPL")).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "h1", &["AAPL"], Duration::from_secs(10)).await;
    let year = browser.find_all(Locator::Css("svg.chart rect")).await.unwrap().len();
    assert!(year > 200, "{year} rectangles in a year's chart");
    screenshot(&browser, "symbol-light").await;
    browser.find(Locator::LinkText("1M")).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, ".ranges a[aria-current]", &["1M"], Duration::from_secs(10)).await;
    let month = browser.find_all(Locator::Css("svg.chart rect")).await.unwrap().len();
    assert!(month < year / 4, "a month's chart ({month}) is not smaller than a year's ({year})");
    assert!(browser.current_url().await.unwrap().query().unwrap_or("").contains("range=1m"));

    // Pointing at the chart draws the crosshair and reads the candle's values above it: the
    // left edge shows an earlier session than the right, each one of the chart's own dates.
    let chart = browser.find(Locator::Css("svg[data-candles]")).await.unwrap();
    let dates: Vec<String> = chart
        .attr("data-candles")
        .await
        .unwrap()
        .expect("the chart carries its candles")
        .split(';')
        .map(|row| row.split(',').nth(1).unwrap().to_owned())
        .collect();
    let width = chart.rectangle().await.unwrap().2;
    let mut hovered = Vec::new();
    for offset in [-0.45, 0.42] {
        let pointer = MouseActions::new("mouse".to_owned()).then(PointerAction::MoveToElement {
            element: chart.clone(),
            duration: None,
            x: width * offset,
            y: -20.0,
        });
        browser.perform_actions(pointer).await.unwrap();
        let readout = wait_for_text(&browser, ".chart-readout", &["O ", "Vol"], Duration::from_secs(5)).await;
        let date = readout.split(' ').next().unwrap().to_owned();
        assert!(dates.contains(&date) && readout.contains(" C "), "{readout}");
        hovered.push(date);
    }
    assert!(hovered[0] < hovered[1], "left is earlier: {hovered:?}");
    let crosshair = browser.find(Locator::Css("svg[data-candles] line.crosshair")).await.unwrap();
    assert_eq!(crosshair.attr("visibility").await.unwrap().as_deref(), Some("visible"));
    screenshot(&browser, "symbol-crosshair-light").await;

    // Run the analysis crew from the symbol page; its run page leads to the note it wrote.
    browser
        .find(Locator::Css(r#"form[action="/symbols/AAPL/analyze"] button"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The crew's steps appear on the open run page while it runs, without a reload (the page
    // fetches itself and swaps the content in: a marker set on the old content survives).
    wait_for_text(&browser, "ol.steps", &["asked"], Duration::from_secs(30)).await;
    browser.execute("document.body.dataset.marker = 'same page'", vec![]).await.unwrap();
    let mut step_counts = Vec::new();
    let started = Instant::now();
    loop {
        // Read in one script: the content may be swapped between two WebDriver calls.
        let seen = browser
            .execute(
                "return [document.querySelector('dl.facts div:first-child dd').textContent.trim(), \
                 document.querySelectorAll('ol.steps li').length]",
                vec![],
            )
            .await
            .unwrap();
        let status = seen[0].as_str().unwrap().to_owned();
        let steps = seen[1].as_u64().unwrap();
        if status != "running" {
            assert_eq!(status, "succeeded");
            break;
        }
        if step_counts.last() != Some(&steps) {
            step_counts.push(steps);
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the analysis did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(step_counts.len() >= 2, "steps arrived one after another while running: {step_counts:?}");
    let marker = browser.execute("return document.body.dataset.marker || ''", vec![]).await.unwrap();
    assert_eq!(marker, "same page", "no reload");
    screenshot(&browser, "run-crew-light").await;
    browser.find(Locator::LinkText("read the note")).await.unwrap().click().await.unwrap();
    let note = wait_for_text(&browser, "article.note", &["confidence"], Duration::from_secs(10)).await;
    assert!(["BUY", "HOLD", "SELL"].iter().any(|rating| note.contains(rating)), "{note}");
    screenshot(&browser, "symbol-note-light").await;

    // An alert rule made on the alerts page fires on the next refresh and shows in the history.
    browser.goto(&format!("{base}/alerts")).await.unwrap();
    browser.find(Locator::Css("#rule-symbol")).await.unwrap().send_keys("AAPL").await.unwrap();
    browser.find(Locator::Css("#rule-level")).await.unwrap().send_keys("1").await.unwrap();
    browser
        .find(Locator::Css(r#"form[action="/alerts/rules"] button"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&browser, "table", &["price above 1"], Duration::from_secs(10)).await;
    // With the alerts page open, a refresh triggered elsewhere (the API) fires the rule: the alert
    // appears in the history live, with no reload.
    trigger_through_the_api(&base, &token).await;
    let live =
        wait_for_text(&browser, "table[data-live-alerts] tbody", &["price above 1"], Duration::from_secs(60))
            .await;
    assert!(live.contains("AAPL"), "{live}");
    assert_eq!(browser.current_url().await.unwrap().path(), "/alerts", "no navigation happened");
    assert_eq!(
        browser.find_all(Locator::Css("tr.fresh")).await.unwrap().len(),
        1,
        "added by the live script"
    );
    screenshot(&browser, "alerts-live-light").await;
    browser.refresh().await.unwrap();
    let history = browser.source().await.unwrap();
    assert!(history.contains("/ack\""), "an unacknowledged alert with its form");
    screenshot(&browser, "alerts-light").await;
    for (name, path) in
        [("jobs", "/jobs"), ("trending", "/trending"), ("providers", "/providers"), ("settings", "/settings")]
    {
        browser.goto(&format!("{base}{path}")).await.unwrap();
        screenshot(&browser, &format!("{name}-light")).await;
    }

    // No page logged an error.
    for path in [
        "/",
        "/symbols/AAPL",
        "/jobs",
        "/exports",
        "/alerts",
        "/trending",
        "/providers",
        "/settings",
        "/signin",
    ] {
        browser.goto(&format!("{base}{path}")).await.unwrap();
        assert_quiet_console(&browser, path).await;
    }

    // A form posted without its CSRF token is refused, even with the browser's session cookie.
    let cookie = browser.get_named_cookie("tw_session").await.unwrap();
    let forged = reqwest::Client::new()
        .post(format!("{base}/watchlist"))
        .header("cookie", format!("tw_session={}", cookie.value()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("symbol=IBM")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), reqwest::StatusCode::FORBIDDEN);
    assert!(!storage.is_known_symbol(&Symbol::parse("IBM").unwrap()).await.unwrap());

    // Signing out ends the session.
    browser.goto(&format!("{base}/")).await.unwrap();
    browser.find(Locator::Css(".session button")).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, ".session", &["Sign in"], Duration::from_secs(10)).await;
    assert!(browser.get_named_cookie("tw_session").await.is_err(), "the cookie is gone");
    browser.close().await.unwrap();

    // Dark mode: the same pages, the browser preferring dark.
    let dark = driver.browser(true).await;
    for (name, path) in [
        ("dashboard", "/"),
        ("symbol", "/symbols/AAPL"),
        ("jobs", "/jobs"),
        ("exports", "/exports"),
        ("alerts", "/alerts"),
        ("trending", "/trending"),
        ("providers", "/providers"),
        ("signin", "/signin"),
    ] {
        dark.goto(&format!("{base}{path}")).await.unwrap();
        let prefers_dark =
            dark.execute("return matchMedia('(prefers-color-scheme: dark)').matches", vec![]).await.unwrap();
        assert_eq!(prefers_dark, Value::Bool(true));
        let background =
            dark.execute("return getComputedStyle(document.body).backgroundColor", vec![]).await.unwrap();
        assert_eq!(background, "rgb(11, 17, 32)", "{path}: the dark theme's background");
        screenshot(&dark, &format!("{name}-dark")).await;
        assert_quiet_console(&dark, path).await;
    }
    dark.close().await.unwrap();

    // On a phone-sized screen nothing is wider than the screen: wide tables scroll inside their
    // panel, charts shrink, the navigation wraps.
    let phone = driver.browser_sized(false, "390,844").await;
    for (name, path) in
        [("dashboard", "/"), ("symbol", "/symbols/AAPL"), ("jobs", "/jobs"), ("alerts", "/alerts")]
    {
        phone.goto(&format!("{base}{path}")).await.unwrap();
        let overflow = phone
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                vec![],
            )
            .await
            .unwrap();
        let widest = phone
            .execute(
                "const w = document.documentElement.clientWidth; return Array.from(document.querySelectorAll('body *')) \
                 .filter(e => e.getBoundingClientRect().right > w + 1).slice(0, 5) \
                 .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{path} is {overflow} px wider than a phone's screen: {widest}"
        );
        screenshot(&phone, &format!("{name}-phone")).await;
    }
    phone.close().await.unwrap();

    // Server-side time of each page's HTML on sample data (printed, not asserted: a figure).
    let client = reqwest::Client::new();
    for path in [
        "/",
        "/symbols/AAPL",
        "/symbols/AAPL?range=max",
        "/jobs",
        "/exports",
        "/alerts",
        "/trending",
        "/providers",
    ] {
        let mut times = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            let response = client.get(format!("{base}{path}")).send().await.unwrap();
            assert!(response.status().is_success());
            response.bytes().await.unwrap();
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "page {path}: median {:.1} ms, slowest {:.1} ms (debug build)",
            times[5].as_secs_f64() * 1e3,
            times[9].as_secs_f64() * 1e3
        );
    }
    println!("screenshots: {}", screenshots_dir().display());

    let _ = stop_tx.send(());
    serving.await.unwrap().unwrap();
}
