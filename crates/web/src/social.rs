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

/// A text scored on the page, as the scanner would score a post.
#[derive(Debug, Clone)]
pub struct ScoredText {
    pub text: String,
    /// `bullish`, `bearish` or `neutral`.
    pub sentiment: String,
    pub score: f64,
    /// Bullish, bearish, neutral.
    pub probabilities: [f64; 3],
    /// `(symbol, how it was mentioned, name)`.
    pub mentions: Vec<(String, String, Option<String>)>,
}

/// The scoring form: empty, with a text's result, or with an error about the text.
#[derive(Debug, Clone, Default)]
pub enum ScoreForm {
    #[default]
    Empty,
    Scored(ScoredText),
    Refused {
        text: String,
        message: String,
    },
}

/// Characters at most in a text scored on the page (it travels in the URL).
pub const SCORE_MAX_CHARS: usize = 2_000;

fn score_section(form: &ScoreForm, window: &str) -> Markup {
    let typed = match form {
        ScoreForm::Empty => "",
        ScoreForm::Scored(scored) => scored.text.as_str(),
        ScoreForm::Refused { text, .. } => text.as_str(),
    };
    html! {
        h2 #score { "Score a text" }
        form.panel.score-form method="get" action="/trending#score" {
            input type="hidden" name="window" value=(window);
            div.field {
                label for="score-text" { "A post, comment or headline: the tickers it mentions and its sentiment, as the scanner would score it" }
                textarea #score-text name="text" rows="3" maxlength=(SCORE_MAX_CHARS)
                    aria-invalid=[matches!(form, ScoreForm::Refused { .. }).then_some("true")] { (typed) }
                @if let ScoreForm::Refused { message, .. } = form { p.field-error { (message) } }
            }
            div.field { button type="submit" { "Score" } }
        }
        @if let ScoreForm::Scored(scored) = form {
            div.panel.table-wrap {
                table.score {
                    thead { tr {
                        th scope="col" class="text" { "Sentiment" } th scope="col" { "Score" }
                        th scope="col" class="hide-narrow" { "Bullish" } th scope="col" class="hide-narrow" { "Bearish" }
                        th scope="col" class="hide-narrow" { "Neutral" } th scope="col" class="text" { "Tickers" }
                    } }
                    tbody { tr {
                        td class=(format!("text {}", change_class(Some(scored.score)))) { strong { (scored.sentiment) } }
                        td { (format!("{:+.2}", scored.score)) }
                        @for p in scored.probabilities { td class="hide-narrow" { (format!("{p:.2}")) } }
                        td.text {
                            @if scored.mentions.is_empty() { span.muted { "none" } }
                            @for (i, (symbol, kind, name)) in scored.mentions.iter().enumerate() {
                                @if i > 0 { ", " }
                                a href=(format!("/symbols/{}", symbol.replace('^', "%5E"))) { (symbol) }
                                " " span.muted { "(" (kind) @if let Some(name) = name { ", " (name) } ")" }
                            }
                        }
                    } }
                }
            }
        }
    }
}

/// The windows offered, as `(query value, label)`.
pub const TRENDING_WINDOWS: [(&str, &str); 3] = [("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days")];

/// The trending page over `window` (one of [`TRENDING_WINDOWS`]).
pub fn trending_page(
    rows: &[TrendingEntry],
    window: &str,
    scan: Option<&ScanSummary>,
    score: &ScoreForm,
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
        (score_section(score, window))
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
        let html = trending_page(&rows, "7d", None, &ScoreForm::Empty, &Viewer::default()).into_string();
        assert!(
            html.contains(r#"href="/symbols/GME""#)
                && html.contains("+0.35")
                && html.contains(r#"class="warn">4.2"#)
        );
        assert!(html.contains(r#"href="/trending?window=7d" aria-current="true""#));
        assert!(html.contains("No scan yet"));
        let scored = ScoreForm::Scored(ScoredText {
            text: "<b>$GME</b> calls".to_owned(),
            sentiment: "bullish".to_owned(),
            score: 0.8,
            probabilities: [0.85, 0.1, 0.05],
            mentions: vec![("GME".to_owned(), "cashtag".to_owned(), Some("GameStop Corp.".to_owned()))],
        });
        let html = trending_page(&rows, "7d", None, &scored, &Viewer::default()).into_string();
        assert!(html.contains("&lt;b&gt;$GME&lt;/b&gt; calls</textarea>"), "{html}");
        assert!(html.contains("<strong>bullish</strong>") && html.contains("(cashtag, GameStop Corp.)"));
        assert!(html.contains(r#"name="window" value="7d""#));
        let refused = ScoreForm::Refused { text: "x".to_owned(), message: "Too long.".to_owned() };
        let html = trending_page(&rows, "7d", None, &refused, &Viewer::default()).into_string();
        assert!(html.contains(r#"aria-invalid="true""#) && html.contains("Too long."));
    }
}
