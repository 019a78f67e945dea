//! The trending page: which symbols Reddit talks about, how much, and in what mood.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::format::change_class;
use crate::layout::{Nav, Viewer, document};

/// One symbol's mentions over the window.
#[derive(Debug, Clone)]
pub struct TrendingEntry {
    pub symbol: String,
    pub mentions: u64,
    pub unique_authors: u64,
    /// Mean sentiment in `[-1, 1]`.
    pub mean_sentiment: f64,
    pub bullish: u64,
    pub bearish: u64,
    /// Current hour against the week before (z-score).
    pub spike_score: f64,
}

/// The latest scan, to say how fresh the table is.
#[derive(Debug, Clone)]
pub struct ScanSummary {
    pub finished_at: DateTime<Utc>,
    /// `reddit` or `sample`.
    pub source: String,
    pub subreddits: Vec<String>,
    pub posts_read: u64,
    pub status: String,
}

/// The windows offered, as `(query value, label)`.
pub const TRENDING_WINDOWS: [(&str, &str); 3] = [("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days")];

/// The trending page over `window` (one of [`TRENDING_WINDOWS`]).
pub fn trending_page(
    rows: &[TrendingEntry],
    window: &str,
    scan: Option<&ScanSummary>,
    viewer: &Viewer,
) -> Markup {
    let body = html! {
        h1 { "Trending on Reddit" }
        nav.ranges aria-label="Window" {
            @for (value, label) in TRENDING_WINDOWS {
                a href=(format!("/trending?window={value}")) aria-current=[(value == window).then_some("true")] { (label) }
            }
        }
        @if let Some(scan) = scan {
            p.muted {
                "Last scan " (scan.finished_at.format("%Y-%m-%d %H:%M UTC")) " (" (scan.status) "): "
                (scan.posts_read) " posts from " (scan.source)
                @if !scan.subreddits.is_empty() { ", r/" (scan.subreddits.join(", r/")) }
                "."
            }
        } @else {
            p.muted { "No scan yet: run the reddit-scan job (or " code { "tickerwatch scan" } ")." }
        }
        @if rows.is_empty() { p.muted { "No mentions in this window." } } @else {
            div.panel.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Symbol" } th scope="col" { "Mentions" } th scope="col" class="hide-narrow" { "Authors" }
                        th scope="col" { "Sentiment" } th scope="col" class="hide-narrow" { "Bullish" } th scope="col" class="hide-narrow" { "Bearish" }
                        th scope="col" { "Spike" }
                    } }
                    tbody {
                        @for row in rows {
                            tr {
                                td { a href=(format!("/symbols/{}", row.symbol.replace('^', "%5E"))) { strong { (row.symbol) } } }
                                td { (row.mentions) }
                                td class="hide-narrow" { (row.unique_authors) }
                                td class=(change_class(Some(row.mean_sentiment))) { (format!("{:+.2}", row.mean_sentiment)) }
                                td class="hide-narrow up" { (row.bullish) }
                                td class="hide-narrow down" { (row.bearish) }
                                td class=(if row.spike_score >= 3.0 { "warn" } else { "" }) { (format!("{:.1}", row.spike_score)) }
                            }
                        }
                    }
                }
            }
            p.muted { "Spike: this hour's mentions against the week before, in standard deviations." }
        }
    };
    document("Trending", Nav::Trending, viewer, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_link_to_symbols_and_the_window_is_marked() {
        let rows = [TrendingEntry {
            symbol: "GME".to_owned(),
            mentions: 42,
            unique_authors: 30,
            mean_sentiment: 0.35,
            bullish: 20,
            bearish: 5,
            spike_score: 4.2,
        }];
        let html = trending_page(&rows, "7d", None, &Viewer::default()).into_string();
        assert!(
            html.contains(r#"href="/symbols/GME""#)
                && html.contains("+0.35")
                && html.contains(r#"class="warn">4.2"#)
        );
        assert!(html.contains(r#"href="/trending?window=7d" aria-current="true""#));
        assert!(html.contains("No scan yet"));
    }
}
