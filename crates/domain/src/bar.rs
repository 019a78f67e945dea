use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{Interval, Symbol};

/// Which data source produced a value. Stored with every row so a user can always tell where a
/// number came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderId {
    Yahoo,
    AlphaVantage,
    Polygon,
    Finnhub,
    Sample,
}

impl ProviderId {
    /// Every provider, in the default fallback order for networked use.
    pub const ALL: [ProviderId; 5] =
        [Self::Yahoo, Self::AlphaVantage, Self::Polygon, Self::Finnhub, Self::Sample];

    /// The config and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yahoo => "yahoo",
            Self::AlphaVantage => "alpha_vantage",
            Self::Polygon => "polygon",
            Self::Finnhub => "finnhub",
            Self::Sample => "sample",
        }
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a known provider name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}; expected one of yahoo, alpha_vantage, polygon, finnhub, sample")]
pub struct ParseProviderError(pub String);

impl FromStr for ProviderId {
    type Err = ParseProviderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|p| p.as_str() == s.trim()).ok_or_else(|| ParseProviderError(s.to_owned()))
    }
}

/// One OHLCV bar. Prices are `Option` because vendors send `null` for missing points (Yahoo does
/// mid-series); a missing value is stored as NULL, never invented as 0.
///
/// Prices are as traded (not split-adjusted): providers whose vendor adjusts say so in
/// [`BarSeries::basis`] and the ingest step undoes the adjustment, so series from different
/// vendors can be compared and never spliced across a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Intraday bars: the start of the bar's window, UTC. Daily, weekly and monthly bars: midnight
    /// UTC of the session date in the exchange's own calendar (see [`Bar::date`]), whatever time
    /// the vendor stamped, so one trading day has one key.
    pub ts: DateTime<Utc>,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: Option<f64>,
    /// Split- and dividend-adjusted close, where the vendor provides one.
    pub adj_close: Option<f64>,
    /// Shares traded. Vendors that send fractions (Polygon) are rounded to the nearest share.
    pub volume: Option<i64>,
    pub provider: ProviderId,
    /// The session had not closed when the bar was fetched: its values may still change, and the
    /// final bar replaces it.
    #[serde(default)]
    pub partial: bool,
    /// Set by the quality gate when the bar is suspicious but kept (e.g. a 100x jump).
    pub flag: Option<String>,
}

impl Bar {
    /// The session date of a daily (or longer) bar; for intraday bars, the UTC date of its start.
    pub fn date(&self) -> NaiveDate {
        self.ts.date_naive()
    }
}

/// A vendor's volume as whole shares: rounded, `None` when it is not a finite number in range.
pub fn volume_from_f64(volume: f64) -> Option<i64> {
    // i64::MAX as f64 rounds up to 2^63, which would saturate; stay clearly inside.
    const LIMIT: f64 = 9.0e18;
    (volume.is_finite() && volume.abs() < LIMIT).then(|| volume.round() as i64)
}

/// Whether a vendor's OHLC are as traded or adjusted for splits after the bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceBasis {
    /// The prices printed on the day (Alpha Vantage `TIME_SERIES_DAILY`, Polygon with
    /// `adjusted=false`, the sample data).
    #[default]
    AsTraded,
    /// Divided by every later split's ratio as of the fetch (Yahoo's chart, Finnhub's daily
    /// candles); volumes multiplied by it.
    SplitAdjusted,
}

/// A split or a cash dividend, by ex-date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorporateAction {
    /// The ex-date: the first session that trades without the dividend or after the split.
    pub date: NaiveDate,
    pub kind: CorporateActionKind,
    pub provider: ProviderId,
}

/// What happened on a [`CorporateAction`]'s date.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CorporateActionKind {
    /// `numerator` new shares for every `denominator` old ones (4:1 is 4/1; a 1:10 reverse split
    /// is 1/10).
    Split { numerator: f64, denominator: f64 },
    /// Cash per share, in the listing's currency.
    Dividend { amount: f64 },
}

impl CorporateActionKind {
    /// The split's price factor (old price / new price), `None` for dividends or a degenerate
    /// ratio.
    pub fn split_ratio(&self) -> Option<f64> {
        match *self {
            Self::Split { numerator, denominator }
                if numerator.is_finite()
                    && denominator.is_finite()
                    && numerator > 0.0
                    && denominator > 0.0 =>
            {
                Some(numerator / denominator)
            }
            _ => None,
        }
    }
}

/// Bars of one symbol and interval from one provider, sorted by `ts` ascending, no duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    pub symbol: Symbol,
    pub interval: Interval,
    pub provider: ProviderId,
    pub bars: Vec<Bar>,
    /// Whether `bars` need their split adjustment undone before storage.
    pub basis: PriceBasis,
    /// Splits and dividends the vendor sent with the bars. For a split-adjusted series these
    /// cover every split from the first bar up to the fetch, so the adjustment can be undone.
    pub actions: Vec<CorporateAction>,
}

impl BarSeries {
    /// An as-traded series without corporate actions.
    pub fn as_traded(symbol: Symbol, interval: Interval, provider: ProviderId, bars: Vec<Bar>) -> Self {
        Self { symbol, interval, provider, bars, basis: PriceBasis::AsTraded, actions: Vec::new() }
    }

    /// Turns a split-adjusted series into as-traded prices with `splits` (the vendor's own events
    /// and any on record; one split per date counts once). A bar is multiplied by the ratio of
    /// every split after its date and its volume divided by it. The vendor's adjusted close is
    /// left as it is: it is the adjusted figure by definition.
    pub fn undo_split_adjustment(&mut self, splits: &[CorporateAction]) {
        if self.basis == PriceBasis::AsTraded {
            return;
        }
        let mut by_date: Vec<(NaiveDate, f64)> =
            splits.iter().filter_map(|a| a.kind.split_ratio().map(|r| (a.date, r))).collect();
        by_date.sort_by_key(|(date, _)| *date);
        by_date.dedup_by_key(|(date, _)| *date);
        // Walk the bars newest first, multiplying in each split as its date is passed.
        let mut factor = 1.0;
        let mut pending = by_date.iter().rev().peekable();
        for bar in self.bars.iter_mut().rev() {
            while let Some((date, ratio)) = pending.peek() {
                if *date > bar.date() {
                    factor *= ratio;
                    pending.next();
                } else {
                    break;
                }
            }
            if factor != 1.0 {
                for price in [&mut bar.open, &mut bar.high, &mut bar.low, &mut bar.close] {
                    *price = price.map(|p| p * factor);
                }
                bar.volume = bar.volume.and_then(|v| volume_from_f64(v as f64 / factor));
            }
        }
        self.basis = PriceBasis::AsTraded;
    }
}

/// Where a quote's price comes from: a live vendor quote, or the last stored/sample bar's close
/// (the offline provider), so nobody mistakes a 2013 close for today's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuoteSource {
    Live,
    LastBarClose,
}

/// A latest-price snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub symbol: Symbol,
    pub price: f64,
    pub previous_close: Option<f64>,
    pub change: Option<f64>,
    /// Percent, e.g. `0.62` for +0.62 %.
    pub change_percent: Option<f64>,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub volume: Option<i64>,
    /// When the price was observed (vendor time).
    pub ts: DateTime<Utc>,
    pub provider: ProviderId,
    pub source: QuoteSource,
}

/// Company facts. Every field but the symbol may be missing; vendors disagree on coverage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompanyProfile {
    pub symbol: Option<Symbol>,
    pub name: Option<String>,
    pub exchange: Option<String>,
    pub currency: Option<String>,
    pub country: Option<String>,
    pub sector: Option<String>,
    pub industry: Option<String>,
    pub market_cap: Option<f64>,
    pub description: Option<String>,
    pub website: Option<String>,
    pub provider: Option<ProviderId>,
}

/// A news article about a symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsItem {
    pub symbol: Symbol,
    pub headline: String,
    pub url: String,
    pub source: Option<String>,
    pub summary: Option<String>,
    pub published_at: DateTime<Utc>,
    /// Vendor sentiment in [-1, 1] where given (Alpha Vantage).
    pub sentiment: Option<f64>,
    pub provider: ProviderId,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day_bar(date: &str, close: f64, volume: i64) -> Bar {
        Bar {
            ts: calendar_stamp(date),
            open: Some(close),
            high: Some(close),
            low: Some(close),
            close: Some(close),
            adj_close: Some(close * 0.9),
            volume: Some(volume),
            provider: ProviderId::Yahoo,
            partial: false,
            flag: None,
        }
    }

    fn calendar_stamp(date: &str) -> DateTime<Utc> {
        crate::calendar::date_stamp(date.parse().unwrap())
    }

    #[test]
    fn split_adjustment_is_undone_before_each_split() {
        let split = |date: &str, n: f64| CorporateAction {
            date: date.parse().unwrap(),
            kind: CorporateActionKind::Split { numerator: n, denominator: 1.0 },
            provider: ProviderId::Yahoo,
        };
        let mut series = BarSeries {
            symbol: Symbol::parse("AAPL").unwrap(),
            interval: Interval::Day1,
            provider: ProviderId::Yahoo,
            bars: vec![
                day_bar("2020-08-27", 125.0, 400),
                day_bar("2020-08-28", 124.8, 400),
                day_bar("2020-08-31", 129.0, 100),
                day_bar("2024-06-10", 193.0, 100),
            ],
            basis: PriceBasis::SplitAdjusted,
            actions: Vec::new(),
        };
        // The 4:1 split twice (two vendors) and a later 2:1 that the last bar is after.
        series.undo_split_adjustment(&[
            split("2020-08-31", 4.0),
            split("2020-08-31", 4.0),
            split("2022-01-01", 2.0),
        ]);
        let closes: Vec<f64> = series.bars.iter().filter_map(|b| b.close).collect();
        assert_eq!(closes, vec![1000.0, 998.4, 258.0, 193.0]);
        assert_eq!(series.bars[0].volume, Some(50));
        assert_eq!(series.bars[2].volume, Some(50));
        assert_eq!(series.bars[0].adj_close, Some(125.0 * 0.9), "the vendor's adjusted close stays");
        assert_eq!(series.basis, PriceBasis::AsTraded);
    }

    #[test]
    fn volumes_round_and_refuse_nonsense() {
        assert_eq!(volume_from_f64(10.5), Some(11));
        assert_eq!(volume_from_f64(34_000_400.0), Some(34_000_400));
        assert_eq!(volume_from_f64(f64::NAN), None);
        assert_eq!(volume_from_f64(1e300), None);
    }

    #[test]
    fn provider_round_trip() {
        for p in ProviderId::ALL {
            assert_eq!(p.as_str().parse::<ProviderId>().unwrap(), p);
        }
        assert!("bloomberg".parse::<ProviderId>().is_err());
    }
}
