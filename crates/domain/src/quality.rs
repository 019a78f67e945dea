use chrono::{DateTime, Utc};

use crate::Bar;

/// A consecutive-close ratio beyond this is treated as a data error rather than a market move.
/// Real splits top out around 1:50; a 100x jump is almost always a unit or decimal error.
const MAX_CLOSE_RATIO: f64 = 100.0;

/// What is wrong with a bar.
#[derive(Debug, Clone, PartialEq)]
pub enum QualityIssue {
    HighBelowLow {
        high: f64,
        low: f64,
    },
    CloseOutsideRange {
        close: f64,
        low: f64,
        high: f64,
    },
    OpenOutsideRange {
        open: f64,
        low: f64,
        high: f64,
    },
    NegativeVolume(f64),
    NonFinite(&'static str),
    NegativePrice(&'static str),
    /// Kept but flagged: the close moved by this factor against the previous close.
    Jump {
        previous_close: f64,
        close: f64,
    },
}

impl QualityIssue {
    /// Impossible bars are rejected; suspicious ones are kept with a flag.
    pub fn is_rejection(&self) -> bool {
        !matches!(self, Self::Jump { .. })
    }
}

impl std::fmt::Display for QualityIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::HighBelowLow { high, low } => write!(f, "high {high} is below low {low}"),
            Self::CloseOutsideRange { close, low, high } => {
                write!(f, "close {close} is outside [low {low}, high {high}]")
            }
            Self::OpenOutsideRange { open, low, high } => {
                write!(f, "open {open} is outside [low {low}, high {high}]")
            }
            Self::NegativeVolume(v) => write!(f, "volume {v} is negative"),
            Self::NonFinite(field) => write!(f, "{field} is not a finite number"),
            Self::NegativePrice(field) => write!(f, "{field} is negative"),
            Self::Jump { previous_close, close } => write!(
                f,
                "close {close} jumped more than {MAX_CLOSE_RATIO}x from previous close {previous_close}"
            ),
        }
    }
}

/// One finding of the gate, with the bar's timestamp so it can be traced and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityFinding {
    pub ts: DateTime<Utc>,
    pub issue: QualityIssue,
}

/// What the gate did to a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityReport {
    pub rejected: Vec<QualityFinding>,
    pub flagged: Vec<QualityFinding>,
}

impl QualityReport {
    /// True when every bar passed untouched.
    pub fn is_clean(&self) -> bool {
        self.rejected.is_empty() && self.flagged.is_empty()
    }
}

fn rejection(bar: &Bar) -> Option<QualityIssue> {
    let fields = [
        ("open", bar.open),
        ("high", bar.high),
        ("low", bar.low),
        ("close", bar.close),
        ("adj_close", bar.adj_close),
        ("volume", bar.volume),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            if !v.is_finite() {
                return Some(QualityIssue::NonFinite(name));
            }
            if v < 0.0 && name != "volume" {
                return Some(QualityIssue::NegativePrice(name));
            }
        }
    }
    if let Some(v) = bar.volume.filter(|v| *v < 0.0) {
        return Some(QualityIssue::NegativeVolume(v));
    }
    if let (Some(high), Some(low)) = (bar.high, bar.low) {
        if high < low {
            return Some(QualityIssue::HighBelowLow { high, low });
        }
        if let Some(close) = bar.close.filter(|c| *c < low || *c > high) {
            return Some(QualityIssue::CloseOutsideRange { close, low, high });
        }
        if let Some(open) = bar.open.filter(|o| *o < low || *o > high) {
            return Some(QualityIssue::OpenOutsideRange { open, low, high });
        }
    }
    None
}

/// Runs the data-quality gate over bars sorted by time: removes impossible bars, flags
/// suspicious ones (setting [`Bar::flag`]) and reports why for each.
///
/// Missing values are not issues: a `None` stays `None` and is stored as NULL.
pub fn check_bars(bars: &mut Vec<Bar>) -> QualityReport {
    let mut report = QualityReport::default();
    let mut previous_close: Option<f64> = None;
    bars.retain_mut(|bar| {
        if let Some(issue) = rejection(bar) {
            report.rejected.push(QualityFinding { ts: bar.ts, issue });
            return false;
        }
        if let (Some(prev), Some(close)) = (previous_close, bar.close) {
            let ratio = if prev > 0.0 && close > 0.0 { (close / prev).max(prev / close) } else { 1.0 };
            if ratio >= MAX_CLOSE_RATIO {
                let issue = QualityIssue::Jump { previous_close: prev, close };
                bar.flag = Some(issue.to_string());
                report.flagged.push(QualityFinding { ts: bar.ts, issue });
            }
        }
        if bar.close.is_some() {
            previous_close = bar.close;
        }
        true
    });
    report
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ProviderId;

    fn bar(day: u32, o: f64, h: f64, l: f64, c: f64, v: f64) -> Bar {
        Bar {
            ts: Utc.with_ymd_and_hms(2024, 1, day, 0, 0, 0).unwrap(),
            open: Some(o),
            high: Some(h),
            low: Some(l),
            close: Some(c),
            adj_close: None,
            volume: Some(v),
            provider: ProviderId::Sample,
            flag: None,
        }
    }

    #[test]
    fn clean_bars_pass() {
        let mut bars = vec![bar(1, 10.0, 11.0, 9.0, 10.5, 100.0), bar(2, 10.5, 12.0, 10.0, 11.0, 50.0)];
        let report = check_bars(&mut bars);
        assert!(report.is_clean());
        assert_eq!(bars.len(), 2);
    }

    #[test]
    fn rejects_impossible_bars_and_says_why() {
        let mut bars = vec![
            bar(1, 10.0, 9.0, 11.0, 10.0, 1.0),  // high < low
            bar(2, 10.0, 11.0, 9.0, 12.0, 1.0),  // close above high
            bar(3, 10.0, 11.0, 9.0, 10.0, -5.0), // negative volume
            bar(4, 10.0, 11.0, 9.0, 10.0, 5.0),
        ];
        let report = check_bars(&mut bars);
        assert_eq!(bars.len(), 1);
        assert_eq!(report.rejected.len(), 3);
        assert!(matches!(report.rejected[0].issue, QualityIssue::HighBelowLow { .. }));
        assert!(matches!(report.rejected[1].issue, QualityIssue::CloseOutsideRange { .. }));
        assert_eq!(report.rejected[2].issue, QualityIssue::NegativeVolume(-5.0));
        assert!(report.rejected[0].issue.to_string().contains("below low"));
    }

    #[test]
    fn flags_hundredfold_jump_but_keeps_it() {
        let mut bars = vec![bar(1, 10.0, 11.0, 9.0, 10.0, 1.0), bar(2, 1000.0, 1100.0, 990.0, 1000.0, 1.0)];
        let report = check_bars(&mut bars);
        assert_eq!(bars.len(), 2);
        assert_eq!(report.flagged.len(), 1);
        assert!(bars[1].flag.as_deref().unwrap().contains("jumped"));
        assert!(bars[0].flag.is_none());
    }

    #[test]
    fn missing_values_are_not_issues() {
        let mut b = bar(1, 10.0, 11.0, 9.0, 10.0, 1.0);
        b.open = None;
        b.volume = None;
        let mut bars = vec![b];
        assert!(check_bars(&mut bars).is_clean());
        assert_eq!(bars[0].open, None);
    }
}
