//! Per-symbol summaries computed while the rows stream past, so an export never has to hold a
//! symbol's bars (or read them twice) to report coverage and the latest indicators.

use chrono::{DateTime, Utc};
use domain::indicators::{Atr, Bollinger, DailyReturns, Ema, IndicatorSnapshot, Macd, Rsi, Sma, Volatility};
use domain::{Bar, ProviderId, Symbol};
use serde::Serialize;

/// One symbol's line in the summary sheet/table: coverage and the latest indicators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SymbolSummary {
    pub symbol: Symbol,
    /// Rows exported for the symbol (every provider's row counts).
    pub n_bars: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// Providers that served the exported bars, sorted.
    pub providers: Vec<ProviderId>,
    /// Field disagreements between providers over the exported range (each a day and field
    /// where two providers' bars differ beyond the tolerance; see `GET
    /// /api/symbols/{symbol}/disagreements`).
    pub disagreements: u64,
    /// The latest indicators over the exported range (storage holds one bar per day).
    pub indicators: IndicatorSnapshot,
}

/// Column names of the summary table (summary csv and the xlsx `Summary` sheet).
pub(crate) const SUMMARY_COLUMNS: [&str; 22] = [
    "symbol",
    "n_bars",
    "first",
    "last",
    "providers",
    "disagreements",
    "as_of",
    "last_close",
    "bars_used",
    "sma20",
    "sma50",
    "ema20",
    "rsi14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_mid",
    "bb_upper",
    "bb_lower",
    "atr14",
    "daily_return",
    "volatility20",
];

impl SymbolSummary {
    /// The indicator values in [`SUMMARY_COLUMNS`] order, from `last_close` on (`bars_used`
    /// excluded; it is an integer and written separately).
    pub(crate) fn indicator_values(&self) -> [Option<f64>; 13] {
        let i = &self.indicators;
        [
            i.sma20,
            i.sma50,
            i.ema20,
            i.rsi14,
            i.macd,
            i.macd_signal,
            i.macd_hist,
            i.bb_mid,
            i.bb_upper,
            i.bb_lower,
            i.atr14,
            i.daily_return,
            i.volatility20,
        ]
    }

    /// Providers joined with `;` (a list in one cell).
    pub(crate) fn providers_text(&self) -> String {
        let names: Vec<&str> = self.providers.iter().map(|p| p.as_str()).collect();
        names.join(";")
    }
}

/// Builds a [`SymbolSummary`] from a symbol's rows in time order, in constant memory.
#[derive(Debug, Clone)]
pub(crate) struct SummaryBuilder {
    symbol: Symbol,
    disagreements: u64,
    n_bars: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    /// Bit `i` set: `ProviderId::ALL[i]` served a row.
    providers: u8,
    indicators: LatestIndicators,
}

impl SummaryBuilder {
    pub(crate) fn new(symbol: Symbol, disagreements: u64) -> Self {
        Self {
            symbol,
            disagreements,
            n_bars: 0,
            first: None,
            last: None,
            providers: 0,
            indicators: LatestIndicators::new(),
        }
    }

    pub(crate) fn push(&mut self, bar: &Bar) {
        self.n_bars += 1;
        self.first.get_or_insert(bar.ts);
        self.last = Some(bar.ts);
        if let Some(i) = ProviderId::ALL.iter().position(|p| *p == bar.provider) {
            self.providers |= 1 << i;
        }
        self.indicators.push(bar);
    }

    pub(crate) fn finish(self) -> SymbolSummary {
        let mut providers: Vec<ProviderId> = ProviderId::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.providers & (1 << i) != 0)
            .map(|(_, p)| *p)
            .collect();
        providers.sort();
        SymbolSummary {
            symbol: self.symbol,
            n_bars: self.n_bars,
            first: self.first,
            last: self.last,
            providers,
            disagreements: self.disagreements,
            indicators: self.indicators.snapshot,
        }
    }
}

/// The streaming form of [`domain::indicators::latest`]: the same indicators, periods and
/// skipping rules, fed one bar at a time. `latest` needs the whole series as one iterator, which
/// a chunked export cannot give it without collecting; this keeps only the indicator windows.
/// Tests check it against `latest`.
#[derive(Debug, Clone)]
struct LatestIndicators {
    sma20: Sma,
    sma50: Sma,
    ema20: Ema,
    rsi14: Rsi,
    macd: Macd,
    bollinger: Bollinger,
    atr14: Atr,
    returns: DailyReturns,
    volatility20: Volatility,
    last_atr: Option<f64>,
    /// Timestamp of the last bar fed, to feed one bar per timestamp.
    last_fed: Option<DateTime<Utc>>,
    snapshot: IndicatorSnapshot,
}

impl LatestIndicators {
    fn new() -> Self {
        Self {
            sma20: Sma::new(20),
            sma50: Sma::new(50),
            ema20: Ema::new(20),
            rsi14: Rsi::new(14),
            macd: Macd::new(12, 26, 9),
            bollinger: Bollinger::new(20, 2.0),
            atr14: Atr::new(14),
            returns: DailyReturns::new(),
            volatility20: Volatility::new(20),
            last_atr: None,
            last_fed: None,
            snapshot: IndicatorSnapshot::default(),
        }
    }

    fn push(&mut self, bar: &Bar) {
        let Some(close) = bar.close.filter(|c| c.is_finite()) else {
            return;
        };
        if self.last_fed == Some(bar.ts) {
            return;
        }
        self.last_fed = Some(bar.ts);
        let bands = self.bollinger.next(close);
        let macd = self.macd.next(close);
        if let (Some(high), Some(low)) = (bar.high, bar.low)
            && high.is_finite()
            && low.is_finite()
        {
            self.last_atr = self.atr14.next(high, low, close);
        }
        self.snapshot = IndicatorSnapshot {
            as_of: Some(bar.ts),
            last_close: Some(close),
            bars_used: self.snapshot.bars_used + 1,
            sma20: self.sma20.next(close),
            sma50: self.sma50.next(close),
            ema20: self.ema20.next(close),
            rsi14: self.rsi14.next(close),
            macd: macd.map(|m| m.macd),
            macd_signal: macd.and_then(|m| m.signal),
            macd_hist: macd.and_then(|m| m.histogram),
            bb_mid: bands.map(|b| b.middle),
            bb_upper: bands.map(|b| b.upper),
            bb_lower: bands.map(|b| b.lower),
            atr14: self.last_atr,
            daily_return: self.returns.next(close),
            volatility20: self.volatility20.next(close),
        };
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use domain::indicators::latest;

    use super::*;

    fn bars(n: u32) -> Vec<Bar> {
        // A wiggly series with gaps: missing closes, missing highs/lows.
        (0..n)
            .map(|i| {
                let x = f64::from(i);
                let close = 100.0 + 10.0 * (x / 7.0).sin() + x * 0.1;
                Bar {
                    ts: Utc.timestamp_opt(1_600_000_000 + i64::from(i) * 86_400, 0).unwrap(),
                    open: Some(close - 0.5),
                    high: (i % 11 != 3).then_some(close + 1.0 + (x / 3.0).cos().abs()),
                    low: (i % 13 != 5).then_some(close - 1.0),
                    close: (i % 17 != 9).then_some(close),
                    adj_close: None,
                    volume: Some(1_000_000),
                    provider: ProviderId::Yahoo,
                    partial: false,
                    flag: None,
                }
            })
            .collect()
    }

    #[test]
    fn streaming_matches_latest() {
        for n in [0, 1, 13, 14, 26, 34, 50, 51, 300] {
            let series = bars(n);
            let mut builder = SummaryBuilder::new(Symbol::parse("AAPL").unwrap(), 0);
            series.iter().for_each(|b| builder.push(b));
            let summary = builder.finish();
            assert_eq!(summary.indicators, latest(&series), "n = {n}");
            assert_eq!(summary.n_bars, u64::from(n));
            assert_eq!(summary.first, series.first().map(|b| b.ts));
            assert_eq!(summary.last, series.last().map(|b| b.ts));
        }
    }

    #[test]
    fn duplicate_timestamps_feed_once() {
        let series = bars(60);
        let mut doubled = Vec::new();
        for bar in &series {
            let mut other = bar.clone();
            other.provider = ProviderId::Sample;
            other.close = Some(bar.close.unwrap_or(50.0) * 2.0);
            doubled.push(bar.clone());
            doubled.push(other);
        }
        let mut builder = SummaryBuilder::new(Symbol::parse("AAPL").unwrap(), 0);
        doubled.iter().for_each(|b| builder.push(b));
        let summary = builder.finish();
        // Where the first bar of a timestamp has no close, the second one's is used.
        let fed: Vec<Bar> =
            doubled.chunks(2).filter_map(|pair| pair.iter().find(|b| b.close.is_some()).cloned()).collect();
        assert_eq!(summary.indicators, latest(&fed));
        assert_eq!(summary.n_bars, 120);
        assert_eq!(summary.providers, vec![ProviderId::Yahoo, ProviderId::Sample]);
    }
}
