use chrono::{DateTime, NaiveDate, Utc};

use crate::{Bar, CorporateAction};

/// A consecutive-close ratio beyond this is treated as a data error rather than a market move.
/// Real splits top out around 1:50; a 100x jump is almost always a unit or decimal error.
const MAX_CLOSE_RATIO: f64 = 100.0;

/// Split ratios seen in practice (new shares : old shares); their inverses are reverse splits.
/// 4:3 and 5:4 are left out: a one-day move of 25–33 % is too common to call a split.
const SPLIT_RATIOS: [(u32, u32); 16] = [
    (3, 2),
    (2, 1),
    (5, 2),
    (3, 1),
    (4, 1),
    (5, 1),
    (6, 1),
    (7, 1),
    (8, 1),
    (10, 1),
    (15, 1),
    (20, 1),
    (25, 1),
    (30, 1),
    (40, 1),
    (50, 1),
];

/// How close a close-to-close ratio must be to a split ratio to look like one: a split day's own
/// market move blurs the step by a few percent.
const SPLIT_MATCH_TOLERANCE: f64 = 0.04;

/// The split ratio `previous / close` resembles, as `(new, old)` shares (`(1, 10)` for a 1:10
/// reverse split).
fn split_sized(previous: f64, close: f64) -> Option<(u32, u32)> {
    if !(previous > 0.0 && close > 0.0) {
        return None;
    }
    let ratio = previous / close;
    SPLIT_RATIOS.iter().find_map(|&(new, old)| {
        let forward = f64::from(new) / f64::from(old);
        if (ratio / forward - 1.0).abs() <= SPLIT_MATCH_TOLERANCE {
            Some((new, old))
        } else if (ratio * forward - 1.0).abs() <= SPLIT_MATCH_TOLERANCE {
            Some((old, new))
        } else {
            None
        }
    })
}

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
    NegativeVolume(i64),
    NonFinite(&'static str),
    NegativePrice(&'static str),
    /// Kept but flagged: the close moved by this factor against the previous close.
    Jump {
        previous_close: f64,
        close: f64,
    },
    /// Kept but flagged: the close stepped by a split's ratio and no split is on record for the
    /// day, so either a split is missing from the vendors' events or the series mixes adjusted
    /// and as-traded prices.
    SplitSizedStep {
        previous_close: f64,
        close: f64,
        ratio: (u32, u32),
    },
    /// Kept, not flagged: a step matching a split recorded for that day.
    ExplainedBySplit {
        previous_close: f64,
        close: f64,
        date: NaiveDate,
        numerator: f64,
        denominator: f64,
    },
}

impl QualityIssue {
    /// Impossible bars are rejected; suspicious ones are kept with a flag.
    pub fn is_rejection(&self) -> bool {
        !matches!(self, Self::Jump { .. } | Self::SplitSizedStep { .. } | Self::ExplainedBySplit { .. })
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
            Self::SplitSizedStep { previous_close, close, ratio: (new, old) } => write!(
                f,
                "close {close} stepped {new}:{old} from previous close {previous_close} with no split on record"
            ),
            Self::ExplainedBySplit { previous_close, close, date, numerator, denominator } => write!(
                f,
                "close {close} after {previous_close}: the {numerator}:{denominator} split of {date}"
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
    /// Steps in the closes that a recorded split explains; the bars are kept unflagged.
    pub explained: Vec<QualityFinding>,
}

impl QualityReport {
    /// True when every bar passed untouched and nothing needed explaining.
    pub fn is_clean(&self) -> bool {
        self.rejected.is_empty() && self.flagged.is_empty() && self.explained.is_empty()
    }
}

fn rejection(bar: &Bar) -> Option<QualityIssue> {
    let fields = [
        ("open", bar.open),
        ("high", bar.high),
        ("low", bar.low),
        ("close", bar.close),
        ("adj_close", bar.adj_close),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            if !v.is_finite() {
                return Some(QualityIssue::NonFinite(name));
            }
            if v < 0.0 {
                return Some(QualityIssue::NegativePrice(name));
            }
        }
    }
    if let Some(v) = bar.volume.filter(|v| *v < 0) {
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

/// Runs the data-quality gate over as-traded bars sorted by time: removes impossible bars, flags
/// suspicious ones (setting [`Bar::flag`]) and reports why for each. `actions` are the splits on
/// record for the symbol: a step in the closes of a split's ratio on its ex-date is explained, the
/// same step on another day is flagged.
///
/// Missing values are not issues: a `None` stays `None` and is stored as NULL.
pub fn check_bars(bars: &mut Vec<Bar>, actions: &[CorporateAction]) -> QualityReport {
    let mut report = QualityReport::default();
    let mut previous_close: Option<f64> = None;
    let split_on = |date: NaiveDate| {
        actions.iter().find_map(|a| match a.kind {
            crate::CorporateActionKind::Split { numerator, denominator } if a.date == date => {
                Some((numerator, denominator))
            }
            _ => None,
        })
    };
    bars.retain_mut(|bar| {
        if let Some(issue) = rejection(bar) {
            report.rejected.push(QualityFinding { ts: bar.ts, issue });
            return false;
        }
        if let (Some(prev), Some(close)) = (previous_close, bar.close) {
            let ratio = if prev > 0.0 && close > 0.0 { (close / prev).max(prev / close) } else { 1.0 };
            let split = split_on(bar.date()).filter(|(n, d)| {
                let expected = n / d;
                expected > 0.0 && ((prev / close) / expected - 1.0).abs() <= 2.0 * SPLIT_MATCH_TOLERANCE
            });
            if let Some((numerator, denominator)) = split {
                let issue = QualityIssue::ExplainedBySplit {
                    previous_close: prev,
                    close,
                    date: bar.date(),
                    numerator,
                    denominator,
                };
                report.explained.push(QualityFinding { ts: bar.ts, issue });
            } else if ratio >= MAX_CLOSE_RATIO {
                let issue = QualityIssue::Jump { previous_close: prev, close };
                bar.flag = Some(issue.to_string());
                report.flagged.push(QualityFinding { ts: bar.ts, issue });
            } else if let Some(ratio) = split_sized(prev, close) {
                let issue = QualityIssue::SplitSizedStep { previous_close: prev, close, ratio };
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
            volume: Some(v as i64),
            provider: ProviderId::Sample,
            partial: false,
            flag: None,
        }
    }

    #[test]
    fn clean_bars_pass() {
        let mut bars = vec![bar(1, 10.0, 11.0, 9.0, 10.5, 100.0), bar(2, 10.5, 12.0, 10.0, 11.0, 50.0)];
        let report = check_bars(&mut bars, &[]);
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
        let report = check_bars(&mut bars, &[]);
        assert_eq!(bars.len(), 1);
        assert_eq!(report.rejected.len(), 3);
        assert!(matches!(report.rejected[0].issue, QualityIssue::HighBelowLow { .. }));
        assert!(matches!(report.rejected[1].issue, QualityIssue::CloseOutsideRange { .. }));
        assert_eq!(report.rejected[2].issue, QualityIssue::NegativeVolume(-5));
        assert!(report.rejected[0].issue.to_string().contains("below low"));
    }

    #[test]
    fn flags_hundredfold_jump_but_keeps_it() {
        let mut bars = vec![bar(1, 10.0, 11.0, 9.0, 10.0, 1.0), bar(2, 1000.0, 1100.0, 990.0, 1000.0, 1.0)];
        let report = check_bars(&mut bars, &[]);
        assert_eq!(bars.len(), 2);
        assert_eq!(report.flagged.len(), 1);
        assert!(bars[1].flag.as_deref().unwrap().contains("jumped"));
        assert!(bars[0].flag.is_none());
    }

    #[test]
    fn split_sized_steps_are_flagged_unless_a_split_explains_them() {
        use crate::{CorporateAction, CorporateActionKind};
        // 4:1: 400 then 101.
        let mut bars = vec![bar(1, 400.0, 401.0, 399.0, 400.0, 1.0), bar(2, 101.0, 102.0, 100.0, 101.0, 4.0)];
        let report = check_bars(&mut bars, &[]);
        assert_eq!(report.flagged.len(), 1);
        assert!(matches!(report.flagged[0].issue, QualityIssue::SplitSizedStep { ratio: (4, 1), .. }));
        assert!(bars[1].flag.as_deref().unwrap().contains("4:1"), "{:?}", bars[1].flag);

        let split = CorporateAction {
            date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
            kind: CorporateActionKind::Split { numerator: 4.0, denominator: 1.0 },
            provider: ProviderId::Yahoo,
        };
        let mut bars = vec![bar(1, 400.0, 401.0, 399.0, 400.0, 1.0), bar(2, 101.0, 102.0, 100.0, 101.0, 4.0)];
        let report = check_bars(&mut bars, &[split]);
        assert!(report.flagged.is_empty(), "{report:?}");
        assert_eq!(report.explained.len(), 1);
        assert!(bars[1].flag.is_none());

        // 1:10 reverse split, 3:2, and an ordinary 10 % move.
        assert_eq!(split_sized(1.0, 10.2), Some((1, 10)));
        assert_eq!(split_sized(150.0, 99.0), Some((3, 2)));
        assert_eq!(split_sized(100.0, 90.0), None);
        assert_eq!(split_sized(100.0, 0.0), None);
    }

    #[test]
    fn missing_values_are_not_issues() {
        let mut b = bar(1, 10.0, 11.0, 9.0, 10.0, 1.0);
        b.open = None;
        b.volume = None;
        let mut bars = vec![b];
        assert!(check_bars(&mut bars, &[]).is_clean());
        assert_eq!(bars[0].open, None);
    }
}
