//! Streaming technical indicators.
//!
//! Every indicator consumes one value (or one bar) at a time and keeps at most a window bounded
//! by its period, so a caller can run them over a database cursor or a live feed without
//! collecting the series first.
//!
//! The conventions are those of the Python package `ta` 0.11 (pandas `ewm(adjust=False)`), so
//! our numbers can be checked against an independent implementation: the reference test in
//! `tests/indicators_reference.rs` compares every indicator here against `ta` output for a real
//! price series. Where `ta` differs from the textbook definition (RSI's seed, MACD's warm-up) the
//! type's documentation says so.
//!
//! `next` returns `None` while an indicator is warming up, rather than a misleading partial value
//! (a 3-point "SMA 20" or `ta`'s 0.0 ATR). Inputs are expected to be finite; callers that read
//! bars with missing prices should skip them, as [`latest`] does.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Bar;

/// Trading days per year, the usual convention for annualising daily volatility.
pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;

/// The last `capacity` values. Statistics are recomputed over the window on demand instead of
/// being kept as running sums, so rounding error cannot build up over a long series (a running
/// sum of squares also cancels catastrophically for prices in the hundreds); periods are small,
/// so the extra work is negligible.
#[derive(Debug, Clone)]
struct Window {
    values: VecDeque<f64>,
    capacity: usize,
}

impl Window {
    fn new(capacity: usize) -> Self {
        Self { values: VecDeque::with_capacity(capacity), capacity }
    }

    /// Adds a value, dropping the oldest once full; returns whether the window is full.
    fn push(&mut self, value: f64) -> bool {
        if self.values.len() == self.capacity {
            self.values.pop_front();
        }
        self.values.push_back(value);
        self.values.len() == self.capacity
    }

    fn mean(&self) -> f64 {
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }

    /// Two-pass variance with `ddof` delta degrees of freedom (0: population, 1: sample).
    fn variance(&self, ddof: usize) -> f64 {
        let mean = self.mean();
        let squares: f64 = self.values.iter().map(|v| (v - mean) * (v - mean)).sum();
        squares / (self.values.len() - ddof) as f64
    }
}

/// Simple moving average.
#[derive(Debug, Clone)]
pub struct Sma {
    window: Window,
}

impl Sma {
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize) -> Self {
        assert!(period > 0, "SMA period must be at least 1");
        Self { window: Window::new(period) }
    }

    /// The average of the last `period` values, once that many have been seen.
    pub fn next(&mut self, value: f64) -> Option<f64> {
        self.window.push(value).then(|| self.window.mean())
    }
}

/// Exponential moving average, the recursive form with alpha = 2 / (period + 1).
///
/// Seeded with the first value (pandas `ewm(span=period, adjust=False)`, as in `ta`), not with
/// an SMA of the first `period` values as some charting packages do. The seed's influence decays
/// geometrically, so values are withheld until `period` inputs have been seen; after that the
/// two seeding styles converge, but early values differ.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    alpha: f64,
    seen: usize,
    value: Option<f64>,
}

impl Ema {
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize) -> Self {
        assert!(period > 0, "EMA period must be at least 1");
        Self::with_alpha(period, 2.0 / (period as f64 + 1.0))
    }

    /// Wilder's smoothing (RSI) is the same recursion with alpha = 1 / period.
    fn with_alpha(period: usize, alpha: f64) -> Self {
        Self { period, alpha, seen: 0, value: None }
    }

    pub fn next(&mut self, value: f64) -> Option<f64> {
        // Written as pandas writes it, so rounding matches the reference as closely as possible.
        let current = match self.value {
            Some(previous) => (1.0 - self.alpha) * previous + self.alpha * value,
            None => value,
        };
        self.value = Some(current);
        if self.seen < self.period {
            self.seen += 1;
        }
        (self.seen == self.period).then_some(current)
    }
}

/// Relative strength index with Wilder's smoothing (alpha = 1 / period), as `ta` computes it.
///
/// `ta` differs from Wilder's original in its seed: the first bar counts as a change of zero
/// (pandas' leading `NaN` difference becomes 0 gain and 0 loss), and the averages are
/// exponential from there, so the first value appears at the `period`-th close (after only
/// `period - 1` real changes) instead of the `period + 1`-th close with an SMA seed. The
/// difference fades after a few dozen bars. When the average loss is 0 the RSI is 100, even for
/// a flat series, again following `ta`.
#[derive(Debug, Clone)]
pub struct Rsi {
    previous_close: Option<f64>,
    average_gain: Ema,
    average_loss: Ema,
}

impl Rsi {
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize) -> Self {
        assert!(period > 0, "RSI period must be at least 1");
        let alpha = 1.0 / period as f64;
        Self {
            previous_close: None,
            average_gain: Ema::with_alpha(period, alpha),
            average_loss: Ema::with_alpha(period, alpha),
        }
    }

    pub fn next(&mut self, close: f64) -> Option<f64> {
        let change = self.previous_close.map_or(0.0, |previous| close - previous);
        self.previous_close = Some(close);
        let gain = self.average_gain.next(change.max(0.0));
        let loss = self.average_loss.next((-change).max(0.0));
        let (gain, loss) = (gain?, loss?);
        Some(if loss == 0.0 { 100.0 } else { 100.0 - 100.0 / (1.0 + gain / loss) })
    }
}

/// One MACD reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdOutput {
    /// Fast EMA minus slow EMA.
    pub macd: f64,
    /// EMA of `macd`; `None` until it has `signal_period` MACD values of its own.
    pub signal: Option<f64>,
    /// `macd - signal`; present whenever `signal` is.
    pub histogram: Option<f64>,
}

/// Moving average convergence/divergence.
///
/// The MACD line exists once the slow EMA has warmed up (the 26th close for 12/26/9); the signal
/// EMA is seeded with that first MACD value and, being an EMA itself, is reported only after
/// `signal_period` MACD values (the 34th close). The two warm-ups differ, which is why `signal`
/// and `histogram` are optional inside an otherwise present reading. This matches `ta`.
#[derive(Debug, Clone)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
}

impl Macd {
    /// The usual parameters are `Macd::new(12, 26, 9)`.
    ///
    /// # Panics
    /// If any period is 0.
    pub fn new(fast_period: usize, slow_period: usize, signal_period: usize) -> Self {
        Self { fast: Ema::new(fast_period), slow: Ema::new(slow_period), signal: Ema::new(signal_period) }
    }

    pub fn next(&mut self, close: f64) -> Option<MacdOutput> {
        // Both EMAs must see every close, even while the other is still warming up.
        let fast = self.fast.next(close);
        let slow = self.slow.next(close);
        let macd = fast? - slow?;
        let signal = self.signal.next(macd);
        Some(MacdOutput { macd, signal, histogram: signal.map(|signal| macd - signal) })
    }
}

/// One Bollinger Bands reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerBands {
    pub middle: f64,
    pub upper: f64,
    pub lower: f64,
}

/// Bollinger Bands: SMA ± `multiplier` standard deviations of the same window.
///
/// The deviation is the population one (divide by `period`, pandas `std(ddof=0)`), which is
/// Bollinger's definition and `ta`'s; the sample deviation would widen the bands by
/// sqrt(20/19) ≈ 2.6 % for the usual 20-period bands.
#[derive(Debug, Clone)]
pub struct Bollinger {
    window: Window,
    multiplier: f64,
}

impl Bollinger {
    /// The usual parameters are `Bollinger::new(20, 2.0)`.
    ///
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize, multiplier: f64) -> Self {
        assert!(period > 0, "Bollinger period must be at least 1");
        Self { window: Window::new(period), multiplier }
    }

    pub fn next(&mut self, close: f64) -> Option<BollingerBands> {
        if !self.window.push(close) {
            return None;
        }
        let middle = self.window.mean();
        let width = self.multiplier * self.window.variance(0).sqrt();
        Some(BollingerBands { middle, upper: middle + width, lower: middle - width })
    }
}

/// Average true range with Wilder's smoothing.
///
/// The first bar has no previous close, so its true range is just high − low. The first ATR is
/// the plain mean of the first `period` true ranges, reported at the `period`-th bar; after that
/// ATR = (previous ATR × (period − 1) + true range) / period. `ta` reports 0.0 during warm-up;
/// we report `None`, since 0 would read as "no volatility".
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    previous_close: Option<f64>,
    warm_up_sum: f64,
    warm_up_count: usize,
    value: Option<f64>,
}

impl Atr {
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize) -> Self {
        assert!(period > 0, "ATR period must be at least 1");
        Self { period, previous_close: None, warm_up_sum: 0.0, warm_up_count: 0, value: None }
    }

    pub fn next(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let true_range = match self.previous_close {
            Some(previous) => (high - low).max((high - previous).abs()).max((low - previous).abs()),
            None => high - low,
        };
        self.previous_close = Some(close);
        let period = self.period as f64;
        self.value = match self.value {
            Some(previous) => Some((previous * (period - 1.0) + true_range) / period),
            None => {
                self.warm_up_sum += true_range;
                self.warm_up_count += 1;
                (self.warm_up_count == self.period).then(|| self.warm_up_sum / period)
            }
        };
        self.value
    }
}

/// Simple (not logarithmic) close-to-close returns: close_t / close_{t−1} − 1.
///
/// Simple returns are what a user means by "up 1.2 % today". They are computed on whatever close
/// the caller feeds: raw closes show a split as a crash (AAPL's 2:1 split reads as −50 %), so feed
/// adjusted closes when returns must span corporate actions.
#[derive(Debug, Clone, Default)]
pub struct DailyReturns {
    previous_close: Option<f64>,
}

impl DailyReturns {
    pub fn new() -> Self {
        Self::default()
    }

    /// `None` for the first close, and after a close of 0, where a return is undefined.
    pub fn next(&mut self, close: f64) -> Option<f64> {
        let previous = self.previous_close.replace(close)?;
        (previous != 0.0).then(|| close / previous - 1.0)
    }
}

/// Annualised volatility over a rolling window of daily returns: the sample standard deviation
/// (ddof 1) of the last `window` simple returns × sqrt(252).
///
/// Rolling rather than since-inception, because a summary should describe the stock's recent
/// behaviour, not an average over regimes years apart. It needs `window + 1` closes, since the
/// first close yields no return.
#[derive(Debug, Clone)]
pub struct Volatility {
    returns: DailyReturns,
    window: Window,
}

impl Volatility {
    /// # Panics
    /// If `window` is below 2; a sample standard deviation needs two returns.
    pub fn new(window: usize) -> Self {
        assert!(window >= 2, "volatility window must be at least 2 returns");
        Self { returns: DailyReturns::new(), window: Window::new(window) }
    }

    pub fn next(&mut self, close: f64) -> Option<f64> {
        let daily_return = self.returns.next(close)?;
        self.window.push(daily_return).then(|| self.window.variance(1).sqrt() * TRADING_DAYS_PER_YEAR.sqrt())
    }
}

/// Latest indicator values for a series, for summaries and tables. A field is `None` when the
/// series is too short for that indicator's warm-up.
///
/// All indicators are computed on `close` (not `adj_close`), so they agree with the prices a user
/// sees on a chart; see [`DailyReturns`] for what that means across splits.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct IndicatorSnapshot {
    /// Timestamp of the last bar with a close, i.e. the bar these values describe.
    pub as_of: Option<DateTime<Utc>>,
    pub last_close: Option<f64>,
    /// Bars that had a close and so fed the indicators.
    pub bars_used: usize,
    pub sma20: Option<f64>,
    pub sma50: Option<f64>,
    pub ema20: Option<f64>,
    pub rsi14: Option<f64>,
    /// MACD 12/26/9.
    pub macd: Option<f64>,
    pub macd_signal: Option<f64>,
    pub macd_hist: Option<f64>,
    /// Bollinger Bands 20, ±2 population standard deviations.
    pub bb_mid: Option<f64>,
    pub bb_upper: Option<f64>,
    pub bb_lower: Option<f64>,
    /// As of the last bar with high, low and close; bars missing high or low are left out of ATR.
    pub atr14: Option<f64>,
    /// Return of the last close against the previous close used.
    pub daily_return: Option<f64>,
    /// Annualised volatility of the last 20 daily returns (about one trading month): short
    /// enough to describe current conditions and to exist for recently listed stocks.
    pub volatility20: Option<f64>,
}

/// Runs every indicator over `bars` in one pass and returns the values at the last bar.
///
/// Bars must be in ascending time order (as in a `BarSeries`). Bars without a close are skipped
/// entirely, so a gap joins the closes on either side, as charting tools do, rather than
/// breaking every indicator's window.
pub fn latest<'a>(bars: impl IntoIterator<Item = &'a Bar>) -> IndicatorSnapshot {
    let mut sma20 = Sma::new(20);
    let mut sma50 = Sma::new(50);
    let mut ema20 = Ema::new(20);
    let mut rsi14 = Rsi::new(14);
    let mut macd = Macd::new(12, 26, 9);
    let mut bollinger = Bollinger::new(20, 2.0);
    let mut atr14 = Atr::new(14);
    let mut returns = DailyReturns::new();
    let mut volatility20 = Volatility::new(20);

    let mut snapshot = IndicatorSnapshot::default();
    let mut last_atr = None;
    for bar in bars {
        let Some(close) = bar.close.filter(|c| c.is_finite()) else {
            continue;
        };
        let bands = bollinger.next(close);
        let macd_output = macd.next(close);
        if let (Some(high), Some(low)) = (bar.high, bar.low)
            && high.is_finite()
            && low.is_finite()
        {
            last_atr = atr14.next(high, low, close);
        }
        snapshot = IndicatorSnapshot {
            as_of: Some(bar.ts),
            last_close: Some(close),
            bars_used: snapshot.bars_used + 1,
            sma20: sma20.next(close),
            sma50: sma50.next(close),
            ema20: ema20.next(close),
            rsi14: rsi14.next(close),
            macd: macd_output.map(|m| m.macd),
            macd_signal: macd_output.and_then(|m| m.signal),
            macd_hist: macd_output.and_then(|m| m.histogram),
            bb_mid: bands.map(|b| b.middle),
            bb_upper: bands.map(|b| b.upper),
            bb_lower: bands.map(|b| b.lower),
            atr14: last_atr,
            daily_return: returns.next(close),
            volatility20: volatility20.next(close),
        };
    }
    snapshot
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ProviderId;

    fn assert_close(actual: Option<f64>, expected: f64) {
        let actual = actual.expect("a value after warm-up");
        assert!((actual - expected).abs() < 1e-12, "expected {expected}, got {actual}");
    }

    fn run<T>(values: &[f64], mut step: impl FnMut(f64) -> Option<T>) -> Vec<Option<T>> {
        values.iter().map(|&v| step(v)).collect()
    }

    #[test]
    fn sma_of_one_to_five() {
        let mut sma = Sma::new(3);
        assert_eq!(
            run(&[1.0, 2.0, 3.0, 4.0, 5.0], |v| sma.next(v)),
            [None, None, Some(2.0), Some(3.0), Some(4.0)]
        );
        let mut sma = Sma::new(5);
        assert_eq!(run(&[1.0, 2.0, 3.0, 4.0, 5.0], |v| sma.next(v))[4], Some(3.0));
    }

    #[test]
    fn ema_is_seeded_with_the_first_value() {
        // alpha = 2 / (3 + 1) = 0.5: 2, 3, 4.5, 6.25; the first two are warm-up.
        let mut ema = Ema::new(3);
        assert_eq!(run(&[2.0, 4.0, 6.0, 8.0], |v| ema.next(v)), [None, None, Some(4.5), Some(6.25)]);
    }

    #[test]
    fn ema_of_period_one_is_the_input() {
        let mut ema = Ema::new(1);
        assert_eq!(run(&[3.0, 7.0], |v| ema.next(v)), [Some(3.0), Some(7.0)]);
    }

    #[test]
    fn rsi_is_100_for_monotonic_rises() {
        let mut rsi = Rsi::new(14);
        let closes: Vec<f64> = (1..=30).map(f64::from).collect();
        let values = run(&closes, |v| rsi.next(v));
        assert!(values[..13].iter().all(Option::is_none));
        assert!(values[13..].iter().all(|v| *v == Some(100.0)));
    }

    #[test]
    fn rsi_is_0_for_monotonic_falls() {
        let mut rsi = Rsi::new(3);
        let values = run(&[5.0, 4.0, 3.0, 2.0], |v| rsi.next(v));
        assert_eq!(values, [None, None, Some(0.0), Some(0.0)]);
    }

    #[test]
    fn rsi_hand_computed() {
        // alpha = 1/2. Changes 0 (seed), +1, -1:
        // gains 0, 0.5, 0.25; losses 0, 0, 0.5 -> RSI 100, then 100 - 100 / (1 + 0.5).
        let mut rsi = Rsi::new(2);
        let values = run(&[1.0, 2.0, 1.0], |v| rsi.next(v));
        assert_eq!(values[..2], [None, Some(100.0)]);
        assert_close(values[2], 100.0 - 100.0 / 1.5);
    }

    #[test]
    fn macd_signal_warms_up_after_the_macd_line() {
        let mut macd = Macd::new(2, 3, 2);
        let values = run(&[1.0, 2.0, 4.0, 8.0], |v| macd.next(v));
        assert_eq!(values[..2], [None, None]);
        // Fast alpha 2/3: 1, 5/3, 29/9. Slow alpha 1/2: 1, 1.5, 2.75.
        let third = values[2].unwrap();
        assert!((third.macd - (29.0 / 9.0 - 2.75)).abs() < 1e-12);
        assert_eq!((third.signal, third.histogram), (None, None));
        let fourth = values[3].unwrap();
        let signal = fourth.signal.unwrap();
        // Signal alpha 2/3, seeded with the first MACD value.
        assert!((signal - (third.macd / 3.0 + 2.0 * fourth.macd / 3.0)).abs() < 1e-12);
        assert_eq!(fourth.histogram, Some(fourth.macd - signal));
    }

    #[test]
    fn bollinger_uses_population_deviation() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population std 2.
        let mut bands = Bollinger::new(8, 2.0);
        let values = run(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], |v| bands.next(v));
        assert!(values[..7].iter().all(Option::is_none));
        assert_eq!(values[7], Some(BollingerBands { middle: 5.0, upper: 9.0, lower: 1.0 }));
    }

    #[test]
    fn atr_seeds_with_the_mean_true_range_then_smooths() {
        let mut atr = Atr::new(2);
        // True ranges: 2 (high - low, no previous close), 3 (high - previous close 9), 4 (previous
        // close 12 - low 8).
        assert_eq!(atr.next(10.0, 8.0, 9.0), None);
        assert_eq!(atr.next(12.0, 10.0, 12.0), Some(2.5));
        assert_eq!(atr.next(11.0, 8.0, 9.0), Some((2.5 + 4.0) / 2.0));
    }

    #[test]
    fn daily_returns_are_simple() {
        let mut returns = DailyReturns::new();
        assert_eq!(run(&[100.0, 150.0, 75.0], |v| returns.next(v)), [None, Some(0.5), Some(-0.5)]);
        let mut returns = DailyReturns::new();
        assert_eq!(run(&[0.0, 1.0, 2.0], |v| returns.next(v)), [None, None, Some(1.0)]);
    }

    #[test]
    fn volatility_is_annualised_sample_deviation() {
        // Returns +10 %, -10 %: mean 0, sample variance 0.02.
        let mut volatility = Volatility::new(2);
        let values = run(&[100.0, 110.0, 99.0], |v| volatility.next(v));
        assert_eq!(values[..2], [None, None]);
        assert_close(values[2], 0.02_f64.sqrt() * 252.0_f64.sqrt());
    }

    #[test]
    fn volatility_of_a_constant_growth_rate_is_zero() {
        let mut volatility = Volatility::new(5);
        let closes: Vec<f64> = (0..10).map(|i| 100.0 * 2.0_f64.powi(i)).collect();
        assert_close(run(&closes, |v| volatility.next(v))[9], 0.0);
    }

    fn bar(day: u32, close: Option<f64>) -> Bar {
        Bar {
            ts: Utc.with_ymd_and_hms(2024, 1, day, 0, 0, 0).unwrap(),
            open: close,
            high: close.map(|c| c + 1.0),
            low: close.map(|c| c - 1.0),
            close,
            adj_close: close,
            volume: Some(1000),
            provider: ProviderId::Sample,
            partial: false,
            flag: None,
        }
    }

    #[test]
    fn latest_of_an_empty_series_is_all_none() {
        assert_eq!(latest([]), IndicatorSnapshot::default());
    }

    #[test]
    fn latest_skips_missing_closes_and_reports_the_last_values() {
        let mut bars: Vec<Bar> = (1..=31).map(|day| bar(day, Some(f64::from(day)))).collect();
        bars[10] = bar(11, None);
        let snapshot = latest(&bars);
        assert_eq!(snapshot.bars_used, 30);
        assert_eq!(snapshot.as_of, Some(bars[30].ts));
        assert_eq!(snapshot.last_close, Some(31.0));
        // The last 20 closes are 12..=31.
        assert_close(snapshot.sma20, 21.5);
        assert_eq!(snapshot.sma50, None);
        assert_eq!(snapshot.rsi14, Some(100.0));
        assert_close(snapshot.daily_return, 31.0 / 30.0 - 1.0);
        // Every true range is 2 except 3 across the gap (close 10 to high 13), the 11th of the
        // 14 averaged for the seed; its excess then decays by 13/14 over the 16 later bars.
        assert_close(snapshot.atr14, 2.0 + (13.0_f64 / 14.0).powi(16) / 14.0);
        assert!(snapshot.macd.is_some() && snapshot.macd_signal.is_none());
        assert!(snapshot.bb_lower < snapshot.bb_mid && snapshot.bb_mid < snapshot.bb_upper);
        assert!(snapshot.volatility20.is_some());
    }
}
