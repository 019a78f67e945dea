//! Inline SVG charts for the HTML export report and the web UI, drawn with `plotters`' SVG
//! backend. One crate so a chart looks the same in a downloaded report and in the browser.
//!
//! Design decisions, and why:
//! - **The x axis is the candle index, not time.** Markets close at weekends and on holidays; a
//!   time axis would leave gaps between candles. Dates appear only as tick labels, placed at the
//!   first candle of each month (or quarter, or year, depending on the span).
//! - **Long series are aggregated, not thinned.** A candle narrower than a couple of pixels is
//!   unreadable and bloats the SVG, so beyond [`MAX_CANDLES`] the bars are merged into daily,
//!   weekly or monthly candles (open of the first bar, close of the last, extreme high and low,
//!   summed volume). Dropping bars instead would hide highs and lows. The report's caption says
//!   which [`Resolution`] was used ([`plan`]).
//! - **Indicators are computed on every stored bar** (SMA 20/50 and RSI 14 of closes, bars
//!   without a close skipped, exactly as [`domain::indicators::latest`] does), so the chart ends
//!   on the same values as the summary table. An aggregated candle shows the values at its last
//!   bar.
//! - **Candles and volume are drawn in pixel coordinates** on top of the plotters mesh, so every
//!   body has the same whole-pixel width and a doji is still a visible 1-pixel line.
//! - **The returned markup is meant for inlining into HTML**: the root element carries a
//!   `viewBox` and `width="100%"` (it scales with the page) and no `xmlns` URL, which HTML does
//!   not need, so the report contains no URL of any kind.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Utc};
use domain::indicators::{Bollinger, Macd, MacdOutput, Rsi, Sma};
use domain::{Bar, Symbol};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Most candles drawn before bars are aggregated: about two years of daily bars, or ten years of
/// weekly candles, on a chart about 1,100 pixels wide (roughly two pixels per candle).
pub const MAX_CANDLES: usize = 560;

/// The SVG coordinate space; the browser scales it to the page width.
const WIDTH: u32 = 1200;
const PRICE_PANEL_HEIGHT: u32 = 420;
const VOLUME_PANEL_HEIGHT: u32 = 140;
const RSI_HEIGHT: u32 = 200;
const MACD_HEIGHT: u32 = 200;
const PLACEHOLDER_HEIGHT: u32 = 120;
/// Shared by every panel so the candles, volume bars and RSI line up vertically on the page.
const MARGIN: u32 = 12;
const AXIS_LABEL_WIDTH: u32 = 78;
const DATE_LABEL_HEIGHT: u32 = 28;
/// Widest candle body, in pixels; wider bodies look clumsy for very short series.
const MAX_BODY_WIDTH: i32 = 18;

const UP: RGBColor = RGBColor(22, 163, 74);
const DOWN: RGBColor = RGBColor(220, 38, 38);
const SMA20_COLOR: RGBColor = RGBColor(245, 158, 11);
const SMA50_COLOR: RGBColor = RGBColor(37, 99, 235);
const RSI_COLOR: RGBColor = RGBColor(124, 58, 237);
const SMA200_COLOR: RGBColor = RGBColor(17, 24, 39);
const BAND_COLOR: RGBColor = RGBColor(148, 163, 184);
const MACD_COLOR: RGBColor = RGBColor(37, 99, 235);
const SIGNAL_COLOR: RGBColor = RGBColor(245, 158, 11);
const GRID: RGBColor = RGBColor(229, 231, 235);
const AXIS: RGBColor = RGBColor(156, 163, 175);
const LABEL: RGBColor = RGBColor(75, 85, 99);
/// Font size as plotters counts it; the SVG gets `size / 1.24`, about 12 px.
const LABEL_SIZE: f64 = 15.0;

/// How bars were grouped into candles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// One candle per stored bar.
    AsStored,
    /// One candle per UTC calendar day (for intraday bars).
    Daily,
    /// One candle per ISO week.
    Weekly,
    /// One candle per calendar month.
    Monthly,
}

impl Resolution {
    const COARSENING: [Resolution; 4] = [Self::AsStored, Self::Daily, Self::Weekly, Self::Monthly];

    /// The adjective for captions: "weekly candles".
    pub fn adjective(self) -> &'static str {
        match self {
            Self::AsStored => "per-bar",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    /// A number that is the same for two bars exactly when they fall into the same candle;
    /// `position` is the bar's position among the chartable bars, which makes every stored bar
    /// its own candle.
    fn bucket(self, ts: DateTime<Utc>, position: usize) -> i64 {
        match self {
            Self::AsStored => position as i64,
            Self::Daily => ts.timestamp().div_euclid(86_400),
            Self::Weekly => {
                let week = ts.iso_week();
                i64::from(week.year()) * 100 + i64::from(week.week())
            }
            Self::Monthly => i64::from(ts.year()) * 12 + i64::from(ts.month0()),
        }
    }
}

/// How a series will be charted: which resolution, and how many bars become how many candles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartPlan {
    pub resolution: Resolution,
    /// Timestamps with a bar with a complete, finite open, high, low and close; other bars are
    /// not drawn, and a timestamp served by several providers counts once.
    pub chartable_bars: usize,
    pub candles: usize,
}

/// Picks the finest resolution that keeps the chart at or under [`MAX_CANDLES`] candles
/// (monthly if none does).
pub fn plan(bars: &[Bar]) -> ChartPlan {
    let mut chartable: Vec<DateTime<Utc>> =
        bars.iter().filter(|bar| ohlc(bar).is_some()).map(|bar| bar.ts).collect();
    chartable.dedup();
    let count_candles = |resolution: Resolution| {
        let mut previous = None;
        let mut candles = 0;
        for (position, ts) in chartable.iter().enumerate() {
            let bucket = resolution.bucket(*ts, position);
            if previous != Some(bucket) {
                candles += 1;
                previous = Some(bucket);
            }
        }
        candles
    };
    let mut chosen = ChartPlan {
        resolution: Resolution::Monthly,
        chartable_bars: chartable.len(),
        candles: count_candles(Resolution::Monthly),
    };
    for resolution in Resolution::COARSENING {
        let candles = count_candles(resolution);
        if candles <= MAX_CANDLES {
            chosen.resolution = resolution;
            chosen.candles = candles;
            break;
        }
    }
    chosen
}

/// One drawn candle, with the indicator values as of its last bar.
#[derive(Debug, Clone, PartialEq)]
struct Candle {
    /// Start of the candle's first bar; used for the date labels.
    ts: DateTime<Utc>,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: Option<f64>,
    sma20: Option<f64>,
    sma50: Option<f64>,
    sma200: Option<f64>,
    /// Bollinger 20/2: upper and lower band.
    bands: Option<(f64, f64)>,
    rsi14: Option<f64>,
    /// MACD 12/26/9.
    macd: Option<MacdOutput>,
}

impl Candle {
    fn is_up(&self) -> bool {
        self.close >= self.open
    }
}

/// The bar's prices when all four are present and finite; other bars cannot be drawn.
fn ohlc(bar: &Bar) -> Option<(f64, f64, f64, f64)> {
    let (open, high, low, close) = (bar.open?, bar.high?, bar.low?, bar.close?);
    [open, high, low, close].iter().all(|value| value.is_finite()).then_some((open, high, low, close))
}

/// One pass over `history` then `bars`: feeds the closes to the indicators, and merges the
/// chartable bars (of `bars` only) into candles at `resolution`.
///
/// An export holds every provider's row, so a timestamp can have several bars (in the export's
/// provider order). As in the summary, only the first with a close feeds the indicators, and
/// only the first chartable one is drawn: a day counts once.
fn candles(history: &[Bar], bars: &[Bar], resolution: Resolution) -> Vec<Candle> {
    let mut sma20 = Sma::new(20);
    let mut sma50 = Sma::new(50);
    let mut sma200 = Sma::new(200);
    let mut bollinger = Bollinger::new(20, 2.0);
    let mut rsi14 = Rsi::new(14);
    let mut macd = Macd::new(12, 26, 9);
    let (mut last_sma20, mut last_sma50, mut last_rsi14) = (None, None, None);
    let (mut last_sma200, mut last_bands, mut last_macd) = (None, None, None);
    let (mut last_fed, mut last_drawn) = (None, None);
    let mut out: Vec<Candle> = Vec::new();
    let mut current_bucket = None;
    let mut position = 0;
    let drawn_from = history.len();
    for (index, bar) in history.iter().chain(bars).enumerate() {
        if let Some(close) = bar.close.filter(|close| close.is_finite())
            && last_fed != Some(bar.ts)
        {
            last_fed = Some(bar.ts);
            last_sma20 = sma20.next(close);
            last_sma50 = sma50.next(close);
            last_sma200 = sma200.next(close);
            last_bands = bollinger.next(close).map(|b| (b.upper, b.lower));
            last_rsi14 = rsi14.next(close);
            last_macd = macd.next(close);
        }
        if index < drawn_from {
            continue;
        }
        let Some((open, high, low, close)) = ohlc(bar) else {
            continue;
        };
        if last_drawn == Some(bar.ts) {
            continue;
        }
        last_drawn = Some(bar.ts);
        // Exact to 2^53 shares; the chart only needs magnitudes.
        let volume = bar.volume.map(|volume| volume as f64);
        let bucket = resolution.bucket(bar.ts, position);
        position += 1;
        match out.last_mut() {
            Some(candle) if current_bucket == Some(bucket) => {
                candle.high = candle.high.max(high);
                candle.low = candle.low.min(low);
                candle.close = close;
                candle.volume = match (candle.volume, volume) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
                candle.sma20 = last_sma20;
                candle.sma50 = last_sma50;
                candle.sma200 = last_sma200;
                candle.bands = last_bands;
                candle.rsi14 = last_rsi14;
                candle.macd = last_macd;
            }
            _ => {
                current_bucket = Some(bucket);
                out.push(Candle {
                    ts: bar.ts,
                    open,
                    high,
                    low,
                    close,
                    volume,
                    sma20: last_sma20,
                    sma50: last_sma50,
                    sma200: last_sma200,
                    bands: last_bands,
                    rsi14: last_rsi14,
                    macd: last_macd,
                });
            }
        }
    }
    out
}

/// Every panel of one series, drawn from candles merged and measured once: a page or report
/// section that shows price, RSI and MACD plans, aggregates and computes the indicators one
/// time, not once per panel. The panels share the x axis because they share the candles.
pub struct Charts {
    plan: ChartPlan,
    candles: Vec<Candle>,
}

impl Charts {
    /// The candles of `bars` at the resolution [`plan`] picks.
    pub fn new(bars: &[Bar]) -> Self {
        Self::with_history(&[], bars)
    }

    /// The candles of `bars`, with `history` (the bars just before them, oldest first) fed to
    /// the indicators first but not drawn: a one-month chart then shows SMA 200 and MACD from
    /// its first candle instead of starting them 200 sessions into the window.
    pub fn with_history(history: &[Bar], bars: &[Bar]) -> Self {
        let plan = plan(bars);
        Self { candles: candles(history, bars, plan.resolution), plan }
    }

    /// How the bars were grouped into candles.
    pub fn plan(&self) -> ChartPlan {
        self.plan
    }

    /// Candlesticks with SMA 20/50/200 and Bollinger 20/2 overlays, and a volume panel beneath
    /// sharing the x axis.
    ///
    /// Bars missing any of open, high, low or close are skipped; with fewer than two chartable
    /// bars the result is a "no data" placeholder of the same width.
    pub fn price_svg(&self, symbol: &Symbol) -> Result<String, String> {
        let candles = &self.candles;
        let label = format!("{symbol} price and volume chart");
        if candles.len() < 2 {
            return Ok(placeholder_svg(
                &label,
                &format!(
                    "Not enough price data to chart ({} complete bar{})",
                    candles.len(),
                    if candles.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        let mut hover = HoverGeometry::default();
        let svg = render(PRICE_PANEL_HEIGHT + VOLUME_PANEL_HEIGHT, &label, |root| {
            draw_price_and_volume(root, candles, &mut hover)
        })?;
        Ok(with_hover_data(svg, candles, &hover))
    }

    /// RSI(14) of closes on a 0–100 scale, with the 30 and 70 guide lines and the band between
    /// them shaded.
    ///
    /// A placeholder when there are fewer than two candles or RSI has not warmed up (14 closes).
    pub fn rsi_svg(&self) -> Result<String, String> {
        let label = "RSI 14 chart";
        if self.candles.len() < 2 {
            return Ok(placeholder_svg(label, "Not enough price data to chart RSI"));
        }
        if self.candles.iter().all(|candle| candle.rsi14.is_none()) {
            return Ok(placeholder_svg(label, "RSI 14 needs at least 14 closes"));
        }
        render(RSI_HEIGHT, label, |root| draw_rsi(root, &self.candles))
    }

    /// MACD 12/26/9 of closes: the MACD and signal lines over the histogram, around zero.
    ///
    /// A placeholder when there are fewer than two candles or MACD has not warmed up (26 closes).
    pub fn macd_svg(&self) -> Result<String, String> {
        let label = "MACD 12/26/9 chart";
        if self.candles.len() < 2 {
            return Ok(placeholder_svg(label, "Not enough price data to chart MACD"));
        }
        if self.candles.iter().all(|candle| candle.macd.is_none()) {
            return Ok(placeholder_svg(label, "MACD needs at least 26 closes"));
        }
        render(MACD_HEIGHT, label, |root| draw_macd(root, &self.candles))
    }
}

/// One panel as inline SVG markup: `draw` paints it on a canvas [`WIDTH`] × `height`.
fn render(
    height: u32,
    label: &str,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw(&root).map_err(|error| error.to_string())?;
        root.present().map_err(|error| error.to_string())?;
    }
    Ok(inline_root(svg, height, label))
}

/// The points of an indicator line: one per candle that has a value, at the candle's index.
fn line_points(values: impl Iterator<Item = Option<f64>>) -> Vec<(f64, f64)> {
    values.enumerate().filter_map(|(index, value)| value.map(|value| (index as f64, value))).collect()
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_macd(root: &DrawingArea<SVGBackend<'_>, Shift>, candles: &[Candle]) -> DrawResult {
    root.fill(&WHITE)?;
    let ticks = date_ticks(candles);
    let values =
        candles.iter().filter_map(|c| c.macd).flat_map(|m| [Some(m.macd), m.signal, m.histogram]).flatten();
    let extent = values.fold(0.0_f64, |extent, value| extent.max(value.abs())).max(f64::EPSILON) * 1.1;
    let mut chart = ChartBuilder::on(root)
        .margin_top(MARGIN)
        .margin_left(MARGIN)
        .margin_right(MARGIN)
        .margin_bottom(MARGIN / 2)
        .set_label_area_size(LabelAreaPosition::Right, AXIS_LABEL_WIDTH)
        .set_label_area_size(LabelAreaPosition::Bottom, DATE_LABEL_HEIGHT)
        .build_cartesian_2d(
            TickedAxis::new(x_range(candles), ticks.positions.clone()),
            TickedAxis::new(-extent..extent, vec![-extent / 1.1, 0.0, extent / 1.1]),
        )?;
    let decimals = price_decimals(extent);
    chart
        .configure_mesh()
        .y_label_formatter(&|value| format!("{value:.decimals$}"))
        .x_label_formatter(&|value| ticks.label(candles, *value))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .label_style(label_style())
        .draw()?;
    let body_width = body_width(chart.plotting_area().dim_in_pixel().0, candles.len());
    let screen = chart.plotting_area().use_screen_coord();
    for (index, candle) in candles.iter().enumerate() {
        let Some(histogram) = candle.macd.and_then(|m| m.histogram) else { continue };
        let color = if histogram >= 0.0 { UP } else { DOWN };
        let (center, value_y) = chart.backend_coord(&(index as f64, histogram));
        let (_, zero_y) = chart.backend_coord(&(index as f64, 0.0));
        let left = center - body_width / 2;
        let (top, bottom) = (value_y.min(zero_y), value_y.max(zero_y).max(value_y.min(zero_y) + 1));
        screen.draw(&Rectangle::new([(left, top), (left + body_width, bottom)], color.mix(0.45).filled()))?;
    }
    for (color, points) in [
        (MACD_COLOR, line_points(candles.iter().map(|c| c.macd.map(|m| m.macd)))),
        (SIGNAL_COLOR, line_points(candles.iter().map(|c| c.macd.and_then(|m| m.signal)))),
    ] {
        if !points.is_empty() {
            chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
        }
    }
    Ok(())
}

fn label_style() -> TextStyle<'static> {
    ("sans-serif", LABEL_SIZE).into_font().color(&LABEL)
}

fn draw_price_and_volume(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    candles: &[Candle],
    hover: &mut HoverGeometry,
) -> DrawResult {
    root.fill(&WHITE)?;
    let (price_area, volume_area) = root.split_vertically(PRICE_PANEL_HEIGHT);
    let ticks = date_ticks(candles);
    let x_axis = || TickedAxis::new(x_range(candles), ticks.positions.clone());

    // Price panel: the y range covers every high, low and drawn SMA value.
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for candle in candles {
        let (upper, lower) = (candle.bands.map(|b| b.0), candle.bands.map(|b| b.1));
        for value in
            [Some(candle.low), Some(candle.high), candle.sma20, candle.sma50, candle.sma200, upper, lower]
                .into_iter()
                .flatten()
        {
            low = low.min(value);
            high = high.max(value);
        }
    }
    let padding = if high > low { (high - low) * 0.04 } else { high.abs().max(1.0) * 0.01 };
    let price_range = (low - padding)..(high + padding);
    let decimals = price_decimals(high - low);

    let mut price_chart = ChartBuilder::on(&price_area)
        .margin_top(MARGIN)
        .margin_left(MARGIN)
        .margin_right(MARGIN)
        .margin_bottom(4)
        .set_label_area_size(LabelAreaPosition::Right, AXIS_LABEL_WIDTH)
        .build_cartesian_2d(x_axis(), price_range)?;
    price_chart
        .configure_mesh()
        .y_labels(7)
        .y_label_formatter(&|value| format!("{value:.decimals$}"))
        .x_label_formatter(&|_| String::new())
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .label_style(label_style())
        .draw()?;

    let screen = price_chart.plotting_area().use_screen_coord();
    let body_width = body_width(price_chart.plotting_area().dim_in_pixel().0, candles.len());
    for (index, candle) in candles.iter().enumerate() {
        let color = if candle.is_up() { UP } else { DOWN };
        let x = index as f64;
        let (center, high_y) = price_chart.backend_coord(&(x, candle.high));
        let (_, low_y) = price_chart.backend_coord(&(x, candle.low));
        let (_, open_y) = price_chart.backend_coord(&(x, candle.open));
        let (_, close_y) = price_chart.backend_coord(&(x, candle.close));
        hover.centers.push(center);
        screen.draw(&PathElement::new(vec![(center, high_y), (center, low_y)], color))?;
        let top = open_y.min(close_y);
        // A doji (open == close) still gets a 1-pixel body, like a tick on the wick.
        let bottom = open_y.max(close_y).max(top + 1);
        let left = center - body_width / 2;
        screen.draw(&Rectangle::new([(left, top), (left + body_width, bottom)], color.filled()))?;
    }

    // The legend is the HTML caption's: inside the plot it would cover candles.
    for (color, width, points) in [
        (BAND_COLOR, 1, line_points(candles.iter().map(|c| c.bands.map(|b| b.0)))),
        (BAND_COLOR, 1, line_points(candles.iter().map(|c| c.bands.map(|b| b.1)))),
        (SMA20_COLOR, 2, line_points(candles.iter().map(|c| c.sma20))),
        (SMA50_COLOR, 2, line_points(candles.iter().map(|c| c.sma50))),
        (SMA200_COLOR, 2, line_points(candles.iter().map(|c| c.sma200))),
    ] {
        if !points.is_empty() {
            price_chart.draw_series(LineSeries::new(points, color.stroke_width(width)))?;
        }
    }

    // Volume panel: same x range and label widths as the price panel, so the bars sit under
    // their candles; dates are labelled here, at the bottom of the figure.
    let max_volume = candles.iter().filter_map(|candle| candle.volume).fold(0.0_f64, f64::max);
    let volume_top = if max_volume > 0.0 { max_volume * 1.1 } else { 1.0 };
    let mut volume_chart = ChartBuilder::on(&volume_area)
        .margin_top(4)
        .margin_left(MARGIN)
        .margin_right(MARGIN)
        .margin_bottom(MARGIN / 2)
        .set_label_area_size(LabelAreaPosition::Right, AXIS_LABEL_WIDTH)
        .set_label_area_size(LabelAreaPosition::Bottom, DATE_LABEL_HEIGHT)
        .build_cartesian_2d(x_axis(), 0.0..volume_top)?;
    volume_chart
        .configure_mesh()
        .y_labels(3)
        .y_label_formatter(&|value| compact_number(*value))
        .x_label_formatter(&|value| ticks.label(candles, *value))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .label_style(label_style())
        .draw()?;
    let screen = volume_chart.plotting_area().use_screen_coord();
    for (index, candle) in candles.iter().enumerate() {
        let Some(volume) = candle.volume.filter(|volume| *volume > 0.0) else {
            continue;
        };
        let color = if candle.is_up() { UP } else { DOWN };
        let (center, top) = volume_chart.backend_coord(&(index as f64, volume));
        let (_, bottom) = volume_chart.backend_coord(&(index as f64, 0.0));
        let left = center - body_width / 2;
        screen.draw(&Rectangle::new(
            [(left, top.min(bottom - 1)), (left + body_width, bottom)],
            color.mix(0.45).filled(),
        ))?;
    }
    let (price_x, price_y) = price_chart.plotting_area().get_pixel_range();
    let (_, volume_y) = volume_chart.plotting_area().get_pixel_range();
    hover.plot = [price_x.start, price_y.start, price_x.end, volume_y.end];
    Ok(())
}

/// Where the price panel put each candle, for the hover crosshair.
#[derive(Debug, Default)]
struct HoverGeometry {
    /// Each candle's centre, in the SVG's own units (its viewBox).
    centers: Vec<i32>,
    /// Left, top, right and bottom of the price and volume plots together.
    plot: [i32; 4],
}

/// Adds the candles' values and positions to the root `<svg>` as `data-` attributes, which the
/// web UI's script reads to draw a crosshair and show the hovered candle's values. Only digits,
/// dates and separators go in, so nothing needs escaping; without the script they are inert.
///
/// `data-candles`: one `;`-separated row per candle of `x,date,open,high,low,close,volume,sma20,
/// sma50,sma200,rsi14,macd,signal`, an empty field where a value is missing.
fn with_hover_data(svg: String, candles: &[Candle], hover: &HoverGeometry) -> String {
    use std::fmt::Write as _;
    let (low, high) = candles
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| (lo.min(c.low), hi.max(c.high)));
    let decimals = price_decimals(high - low);
    let price = |value: Option<f64>| value.map_or_else(String::new, |v| format!("{v:.decimals$}"));
    let mut rows = String::with_capacity(candles.len() * 80);
    for (candle, center) in candles.iter().zip(&hover.centers) {
        if !rows.is_empty() {
            rows.push(';');
        }
        let _ = write!(
            rows,
            "{center},{},{},{},{},{},{},{},{},{},{},{},{}",
            candle.ts.format("%Y-%m-%d"),
            price(Some(candle.open)),
            price(Some(candle.high)),
            price(Some(candle.low)),
            price(Some(candle.close)),
            candle.volume.map_or_else(String::new, |v| format!("{v:.0}")),
            price(candle.sma20),
            price(candle.sma50),
            price(candle.sma200),
            candle.rsi14.map_or_else(String::new, |v| format!("{v:.1}")),
            candle.macd.map_or_else(String::new, |m| format!("{:.3}", m.macd)),
            candle.macd.and_then(|m| m.signal).map_or_else(String::new, |v| format!("{v:.3}")),
        );
    }
    let [left, top, right, bottom] = hover.plot;
    let attributes = format!(r#" data-plot="{left},{top},{right},{bottom}" data-candles="{rows}">"#);
    match svg.find('>') {
        Some(end) => format!("{}{attributes}{}", &svg[..end], &svg[end + 1..]),
        None => svg,
    }
}

fn draw_rsi(root: &DrawingArea<SVGBackend<'_>, Shift>, candles: &[Candle]) -> DrawResult {
    root.fill(&WHITE)?;
    let ticks = date_ticks(candles);
    let mut chart = ChartBuilder::on(root)
        .margin_top(MARGIN)
        .margin_left(MARGIN)
        .margin_right(MARGIN)
        .margin_bottom(MARGIN / 2)
        .set_label_area_size(LabelAreaPosition::Right, AXIS_LABEL_WIDTH)
        .set_label_area_size(LabelAreaPosition::Bottom, DATE_LABEL_HEIGHT)
        .build_cartesian_2d(
            TickedAxis::new(x_range(candles), ticks.positions.clone()),
            TickedAxis::new(0.0..100.0, vec![0.0, 30.0, 50.0, 70.0, 100.0]),
        )?;
    chart
        .configure_mesh()
        .y_label_formatter(&|value| format!("{value:.0}"))
        .x_label_formatter(&|value| ticks.label(candles, *value))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .label_style(label_style())
        .draw()?;

    let x = x_range(candles);
    chart.draw_series(std::iter::once(Rectangle::new(
        [(x.start, 30.0), (x.end, 70.0)],
        RSI_COLOR.mix(0.06).filled(),
    )))?;
    for (level, color) in [(70.0, DOWN), (30.0, UP)] {
        chart.draw_series(LineSeries::new(
            [(x.start, level), (x.end, level)],
            color.mix(0.7).stroke_width(1),
        ))?;
    }
    let points = line_points(candles.iter().map(|candle| candle.rsi14));
    chart.draw_series(LineSeries::new(points, RSI_COLOR.stroke_width(2)))?;
    Ok(())
}

/// A linear axis with grid lines and labels exactly at `ticks`: dates at month starts, RSI at
/// its 30/70 thresholds. (plotters' own `with_key_points` would do, but its axis cannot be
/// labelled by `configure_mesh` in 0.3.7: it opts out of default value formatting.)
struct TickedAxis {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

impl TickedAxis {
    fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Self {
        Self { linear: range.into(), ticks }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    /// Only bold lines, at the ticks; the light mesh in between would be noise.
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.linear.range()
    }
}

/// Half a candle of room on either side, so the first and last bodies are not cut in half.
fn x_range(candles: &[Candle]) -> std::ops::Range<f64> {
    -0.5..(candles.len() as f64 - 0.5)
}

/// About 70 % of the space per candle, at least one pixel, and odd so the wick is centred.
fn body_width(plot_width: u32, candles: usize) -> i32 {
    let slot = f64::from(plot_width) / candles.max(1) as f64;
    let width = ((slot * 0.7).floor() as i32).clamp(1, MAX_BODY_WIDTH);
    if width > 2 && width % 2 == 0 { width - 1 } else { width }
}

/// Enough decimals to tell the axis labels apart: cents for ordinary prices, more for a series
/// that moves by fractions of a cent (currencies, penny stocks).
fn price_decimals(span: f64) -> usize {
    if span >= 5.0 {
        2
    } else if span >= 0.05 {
        3
    } else {
        5
    }
}

/// `1234567.0` as `1.2M`, for axis labels where exact digits only add clutter.
fn compact_number(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = if magnitude >= 1e9 {
        (value / 1e9, "B")
    } else if magnitude >= 1e6 {
        (value / 1e6, "M")
    } else if magnitude >= 1e3 {
        (value / 1e3, "K")
    } else {
        (value, "")
    };
    let text = format!("{scaled:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text}{suffix}")
}

/// Where the date labels go (candle indices) and how they are written.
struct DateTicks {
    positions: Vec<f64>,
    format: &'static str,
}

impl DateTicks {
    fn label(&self, candles: &[Candle], position: f64) -> String {
        let index = position.round();
        if (position - index).abs() > 1e-6 || index < 0.0 {
            return String::new();
        }
        candles
            .get(index as usize)
            .map(|candle| candle.ts.format(self.format).to_string())
            .unwrap_or_default()
    }
}

/// Ticks at the first candle of each month, or of every 2nd/3rd/6th month, or of every 1st,
/// 2nd, 5th or 10th year: the finest step giving at most ten labels. A series inside a single
/// month gets a few evenly spaced day labels instead.
fn date_ticks(candles: &[Candle]) -> DateTicks {
    const MAX_LABELS: i64 = 10;
    let month_number = |ts: DateTime<Utc>| i64::from(ts.year()) * 12 + i64::from(ts.month0());
    let (Some(first), Some(last)) = (candles.first(), candles.last()) else {
        return DateTicks { positions: Vec::new(), format: "%Y-%m-%d" };
    };
    let span_months = month_number(last.ts) - month_number(first.ts);
    let step =
        [1, 2, 3, 6, 12, 24, 60, 120].into_iter().find(|step| span_months / step < MAX_LABELS).unwrap_or(240);
    let mut positions = Vec::new();
    for (index, pair) in candles.windows(2).enumerate() {
        let month = month_number(pair[1].ts);
        if month != month_number(pair[0].ts) && month.rem_euclid(step) == 0 {
            positions.push((index + 1) as f64);
        }
    }
    if positions.len() >= 2 {
        let format = if step >= 12 { "%Y" } else { "%b %Y" };
        return DateTicks { positions, format };
    }
    let count = candles.len();
    let every = count.div_ceil(6).max(1);
    DateTicks { positions: (0..count).step_by(every).map(|index| index as f64).collect(), format: "%d %b %Y" }
}

/// Replaces plotters' root tag (fixed pixel size, `xmlns` URL) with one that scales to its
/// container and names the chart for screen readers.
fn inline_root(svg: String, height: u32, label: &str) -> String {
    let body = svg.find('>').map_or(svg.as_str(), |end| &svg[end + 1..]);
    let mut out = String::with_capacity(svg.len() + 64);
    out.push_str(&root_tag(height, label));
    out.push_str(body);
    out
}

fn root_tag(height: u32, label: &str) -> String {
    format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{}">"#,
        escape(label)
    )
}

/// A chart-sized box with a message, so a section without data keeps its layout.
fn placeholder_svg(label: &str, message: &str) -> String {
    format!(
        "{root}\n<rect x=\"0.5\" y=\"0.5\" width=\"{w}\" height=\"{h}\" rx=\"6\" fill=\"#f9fafb\" \
         stroke=\"#e5e7eb\"/>\n<text x=\"{cx}\" y=\"{cy}\" text-anchor=\"middle\" \
         dominant-baseline=\"middle\" font-family=\"sans-serif\" font-size=\"16\" \
         fill=\"#6b7280\">{message}</text>\n</svg>\n",
        root = root_tag(PLACEHOLDER_HEIGHT, label),
        w = WIDTH - 1,
        h = PLACEHOLDER_HEIGHT - 1,
        cx = WIDTH / 2,
        cy = PLACEHOLDER_HEIGHT / 2,
        message = escape(message),
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    Cow::Owned(escaped)
}

/// Bars for tests and examples of the crates that draw charts.
#[doc(hidden)]
pub mod fixtures {
    use chrono::{Datelike, Duration, TimeZone, Utc};
    use domain::{Bar, ProviderId};

    /// `count` weekday bars from 2015-01-05 on a gentle random-looking walk, every third bar down.
    pub fn sample_bars(count: usize) -> Vec<Bar> {
        let mut bars = Vec::with_capacity(count);
        let mut day = Utc.with_ymd_and_hms(2015, 1, 5, 0, 0, 0).single().expect("valid date");
        let mut close = 100.0_f64;
        for index in 0..count {
            while matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
                day += Duration::days(1);
            }
            let open = close;
            let drift = ((index * 7919) % 13) as f64 / 13.0 - 0.45;
            close = (open * (1.0 + drift * 0.03)).max(1.0);
            bars.push(Bar {
                ts: day,
                open: Some(open),
                high: Some(open.max(close) * 1.01),
                low: Some(open.min(close) * 0.99),
                close: Some(close),
                adj_close: Some(close),
                volume: Some(1_000_000 + (index % 17) as i64 * 100_000),
                partial: false,
                provider: ProviderId::Sample,
                flag: None,
            });
            day += Duration::days(1);
        }
        bars
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::sample_bars;
    use super::*;

    fn symbol() -> Symbol {
        Symbol::parse("AAPL").expect("valid symbol")
    }

    #[test]
    fn price_chart_has_candles_sma_lines_and_no_url() {
        let bars = sample_bars(250);
        let svg = Charts::new(&bars).price_svg(&symbol()).expect("chart");
        assert!(svg.starts_with("<svg class=\"chart\" viewBox=\"0 0 1200 560\" width=\"100%\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("http"), "no URL, not even the xmlns one");
        // One wick and one body per candle, one volume bar per candle.
        assert!(svg.matches("<rect").count() >= 2 * 250, "bodies and volume bars");
        assert!(svg.matches("#16A34A").count() > 10, "green candles");
        assert!(svg.contains("#DC2626"), "red candles");
        // SMA 20 and SMA 50 lines.
        assert!(svg.contains("stroke=\"#F59E0B\" stroke-width=\"2\" points="));
        assert!(svg.contains("stroke=\"#2563EB\" stroke-width=\"2\" points="));
        assert_eq!(svg.matches("<svg").count(), 1);
    }

    #[test]
    fn escapes_the_five_special_characters() {
        assert_eq!(escape("AAPL"), "AAPL");
        assert!(matches!(escape("AAPL"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn skips_bars_with_missing_prices() {
        let mut bars = sample_bars(30);
        bars[3].open = None;
        bars[4].high = Some(f64::NAN);
        let drawn = candles(&[], &bars, Resolution::AsStored);
        assert_eq!(drawn.len(), 28);
        assert_eq!(plan(&bars).chartable_bars, 28);
        Charts::new(&bars).price_svg(&symbol()).expect("chart");
    }

    #[test]
    fn the_price_chart_carries_each_candles_position_and_values_for_the_crosshair() {
        let bars = sample_bars(60);
        let svg = Charts::new(&bars).price_svg(&symbol()).expect("chart");
        let attribute = |name: &str| {
            let start = svg.find(&format!(r#"{name}=""#)).expect(name) + name.len() + 2;
            svg[start..].split('"').next().unwrap().to_owned()
        };
        assert!(svg.find("data-candles").unwrap() < svg.find('>').unwrap(), "on the root tag");
        let plot: Vec<i32> = attribute("data-plot").split(',').map(|v| v.parse().unwrap()).collect();
        let (left, top, right, bottom) = (plot[0], plot[1], plot[2], plot[3]);
        assert!(0 <= left && left < right && right <= WIDTH as i32 && 0 <= top && top < bottom, "{plot:?}");
        let rows: Vec<Vec<String>> = attribute("data-candles")
            .split(';')
            .map(|row| row.split(',').map(str::to_owned).collect())
            .collect();
        assert_eq!(rows.len(), 60);
        let xs: Vec<i32> = rows.iter().map(|row| row[0].parse().unwrap()).collect();
        assert!(xs.windows(2).all(|pair| pair[0] < pair[1]), "left to right: {xs:?}");
        assert!(xs.iter().all(|x| (left..=right).contains(x)));
        for (row, bar) in rows.iter().zip(&bars) {
            assert_eq!(row.len(), 13);
            assert_eq!(row[1], bar.ts.format("%Y-%m-%d").to_string());
            assert!((row[5].parse::<f64>().unwrap() - bar.close.unwrap()).abs() < 0.006, "{row:?}");
        }
        assert!(rows[5][7].is_empty() && !rows[19][7].is_empty(), "SMA 20 from the 20th session");
        assert!(rows[59][9].is_empty(), "no SMA 200 in 60 sessions");
    }

    #[test]
    fn history_warms_the_indicators_up_without_being_drawn() {
        let bars = sample_bars(260);
        let (history, view) = bars.split_at(239);
        let cold = Charts::new(view);
        let warm = Charts::with_history(history, view);
        assert_eq!(warm.plan(), cold.plan(), "the same candles are drawn");
        assert_eq!(warm.candles.len(), view.len());
        assert_eq!(warm.candles[0].ts, view[0].ts);
        assert!(cold.candles.iter().all(|candle| candle.sma200.is_none()), "21 bars alone: no SMA 200");
        assert!(warm.candles.iter().all(|candle| candle.sma200.is_some()), "SMA 200 from the first candle");
        // The values are those of the whole series at the same bar.
        let whole = Charts::new(&bars);
        assert_eq!(warm.candles.last(), whole.candles.last());
        assert_eq!(warm.candles[0].macd, whole.candles[239].macd);
    }

    #[test]
    fn indicators_on_the_chart_end_on_the_summary_values() {
        let bars = sample_bars(120);
        let snapshot = domain::indicators::latest(&bars);
        let last = Charts::new(&bars).candles.pop().expect("candles");
        assert_eq!(last.sma20, snapshot.sma20);
        assert_eq!(last.sma50, snapshot.sma50);
        assert_eq!(last.rsi14, snapshot.rsi14);
    }

    #[test]
    fn a_timestamp_served_by_two_providers_is_drawn_once() {
        let yahoo = sample_bars(80);
        let mut both = Vec::new();
        for bar in &yahoo {
            both.push(bar.clone());
            let mut other = bar.clone();
            other.provider = domain::ProviderId::Yahoo;
            other.close = other.close.map(|close| close * 1.01);
            both.push(other);
        }
        assert_eq!(candles(&[], &both, Resolution::AsStored), candles(&[], &yahoo, Resolution::AsStored));
        assert_eq!(plan(&both).chartable_bars, 80);

        // The indicators count each day once, as over the single-provider series.
        let snapshot = domain::indicators::latest(&yahoo);
        let last = Charts::new(&both).candles.pop().expect("candles");
        assert_eq!((last.sma20, last.sma50, last.rsi14), (snapshot.sma20, snapshot.sma50, snapshot.rsi14));
    }

    #[test]
    fn empty_and_single_bar_series_get_placeholders() {
        for bars in [Vec::new(), sample_bars(1)] {
            let price = Charts::new(&bars).price_svg(&symbol()).expect("placeholder");
            assert!(price.starts_with("<svg") && price.contains("Not enough price data"));
            let rsi = Charts::new(&bars).rsi_svg().expect("placeholder");
            assert!(rsi.starts_with("<svg") && rsi.contains("Not enough price data"));
        }
        let rsi = Charts::new(&sample_bars(10)).rsi_svg().expect("placeholder");
        assert!(rsi.contains("needs at least 14 closes"));
    }

    #[test]
    fn macd_chart_has_both_lines_and_a_histogram_and_the_price_chart_the_long_average_and_bands() {
        let svg = Charts::new(&sample_bars(250)).macd_svg().expect("chart");
        assert!(svg.starts_with("<svg class=\"chart\" viewBox=\"0 0 1200 200\""), "{}", &svg[..80]);
        assert!(
            svg.contains("stroke=\"#2563EB\" stroke-width=\"2\" points=")
                && svg.contains("stroke=\"#F59E0B\"")
        );
        assert!(svg.matches("<rect").count() > 200, "a histogram bar per candle once warmed up");
        assert!(svg.contains("#16A34A") && svg.contains("#DC2626"), "bars above and below zero");
        assert!(
            Charts::new(&sample_bars(20))
                .macd_svg()
                .expect("placeholder")
                .contains("needs at least 26 closes")
        );
        let price = Charts::new(&sample_bars(250)).price_svg(&symbol()).expect("chart");
        assert!(price.contains("stroke=\"#111827\" stroke-width=\"2\" points="), "SMA 200");
        assert_eq!(price.matches("stroke=\"#94A3B8\" stroke-width=\"1\" points=").count(), 2, "two bands");
        let short = Charts::new(&sample_bars(100)).price_svg(&symbol()).expect("chart");
        assert!(!short.contains("#111827"), "no SMA 200 before 200 closes");
    }

    #[test]
    fn rsi_chart_has_guides_and_line() {
        let svg = Charts::new(&sample_bars(250)).rsi_svg().expect("chart");
        assert!(svg.starts_with("<svg class=\"chart\" viewBox=\"0 0 1200 200\""));
        assert!(svg.contains("#7C3AED"), "RSI line");
        assert!(svg.contains(">\n30\n</text>") && svg.contains(">\n70\n</text>"));
        assert!(!svg.contains("http"));
    }

    #[test]
    fn long_series_are_aggregated_and_stay_small() {
        let ten_years = sample_bars(2_500);
        let planned = plan(&ten_years);
        assert_eq!(planned.resolution, Resolution::Weekly);
        assert_eq!(planned.chartable_bars, 2_500);
        assert!(planned.candles <= MAX_CANDLES && planned.candles > 480, "{planned:?}");

        let price = Charts::new(&ten_years).price_svg(&symbol()).expect("chart");
        let rsi = Charts::new(&ten_years).rsi_svg().expect("chart");
        assert!(price.len() < 1_500_000, "price chart is {} bytes", price.len());
        assert!(rsi.len() < 1_500_000, "RSI chart is {} bytes", rsi.len());

        let one_year = sample_bars(250);
        assert_eq!(plan(&one_year).resolution, Resolution::AsStored);
        eprintln!(
            "SVG sizes: 250 bars price {} B, RSI {} B; 2,500 bars price {} B, RSI {} B",
            Charts::new(&one_year).price_svg(&symbol()).expect("chart").len(),
            Charts::new(&one_year).rsi_svg().expect("chart").len(),
            price.len(),
            rsi.len()
        );
    }

    #[test]
    fn weekly_candles_merge_prices_and_volume() {
        let bars = sample_bars(10); // Two full weeks, Monday to Friday.
        let weekly = candles(&[], &bars, Resolution::Weekly);
        assert_eq!(weekly.len(), 2);
        let week = &bars[..5];
        assert_eq!(weekly[0].open, week[0].open.expect("open"));
        assert_eq!(weekly[0].close, week[4].close.expect("close"));
        let high = week.iter().filter_map(|b| b.high).fold(f64::MIN, f64::max);
        let low = week.iter().filter_map(|b| b.low).fold(f64::MAX, f64::min);
        assert_eq!((weekly[0].high, weekly[0].low), (high, low));
        let volume: f64 = week.iter().filter_map(|b| b.volume).map(|v| v as f64).sum();
        assert_eq!(weekly[0].volume, Some(volume));
        assert_eq!(weekly[0].ts, week[0].ts);
    }

    #[test]
    fn very_long_series_fall_back_to_monthly() {
        let planned = plan(&sample_bars(6_000));
        assert_eq!(planned.resolution, Resolution::Monthly);
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact_number(0.0), "0");
        assert_eq!(compact_number(1_500.0), "1.5K");
        assert_eq!(compact_number(2_000_000.0), "2M");
        assert_eq!(compact_number(3_250_000_000.0), "3.2B");
    }
}
