//! Yahoo Finance provider, built on the unofficial chart endpoint
//! (`/v8/finance/chart/{symbol}`), which needs no key and no crumb.
//!
//! Design decision: bars *and* quotes come from the chart endpoint. The v7 quote endpoint would
//! need the cookie-and-crumb dance (two extra requests, a 24 h cache, a consent-page fallback),
//! which breaks whenever Yahoo changes it; the chart's `meta` already carries the regular-market
//! price, day range, volume and previous close, so one stable endpoint serves both.
//!
//! Yahoo reports errors in `chart.error`, sometimes with HTTP 200, so every response is
//! classified from its body first and its status second. Company profiles are deliberately not
//! offered: `meta` only knows the name, exchange and currency, and the chain takes the first
//! provider that claims a capability, so a thin Yahoo profile would hide a full one from
//! another vendor.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::calendar::parse_zone;
use domain::{
    Bar, BarSeries, CorporateAction, CorporateActionKind, Exchange, Interval, PriceBasis, ProviderId, Quote,
    QuoteSource, Symbol, volume_from_f64,
};
use outbound::{Auth, Response};
use url::Url;

use crate::http::HttpClient;
use crate::{BarsRequest, Capabilities, Capability, MarketData, ProviderError, VendorConfig};

const CAPABILITIES: Capabilities = Capabilities::new(&[
    Capability::DailyBars,
    Capability::IntradayBars,
    Capability::Quote,
    Capability::CorporateActions,
]);

/// Yahoo Finance market data.
#[derive(Debug)]
pub struct YahooProvider {
    http: HttpClient,
}

impl YahooProvider {
    /// Builds the provider and its HTTP client. Yahoo needs no key, so only the generic settings
    /// are checked; the browser User-Agent comes from the config because Yahoo answers 429 to
    /// library User-Agents.
    ///
    /// # Errors
    /// `NotConfigured` for invalid settings.
    pub fn new(config: &VendorConfig) -> Result<Self, ProviderError> {
        Ok(Self { http: HttpClient::new(ProviderId::Yahoo, config, Auth::None)? })
    }

    /// `{base_url}/v8/finance/chart/{symbol}`, with the symbol pushed as one path segment so the
    /// URL crate escapes it, whatever the symbol rules become.
    fn chart_url(&self, symbol: &Symbol) -> Result<Url, ProviderError> {
        let not_configured =
            |message: String| ProviderError::NotConfigured { provider: ProviderId::Yahoo, message };
        let mut url = Url::parse(self.http.base_url())
            .map_err(|e| not_configured(format!("base_url {:?} is not a URL: {e}", self.http.base_url())))?;
        url.path_segments_mut()
            .map_err(|()| not_configured(format!("base_url {:?} cannot take a path", self.http.base_url())))?
            .pop_if_empty()
            .extend(["v8", "finance", "chart", symbol.as_str()]);
        Ok(url)
    }

    /// Sends one chart request and returns its single result, or the typed error Yahoo meant.
    async fn chart(
        &self,
        what: &str,
        symbol: &Symbol,
        query: &[(&str, String)],
    ) -> Result<models::ChartResult, ProviderError> {
        let url = self.chart_url(symbol)?;
        self.http
            .execute(
                what,
                |client| client.get(url.clone()).query(query),
                |response| self.classify(what, response),
            )
            .await
    }

    /// Splits from `since` to `now`, from a monthly chart of that window (a few rows).
    async fn splits_since(
        &self,
        what: &str,
        symbol: &Symbol,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CorporateAction>, ProviderError> {
        let query = [
            ("period1", since.timestamp().to_string()),
            ("period2", now.timestamp().to_string()),
            ("interval", "1mo".to_owned()),
            ("events", "splits".to_owned()),
        ];
        let result = self.chart(what, symbol, &query).await?;
        let exchange = chart_exchange(symbol, &result);
        let actions =
            parse_events(&result, &exchange).map_err(|message| self.http.malformed(what, message))?;
        Ok(actions.into_iter().filter(|a| matches!(a.kind, CorporateActionKind::Split { .. })).collect())
    }

    /// Body first, status second: `chart.error` is authoritative even on HTTP 200, and a non-JSON
    /// body (Yahoo's plain-text 429, an HTML error page) falls through to the status.
    fn classify(&self, what: &str, response: &Response) -> Result<models::ChartResult, ProviderError> {
        let envelope = (!response.is_html())
            .then(|| serde_json::from_slice::<models::ChartEnvelope>(&response.body).ok())
            .flatten();
        if let Some(error) = envelope.as_ref().and_then(|e| e.chart.error.as_ref()) {
            return Err(self.chart_error(what, response, error));
        }
        if response.status.as_u16() == 404 {
            // Unknown symbols come with a `chart.error`; a bare 404 means the URL is wrong
            // (a bad base_url or a moved endpoint), which is not the symbol's fault.
            return Err(ProviderError::Upstream {
                provider: ProviderId::Yahoo,
                what: what.to_owned(),
                status: Some(404),
                message: format!(
                    "404 without a chart error; check providers.yahoo.base_url: {}",
                    self.http.body_excerpt(response)
                ),
            });
        }
        if !response.status.is_success() {
            return Err(self.http.status_error(what, response, None));
        }
        let envelope = match envelope {
            Some(envelope) => envelope,
            None => self.http.parse_json::<models::ChartEnvelope>(what, response)?,
        };
        envelope
            .chart
            .result
            .and_then(|results| results.into_iter().next())
            .ok_or_else(|| self.http.malformed(what, "no chart.result and no chart.error in the response"))
    }

    /// Maps Yahoo's `{"code","description"}` to a typed error. With an error status the status
    /// decides (the shared mapping); with 200 the code does.
    fn chart_error(&self, what: &str, response: &Response, error: &models::ChartError) -> ProviderError {
        let message = match error.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            Some(description) => description.to_owned(),
            None => error.code.clone(),
        };
        let provider = ProviderId::Yahoo;
        if error.code == "Not Found" {
            // Yahoo's unknown symbol, sent with 404 (or 200): the symbol's fault, not the
            // endpoint's, so not the shared status mapping.
            return ProviderError::NotFound {
                provider,
                what: what.to_owned(),
                message: self.http.redactor().redact(&message),
            };
        }
        if !response.status.is_success() {
            return self.http.status_error(what, response, Some(message));
        }
        let what = what.to_owned();
        let message = self.http.redactor().redact(&message);
        match error.code.as_str() {
            "Not Found" => ProviderError::NotFound { provider, what, message },
            "Bad Request" | "Unprocessable Entity" => {
                ProviderError::InvalidRequest { provider, what, message }
            }
            "Unauthorized" => ProviderError::Auth { provider, what, message },
            "Too Many Requests" => ProviderError::RateLimited { provider, what, message, retry_after: None },
            code => ProviderError::Upstream {
                provider,
                what,
                status: Some(response.status.as_u16()),
                message: format!("{code}: {message}"),
            },
        }
    }
}

/// A chart converted into domain terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Keyed as the domain stores them (daily bars by session date), sorted, one per key, with
    /// `partial` set on bars whose session had not ended at `now`. Prices are Yahoo's:
    /// split-adjusted as of the fetch.
    pub bars: Vec<Bar>,
    /// Splits and dividends from `events`, by ex-date.
    pub actions: Vec<CorporateAction>,
    /// The exchange in the zone Yahoo's `meta` names (or the suffix table's when it names none).
    pub exchange: Exchange,
}

/// Parses a chart v8 body without any HTTP: used by the ingest benchmark, the fuzz tests and
/// anything replaying stored payloads. Errors in the body (`chart.error`) are reported as text.
///
/// # Errors
/// A description of why the body is not a usable chart.
pub fn parse_chart(
    symbol: &Symbol,
    interval: Interval,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Chart, String> {
    let envelope: models::ChartEnvelope =
        serde_json::from_slice(body).map_err(|e| format!("{symbol}: invalid chart JSON: {e}"))?;
    if let Some(error) = envelope.chart.error {
        return Err(format!("{symbol}: {}: {}", error.code, error.description.unwrap_or_default()));
    }
    let result = envelope
        .chart
        .result
        .and_then(|results| results.into_iter().next())
        .ok_or_else(|| format!("{symbol}: no chart.result"))?;
    chart_from_result(symbol, interval, &result, now)
}

/// The exchange of a chart: Yahoo's `exchangeTimezoneName` where it names a zone we know.
fn chart_exchange(symbol: &Symbol, result: &models::ChartResult) -> Exchange {
    let listed = Exchange::for_symbol(symbol);
    let zone = result.meta.as_ref().and_then(|m| m.exchange_timezone_name.as_deref()).and_then(parse_zone);
    zone.map_or(*listed, |zone| listed.in_zone(zone))
}

/// See [`parse_chart`].
pub(crate) fn chart_from_result(
    symbol: &Symbol,
    interval: Interval,
    result: &models::ChartResult,
    now: DateTime<Utc>,
) -> Result<Chart, String> {
    let exchange = chart_exchange(symbol, result);
    let mut bars = parse_bars(result, interval, &exchange)?;
    for bar in &mut bars {
        bar.partial = exchange.is_bar_partial(interval, bar.ts, now);
    }
    let actions = parse_events(result, &exchange)?;
    Ok(Chart { bars, actions, exchange })
}

/// Yahoo's spelling of each interval. Hourly is sent as `60m`, next to the other minute
/// intervals, rather than the `1h` alias.
fn yahoo_interval(interval: Interval) -> &'static str {
    match interval {
        Interval::Min1 => "1m",
        Interval::Min5 => "5m",
        Interval::Min15 => "15m",
        Interval::Min30 => "30m",
        Interval::Hour1 => "60m",
        Interval::Day1 => "1d",
        Interval::Week1 => "1wk",
        Interval::Month1 => "1mo",
    }
}

#[async_trait]
impl MarketData for YahooProvider {
    fn id(&self) -> ProviderId {
        self.http.provider()
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn usage(&self) -> Option<&outbound::Usage> {
        Some(self.http.usage())
    }

    /// Asks for the exchange-local days of the request: `period1` is the first day's local
    /// midnight and `period2` the last second before the day after the last (Yahoo includes a
    /// bar stamped exactly at `period2`, which for 24-hour markets is the next day's). The bars
    /// are then trimmed to the dates in Yahoo's own exchange zone.
    async fn bars(&self, request: &BarsRequest) -> Result<BarSeries, ProviderError> {
        let what = request.describe();
        let now = Utc::now();
        let dates = request.dates(now);
        let (start, end) = request.exchange().window(dates);
        let query = [
            ("period1", start.timestamp().to_string()),
            ("period2", (end.timestamp() - 1).to_string()),
            ("interval", yahoo_interval(request.interval).to_owned()),
            ("includePrePost", "false".to_owned()),
            ("events", "div,splits".to_owned()),
        ];
        let result = self.chart(&what, &request.symbol, &query).await?;
        let mut chart = chart_from_result(&request.symbol, request.interval, &result, now)
            .map_err(|message| self.http.malformed(&what, message))?;
        // Regular session only, as every provider returns intraday bars (Yahoo is asked with
        // `includePrePost=false`, yet its 1m answers end with a 16:00 bar of the next day).
        let exchange = chart.exchange;
        chart.bars.retain(|bar| {
            dates.contains(exchange.key_date(request.interval, bar.ts))
                && (!request.interval.is_intraday() || exchange.in_regular_session(bar.ts))
        });
        if chart.bars.is_empty() {
            tracing::debug!(provider = %ProviderId::Yahoo, what, %dates, "Yahoo returned no bars for the window.");
        } else if end < now {
            // Yahoo's prices are adjusted for every split up to today, but `events` only lists
            // the window's: ask for the splits since the window in one small monthly chart.
            chart.actions.extend(self.splits_since(&what, &request.symbol, end, now).await?);
        }
        Ok(BarSeries {
            symbol: request.symbol.clone(),
            interval: request.interval,
            provider: ProviderId::Yahoo,
            bars: chart.bars,
            basis: PriceBasis::SplitAdjusted,
            actions: chart.actions,
        })
    }

    /// Every split and dividend Yahoo has for the symbol, from one quarterly chart of its whole
    /// history (a few hundred rows at most).
    async fn corporate_actions(&self, symbol: &Symbol) -> Result<Vec<CorporateAction>, ProviderError> {
        let what = format!("{symbol} corporate actions");
        let query = [
            ("range", "max".to_owned()),
            ("interval", "3mo".to_owned()),
            ("events", "div,splits".to_owned()),
        ];
        let result = self.chart(&what, symbol, &query).await?;
        let exchange = chart_exchange(symbol, &result);
        parse_events(&result, &exchange).map_err(|message| self.http.malformed(&what, message))
    }

    async fn quote(&self, symbol: &Symbol) -> Result<Quote, ProviderError> {
        let what = format!("{symbol} quote");
        // One daily bar is enough: `meta` carries the live figures, and with `range=1d` the
        // chart's previous close is the previous session's close.
        let query = [("range", "1d".to_owned()), ("interval", "1d".to_owned())];
        let result = self.chart(&what, symbol, &query).await?;
        parse_quote(symbol, &result).map_err(|message| self.http.malformed(&what, message))
    }
}

/// Converts a chart result into bars, sorted by time, one per timestamp.
///
/// Yahoo's columns are parallel arrays aligned with `timestamp`. A column of another length
/// would silently shift prices onto the wrong dates, so it is rejected rather than padded;
/// an absent column is all `None`. Rows whose four prices are all `null` (halts, the gaps
/// Yahoo leaves in intraday series) are dropped. The adjusted close is read for daily and
/// longer intervals only, where Yahoo defines it.
///
/// # Errors
/// A message for a `Malformed` error when the arrays do not line up or a time is out of range.
pub(crate) fn parse_bars(
    result: &models::ChartResult,
    interval: Interval,
    exchange: &Exchange,
) -> Result<Vec<Bar>, String> {
    let Some(timestamps) = result.timestamp.as_deref() else {
        // An empty window: Yahoo drops `timestamp` and leaves the columns empty.
        return Ok(Vec::new());
    };
    let rows = timestamps.len();
    let empty = models::QuoteColumns::default();
    let columns = result.indicators.as_ref().and_then(|i| i.quote.first()).unwrap_or(&empty);
    let adjclose = if interval.is_intraday() {
        None
    } else {
        result.indicators.as_ref().and_then(|i| i.adjclose.first()).and_then(|a| a.adjclose.as_deref())
    };
    let open = column("open", columns.open.as_deref(), rows)?;
    let high = column("high", columns.high.as_deref(), rows)?;
    let low = column("low", columns.low.as_deref(), rows)?;
    let close = column("close", columns.close.as_deref(), rows)?;
    let volume = column("volume", columns.volume.as_deref(), rows)?;
    let adjclose = column("adjclose", adjclose, rows)?;
    let at = |values: Option<&[Option<f64>]>, row: usize| values.and_then(|v| v.get(row).copied().flatten());

    // Sorted by the stored key; when Yahoo sends a day twice (the open-stamped bar and the live
    // bar of the same session), the later row wins. Yahoo's rows come in time order, so the
    // common case is a push; anything else is sorted afterwards.
    let mut bars: Vec<Bar> = Vec::with_capacity(rows);
    let mut in_order = true;
    for (row, &seconds) in timestamps.iter().enumerate() {
        let (open, high, low, close) = (at(open, row), at(high, row), at(low, row), at(close, row));
        if open.is_none() && high.is_none() && low.is_none() && close.is_none() {
            continue;
        }
        let stamp = DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| format!("timestamp {seconds} is out of range"))?;
        let ts = exchange.bar_key(interval, stamp);
        match bars.last_mut() {
            Some(last) if last.ts == ts => {
                bars.pop();
            }
            Some(last) if last.ts > ts => in_order = false,
            _ => {}
        }
        bars.push(Bar {
            ts,
            open,
            high,
            low,
            close,
            adj_close: at(adjclose, row),
            volume: at(volume, row).and_then(volume_from_f64),
            provider: ProviderId::Yahoo,
            partial: false,
            flag: None,
        });
    }
    if !in_order {
        // Stable: of two rows with the same key the later stays after the earlier.
        bars.sort_by_key(|bar| bar.ts);
        let mut unique: Vec<Bar> = Vec::with_capacity(bars.len());
        for bar in bars {
            match unique.last_mut() {
                Some(last) if last.ts == bar.ts => *last = bar,
                _ => unique.push(bar),
            }
        }
        bars = unique;
    }
    Ok(bars)
}

/// A column as given, or an error when its length does not match the `rows` timestamps.
fn column<'a>(
    name: &str,
    values: Option<&'a [Option<f64>]>,
    rows: usize,
) -> Result<Option<&'a [Option<f64>]>, String> {
    match values {
        Some(values) if values.len() != rows => {
            Err(format!("column {name} has {} values for {rows} timestamps", values.len()))
        }
        values => Ok(values),
    }
}

/// Splits and dividends from a chart's `events`, by ex-date in the exchange's calendar.
///
/// # Errors
/// A message for a `Malformed` error when an event's date is out of range.
pub(crate) fn parse_events(
    result: &models::ChartResult,
    exchange: &Exchange,
) -> Result<Vec<CorporateAction>, String> {
    let Some(events) = result.events.as_ref() else {
        return Ok(Vec::new());
    };
    let date = |seconds: i64| {
        DateTime::from_timestamp(seconds, 0)
            .map(|stamp| exchange.session_date(stamp))
            .ok_or_else(|| format!("event date {seconds} is out of range"))
    };
    let mut actions = Vec::new();
    for split in events.splits.values() {
        let (Some(numerator), Some(denominator)) = (split.numerator, split.denominator) else {
            continue;
        };
        let kind = CorporateActionKind::Split { numerator, denominator };
        if kind.split_ratio().is_some() {
            actions.push(CorporateAction { date: date(split.date)?, kind, provider: ProviderId::Yahoo });
        }
    }
    for dividend in events.dividends.values() {
        if let Some(amount) = dividend.amount.filter(|a| a.is_finite() && *a >= 0.0) {
            actions.push(CorporateAction {
                date: date(dividend.date)?,
                kind: CorporateActionKind::Dividend { amount },
                provider: ProviderId::Yahoo,
            });
        }
    }
    actions.sort_by_key(|a| a.date);
    Ok(actions)
}

/// Builds a live quote from the chart's `meta`, with the day's open taken from the last bar
/// (`meta` has no open) and day range and volume falling back to that bar.
///
/// # Errors
/// A message for a `Malformed` error when `meta` has no price or no time.
pub(crate) fn parse_quote(symbol: &Symbol, result: &models::ChartResult) -> Result<Quote, String> {
    let meta = result.meta.as_ref().ok_or("chart result has no meta")?;
    let price = meta.regular_market_price.ok_or("chart meta has no regularMarketPrice")?;
    let bars = parse_bars(result, Interval::Day1, &chart_exchange(symbol, result))?;
    let last = bars.last();
    let ts = match meta.regular_market_time {
        Some(seconds) => DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| format!("regularMarketTime {seconds} is out of range"))?,
        None => last.map(|b| b.ts).ok_or("chart meta has no regularMarketTime")?,
    };
    let previous_close = meta.previous_close.or(meta.chart_previous_close);
    let change = previous_close.map(|previous| price - previous);
    let change_percent = previous_close
        .filter(|previous| *previous != 0.0)
        .and_then(|previous| change.map(|change| change / previous * 100.0));
    Ok(Quote {
        symbol: symbol.clone(),
        price,
        previous_close,
        change,
        change_percent,
        open: last.and_then(|b| b.open),
        high: meta.regular_market_day_high.or_else(|| last.and_then(|b| b.high)),
        low: meta.regular_market_day_low.or_else(|| last.and_then(|b| b.low)),
        volume: meta.regular_market_volume.and_then(volume_from_f64).or_else(|| last.and_then(|b| b.volume)),
        ts,
        provider: ProviderId::Yahoo,
        source: QuoteSource::Live,
    })
}

/// Yahoo's wire format, kept apart from the domain types: everything optional that Yahoo has
/// been seen to omit, so a missing field becomes `None` or a clear error, never a default 0.
pub(crate) mod models {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    pub(crate) struct ChartEnvelope {
        pub(crate) chart: Chart,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct Chart {
        #[serde(default)]
        pub(crate) result: Option<Vec<ChartResult>>,
        #[serde(default)]
        pub(crate) error: Option<ChartError>,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct ChartError {
        pub(crate) code: String,
        #[serde(default)]
        pub(crate) description: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub(crate) struct ChartResult {
        #[serde(default)]
        pub(crate) meta: Option<Meta>,
        #[serde(default)]
        pub(crate) timestamp: Option<Vec<i64>>,
        #[serde(default)]
        pub(crate) indicators: Option<Indicators>,
        #[serde(default)]
        pub(crate) events: Option<Events>,
    }

    /// `events.splits` and `events.dividends`, each keyed by the event's time as text.
    #[derive(Debug, Default, Deserialize)]
    pub(crate) struct Events {
        #[serde(default)]
        pub(crate) splits: BTreeMap<String, SplitEvent>,
        #[serde(default)]
        pub(crate) dividends: BTreeMap<String, DividendEvent>,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct SplitEvent {
        pub(crate) date: i64,
        #[serde(default)]
        pub(crate) numerator: Option<f64>,
        #[serde(default)]
        pub(crate) denominator: Option<f64>,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct DividendEvent {
        pub(crate) date: i64,
        #[serde(default)]
        pub(crate) amount: Option<f64>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Meta {
        pub(crate) regular_market_price: Option<f64>,
        pub(crate) regular_market_time: Option<i64>,
        pub(crate) chart_previous_close: Option<f64>,
        pub(crate) previous_close: Option<f64>,
        pub(crate) regular_market_day_high: Option<f64>,
        pub(crate) regular_market_day_low: Option<f64>,
        pub(crate) regular_market_volume: Option<f64>,
        pub(crate) exchange_timezone_name: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub(crate) struct Indicators {
        #[serde(default)]
        pub(crate) quote: Vec<QuoteColumns>,
        #[serde(default)]
        pub(crate) adjclose: Vec<AdjCloseColumn>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub(crate) struct QuoteColumns {
        pub(crate) open: Option<NumberColumn>,
        pub(crate) high: Option<NumberColumn>,
        pub(crate) low: Option<NumberColumn>,
        pub(crate) close: Option<NumberColumn>,
        pub(crate) volume: Option<NumberColumn>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub(crate) struct AdjCloseColumn {
        pub(crate) adjclose: Option<NumberColumn>,
    }

    /// A column of numbers or `null`s, read from the array's text by Rust's float parser.
    ///
    /// Why not `Vec<Option<f64>>`: serde_json's correctly rounded float parsing (the
    /// `float_roundtrip` feature, needed for exact prices) takes a slow path on Yahoo's
    /// float32-noise literals (`173.3699951171875`), and a chart is thousands of them; Rust's
    /// `str::parse::<f64>` is correctly rounded and several times faster. Needs the body as a
    /// slice (the numbers are borrowed while parsed), which every caller has.
    #[derive(Debug, Default, Clone, PartialEq)]
    pub(crate) struct NumberColumn(pub(crate) Vec<Option<f64>>);

    impl std::ops::Deref for NumberColumn {
        type Target = [Option<f64>];
        fn deref(&self) -> &[Option<f64>] {
            &self.0
        }
    }

    impl<'de> Deserialize<'de> for NumberColumn {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            // serde_json has checked the array's syntax while finding its end; split it here.
            let raw = <&'de serde_json::value::RawValue>::deserialize(deserializer)?;
            parse_number_array(raw.get()).map(NumberColumn).map_err(serde::de::Error::custom)
        }
    }

    /// `[1.5, null, 2]` → `[Some(1.5), None, Some(2.0)]`; anything but numbers and `null`s (or
    /// a non-finite number) is an error naming the token.
    pub(crate) fn parse_number_array(text: &str) -> Result<Vec<Option<f64>>, String> {
        let inner = text
            .trim()
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .ok_or_else(|| format!("expected an array of numbers, found {}", excerpt(text)))?;
        if inner.trim().is_empty() {
            return Ok(Vec::new());
        }
        inner
            .split(',')
            .map(|token| {
                let token = token.trim();
                if token == "null" {
                    return Ok(None);
                }
                let numeric = !token.is_empty()
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
                token
                    .parse::<f64>()
                    .ok()
                    .filter(|v| numeric && v.is_finite())
                    .map(Some)
                    .ok_or_else(|| format!("expected a number or null, found {}", excerpt(token)))
            })
            .collect()
    }

    fn excerpt(text: &str) -> String {
        text.chars().take(40).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn result(json: &str) -> models::ChartResult {
        let envelope: models::ChartEnvelope = serde_json::from_str(json).unwrap();
        envelope.chart.result.unwrap().into_iter().next().unwrap()
    }

    #[test]
    fn nulls_stay_none_and_empty_rows_are_dropped() {
        let result = result(
            r#"{"chart":{"result":[{"meta":{},"timestamp":[1714743000,1714570200,1714656600,1714764000],
               "indicators":{"quote":[{"open":[3.0,1.0,null,3.5],"high":[3.0,1.5,null,3.5],
                 "low":[3.0,0.5,null,3.5],"close":[3.0,null,null,3.25],"volume":[10,null,0,11]}],
                 "adjclose":[{"adjclose":[2.9,0.9,null,3.2]}]}}],"error":null}}"#,
        );
        let bars = parse_bars(&result, Interval::Day1, &Exchange::US).unwrap();
        assert_eq!(bars.len(), 2, "{bars:?}");
        // Daily bars are keyed by session date, whatever time Yahoo stamped.
        assert_eq!(bars[0].ts, Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap());
        assert_eq!(bars[0].close, None);
        assert_eq!(bars[0].volume, None);
        assert_eq!(bars[0].adj_close, Some(0.9));
        // 3 May was sent twice (at the open and live at 19:20Z): the later row wins.
        assert_eq!(bars[1].ts, Utc.with_ymd_and_hms(2024, 5, 3, 0, 0, 0).unwrap());
        assert_eq!(bars[1].close, Some(3.25));
        assert_eq!(bars[1].volume, Some(11));

        let intraday = parse_bars(&result, Interval::Min5, &Exchange::US).unwrap();
        assert_eq!(intraday.len(), 3);
        assert!(intraday.iter().all(|b| b.adj_close.is_none()));
    }

    #[test]
    fn empty_window_in_either_shape_is_empty() {
        for json in [
            r#"{"chart":{"result":[{"meta":{},"indicators":{"quote":[{}],"adjclose":[{}]}}],"error":null}}"#,
            r#"{"chart":{"result":[{"meta":{},"indicators":{"quote":[{"open":[],"close":[]}]}}],"error":null}}"#,
        ] {
            assert!(parse_bars(&result(json), Interval::Day1, &Exchange::US).unwrap().is_empty());
        }
    }

    #[test]
    fn number_columns_are_read_exactly_and_strictly() {
        use models::parse_number_array;
        assert_eq!(
            parse_number_array("[173.3699951171875, null,2, -0.5e-3 ]").unwrap(),
            vec![Some(173.3699951171875), None, Some(2.0), Some(-0.0005)]
        );
        assert_eq!(parse_number_array(" [ ] ").unwrap(), Vec::<Option<f64>>::new());
        // The last bit survives: the literal is the nearest double, as Rust's parser rounds it.
        assert_eq!(parse_number_array("[0.30000000000000004]").unwrap(), vec![Some(0.1 + 0.2)]);
        for bad in ["[\"1\"]", "[1,,2]", "[true]", "[{}]", "[1e999]", "[NaN]", "1", "[1,[2]]"] {
            assert!(parse_number_array(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn misaligned_columns_are_rejected() {
        let result = result(
            r#"{"chart":{"result":[{"timestamp":[1,2],"indicators":{"quote":[{"close":[1.0]}]}}],"error":null}}"#,
        );
        let err = parse_bars(&result, Interval::Day1, &Exchange::US).unwrap_err();
        assert!(err.contains("close has 1 values for 2 timestamps"), "{err}");
    }

    #[test]
    fn quote_without_price_is_an_error() {
        let symbol = Symbol::parse("AAPL").unwrap();
        let err =
            parse_quote(&symbol, &result(r#"{"chart":{"result":[{"meta":{}}],"error":null}}"#)).unwrap_err();
        assert!(err.contains("regularMarketPrice"), "{err}");
    }
}
