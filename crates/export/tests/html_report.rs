//! The `html` export end to end, through the public API: a SQLite file in a temporary directory,
//! `export_to_file`, then checks on the page a browser would open. The renderer's details (chart
//! geometry, number formats) are unit-tested in `src/html.rs` and `src/chart.rs`.

use std::fs;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use domain::{Bar, Interval, ProviderId, Symbol};
use export::{ExportFormat, ExportRequest, export_to_file};
use storage::{DatabaseConfig, Storage};
use tempfile::TempDir;

const HOSTILE_FLAG: &str = "<script>alert(\"x\")</script> see http://evil.example/x";

async fn storage(dir: &TempDir) -> Storage {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let config =
        DatabaseConfig { max_connections: Some(4), acquire_timeout_secs: 10, ..DatabaseConfig::default() };
    let storage = Storage::connect(&url, &config).await.expect("connect");
    storage.migrate().await.expect("migrate");
    storage
}

fn symbol(text: &str) -> Symbol {
    Symbol::parse(text).expect("valid symbol")
}

/// `count` weekday bars from 2014-01-06, drifting and wiggling so there are up and down days.
fn weekday_bars(count: usize, base: f64, provider: ProviderId) -> Vec<Bar> {
    let mut day: DateTime<Utc> = Utc.with_ymd_and_hms(2014, 1, 6, 0, 0, 0).single().expect("valid date");
    let mut bars = Vec::with_capacity(count);
    for index in 0..count {
        while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            day += Duration::days(1);
        }
        let x = index as f64;
        let close = base + 8.0 * (x / 9.0).sin() + x * 0.02;
        let open = close + if index % 3 == 0 { 0.8 } else { -0.6 };
        bars.push(Bar {
            ts: day,
            open: Some(open),
            high: Some(open.max(close) + 1.0),
            low: Some(open.min(close) - 1.0),
            close: Some(close),
            adj_close: Some(close),
            volume: Some(1_000_000 + (x * 10.0) as i64),
            provider,
            partial: false,
            flag: None,
        });
        day += Duration::days(1);
    }
    bars
}

async fn export_html(storage: &Storage, dir: &TempDir, symbols: &[Symbol]) -> String {
    let request = ExportRequest {
        symbols: symbols.to_vec(),
        interval: Interval::Day1,
        from: None,
        to: None,
        format: ExportFormat::Html,
        notes: Vec::new(),
    };
    let destination = dir.path().join("report.html");
    export_to_file(storage, &request, &destination, None).await.expect("html export");
    fs::read_to_string(&destination).expect("report file")
}

#[tokio::test]
async fn report_is_self_contained_with_a_section_per_symbol() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = storage(&dir).await;
    let mut aapl = weekday_bars(300, 150.0, ProviderId::Yahoo);
    aapl[120].flag = Some(HOSTILE_FLAG.to_owned());
    aapl[7].open = None; // Not drawn, and no reason to fail.
    storage
        .upsert_bars(&symbol("AAPL"), Interval::Day1, &aapl, &Default::default())
        .await
        .expect("store AAPL");
    // Two providers for the same days, 3 % apart: Yahoo's bars stay, the differences are
    // disagreements.
    for (provider, base) in [(ProviderId::Yahoo, 300.0), (ProviderId::Sample, 309.0)] {
        storage
            .upsert_bars(
                &symbol("MSFT"),
                Interval::Day1,
                &weekday_bars(90, base, provider),
                &Default::default(),
            )
            .await
            .expect("store MSFT");
    }
    // IBM is requested but has no stored bars.
    let symbols = [symbol("AAPL"), symbol("MSFT"), symbol("IBM")];
    let html = export_html(&storage, &dir, &symbols).await;

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    for forbidden in
        ["src=\"http", "href=\"http", "@import", "url(http", "<script", "<link", "<img", "xmlns=\"http"]
    {
        assert!(!html.contains(forbidden), "found {forbidden:?}");
    }
    // The hostile flag is shown as text, not markup.
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; see http://evil.example/x"));

    assert_eq!(html.matches("<section class=\"symbol card\"").count(), 3);
    for (anchor, name) in [("s1-AAPL", "AAPL"), ("s2-MSFT", "MSFT"), ("s3-IBM", "IBM")] {
        assert!(html.contains(&format!("id=\"{anchor}\"")), "{anchor}");
        assert!(html.contains(&format!("<a href=\"#{anchor}\">{name}</a>")), "contents link to {anchor}");
    }
    // Price and RSI charts for the two symbols with bars, none for IBM.
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 4);
    assert!(html.contains("width=\"100%\""));
    assert!(html.contains("No bars are stored for this symbol"));
    // Providers per symbol in the footer.
    assert!(html.contains("<td>yahoo</td>"));
    assert!(
        !html.contains("<td>yahoo, sample</td>") && !html.contains("<td>sample, yahoo</td>"),
        "one bar per day"
    );
    // 90 days, four prices each beyond the tolerance.
    assert!(
        html.contains("<th scope=\"row\">Provider disagreements</th><td class=\"num\">360</td>"),
        "disagreements shown"
    );
}

#[tokio::test]
async fn ten_years_of_daily_bars_become_weekly_candles() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = storage(&dir).await;
    storage
        .upsert_bars(
            &symbol("SPY"),
            Interval::Day1,
            &weekday_bars(2_520, 200.0, ProviderId::Sample),
            &Default::default(),
        )
        .await
        .expect("store SPY");
    let html = export_html(&storage, &dir, &[symbol("SPY")]).await;
    assert!(html.contains("2,520 bars are shown as"));
    assert!(html.contains("weekly candles"));
    assert!(html.len() < 1_500_000, "report is {} bytes", html.len());
}

#[tokio::test]
async fn report_shows_stored_profiles_and_latest_headlines_escaped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = storage(&dir).await;
    for text in ["AAPL", "MSFT"] {
        storage
            .upsert_bars(
                &symbol(text),
                Interval::Day1,
                &weekday_bars(40, 100.0, ProviderId::Sample),
                &Default::default(),
            )
            .await
            .expect("store bars");
    }
    let profile = domain::CompanyProfile {
        symbol: Some(symbol("AAPL")),
        name: Some("Apple Inc.".to_owned()),
        sector: Some("Technology".to_owned()),
        industry: Some("Consumer <electronics>".to_owned()),
        market_cap: Some(3.1e12),
        provider: Some(ProviderId::Finnhub),
        ..domain::CompanyProfile::default()
    };
    storage.save_profile(&profile).await.expect("store profile");
    let news: Vec<domain::NewsItem> = (0..7)
        .map(|n| domain::NewsItem {
            symbol: symbol("AAPL"),
            headline: format!("Headline {n} <b>bold</b>"),
            url: format!("https://news.example/{n}"),
            source: Some("Wire".to_owned()),
            summary: None,
            published_at: Utc.with_ymd_and_hms(2014, 3, 1 + n, 12, 0, 0).single().expect("valid"),
            sentiment: None,
            provider: ProviderId::Finnhub,
        })
        .collect();
    storage.save_news(&news).await.expect("store news");

    let html = export_html(&storage, &dir, &[symbol("AAPL"), symbol("MSFT")]).await;

    assert!(html.contains("<strong>Apple Inc.</strong>"), "profile name");
    assert!(html.contains("Sector: Technology · Industry: Consumer &lt;electronics&gt; · Market cap: 3.10T"));
    assert_eq!(html.matches("<h3>Latest headlines</h3>").count(), 1, "MSFT has none");
    assert!(html.contains("Headline 6 &lt;b&gt;bold&lt;/b&gt;"), "newest first, escaped");
    assert!(!html.contains("Headline 1 "), "only the latest {} headlines", export::REPORT_HEADLINES);
    assert!(!html.contains("<b>bold</b>"));
}
