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

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Bar, BarSeries, Interval, ProviderId, Quote, QuoteSource, Symbol};
use url::Url;

use crate::http::{HttpClient, HttpResponse};
use crate::{BarsRequest, Capabilities, Capability, MarketData, ProviderError, VendorConfig};

const CAPABILITIES: Capabilities =
    Capabilities::new(&[Capability::DailyBars, Capability::IntradayBars, Capability::Quote]);

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
        Ok(Self { http: HttpClient::new(ProviderId::Yahoo, config)? })
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

    /// Body first, status second: `chart.error` is authoritative even on HTTP 200, and a non-JSON
    /// body (Yahoo's plain-text 429, an HTML error page) falls through to the status.
    fn classify(&self, what: &str, response: &HttpResponse) -> Result<models::ChartResult, ProviderError> {
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
    fn chart_error(&self, what: &str, response: &HttpResponse, error: &models::ChartError) -> ProviderError {
        let message = match error.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            Some(description) => description.to_owned(),
            None => error.code.clone(),
        };
        if !response.status.is_success() {
            return self.http.status_error(what, response, Some(message));
        }
        let provider = ProviderId::Yahoo;
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

/// Parses a chart v8 body into bars without any HTTP: used by the ingest benchmark and by
/// anything replaying stored payloads. Errors in the body (`chart.error`) are reported as text.
///
/// # Errors
/// A description of why the body is not a usable chart.
pub fn parse_chart(symbol: &Symbol, interval: Interval, body: &[u8]) -> Result<Vec<Bar>, String> {
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
    parse_bars(&result, interval)
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

    async fn bars(&self, request: &BarsRequest) -> Result<BarSeries, ProviderError> {
        let what = request.describe();
        let (from, to) = request.span.resolve(Utc::now());
        if from >= to {
            return Err(ProviderError::InvalidRequest {
                provider: ProviderId::Yahoo,
                what,
                message: format!("the window is empty: from {from} is not before to {to}"),
            });
        }
        let query = [
            ("period1", from.timestamp().to_string()),
            ("period2", to.timestamp().to_string()),
            ("interval", yahoo_interval(request.interval).to_owned()),
            ("includePrePost", "false".to_owned()),
            ("events", "div,splits".to_owned()),
        ];
        let result = self.chart(&what, &request.symbol, &query).await?;
        let bars =
            parse_bars(&result, request.interval).map_err(|message| self.http.malformed(&what, message))?;
        if bars.is_empty() {
            tracing::debug!(provider = %ProviderId::Yahoo, what, "Yahoo returned no bars for the window.");
        }
        Ok(BarSeries {
            symbol: request.symbol.clone(),
            interval: request.interval,
            provider: ProviderId::Yahoo,
            bars,
        })
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
pub(crate) fn parse_bars(result: &models::ChartResult, interval: Interval) -> Result<Vec<Bar>, String> {
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

    // Keyed by time so the result is sorted and, when Yahoo repeats a timestamp (the live bar),
    // the later row wins.
    let mut bars = BTreeMap::new();
    for (row, &seconds) in timestamps.iter().enumerate() {
        let (open, high, low, close) = (at(open, row), at(high, row), at(low, row), at(close, row));
        if open.is_none() && high.is_none() && low.is_none() && close.is_none() {
            continue;
        }
        let ts = DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| format!("timestamp {seconds} is out of range"))?;
        bars.insert(
            ts,
            Bar {
                ts,
                open,
                high,
                low,
                close,
                adj_close: at(adjclose, row),
                volume: at(volume, row),
                provider: ProviderId::Yahoo,
                flag: None,
            },
        );
    }
    Ok(bars.into_values().collect())
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

/// Builds a live quote from the chart's `meta`, with the day's open taken from the last bar
/// (`meta` has no open) and day range and volume falling back to that bar.
///
/// # Errors
/// A message for a `Malformed` error when `meta` has no price or no time.
pub(crate) fn parse_quote(symbol: &Symbol, result: &models::ChartResult) -> Result<Quote, String> {
    let meta = result.meta.as_ref().ok_or("chart result has no meta")?;
    let price = meta.regular_market_price.ok_or("chart meta has no regularMarketPrice")?;
    let bars = parse_bars(result, Interval::Day1)?;
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
        volume: meta.regular_market_volume.or_else(|| last.and_then(|b| b.volume)),
        ts,
        provider: ProviderId::Yahoo,
        source: QuoteSource::Live,
    })
}

/// Yahoo's wire format, kept apart from the domain types: everything optional that Yahoo has
/// been seen to omit, so a missing field becomes `None` or a clear error, never a default 0.
pub(crate) mod models {
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
        pub(crate) open: Option<Vec<Option<f64>>>,
        pub(crate) high: Option<Vec<Option<f64>>>,
        pub(crate) low: Option<Vec<Option<f64>>>,
        pub(crate) close: Option<Vec<Option<f64>>>,
        pub(crate) volume: Option<Vec<Option<f64>>>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub(crate) struct AdjCloseColumn {
        pub(crate) adjclose: Option<Vec<Option<f64>>>,
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
            r#"{"chart":{"result":[{"meta":{},"timestamp":[300,100,200,300],
               "indicators":{"quote":[{"open":[3.0,1.0,null,3.5],"high":[3.0,1.5,null,3.5],
                 "low":[3.0,0.5,null,3.5],"close":[3.0,null,null,3.25],"volume":[10,null,0,11]}],
                 "adjclose":[{"adjclose":[2.9,0.9,null,3.2]}]}}],"error":null}}"#,
        );
        let bars = parse_bars(&result, Interval::Day1).unwrap();
        assert_eq!(bars.len(), 2, "{bars:?}");
        assert_eq!(bars[0].ts, Utc.timestamp_opt(100, 0).unwrap());
        assert_eq!(bars[0].close, None);
        assert_eq!(bars[0].volume, None);
        assert_eq!(bars[0].adj_close, Some(0.9));
        // The repeated timestamp keeps the later row.
        assert_eq!(bars[1].close, Some(3.25));
        assert_eq!(bars[1].volume, Some(11.0));

        let intraday = parse_bars(&result, Interval::Min5).unwrap();
        assert!(intraday.iter().all(|b| b.adj_close.is_none()));
    }

    #[test]
    fn empty_window_in_either_shape_is_empty() {
        for json in [
            r#"{"chart":{"result":[{"meta":{},"indicators":{"quote":[{}],"adjclose":[{}]}}],"error":null}}"#,
            r#"{"chart":{"result":[{"meta":{},"indicators":{"quote":[{"open":[],"close":[]}]}}],"error":null}}"#,
        ] {
            assert!(parse_bars(&result(json), Interval::Day1).unwrap().is_empty());
        }
    }

    #[test]
    fn misaligned_columns_are_rejected() {
        let result = result(
            r#"{"chart":{"result":[{"timestamp":[1,2],"indicators":{"quote":[{"close":[1.0]}]}}],"error":null}}"#,
        );
        let err = parse_bars(&result, Interval::Day1).unwrap_err();
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
