//! The pages: each takes what its handler read and returns the whole document.

use chrono::{DateTime, Utc};
use domain::{Bar, CompanyProfile, NewsItem, Quote};
use maud::{Markup, PreEscaped, html};

use crate::format::{change_class, money, percent};
use crate::layout::{LIVE_SCRIPT_PATH, Nav, Viewer, document};
use crate::sparkline::sparkline_svg;

/// One watched symbol on the dashboard.
#[derive(Debug, Clone, Default)]
pub struct DashboardRow {
    pub symbol: String,
    /// The company's name, when a profile is stored.
    pub name: Option<String>,
    /// The latest quote's price, else the latest close.
    pub last: Option<f64>,
    /// Against the previous close.
    pub change_percent: Option<f64>,
    /// Recent daily closes, oldest first.
    pub closes: Vec<f64>,
    /// When `last` was observed.
    pub as_of: Option<DateTime<Utc>>,
    /// Who served `last`.
    pub provider: Option<String>,
    /// True when the latest bar's session had not finished when it was stored.
    pub partial: bool,
    pub mentions_24h: Option<u64>,
    /// Mean sentiment of those mentions, in `[-1, 1]`.
    pub sentiment: Option<f64>,
    /// The latest research note's rating.
    pub rating: Option<String>,
    /// Alert rules watching the symbol (its own and the watchlist's), not paused.
    pub active_alerts: usize,
}

/// A form field's rejected value and why, to show the form again with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub value: String,
    pub message: String,
}

/// The form that adds a symbol, with its error if the last attempt failed.
fn add_symbol_form(viewer: &Viewer, error: Option<&FieldError>) -> Markup {
    html! {
        @if viewer.signed_in() {
            form.inline method="post" action="/watchlist" {
                (viewer.csrf_field())
                label for="symbol" { "Add a symbol" }
                input #symbol name="symbol" required maxlength="20" placeholder="e.g. NVDA"
                    value=[error.map(|e| e.value.as_str())]
                    aria-invalid=[error.map(|_| "true")]
                    aria-describedby=[error.map(|_| "symbol-error")];
                button type="submit" { "Add" }
                @if let Some(error) = error { p #symbol-error .field-error { (error.message) } }
            }
        } @else {
            p.muted { a href="/signin" { "Sign in" } " to add or remove symbols." }
        }
    }
}

/// The dashboard: the watchlist as a table. `now` dates the freshness column; `add_error` is
/// the add-symbol form's error, shown with the value that was refused.
pub fn dashboard(
    rows: &[DashboardRow],
    now: DateTime<Utc>,
    viewer: &Viewer,
    add_error: Option<&FieldError>,
) -> Markup {
    let body = html! {
        h1 { "Watchlist" }
        (add_symbol_form(viewer, add_error))
        @if rows.is_empty() {
            div.panel.empty {
                p { "No symbols are watched yet." }
                p.muted { "Add one above, with " code { "tickerwatch watchlist add AAPL" } ", or " code { "POST /api/watchlist" } "." }
            }
        } @else {
            div.panel.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Symbol" }
                        th scope="col" { "Last" }
                        th scope="col" { "Day" }
                        th scope="col" class="hide-narrow" { "30 days" }
                        th scope="col" class="hide-narrow" { "Mentions 24 h" }
                        th scope="col" class="hide-narrow" { "Sentiment" }
                        th scope="col" class="hide-narrow" { "Rating" }
                        th scope="col" class="hide-narrow" { "Alerts" }
                        th scope="col" { "As of" }
                        @if viewer.signed_in() { th scope="col" { span.visually-hidden { "Remove" } } }
                    } }
                    tbody {
                        @for row in rows {
                            tr {
                                td.text {
                                    a href=(symbol_href(&row.symbol)) { strong { (row.symbol) } }
                                    @if let Some(name) = &row.name { br; span.muted { (name) } }
                                }
                                td { (money(row.last)) }
                                td class=(change_class(row.change_percent)) { (percent(row.change_percent)) }
                                td class="hide-narrow" {
                                    @if let Some(svg) = sparkline_svg(&row.closes) { (PreEscaped(svg)) } @else { span.muted { "—" } }
                                }
                                td class="hide-narrow" { (row.mentions_24h.map_or("—".to_owned(), |n| n.to_string())) }
                                td class=(format!("hide-narrow {}", change_class(row.sentiment))) {
                                    (row.sentiment.map_or("—".to_owned(), |s| format!("{s:+.2}")))
                                }
                                td class="hide-narrow" { (row.rating.as_deref().unwrap_or("—")) }
                                td class="hide-narrow" { (row.active_alerts) }
                                td.text {
                                    (freshness(row.as_of, now))
                                    @if row.partial { " " span.warn title="the session had not closed" { "(partial)" } }
                                    @if let Some(provider) = &row.provider { br; span.muted { (provider) } }
                                }
                                @if viewer.signed_in() {
                                    td {
                                        form method="post" action=(format!("{}/remove", watchlist_href(&row.symbol))) {
                                            (viewer.csrf_field())
                                            button.link type="submit" aria-label=(format!("Remove {}", row.symbol)) { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    document("Dashboard", Nav::Dashboard, viewer, body)
}

/// "3 min ago", "2 h ago", "5 d ago"; a dash when never.
fn freshness(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else { return "never".to_owned() };
    let seconds = (now - at).num_seconds().max(0);
    match seconds {
        0..60 => "just now".to_owned(),
        60..3_600 => format!("{} min ago", seconds / 60),
        3_600..86_400 => format!("{} h ago", seconds / 3_600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

fn symbol_href(symbol: &str) -> String {
    // Symbols are `Symbol::parse`d: letters, digits and `.-=^`; only `^` needs encoding.
    format!("/symbols/{}", symbol.replace('^', "%5E"))
}

fn watchlist_href(symbol: &str) -> String {
    format!("/watchlist/{}", symbol.replace('^', "%5E"))
}

/// The chart's span, chosen by a link (`?range=1y`), so it works without JavaScript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChartRange {
    OneMonth,
    ThreeMonths,
    SixMonths,
    #[default]
    OneYear,
    FiveYears,
    Max,
}

impl ChartRange {
    pub const ALL: [Self; 6] =
        [Self::OneMonth, Self::ThreeMonths, Self::SixMonths, Self::OneYear, Self::FiveYears, Self::Max];

    /// The query value: `1m`, `3m`, `6m`, `1y`, `5y`, `max`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneMonth => "1m",
            Self::ThreeMonths => "3m",
            Self::SixMonths => "6m",
            Self::OneYear => "1y",
            Self::FiveYears => "5y",
            Self::Max => "max",
        }
    }

    /// The button's label: `1M`, …, `Max`.
    pub fn label(self) -> &'static str {
        match self {
            Self::OneMonth => "1M",
            Self::ThreeMonths => "3M",
            Self::SixMonths => "6M",
            Self::OneYear => "1Y",
            Self::FiveYears => "5Y",
            Self::Max => "Max",
        }
    }

    /// Calendar days back from the latest bar; `None` for everything stored.
    pub fn days(self) -> Option<i64> {
        match self {
            Self::OneMonth => Some(31),
            Self::ThreeMonths => Some(92),
            Self::SixMonths => Some(183),
            Self::OneYear => Some(366),
            Self::FiveYears => Some(5 * 366),
            Self::Max => None,
        }
    }

    /// The range a query value names (case-insensitive), if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|range| range.as_str().eq_ignore_ascii_case(text))
    }
}

/// What the symbol page shows.
#[derive(Debug, Clone)]
pub struct SymbolView {
    pub symbol: String,
    pub name: Option<String>,
    pub range: ChartRange,
    /// Candles with SMA 20/50 and volume, drawn by `charts`.
    pub price_svg: String,
    /// RSI 14, drawn by `charts`.
    pub rsi_svg: String,
    /// MACD 12/26/9, drawn by `charts`.
    pub macd_svg: String,
    /// How the chart grouped bars ("weekly candles, 1,250 bars").
    pub chart_caption: String,
    /// The latest bars, newest first: the chart's table fallback.
    pub recent: Vec<Bar>,
    pub quote: Option<Quote>,
    /// Days on which providers disagreed beyond tolerance.
    pub disagreements: u64,
    pub profile: Option<CompanyProfile>,
    /// Latest headlines, newest first.
    pub news: Vec<NewsItem>,
    /// Latest research notes, newest first.
    pub notes: Vec<NoteView>,
    /// Reddit mentions per UTC day over the last 30 days, oldest first: `(day, mentions, mean
    /// sentiment)`.
    pub mentions: Vec<(chrono::NaiveDate, u64, f64)>,
    /// The latest Reddit posts that mention the symbol.
    pub posts: Vec<PostRow>,
    /// Alert rules watching the symbol, in words, and whether paused.
    pub rules: Vec<(i64, String, bool)>,
    /// The symbol's latest alerts: `(fired at, rule, observed value)`.
    pub alerts: Vec<(DateTime<Utc>, String, f64)>,
}

/// One post that mentions a symbol.
#[derive(Debug, Clone)]
pub struct PostRow {
    pub created_at: DateTime<Utc>,
    pub subreddit: String,
    pub author: String,
    pub title: String,
    /// The post's address as stored: a full URL or Reddit's `/r/…` path.
    pub permalink: Option<String>,
    pub sentiment: f64,
}

/// A post's address on Reddit, when it has one that is a web link or a Reddit path.
fn post_url(permalink: Option<&str>) -> Option<String> {
    let permalink = permalink?;
    if is_web_link(permalink) {
        Some(permalink.to_owned())
    } else if permalink.starts_with("/r/") {
        Some(format!("https://www.reddit.com{permalink}"))
    } else {
        None
    }
}

fn posts_section(posts: &[PostRow]) -> Markup {
    html! {
        @if !posts.is_empty() {
            h2 { "Latest Reddit posts" }
            ul.panel.posts {
                @for post in posts {
                    li {
                        span class=(change_class(Some(post.sentiment))) { (format!("{:+.2}", post.sentiment)) } " "
                        @match post_url(post.permalink.as_deref()) {
                            Some(url) => a href=(url) rel="noopener noreferrer nofollow" { (post.title) },
                            None => (post.title),
                        }
                        " " span.muted { "r/" (post.subreddit) " · u/" (post.author) " · " (post.created_at.format("%Y-%m-%d %H:%M")) }
                    }
                }
            }
        }
    }
}

fn mentions_section(mentions: &[(chrono::NaiveDate, u64, f64)]) -> Markup {
    let most = mentions.iter().map(|(_, n, _)| *n).max().unwrap_or(0).max(1);
    html! {
        h2 { "Reddit mentions, last 30 days" }
        @if mentions.is_empty() { p.muted { "No mentions stored in the last 30 days." } } @else {
            div.panel.table-wrap {
                table.mentions {
                    thead { tr { th scope="col" { "Day" } th scope="col" { "Mentions" } th scope="col" class="text" { span.visually-hidden { "Bar" } } th scope="col" { "Sentiment" } } }
                    tbody {
                        @for (day, count, sentiment) in mentions.iter().rev() {
                            tr {
                                td { (day) }
                                td { (count) }
                                td.text.bar-cell { meter value=(count) min="0" max=(most) { (count) } }
                                td class=(change_class(Some(*sentiment))) { (format!("{sentiment:+.2}")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn alerts_section(rules: &[(i64, String, bool)], alerts: &[(DateTime<Utc>, String, f64)]) -> Markup {
    html! {
        h2 { "Alerts" }
        @if rules.is_empty() { p.muted { "No rule watches this symbol. " a href="/alerts" { "Add one" } "." } } @else {
            ul {
                @for (id, rule, paused) in rules {
                    li { "#" (id) " " (rule) @if *paused { " " span.warn { "(paused)" } } }
                }
            }
        }
        @if !alerts.is_empty() {
            div.panel.table-wrap {
                table {
                    thead { tr { th scope="col" { "Fired (UTC)" } th scope="col" class="text" { "Rule" } th scope="col" { "Value" } } }
                    tbody {
                        @for (at, rule, value) in alerts {
                            tr { td { (at.format("%Y-%m-%d %H:%M")) } td.text { (rule) } td { (money(Some(*value))) } }
                        }
                    }
                }
            }
        }
    }
}

/// A research note as the symbol page shows it (model-written text: escaped like vendor text).
#[derive(Debug, Clone)]
pub struct NoteView {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    /// `buy`, `hold`, `sell`.
    pub rating: String,
    /// In `0..=1`.
    pub confidence: f64,
    pub horizon: String,
    pub thesis: String,
    pub risks: Vec<String>,
    pub model: String,
    pub crew: String,
}

fn notes_section(symbol: &str, notes: &[NoteView], viewer: &Viewer) -> Markup {
    html! {
        h2 { "Research notes" }
        @if viewer.signed_in() {
            form.inline method="post" action=(format!("{}/analyze", symbol_href(symbol))) {
                (viewer.csrf_field())
                button type="submit" { "Run analysis" }
                span.muted { "The crew (researcher, analysts, writer) writes a new note; its run shows each step's result." }
            }
        }
        @if notes.is_empty() { p.muted { "No note yet." } }
        @for note in notes {
            article.panel.note id=(format!("note-{}", note.id)) {
                p {
                    strong class=(match note.rating.as_str() { "buy" => "up", "sell" => "down", _ => "warn" }) { (note.rating.to_uppercase()) }
                    " · " (format!("{:.0} %", note.confidence * 100.0)) " confidence · " (note.horizon)
                    span.muted { " · " (note.created_at.format("%Y-%m-%d %H:%M UTC")) " · " (note.crew) " on " (note.model) }
                }
                p { (note.thesis) }
                @if !note.risks.is_empty() {
                    p.muted { "Risks:" }
                    ul { @for risk in &note.risks { li { (risk) } } }
                }
            }
        }
    }
}

/// Only web links become links: a vendor's `javascript:` or `data:` URL stays text.
fn is_web_link(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Market capitalisation in the units people say it in.
fn market_cap(value: f64) -> String {
    match value {
        v if v >= 1e12 => format!("{:.2} T", v / 1e12),
        v if v >= 1e9 => format!("{:.2} B", v / 1e9),
        v if v >= 1e6 => format!("{:.1} M", v / 1e6),
        v => format!("{v:.0}"),
    }
}

fn profile_section(profile: &CompanyProfile) -> Markup {
    html! {
        h2 { "Company" }
        div.panel {
            dl.facts.flat {
                @if let Some(sector) = &profile.sector { div { dt { "Sector" } dd { (sector) } } }
                @if let Some(industry) = &profile.industry { div { dt { "Industry" } dd { (industry) } } }
                @if let Some(exchange) = &profile.exchange { div { dt { "Exchange" } dd { (exchange) } } }
                @if let Some(cap) = profile.market_cap.filter(|c| c.is_finite() && *c > 0.0) {
                    div { dt { "Market cap" @if let Some(currency) = &profile.currency { " (" (currency) ")" } } dd { (market_cap(cap)) } }
                }
                @if let Some(country) = &profile.country { div { dt { "Country" } dd { (country) } } }
            }
            @if let Some(description) = &profile.description { p { (description) } }
            p.muted {
                @if let Some(website) = profile.website.as_deref().filter(|w| is_web_link(w)) {
                    a href=(website) rel="noopener noreferrer nofollow" { (website) } " · "
                }
                @if let Some(provider) = &profile.provider { "Profile from " (provider) }
            }
        }
    }
}

fn news_section(news: &[NewsItem]) -> Markup {
    html! {
        h2 { "News" }
        @if news.is_empty() {
            p.muted { "No headlines stored yet; the download-tracker fetches them." }
        } @else {
            ul.news {
                @for item in news {
                    li {
                        @if is_web_link(&item.url) {
                            a href=(item.url) rel="noopener noreferrer nofollow" { (item.headline) }
                        } @else { (item.headline) }
                        br;
                        span.muted {
                            (item.published_at.format("%Y-%m-%d %H:%M UTC"))
                            @if let Some(source) = &item.source { " · " (source) }
                            " · via " (item.provider)
                            @if let Some(sentiment) = item.sentiment { " · sentiment " span class=(change_class(Some(sentiment))) { (format!("{sentiment:+.2}")) } }
                        }
                        @if let Some(summary) = &item.summary { p.summary { (summary) } }
                    }
                }
            }
        }
    }
}

/// A symbol's page: facts, chart with range selector, and the latest bars as a table.
pub fn symbol_page(view: &SymbolView, viewer: &Viewer) -> Markup {
    let path = symbol_href(&view.symbol);
    let body = html! {
        h1 {
            (view.symbol)
            @if let Some(name) = &view.name { " " span.muted { (name) } }
        }
        dl.facts {
            @if let Some(quote) = &view.quote {
                div { dt { "Last (" (quote.provider) ")" } dd { (money(Some(quote.price))) } }
                div { dt { "Change" } dd class=(change_class(quote.change_percent)) { (percent(quote.change_percent)) } }
                div { dt { "Previous close" } dd { (money(quote.previous_close)) } }
                div { dt { "Quoted" } dd { (quote.ts.format("%Y-%m-%d %H:%M UTC")) } }
            } @else if let Some(bar) = view.recent.first() {
                div { dt { "Last close (" (bar.provider) ")" } dd { (money(bar.close)) } }
                div { dt { "Session" } dd { (bar.ts.format("%Y-%m-%d")) } }
            }
            div {
                dt { "Provider disagreements" }
                dd class=(if view.disagreements > 0 { "warn" } else { "" }) { (view.disagreements) }
            }
        }
        nav.ranges aria-label="Chart range" {
            @for range in ChartRange::ALL {
                a href=(format!("{path}?range={}", range.as_str())) aria-current=[(range == view.range).then_some("true")] { (range.label()) }
            }
        }
        figure.panel.chart-card {
            (PreEscaped(&view.price_svg))
            (PreEscaped(&view.rsi_svg))
            (PreEscaped(&view.macd_svg))
            figcaption.muted { (view.chart_caption) }
        }
        script src=(LIVE_SCRIPT_PATH) defer {}
        @if let Some(profile) = &view.profile { (profile_section(profile)) }
        (notes_section(&view.symbol, &view.notes, viewer))
        (alerts_section(&view.rules, &view.alerts))
        (mentions_section(&view.mentions))
        (posts_section(&view.posts))
        (news_section(&view.news))
        h2 { "Latest sessions" }
        div.panel.table-wrap {
            table {
                thead { tr {
                    th scope="col" { "Date" } th scope="col" { "Open" } th scope="col" { "High" }
                    th scope="col" { "Low" } th scope="col" { "Close" } th scope="col" { "Volume" }
                    th scope="col" class="text" { "Provider" }
                } }
                tbody {
                    @for bar in &view.recent {
                        tr {
                            td { (bar.ts.format("%Y-%m-%d")) @if bar.partial { " " span.warn title="the session had not closed" { "partial" } } }
                            td { (money(bar.open)) } td { (money(bar.high)) } td { (money(bar.low)) }
                            td { (money(bar.close)) }
                            td { (bar.volume.map_or("—".to_owned(), |v| v.to_string())) }
                            td.text { (bar.provider) }
                        }
                    }
                }
            }
        }
    };
    document(&view.symbol, Nav::None, viewer, body)
}

/// The sign-in form; `next` is where to go afterwards, `error` why the last attempt failed.
pub fn signin_page(form: &SignInForm<'_>, error: Option<&str>) -> Markup {
    let body = html! {
        div.panel.narrow {
            h1 { "Sign in" }
            @if form.password_enabled {
                p.muted { "Use the password from the config file, or an API token (from the config file, or one made with " code { "tickerwatch token create" } ")." }
            } @else {
                p.muted { "Use an API token: one from the config file, or one made with " code { "tickerwatch token create" } "." }
            }
            form method="post" action="/signin" {
                input type="hidden" name="next" value=(form.next);
                label for="token" { @if form.password_enabled { "Password or API token" } @else { "API token" } }
                input #token type="password" name="token" required autocomplete="current-password"
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "token-error")];
                @if let Some(error) = error { p #token-error .field-error { (error) } }
                button type="submit" { "Sign in" }
            }
        }
    };
    document("Sign in", Nav::None, &Viewer::default(), body)
}

/// What the sign-in page needs to know.
pub struct SignInForm<'a> {
    /// The local path to return to.
    pub next: &'a str,
    /// Whether `server.auth.password` is set, so the form asks for it too.
    pub password_enabled: bool,
}

/// The 404 page: what was not found and where to go instead.
pub fn not_found_page(what: &str) -> Markup {
    let body = html! {
        div.panel.empty {
            h1 { "Not found" }
            p { (what) }
            p { a href="/" { "Back to the watchlist" } }
        }
    };
    document("Not found", Nav::None, &Viewer::default(), body)
}

/// Any other error, with a message safe to show.
pub fn error_page(title: &str, message: &str) -> Markup {
    let body = html! {
        div.panel.empty {
            h1 { (title) }
            p { (message) }
            p { a href="/" { "Back to the watchlist" } }
        }
    };
    document(title, Nav::None, &Viewer::default(), body)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 10, 15, 0, 0).unwrap()
    }

    #[test]
    fn vendor_text_is_escaped_everywhere() {
        let row = DashboardRow {
            symbol: "AAPL".to_owned(),
            name: Some("<script>alert(1)</script> & Co".to_owned()),
            rating: Some("<b>buy</b>".to_owned()),
            ..DashboardRow::default()
        };
        let html = dashboard(&[row], now(), &Viewer::default(), None).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
        assert!(html.contains("&lt;b&gt;buy&lt;/b&gt;"));
        let page = not_found_page("No symbol \"<img src=x>\"").into_string();
        assert!(page.contains("&lt;img src=x&gt;") && !page.contains("<img"));
    }

    #[test]
    fn the_dashboard_lists_rows_with_a_dash_for_what_is_unknown() {
        let rows = [
            DashboardRow {
                symbol: "MSFT".to_owned(),
                last: Some(412.5),
                change_percent: Some(-1.25),
                closes: vec![400.0, 410.0, 412.5],
                as_of: Some(now() - chrono::Duration::minutes(5)),
                provider: Some("finnhub".to_owned()),
                active_alerts: 2,
                ..DashboardRow::default()
            },
            DashboardRow { symbol: "^GSPC".to_owned(), ..DashboardRow::default() },
        ];
        let html = dashboard(&rows, now(), &Viewer::default(), None).into_string();
        assert!(html.contains(r#"href="/symbols/MSFT""#));
        assert!(html.contains(r#"href="/symbols/%5EGSPC""#));
        assert!(html.contains("412.50") && html.contains("-1.25 %") && html.contains("5 min ago"));
        assert!(html.contains("<svg class=\"spark up\""));
        assert!(html.contains("never"), "a symbol never refreshed says so");
        assert!(
            dashboard(&[], now(), &Viewer::default(), None)
                .into_string()
                .contains("No symbols are watched yet.")
        );
    }

    #[test]
    fn signed_in_viewers_get_forms_with_the_csrf_token_and_refused_values_come_back() {
        let viewer = Viewer { csrf_token: Some("c0ffee".to_owned()) };
        let row = DashboardRow { symbol: "AAPL".to_owned(), ..DashboardRow::default() };
        let error = FieldError { value: "<bad>".to_owned(), message: "not a ticker".to_owned() };
        let html = dashboard(std::slice::from_ref(&row), now(), &viewer, Some(&error)).into_string();
        assert_eq!(
            html.matches(r#"<input type="hidden" name="csrf" value="c0ffee">"#).count(),
            3,
            "add, remove, sign out"
        );
        assert!(html.contains(r#"action="/watchlist/AAPL/remove""#));
        assert!(html.contains(r#"value="&lt;bad&gt;""#) && html.contains("not a ticker"), "{html}");
        let anonymous = dashboard(&[row], now(), &Viewer::default(), None).into_string();
        assert!(!anonymous.contains("csrf") && anonymous.contains(r#"href="/signin""#));
    }

    #[test]
    fn ranges_round_trip_and_the_current_one_is_marked() {
        for range in ChartRange::ALL {
            assert_eq!(ChartRange::parse(range.as_str()), Some(range));
        }
        assert_eq!(ChartRange::parse("1Y"), Some(ChartRange::OneYear));
        assert_eq!(ChartRange::parse("2y"), None);
        let view = SymbolView {
            symbol: "AAPL".to_owned(),
            name: None,
            range: ChartRange::SixMonths,
            price_svg: "<svg></svg>".to_owned(),
            rsi_svg: String::new(),
            macd_svg: String::new(),
            chart_caption: "daily candles".to_owned(),
            recent: Vec::new(),
            quote: None,
            disagreements: 3,
            profile: Some(CompanyProfile {
                website: Some("javascript:alert(1)".to_owned()),
                sector: Some("Tech & <Stuff>".to_owned()),
                market_cap: Some(2.5e12),
                ..CompanyProfile::default()
            }),
            news: vec![NewsItem {
                symbol: domain::Symbol::parse("AAPL").unwrap(),
                headline: "<i>Big</i> news".to_owned(),
                url: "https://example.invalid/a?x=1&y=2".to_owned(),
                source: None,
                summary: None,
                published_at: now(),
                sentiment: Some(-0.4),
                provider: domain::ProviderId::Sample,
            }],
            notes: vec![NoteView {
                id: 5,
                created_at: now(),
                rating: "sell".to_owned(),
                confidence: 0.69,
                horizon: "3-6 months".to_owned(),
                thesis: "<script>x</script> thesis".to_owned(),
                risks: vec!["a risk".to_owned()],
                model: "offline".to_owned(),
                crew: "research".to_owned(),
            }],
            mentions: vec![
                (chrono::NaiveDate::from_ymd_opt(2024, 5, 9).unwrap(), 5, 0.2),
                (chrono::NaiveDate::from_ymd_opt(2024, 5, 10).unwrap(), 10, -0.3),
            ],
            rules: vec![(2, "price above 250".to_owned(), true)],
            alerts: vec![(now(), "price above 250".to_owned(), 251.0)],
            posts: vec![
                PostRow {
                    created_at: now(),
                    subreddit: "wallstreetbets".to_owned(),
                    author: "<u>".to_owned(),
                    title: "AAPL <b>to the moon</b>".to_owned(),
                    permalink: Some("/r/wallstreetbets/comments/abc/aapl/".to_owned()),
                    sentiment: 0.6,
                },
                PostRow {
                    created_at: now(),
                    subreddit: "stocks".to_owned(),
                    author: "b".to_owned(),
                    title: "sell AAPL".to_owned(),
                    permalink: Some("javascript:alert(1)".to_owned()),
                    sentiment: -0.4,
                },
            ],
        };
        let html = symbol_page(&view, &Viewer::default()).into_string();
        assert!(html.contains(r#"<a href="/symbols/AAPL?range=6m" aria-current="true">6M</a>"#), "{html}");
        assert!(
            html.contains(r#"href="https://www.reddit.com/r/wallstreetbets/comments/abc/aapl/""#),
            "{html}"
        );
        assert!(html.contains("AAPL &lt;b&gt;to the moon&lt;/b&gt;") && html.contains("u/&lt;u&gt;"));
        assert!(!html.contains("javascript:") && html.contains("sell AAPL"));
        assert!(html.contains(r#"<a href="/symbols/AAPL?range=1y">1Y</a>"#));
        assert!(html.contains("Tech &amp; &lt;Stuff&gt;") && html.contains("2.50 T"));
        assert!(!html.contains("javascript:"), "a script URL is never a link");
        assert!(html.contains(r#"href="https://example.invalid/a?x=1&amp;y=2""#));
        assert!(html.contains("&lt;i&gt;Big&lt;/i&gt; news") && html.contains(r#"class="down">-0.40"#));
        assert!(html.contains(r#"id="note-5""#) && html.contains("SELL") && html.contains("69 % confidence"));
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt; thesis"));
        assert!(!html.contains("/analyze"), "no form for a reader who is not signed in");
        assert!(
            html.contains(r#"<meter value="5" min="0" max="10">"#),
            "bars scale to the busiest day: {html}"
        );
        assert!(!html.contains("style="), "no inline style: the CSP allows none");
        assert!(html.contains("#2 price above 250") && html.contains("(paused)") && html.contains("251.00"));
    }
}
