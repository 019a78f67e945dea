//! The `html` export: one self-contained report page with a section per symbol.
//!
//! Design decisions, and why:
//! - **Self-contained.** No scripts, fonts, images or style sheets are fetched: the CSS is inline,
//!   the charts are inline SVG (the `charts` crate), fonts are the reader's system fonts. The file
//!   opens offline, can be mailed, and leaks nothing to third parties when opened. A
//!   Content-Security-Policy `<meta>` forbids every fetch and all scripts, so even text that
//!   slipped past escaping could not run or phone home.
//! - **Streaming.** Sections are written as they arrive, so only one symbol's bars are held at a
//!   time. The table of contents needs every symbol, so it is written *after* the sections and
//!   moved under the header by CSS (`order` in a flex column): the page reads top-down while the
//!   writer never looks ahead. Only a few numbers per symbol are kept for it.
//! - **Every text is escaped** ([`escape`]), including symbols and provider names that are
//!   validated elsewhere, quality-gate flags, which may hold anything, and research notes, which
//!   a language model wrote (untrusted: escaped like the rest, never rendered as markup or links).
//! - **Company profiles and headlines** come from vendors (or the bundled sample) and are
//!   escaped like the rest; a headline links to its article only when the URL is `http(s)`, with
//!   `rel="noopener noreferrer"`, so a `javascript:` URL stays inert text.
//! - **Research notes** are known before the first bar arrives (the request carries them), so
//!   their section is written right after the header; each symbol's section links to its note.

use std::fmt::Write as _;
use std::io::Write;

use chrono::{DateTime, Timelike, Utc};
use domain::Rating;
use domain::indicators::IndicatorSnapshot;
use domain::{Bar, ProviderId};

use crate::report::{CompanySummary, NoteSummary, SymbolReport};
use crate::{ExportError, SymbolSummary};
use charts::{ChartPlan, Resolution, escape};

/// Flagged bars listed per section; the rest are only counted, so one noisy series cannot bloat
/// the report.
const MAX_LISTED_FLAGS: usize = 50;

/// Writes the whole report to `out`: header, the research notes (when there are any, in the
/// given order), each section as `sections` yields it, contents and footer.
///
/// Stops at the first `Err` from `sections` and returns it; the caller's atomic file then
/// discards the partial page. A chart that cannot be drawn does not fail the report: its place
/// shows the reason and a warning is logged.
///
/// # Errors
/// The first error from `sections`, or [`ExportError::Io`] when writing to `out` fails. The path
/// is not known here, so it reads "html report"; the pipeline puts the file's path in.
pub(crate) fn render_report(
    out: &mut dyn Write,
    title: &str,
    generated_at: DateTime<Utc>,
    notes: &[NoteSummary],
    companies: &[CompanySummary],
    sections: &mut dyn Iterator<Item = Result<SymbolReport, ExportError>>,
) -> Result<(), ExportError> {
    let io_error = |source| ExportError::io("html report", source);
    let mut report = ReportWriter::new(title, generated_at, notes);
    report.companies = companies;
    out.write_all(report.header().as_bytes()).map_err(io_error)?;
    if !notes.is_empty() {
        out.write_all(notes_section(notes).as_bytes()).map_err(io_error)?;
    }
    for section in sections {
        let section = section?;
        let html = report.section(&section.summary, &section.bars);
        // The bars go here, before the next symbol's are read.
        drop(section);
        out.write_all(html.as_bytes()).map_err(io_error)?;
    }
    out.write_all(report.footer().as_bytes()).map_err(io_error)?;
    out.flush().map_err(io_error)
}

/// What the contents table and footer need of a section, kept after its bars are gone.
struct Entry {
    anchor: String,
    symbol: String,
    n_bars: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    last_close: Option<f64>,
    daily_return: Option<f64>,
    period_return: Option<f64>,
    providers: Vec<ProviderId>,
}

/// Renders the report piece by piece; each method returns markup for the caller to write.
struct ReportWriter<'a> {
    /// Profile and headlines shown in each symbol's section, when stored.
    companies: &'a [CompanySummary],
    title: String,
    generated_at: DateTime<Utc>,
    entries: Vec<Entry>,
    /// Symbol, rating and anchor of each research note, for the links from the sections.
    notes: Vec<(String, Rating, String)>,
}

impl ReportWriter<'_> {
    fn new(title: &str, generated_at: DateTime<Utc>, notes: &[NoteSummary]) -> Self {
        let notes = notes
            .iter()
            .enumerate()
            .map(|(index, note)| {
                (note.symbol.to_string(), note.rating, note_anchor(index, note.symbol.as_str()))
            })
            .collect();
        Self { companies: &[], title: title.to_owned(), generated_at, entries: Vec::new(), notes }
    }

    fn header(&self) -> String {
        let title = escape(&self.title);
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'\">\n<meta name=\"referrer\" content=\"no-referrer\">\n\
             <meta name=\"generator\" content=\"tickerwatch\">\n<title>{title}</title>\n\
             <style>\n{STYLE}</style>\n</head>\n<body>\n<div class=\"report\">\n\
             <header class=\"report-header\">\n<h1>{title}</h1>\n\
             <p class=\"muted\">Generated {generated} by tickerwatch from stored market data. \
             Jump to the {notes}<a href=\"#data-sources\">data sources</a>.</p>\n</header>\n<main>\n",
            generated = format_generated_at(self.generated_at),
            notes = if self.notes.is_empty() {
                ""
            } else {
                "<a href=\"#research-notes\">research notes</a> or the "
            },
        )
    }

    /// One symbol's section; remembers what the contents table needs.
    fn section(&mut self, summary: &SymbolSummary, bars: &[Bar]) -> String {
        let symbol = summary.symbol.as_str();
        let anchor = anchor(self.entries.len() + 1, symbol);
        let indicators = &summary.indicators;
        let period_return = period_return(bars);
        let mut html = String::with_capacity(64 * 1024);

        let _ = write!(
            html,
            "<section class=\"symbol card\" id=\"{anchor}\" aria-labelledby=\"{anchor}-title\">\n\
             <div class=\"section-head\">\n<h2 id=\"{anchor}-title\">{symbol}</h2>\n",
            symbol = escape(symbol),
        );
        if let Some((_, rating, note)) = self.notes.iter().find(|(noted, ..)| noted == symbol) {
            let _ = writeln!(
                html,
                "<p class=\"headline\"><a href=\"#{note}\">Research note</a>: {}</p>",
                rating_badge(*rating),
            );
        }
        if let Some(close) = indicators.last_close {
            let _ = writeln!(
                html,
                "<p class=\"headline\"><span class=\"price\">{}</span> {} \
                 <span class=\"muted\">close of {}</span></p>",
                format_price(close),
                change_badge(indicators),
                indicators.as_of.map(format_timestamp).unwrap_or_default(),
            );
        }
        html.push_str("</div>\n");
        if let Some(company) = self.companies.iter().find(|company| company.symbol.as_str() == symbol) {
            write_company(&mut html, company);
        }
        let _ = writeln!(
            html,
            "<p class=\"muted meta\">{} · {} · from {}</p>",
            count_noun(summary.n_bars, "bar"),
            date_span(summary.first, summary.last),
            escape(&providers_text(&summary.providers)),
        );

        if bars.is_empty() {
            html.push_str(
                "<p class=\"notice\">No bars are stored for this symbol in the requested range, \
                 so there is nothing to chart or summarise.</p>\n",
            );
        } else {
            let drawn = charts::Charts::new(bars);
            let plan = drawn.plan();
            let price = drawn.price_svg(&summary.symbol);
            let rsi = drawn.rsi_svg();
            write_figure(&mut html, symbol, "price", price, &price_caption(&plan, summary.providers.len()));
            write_figure(
                &mut html,
                symbol,
                "RSI",
                rsi,
                "<span class=\"swatch sw-rsi\"></span>RSI 14 (Wilder smoothing) of closes; above \
                 <span class=\"down\">70</span> is commonly read as overbought, below \
                 <span class=\"up\">30</span> as oversold.",
            );
        }

        if summary.n_bars > 0 || !bars.is_empty() {
            html.push_str("<div class=\"tables\">\n");
            write_price_table(&mut html, summary, period_return);
            write_indicator_table(&mut html, indicators);
            html.push_str("</div>\n");
            write_flags(&mut html, bars);
        }
        html.push_str("<p class=\"back\"><a href=\"#contents\">Back to contents</a></p>\n</section>\n");

        self.entries.push(Entry {
            anchor,
            symbol: symbol.to_owned(),
            n_bars: summary.n_bars,
            first: summary.first,
            last: summary.last,
            last_close: indicators.last_close,
            daily_return: indicators.daily_return,
            period_return,
            providers: summary.providers.clone(),
        });
        html
    }

    /// Closes `<main>`, then the contents table (shown under the header by CSS) and the footer.
    fn footer(&self) -> String {
        let mut html = String::from("</main>\n");
        html.push_str(
            "<nav class=\"toc card\" id=\"contents\" aria-label=\"Contents\">\n<h2>Contents</h2>\n",
        );
        if self.entries.is_empty() {
            html.push_str("<p class=\"muted\">This report has no symbols.</p>\n");
        } else {
            html.push_str(
                "<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Symbol</th>\
                 <th scope=\"col\" class=\"num\">Last close</th>\
                 <th scope=\"col\" class=\"num\">1-day change</th>\
                 <th scope=\"col\" class=\"num\">Period change</th>\
                 <th scope=\"col\" class=\"num\">Bars</th>\
                 <th scope=\"col\">Range</th></tr></thead>\n<tbody>\n",
            );
            for entry in &self.entries {
                let _ = writeln!(
                    html,
                    "<tr><th scope=\"row\"><a href=\"#{}\">{}</a></th><td class=\"num\">{}</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                     <td>{}</td></tr>",
                    entry.anchor,
                    escape(&entry.symbol),
                    entry.last_close.map_or_else(missing, format_price),
                    signed_percent(entry.daily_return),
                    signed_percent(entry.period_return),
                    group_thousands(entry.n_bars),
                    date_span(entry.first, entry.last),
                );
            }
            html.push_str("</tbody>\n</table></div>\n");
        }
        html.push_str("</nav>\n");

        html.push_str(
            "<footer class=\"card\" id=\"data-sources\">\n<h2>Data sources</h2>\n\
             <p>Prices are the bars stored by tickerwatch, as served by the providers listed for \
             each symbol. Indicators are computed by tickerwatch on closes, not adjusted for \
             splits or dividends; bars missing a price are left out of charts and indicators.</p>\n",
        );
        if !self.entries.is_empty() {
            html.push_str(
                "<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Symbol</th>\
                 <th scope=\"col\">Providers</th><th scope=\"col\" class=\"num\">Bars</th>\
                 <th scope=\"col\">Range</th></tr></thead>\n<tbody>\n",
            );
            for entry in &self.entries {
                let _ = writeln!(
                    html,
                    "<tr><th scope=\"row\"><a href=\"#{}\">{}</a></th><td>{}</td>\
                     <td class=\"num\">{}</td><td>{}</td></tr>",
                    entry.anchor,
                    escape(&entry.symbol),
                    escape(&providers_text(&entry.providers)),
                    group_thousands(entry.n_bars),
                    date_span(entry.first, entry.last),
                );
            }
            html.push_str("</tbody>\n</table></div>\n");
        }
        let _ = write!(
            html,
            "<p class=\"muted small\">Generated {} by tickerwatch. For information only; not \
             investment advice.</p>\n</footer>\n</div>\n</body>\n</html>\n",
            format_generated_at(self.generated_at),
        );
        html
    }
}

/// A symbol's company facts (name, sector, industry, market cap, where they came from) and its
/// latest headlines, every vendor text escaped.
fn write_company(html: &mut String, company: &CompanySummary) {
    html.push_str("<div class=\"company\">\n");
    let facts: Vec<String> = [
        company.sector.as_deref().map(|s| format!("Sector: {}", escape(s))),
        company.industry.as_deref().map(|s| format!("Industry: {}", escape(s))),
        company
            .market_cap
            .filter(|m| m.is_finite() && *m > 0.0)
            .map(|m| format!("Market cap: {}", format_market_cap(m))),
    ]
    .into_iter()
    .flatten()
    .collect();
    if company.name.is_some() || !facts.is_empty() {
        let _ = writeln!(
            html,
            "<p class=\"company-facts\"><strong>{name}</strong>{sep}{facts}{from}</p>",
            name = company.name.as_deref().map_or_else(missing, |name| escape(name).into_owned()),
            sep = if facts.is_empty() { "" } else { " · " },
            facts = facts.join(" · "),
            from = company
                .provider
                .map(|p| format!(" <span class=\"muted small\">(profile from {})</span>", escape(p.as_str())))
                .unwrap_or_default(),
        );
    }
    if !company.headlines.is_empty() {
        html.push_str("<h3>Latest headlines</h3>\n<ul class=\"headlines\">\n");
        for item in &company.headlines {
            let headline = escape(&item.headline);
            let linked = if item.url.starts_with("https://") || item.url.starts_with("http://") {
                format!(
                    "<a href=\"{}\" rel=\"noopener noreferrer nofollow\">{headline}</a>",
                    escape(&item.url)
                )
            } else {
                headline.into_owned()
            };
            let _ = writeln!(
                html,
                "<li>{linked} <span class=\"muted small\">{source}{date}</span></li>",
                source = item.source.as_deref().map(|s| format!("{} · ", escape(s))).unwrap_or_default(),
                date = item.published_at.format("%Y-%m-%d"),
            );
        }
        html.push_str("</ul>\n");
    }
    html.push_str("</div>\n");
}

/// A market capitalisation in thousands, millions, billions or trillions (`2.49T`).
fn format_market_cap(value: f64) -> String {
    let (scaled, unit) = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")]
        .into_iter()
        .find(|(scale, _)| value >= *scale)
        .map_or((value, ""), |(scale, unit)| (value / scale, unit));
    format!("{scaled:.2}{unit}")
}

/// The "Research notes" card: one article per note, every model-written text escaped.
fn notes_section(notes: &[NoteSummary]) -> String {
    let mut html = String::with_capacity(4 * 1024 * notes.len());
    html.push_str(
        "<section class=\"notes card\" id=\"research-notes\" aria-labelledby=\"research-notes-title\">\n\
         <h2 id=\"research-notes-title\">Research notes</h2>\n\
         <p class=\"muted small\">The latest research note of each symbol, written by a language \
         model from the data tickerwatch collected. Check it against the figures below; not \
         investment advice.</p>\n",
    );
    for (index, note) in notes.iter().enumerate() {
        let _ = write!(
            html,
            "<article class=\"note\" id=\"{anchor}\">\n<div class=\"note-head\">\n\
             <h3>{symbol}</h3> {badge} <span class=\"confidence\">{confidence} confidence</span>\n\
             </div>\n<p class=\"muted meta\">Horizon: {horizon} · {created} · model {model}, \
             crew {crew}</p>\n<p class=\"thesis\">{thesis}</p>\n",
            anchor = note_anchor(index, note.symbol.as_str()),
            symbol = escape(note.symbol.as_str()),
            badge = rating_badge(note.rating),
            confidence = confidence_percent(note.confidence),
            horizon = text_or_missing(&note.horizon),
            created = format_generated_at(note.created_at),
            model = text_or_missing(&note.model),
            crew = text_or_missing(&note.crew),
            thesis = escape(&note.thesis),
        );
        if note.risks.is_empty() {
            html.push_str("<p class=\"muted\">No risks listed.</p>\n");
        } else {
            html.push_str("<h4>Risks</h4>\n<ul class=\"risks\">\n");
            for risk in &note.risks {
                let _ = writeln!(html, "<li>{}</li>", escape(risk));
            }
            html.push_str("</ul>\n");
        }
        html.push_str("</article>\n");
    }
    html.push_str("</section>\n");
    html
}

/// The id of the `index`-th note (distinct from the sections' ids, which start with `s`).
fn note_anchor(index: usize, symbol: &str) -> String {
    format!("note-{}", anchor(index + 1, symbol))
}

/// "Buy" on green, "Hold" on grey, "Sell" on red.
fn rating_badge(rating: Rating) -> String {
    let label = match rating {
        Rating::Buy => "Buy",
        Rating::Hold => "Hold",
        Rating::Sell => "Sell",
    };
    format!("<span class=\"rating rating-{}\">{label}</span>", rating.as_str())
}

/// `0.72` → "72%"; a value outside `0..=1` (storage refuses those) is shown as missing.
fn confidence_percent(confidence: f64) -> String {
    if confidence.is_finite() && (0.0..=1.0).contains(&confidence) {
        format!("{:.0}%", confidence * 100.0)
    } else {
        missing()
    }
}

/// Escaped `text`, or a dash when it is blank.
fn text_or_missing(text: &str) -> String {
    if text.trim().is_empty() { missing() } else { escape(text).into_owned() }
}

/// The chart, or the reason it is missing, with its caption.
fn write_figure(html: &mut String, symbol: &str, what: &str, svg: Result<String, String>, caption: &str) {
    html.push_str("<figure>\n");
    match svg {
        Ok(svg) => html.push_str(&svg),
        Err(error) => {
            tracing::warn!(symbol, chart = what, %error, "drawing a report chart failed");
            let _ = writeln!(
                html,
                "<p class=\"notice\">The {what} chart could not be drawn: {}</p>",
                escape(&error)
            );
        }
    }
    let _ = write!(html, "<figcaption>{caption}</figcaption>\n</figure>\n");
}

fn price_caption(plan: &ChartPlan, providers: usize) -> String {
    let legend = "<span class=\"swatch sw-up\"></span>up and \
                  <span class=\"swatch sw-down\"></span>down candles, \
                  <span class=\"swatch sw-sma20\"></span>SMA 20, \
                  <span class=\"swatch sw-sma50\"></span>SMA 50 and \
                  <span class=\"swatch sw-sma200\"></span>SMA 200 of closes, \
                  <span class=\"swatch sw-bands\"></span>Bollinger bands 20/2, volume below.";
    let overlap = if providers > 1 {
        " The bars come from several providers: one bar per trading day, the preferred provider's."
    } else {
        ""
    };
    if plan.resolution == Resolution::AsStored {
        format!("One candle per bar: {legend}{overlap}")
    } else {
        format!(
            "<strong>{} bars are shown as {} {} candles</strong> to keep the chart legible \
             (first open, highest high, lowest low, last close, summed volume; moving averages \
             and RSI are those of the last bar in each candle): {legend}{overlap}",
            group_thousands(plan.chartable_bars as u64),
            group_thousands(plan.candles as u64),
            plan.resolution.adjective(),
        )
    }
}

fn write_price_table(html: &mut String, summary: &SymbolSummary, period_return: Option<f64>) {
    let indicators = &summary.indicators;
    html.push_str("<table class=\"kv\">\n<caption>Price and coverage</caption>\n<tbody>\n");
    row(html, "Latest close", &indicators.last_close.map_or_else(missing, format_price), "");
    row(html, "Change, 1 day", &change_badge(indicators), "");
    row(html, "Change over the period", &signed_percent(period_return), "");
    row(html, "Bars", &group_thousands(summary.n_bars), "");
    row(html, "First date", &summary.first.map_or_else(missing, format_timestamp), "");
    row(html, "Last date", &summary.last.map_or_else(missing, format_timestamp), "");
    row(html, "Providers", &escape(&providers_text(&summary.providers)), "");
    row(html, "Provider disagreements", &group_thousands(summary.disagreements), "");
    html.push_str("</tbody>\n</table>\n");
}

fn write_indicator_table(html: &mut String, indicators: &IndicatorSnapshot) {
    let close = indicators.last_close;
    let versus_close = |average: Option<f64>| match (close, average) {
        (Some(close), Some(average)) if close > average => "close above",
        (Some(close), Some(average)) if close < average => "close below",
        _ => "",
    };
    let price = |value: Option<f64>| value.map_or_else(missing, format_price);
    html.push_str("<table class=\"kv\">\n<caption>Indicators</caption>\n<tbody>\n");
    row(html, "SMA 20", &price(indicators.sma20), versus_close(indicators.sma20));
    row(html, "SMA 50", &price(indicators.sma50), versus_close(indicators.sma50));
    let rsi_note = match indicators.rsi14 {
        Some(rsi) if rsi > 70.0 => "overbought",
        Some(rsi) if rsi < 30.0 => "oversold",
        Some(_) => "neutral",
        None => "",
    };
    row(html, "RSI 14", &indicators.rsi14.map_or_else(missing, |rsi| format!("{rsi:.1}")), rsi_note);
    let macd_note = match (indicators.macd, indicators.macd_signal) {
        (Some(macd), Some(signal)) if macd > signal => "above signal",
        (Some(macd), Some(signal)) if macd < signal => "below signal",
        _ => "",
    };
    row(html, "MACD 12/26/9", &signed(indicators.macd), macd_note);
    row(html, "MACD signal", &signed(indicators.macd_signal), "");
    row(html, "MACD histogram", &signed(indicators.macd_hist), "");
    row(html, "Bollinger upper (20, 2σ)", &price(indicators.bb_upper), "");
    row(html, "Bollinger middle", &price(indicators.bb_mid), "");
    row(html, "Bollinger lower", &price(indicators.bb_lower), "");
    let atr_note = match (indicators.atr14, close) {
        (Some(atr), Some(close)) if close != 0.0 => format!("{:.2}% of close", atr / close * 100.0),
        _ => String::new(),
    };
    row(html, "ATR 14", &price(indicators.atr14), &atr_note);
    row(
        html,
        "Volatility, 20 days",
        &indicators.volatility20.map_or_else(missing, |volatility| format!("{:.1}%", volatility * 100.0)),
        "annualised",
    );
    html.push_str("</tbody>\n</table>\n");
}

/// A key/value row; `value` and `note` must already be HTML.
fn row(html: &mut String, key: &str, value: &str, note: &str) {
    let _ = writeln!(
        html,
        "<tr><th scope=\"row\">{key}</th><td class=\"num\">{value}</td>\
         <td class=\"note\">{note}</td></tr>"
    );
}

/// Bars the quality gate kept but flagged, so a reader knows which points to doubt.
fn write_flags(html: &mut String, bars: &[Bar]) {
    let flagged = bars.iter().filter(|bar| bar.flag.is_some()).count();
    if flagged == 0 {
        return;
    }
    let _ = write!(
        html,
        "<details class=\"flags\">\n<summary>{} flagged by the data-quality gate</summary>\n<ul>\n",
        count_noun(flagged as u64, "bar"),
    );
    for bar in bars.iter().filter(|bar| bar.flag.is_some()).take(MAX_LISTED_FLAGS) {
        let _ = writeln!(
            html,
            "<li><span class=\"date\">{}</span> ({}): {}</li>",
            format_timestamp(bar.ts),
            escape(bar.provider.as_str()),
            escape(bar.flag.as_deref().unwrap_or_default()),
        );
    }
    if flagged > MAX_LISTED_FLAGS {
        let _ = writeln!(html, "<li class=\"muted\">and {} more</li>", flagged - MAX_LISTED_FLAGS);
    }
    html.push_str("</ul>\n</details>\n");
}

/// An id unique within the report (the position makes repeated symbols distinct) made of
/// characters that need no escaping in a fragment (`^GSPC` becomes `s1-GSPC`).
fn anchor(position: usize, symbol: &str) -> String {
    let cleaned: String = symbol.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("s{position}-{}", cleaned.trim_matches('-'))
}

/// Return from the first to the last finite close of the section's bars. Where providers
/// overlap, a timestamp's first close counts, as in the summary's indicators.
fn period_return(bars: &[Bar]) -> Option<f64> {
    let mut first: Option<f64> = None;
    let mut last: Option<(DateTime<Utc>, f64)> = None;
    for bar in bars {
        let Some(close) = bar.close.filter(|close| close.is_finite()) else {
            continue;
        };
        first.get_or_insert(close);
        if last.is_none_or(|(ts, _)| ts != bar.ts) {
            last = Some((bar.ts, close));
        }
    }
    let (first, (_, last)) = (first?, last?);
    (first != 0.0).then(|| last / first - 1.0)
}

/// "+1.23 (+0.49%)" coloured by direction, or a dash when there is no previous close.
fn change_badge(indicators: &IndicatorSnapshot) -> String {
    let (Some(close), Some(daily_return)) = (indicators.last_close, indicators.daily_return) else {
        return missing();
    };
    let previous = close / (1.0 + daily_return);
    let change = close - previous;
    // As many decimals as the close itself, not four because the change is under 1.
    let change_text = format_number(change.abs(), price_decimals(close));
    format!(
        "<span class=\"{}\">{}{change_text} ({:+.2}%)</span>",
        direction_class(daily_return),
        if change >= 0.0 { "+" } else { "-" },
        daily_return * 100.0,
    )
}

fn signed_percent(value: Option<f64>) -> String {
    value.map_or_else(missing, |value| {
        format!("<span class=\"{}\">{:+.2}%</span>", direction_class(value), value * 100.0)
    })
}

fn signed(value: Option<f64>) -> String {
    value.map_or_else(missing, |value| format!("{value:+.3}"))
}

fn direction_class(value: f64) -> &'static str {
    if value > 0.0 {
        "up"
    } else if value < 0.0 {
        "down"
    } else {
        "flat"
    }
}

fn missing() -> String {
    "<span class=\"na\" title=\"not enough data\">—</span>".to_owned()
}

/// Two decimals with thousands separators, four for prices under 1 (currencies, penny stocks).
fn format_price(value: f64) -> String {
    format_number(value, price_decimals(value))
}

fn price_decimals(price: f64) -> usize {
    if price.abs() < 1.0 && price != 0.0 { 4 } else { 2 }
}

/// `value` with `decimals` decimals and thousands separators.
fn format_number(value: f64, decimals: usize) -> String {
    let text = format!("{:.decimals$}", value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let grouped = whole.parse::<u64>().map_or_else(|_| whole.to_owned(), group_thousands);
    // No "-0.00": a sign only when a nonzero digit survives the rounding.
    let negative = value < 0.0 && text.bytes().any(|b| matches!(b, b'1'..=b'9'));
    let sign = if negative { "-" } else { "" };
    if fraction.is_empty() { format!("{sign}{grouped}") } else { format!("{sign}{grouped}.{fraction}") }
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

fn count_noun(count: u64, noun: &str) -> String {
    format!("{} {noun}{}", group_thousands(count), if count == 1 { "" } else { "s" })
}

/// A date for daily bars, date and time (UTC) when the bar does not start at midnight.
fn format_timestamp(ts: DateTime<Utc>) -> String {
    if ts.num_seconds_from_midnight() == 0 {
        ts.format("%Y-%m-%d").to_string()
    } else {
        ts.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

fn format_generated_at(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn date_span(first: Option<DateTime<Utc>>, last: Option<DateTime<Utc>>) -> String {
    match (first, last) {
        (Some(first), Some(last)) => {
            format!("{} to {}", format_timestamp(first), format_timestamp(last))
        }
        _ => "no data".to_owned(),
    }
}

fn providers_text(providers: &[ProviderId]) -> String {
    if providers.is_empty() {
        return "no provider".to_owned();
    }
    providers.iter().map(|provider| provider.as_str()).collect::<Vec<_>>().join(", ")
}

/// The style sheet, `report.css`: plain CSS, no imports or URLs (the report fetches nothing). The
/// page is a flex column so the contents table, written after the sections, can be shown right
/// under the header.
const STYLE: &str = include_str!("report.css");

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use domain::Symbol;

    use super::*;
    use charts::fixtures::sample_bars;

    fn generated_at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 14, 30, 0).single().expect("valid date")
    }

    fn section(symbol: &str, bars: Vec<Bar>) -> SymbolReport {
        let mut providers: Vec<ProviderId> = bars.iter().map(|bar| bar.provider).collect();
        providers.sort();
        providers.dedup();
        SymbolReport {
            summary: SymbolSummary {
                symbol: Symbol::parse(symbol).expect("valid symbol"),
                n_bars: bars.len() as u64,
                first: bars.first().map(|bar| bar.ts),
                last: bars.last().map(|bar| bar.ts),
                providers,
                disagreements: 0,
                indicators: domain::indicators::latest(&bars),
            },
            bars,
        }
    }

    fn render(title: &str, sections: Vec<SymbolReport>) -> String {
        render_with_notes(title, &[], sections)
    }

    fn render_with_notes(title: &str, notes: &[NoteSummary], sections: Vec<SymbolReport>) -> String {
        let mut out = Vec::new();
        render_report(&mut out, title, generated_at(), notes, &[], &mut sections.into_iter().map(Ok))
            .expect("report renders");
        String::from_utf8(out).expect("utf-8")
    }

    fn note(symbol: &str, rating: Rating, thesis: &str) -> NoteSummary {
        NoteSummary {
            symbol: domain::Symbol::parse(symbol).unwrap(),
            rating,
            confidence: 0.724,
            horizon: "6-12 months".to_owned(),
            thesis: thesis.to_owned(),
            risks: vec!["Antitrust <rulings>".to_owned(), "China demand".to_owned()],
            model: "qwen2.5:7b".to_owned(),
            crew: "research".to_owned(),
            created_at: Utc.with_ymd_and_hms(2025, 2, 27, 9, 5, 0).single().expect("valid date"),
        }
    }

    #[test]
    fn report_is_self_contained() {
        let html = render(
            "Watchlist <2025>",
            vec![section("AAPL", sample_bars(250)), section("MSFT", sample_bars(60))],
        );
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        for forbidden in
            ["http://", "https://", "src=\"http", "href=\"http", "@import", "url(", "<script", "xmlns"]
        {
            assert!(!html.contains(forbidden), "found {forbidden:?}");
        }
        assert!(!html.contains("src="), "nothing is loaded from anywhere");
        assert!(html.contains("<title>Watchlist &lt;2025&gt;</title>"));
        assert!(html.contains("Generated 2025-03-01 14:30 UTC"));
    }

    #[test]
    fn one_section_per_symbol_with_contents_and_sources() {
        let html = render(
            "Report",
            vec![
                section("AAPL", sample_bars(250)),
                section("^GSPC", sample_bars(30)),
                section("EURUSD=X", sample_bars(5)),
            ],
        );
        assert_eq!(html.matches("<section class=\"symbol card\"").count(), 3);
        for (anchor, symbol) in [("s1-AAPL", "AAPL"), ("s2-GSPC", "^GSPC"), ("s3-EURUSD-X", "EURUSD=X")] {
            assert!(html.contains(&format!("id=\"{anchor}\"")), "{anchor}");
            // Once in the contents table, once in the data-sources table.
            assert_eq!(html.matches(&format!("<a href=\"#{anchor}\">{symbol}</a>")).count(), 2, "{anchor}");
        }
        // Two charts (price and RSI) per section, each a single inline SVG.
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 6);
        assert!(html.contains("id=\"contents\"") && html.contains("id=\"data-sources\""));
        assert!(html.contains("<td>sample</td>"));
        // Sections come before the contents table in the file: it is written last.
        let first_section = html.find("id=\"s1-AAPL\"").expect("section");
        assert!(first_section < html.find("id=\"contents\"").expect("contents"));
    }

    #[test]
    fn escapes_flags_and_titles() {
        let mut bars = sample_bars(40);
        bars[7].flag = Some("<script>alert('x')</script> close jumped 100x".to_owned());
        let html = render("<b>t</b>", vec![section("AAPL", bars)]);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; close jumped 100x"));
        assert!(html.contains("1 bar flagged by the data-quality gate"));
        assert!(!html.contains("<b>t</b>"));
    }

    #[test]
    fn research_notes_get_their_own_section_with_badges() {
        let notes = [
            note("AAPL", Rating::Buy, "Services growth offsets hardware."),
            note("MSFT", Rating::Sell, "Capex outruns revenue."),
        ];
        let html = render_with_notes(
            "Report",
            &notes,
            vec![section("AAPL", sample_bars(30)), section("MSFT", sample_bars(30))],
        );
        assert_eq!(html.matches("<h2 id=\"research-notes-title\">Research notes</h2>").count(), 1);
        assert!(html.contains("<a href=\"#research-notes\">research notes</a>"));
        // Written before the symbol sections, one article per note.
        let notes_at = html.find("id=\"research-notes\"").expect("notes section");
        assert!(notes_at < html.find("id=\"s1-AAPL\"").expect("section"));
        assert_eq!(html.matches("<article class=\"note\"").count(), 2);
        assert!(html.contains("id=\"note-s1-AAPL\"") && html.contains("id=\"note-s2-MSFT\""));
        assert!(html.contains("<span class=\"rating rating-buy\">Buy</span>"));
        assert!(html.contains("<span class=\"rating rating-sell\">Sell</span>"));
        assert!(html.contains("72% confidence"));
        assert!(
            html.contains("Horizon: 6-12 months · 2025-02-27 09:05 UTC · model qwen2.5:7b, crew research")
        );
        assert!(html.contains("<p class=\"thesis\">Services growth offsets hardware.</p>"));
        assert!(html.contains("<li>Antitrust &lt;rulings&gt;</li>\n<li>China demand</li>"));
        // Each symbol's section links to its note.
        assert!(
            html.contains("<a href=\"#note-s2-MSFT\">Research note</a>: <span class=\"rating rating-sell\">")
        );
    }

    #[test]
    fn research_notes_are_escaped_like_any_untrusted_text() {
        let mut evil = note("AAPL", Rating::Hold, "<script>alert('pwned')</script> & <img src=x onerror=y>");
        evil.risks = vec!["</li><script>steal()</script>".to_owned()];
        evil.model = "<b>model</b>".to_owned();
        evil.horizon = "\"><a href=\"https://evil.example\">".to_owned();
        evil.confidence = f64::NAN;
        let html = render_with_notes("Report", &[evil], vec![section("AAPL", sample_bars(30))]);
        assert!(!html.contains("<script"), "a script survived");
        assert!(!html.contains("<img") && !html.contains("<b>model") && !html.contains("href=\"https"));
        assert!(html.contains(
            "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &lt;img src=x onerror=y&gt;"
        ));
        assert!(html.contains("<li>&lt;/li&gt;&lt;script&gt;steal()&lt;/script&gt;</li>"));
        assert!(html.contains("<span class=\"rating rating-hold\">Hold</span>"));
        assert!(html.contains("title=\"not enough data\">—</span> confidence"), "NaN is not a percentage");
    }

    #[test]
    fn company_facts_and_headlines_are_shown_and_escaped() {
        let item = |headline: &str, url: &str| domain::NewsItem {
            symbol: domain::Symbol::parse("AAPL").unwrap(),
            headline: headline.to_owned(),
            url: url.to_owned(),
            source: Some("Wire <b>".to_owned()),
            summary: None,
            published_at: generated_at(),
            sentiment: None,
            provider: ProviderId::Polygon,
        };
        let company = CompanySummary {
            symbol: domain::Symbol::parse("AAPL").unwrap(),
            name: Some("Apple <script>alert(1)</script>".to_owned()),
            sector: Some("Tech & Co".to_owned()),
            industry: Some("ELECTRONIC COMPUTERS".to_owned()),
            market_cap: Some(2_488_795_282_370.0),
            provider: Some(ProviderId::Polygon),
            headlines: vec![
                item("Beats <img src=x onerror=alert(1)>", "https://news.example/a?x=1&y=\"2\""),
                item("Sneaky", "javascript:alert(1)"),
            ],
        };
        let mut out = Vec::new();
        let sections = vec![section("AAPL", sample_bars(30)), section("MSFT", sample_bars(30))];
        render_report(&mut out, "Report", generated_at(), &[], &[company], &mut sections.into_iter().map(Ok))
            .unwrap();
        let html = String::from_utf8(out).unwrap();

        assert!(html.contains("<strong>Apple &lt;script&gt;alert(1)&lt;/script&gt;</strong>"), "{html}");
        assert!(html.contains("Sector: Tech &amp; Co · Industry: ELECTRONIC COMPUTERS · Market cap: 2.49T"));
        assert!(html.contains("(profile from polygon)"));
        assert!(html.contains(
            "<a href=\"https://news.example/a?x=1&amp;y=&quot;2&quot;\" rel=\"noopener noreferrer nofollow\">\
             Beats &lt;img src=x onerror=alert(1)&gt;</a>"
        ));
        assert!(html.contains("<li>Sneaky <span"), "a javascript: URL is not a link");
        assert!(!html.contains("href=\"javascript:"));
        assert!(html.contains("Wire &lt;b&gt; · "));
        assert_eq!(html.matches("Latest headlines").count(), 1, "only AAPL has any");
        assert!(!html.contains("<script>") && !html.contains("<img"));
    }

    #[test]
    fn market_caps_are_short() {
        assert_eq!(format_market_cap(2_488_795_282_370.0), "2.49T");
        assert_eq!(format_market_cap(15_300_000_000.0), "15.30B");
        assert_eq!(format_market_cap(750_000.0), "750.00K");
        assert_eq!(format_market_cap(12.0), "12.00");
    }

    #[test]
    fn no_notes_no_notes_section() {
        let html = render("Report", vec![section("AAPL", sample_bars(30))]);
        assert!(!html.contains("research-notes") && !html.contains("Research note"));
        assert_eq!(confidence_percent(1.0), "100%");
        assert_eq!(confidence_percent(0.0), "0%");
        assert!(confidence_percent(1.5).contains("—"));
    }

    #[test]
    fn caps_the_list_of_flags() {
        let mut bars = sample_bars(80);
        for bar in &mut bars {
            bar.flag = Some("suspicious".to_owned());
        }
        let html = render("Report", vec![section("AAPL", bars)]);
        assert_eq!(html.matches(": suspicious</li>").count(), MAX_LISTED_FLAGS);
        assert!(html.contains("and 30 more"));
    }

    #[test]
    fn handles_empty_and_tiny_series() {
        let html = render("Report", vec![section("AAPL", Vec::new()), section("MSFT", sample_bars(1))]);
        assert_eq!(html.matches("<section class=\"symbol card\"").count(), 2);
        assert!(html.contains("No bars are stored for this symbol"));
        assert!(html.contains("Not enough price data to chart (1 complete bar)"));
        assert!(html.contains("0 bars · no data · from no provider"));
        assert_eq!(html.matches("<caption>Price and coverage</caption>").count(), 1);

        let empty = render("Nothing", Vec::new());
        assert!(empty.contains("This report has no symbols."));
        assert!(empty.trim_end().ends_with("</html>"));
    }

    #[test]
    fn summary_table_shows_the_indicators() {
        let report = section("AAPL", sample_bars(250));
        let snapshot = report.summary.indicators;
        let html = render("Report", vec![report]);
        for label in [
            "Latest close",
            "Change, 1 day",
            "SMA 20",
            "SMA 50",
            "RSI 14",
            "MACD 12/26/9",
            "MACD signal",
            "Bollinger upper (20, 2σ)",
            "Bollinger lower",
            "ATR 14",
            "Volatility, 20 days",
            "First date",
            "Last date",
            "Providers",
        ] {
            assert!(html.contains(&format!("<th scope=\"row\">{label}</th>")), "{label}");
        }
        let close = snapshot.last_close.expect("close");
        assert!(html.contains(&format_price(close)));
        let sma20 = snapshot.sma20.expect("sma20");
        assert!(html.contains(&format_price(sma20)));
        assert!(html.contains(&format!("{:.1}", snapshot.rsi14.expect("rsi"))));
        assert!(html.contains("One candle per bar"));
    }

    #[test]
    fn long_series_say_they_are_aggregated() {
        let html = render("Report", vec![section("AAPL", sample_bars(2_500))]);
        assert!(html.contains("2,500 bars are shown as"), "caption");
        assert!(html.contains("weekly candles"));
        assert!(html.len() < 1_000_000, "report is {} bytes", html.len());
    }

    #[test]
    fn stops_at_the_first_failed_section() {
        let mut sections = vec![
            Ok(section("AAPL", sample_bars(30))),
            Err(ExportError::Format("storage went away".to_owned())),
            Ok(section("MSFT", sample_bars(30))),
        ]
        .into_iter();
        let mut out = Vec::new();
        let error = render_report(&mut out, "Report", generated_at(), &[], &[], &mut sections)
            .expect_err("the error is passed on");
        assert!(error.to_string().contains("storage went away"));
        let html = String::from_utf8(out).expect("utf-8");
        assert!(html.contains("id=\"s1-AAPL\"") && !html.contains("MSFT"));
    }

    #[test]
    fn formats_numbers_for_reading() {
        assert_eq!(format_price(1234567.891), "1,234,567.89");
        assert_eq!(format_price(-42.5), "-42.50");
        assert_eq!(format_price(0.123456), "0.1235");
        assert_eq!(format_number(-0.001, 2), "0.00");
        let snapshot = IndicatorSnapshot {
            last_close: Some(27.95),
            daily_return: Some(0.15 / 27.80),
            ..IndicatorSnapshot::default()
        };
        assert!(change_badge(&snapshot).contains(">+0.15 (+0.54%)<"));
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(count_noun(1, "bar"), "1 bar");
        assert_eq!(anchor(2, "BRK.B"), "s2-BRK-B");
    }
}
