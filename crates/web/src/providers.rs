//! The providers page: each market-data provider's health and what is left of its budgets.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::layout::{Nav, Viewer, document};

/// One provider, as `GET /api/providers` reports it (keys never included).
#[derive(Debug, Clone, Default)]
pub struct ProviderRow {
    pub provider: String,
    /// `ok`, `not configured`, `backing off`, `budget spent`, `failing`, `unused`, `offline`.
    pub status: String,
    pub in_chain: bool,
    pub last_success: Option<DateTime<Utc>>,
    /// When and why it last failed (already redacted).
    pub last_error: Option<(DateTime<Utc>, String)>,
    pub requests_today: u64,
    pub per_day: Option<u32>,
    pub day_left: Option<u64>,
    pub per_minute: Option<u32>,
    pub minute_left: Option<u32>,
    pub backing_off_until: Option<DateTime<Utc>>,
}

fn status_class(status: &str) -> &'static str {
    match status {
        "ok" | "offline" => "text up",
        "failing" | "budget spent" => "text down",
        "backing off" => "text warn",
        _ => "text muted",
    }
}

fn left(left: Option<impl std::fmt::Display>, of: Option<u32>) -> String {
    match (left, of) {
        (Some(left), Some(of)) => format!("{left} / {of}"),
        _ => "no limit".to_owned(),
    }
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), |at| at.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// The providers page.
pub fn providers_page(rows: &[ProviderRow], viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "Providers" }
        p.muted { "Keys live in the config file and are never shown here. Counts are today's (UTC), from every process on this database." }
        div.panel.table-wrap {
            table {
                thead { tr {
                    th scope="col" class="text" { "Provider" } th scope="col" class="text" { "Status" }
                    th scope="col" { "Requests today" } th scope="col" { "Left today" } th scope="col" { "Left this minute" }
                    th scope="col" class="hide-narrow" { "Last success (UTC)" } th scope="col" class="text" { "Last error" }
                } }
                tbody {
                    @for row in rows {
                        tr {
                            td.text { strong { (row.provider) } @if !row.in_chain { br; span.muted { "not in providers.order" } } }
                            td class=(status_class(&row.status)) {
                                (row.status)
                                @if let Some(until) = row.backing_off_until { br; span.muted { "until " (until.format("%H:%M:%S")) } }
                            }
                            td { (row.requests_today) }
                            td { (left(row.day_left, row.per_day)) }
                            td { (left(row.minute_left, row.per_minute)) }
                            td class="hide-narrow" { (when(row.last_success)) }
                            td.text {
                                @if let Some((at, message)) = &row.last_error { span.muted { (at.format("%H:%M:%S")) " " } (message) } @else { "—" }
                            }
                        }
                    }
                }
            }
        }
    };
    document("Providers", Nav::Providers, viewer, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_and_errors_are_shown_escaped() {
        let rows = [ProviderRow {
            provider: "alpha_vantage".to_owned(),
            status: "budget spent".to_owned(),
            in_chain: true,
            requests_today: 25,
            per_day: Some(25),
            day_left: Some(0),
            per_minute: Some(5),
            minute_left: Some(5),
            last_error: Some((Utc::now(), "<quota> apikey=***".to_owned())),
            ..ProviderRow::default()
        }];
        let html = providers_page(&rows, &Viewer::default()).into_string();
        assert!(html.contains("0 / 25") && html.contains(r#"class="text down">budget spent"#), "{html}");
        assert!(html.contains("&lt;quota&gt; apikey=***"));
    }
}
