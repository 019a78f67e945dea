//! One bar per trading day from several providers: which one is kept, and where they disagree.
//!
//! A fallback chain (and a user switching providers) delivers the same day from different
//! vendors. Storing each would double-count the day in every indicator; overwriting blindly would
//! let a less trusted vendor replace a better one. The rule here: the preferred provider's row
//! stays (the order of `providers.order`), a partial bar always gives way to a final one, and
//! whenever two final bars of the same day differ beyond a tolerance the difference is kept as a
//! [`Disagreement`] so a user can see it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Bar, Interval, ProviderId, Symbol};

/// Prices further apart than this fraction (0.5 %) are a disagreement: beyond float noise and
/// vendors' rounding, well below a real data error.
pub const PRICE_TOLERANCE: f64 = 0.005;
/// Volumes further apart than this fraction (5 %) are a disagreement: vendors count odd lots and
/// late prints differently, so volumes rarely match exactly.
pub const VOLUME_TOLERANCE: f64 = 0.05;

/// The order in which providers are trusted, most trusted first. Providers not listed come after
/// the listed ones, in [`ProviderId::ALL`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPreference(Vec<ProviderId>);

impl Default for ProviderPreference {
    fn default() -> Self {
        Self(ProviderId::ALL.to_vec())
    }
}

impl ProviderPreference {
    /// Providers in order of preference.
    pub fn new(order: impl IntoIterator<Item = ProviderId>) -> Self {
        let mut seen = Vec::new();
        for provider in order.into_iter().chain(ProviderId::ALL) {
            if !seen.contains(&provider) {
                seen.push(provider);
            }
        }
        Self(seen)
    }

    /// Lower is more trusted.
    pub fn rank(&self, provider: ProviderId) -> usize {
        self.0.iter().position(|p| *p == provider).unwrap_or(self.0.len())
    }

    /// The providers, most trusted first.
    pub fn order(&self) -> &[ProviderId] {
        &self.0
    }
}

/// A compared field of a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarField {
    Open,
    High,
    Low,
    Close,
    Volume,
}

impl BarField {
    pub const ALL: [BarField; 5] = [Self::Open, Self::High, Self::Low, Self::Close, Self::Volume];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::High => "high",
            Self::Low => "low",
            Self::Close => "close",
            Self::Volume => "volume",
        }
    }

    /// The fraction beyond which two values of this field disagree.
    pub fn tolerance(self) -> f64 {
        match self {
            Self::Volume => VOLUME_TOLERANCE,
            _ => PRICE_TOLERANCE,
        }
    }

    fn value(self, bar: &Bar) -> Option<f64> {
        match self {
            Self::Open => bar.open,
            Self::High => bar.high,
            Self::Low => bar.low,
            Self::Close => bar.close,
            // Exact below 2^53 shares, far above any day's volume.
            Self::Volume => bar.volume.map(|v| v as f64),
        }
    }
}

impl fmt::Display for BarField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a bar field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown bar field {0:?}; expected open, high, low, close or volume")]
pub struct ParseBarFieldError(pub String);

impl FromStr for BarField {
    type Err = ParseBarFieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| ParseBarFieldError(s.to_owned()))
    }
}

/// Two providers' values of one field of one bar, further apart than the field's tolerance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disagreement {
    pub symbol: Symbol,
    pub interval: Interval,
    /// The bar's key (see [`Bar::ts`]: the session date at midnight UTC for daily bars).
    pub ts: DateTime<Utc>,
    pub field: BarField,
    /// The stored (preferred) provider and its value.
    pub kept_provider: ProviderId,
    pub kept_value: f64,
    /// The provider whose bar was not stored, and its value.
    pub other_provider: ProviderId,
    pub other_value: f64,
}

impl Disagreement {
    /// `other_value` relative to `kept_value`, e.g. `0.012` for 1.2 % above.
    pub fn relative_difference(&self) -> f64 {
        if self.kept_value == 0.0 {
            f64::INFINITY
        } else {
            (self.other_value - self.kept_value) / self.kept_value
        }
    }
}

/// What to do with a bar for a key that already has a stored bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciliation {
    /// Store the incoming bar in place of the stored one.
    pub replace: bool,
    /// Fields on which two final bars of different providers disagree, as
    /// `(field, kept value, other value)` with "kept" the bar that stays stored.
    pub differences: Vec<(BarField, f64, f64)>,
}

/// Decides between the stored bar and an incoming bar of the same key.
///
/// - Same provider: the incoming bar replaces the stored one (a refetch; vendors revise).
/// - A final bar replaces a partial one whatever the provider; a partial never replaces a final.
/// - Two partial bars: the preferred provider's.
/// - Two final bars: the preferred provider's, and every field beyond its tolerance is returned.
///   A value missing on either side is a gap, not a disagreement.
pub fn reconcile(stored: &Bar, incoming: &Bar, preference: &ProviderPreference) -> Reconciliation {
    let none = |replace| Reconciliation { replace, differences: Vec::new() };
    if stored.provider == incoming.provider {
        return none(!incoming.partial || stored.partial);
    }
    match (stored.partial, incoming.partial) {
        (true, false) => return none(true),
        (false, true) => return none(false),
        (true, true) => return none(preference.rank(incoming.provider) < preference.rank(stored.provider)),
        (false, false) => {}
    }
    let replace = preference.rank(incoming.provider) < preference.rank(stored.provider);
    let (kept, other) = if replace { (incoming, stored) } else { (stored, incoming) };
    let differences = BarField::ALL
        .into_iter()
        .filter_map(|field| {
            let (a, b) = (field.value(kept)?, field.value(other)?);
            differs(a, b, field.tolerance()).then_some((field, a, b))
        })
        .collect();
    Reconciliation { replace, differences }
}

/// True when `a` and `b` are more than `tolerance` (a fraction of the larger) apart.
fn differs(a: f64, b: f64, tolerance: f64) -> bool {
    let scale = a.abs().max(b.abs());
    scale > 0.0 && (a - b).abs() > tolerance * scale
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn bar(provider: ProviderId, close: f64, volume: i64, partial: bool) -> Bar {
        Bar {
            ts: Utc.with_ymd_and_hms(2024, 5, 3, 0, 0, 0).unwrap(),
            open: Some(close),
            high: Some(close + 1.0),
            low: Some(close - 1.0),
            close: Some(close),
            adj_close: None,
            volume: Some(volume),
            provider,
            partial,
            flag: None,
        }
    }

    fn preference() -> ProviderPreference {
        ProviderPreference::new([ProviderId::Yahoo, ProviderId::Polygon, ProviderId::AlphaVantage])
    }

    #[test]
    fn preferred_provider_stays_and_differences_are_reported() {
        let yahoo = bar(ProviderId::Yahoo, 100.0, 1_000_000, false);
        let polygon = bar(ProviderId::Polygon, 100.2, 1_200_000, false);
        let kept = reconcile(&yahoo, &polygon, &preference());
        assert!(!kept.replace);
        // 0.2 % on prices is within tolerance, 20 % on volume is not.
        assert_eq!(kept.differences, vec![(BarField::Volume, 1_000_000.0, 1_200_000.0)]);

        let far = bar(ProviderId::AlphaVantage, 400.0, 1_000_000, false);
        let replaced = reconcile(&far, &yahoo, &preference());
        assert!(replaced.replace, "yahoo is preferred over alpha_vantage");
        assert!(replaced.differences.contains(&(BarField::Close, 100.0, 400.0)));
    }

    #[test]
    fn final_beats_partial_and_refetches_replace() {
        let live = bar(ProviderId::Yahoo, 100.0, 10, true);
        let done = bar(ProviderId::AlphaVantage, 101.0, 20, false);
        assert!(reconcile(&live, &done, &preference()).replace);
        assert!(!reconcile(&done, &live, &preference()).replace);
        assert!(reconcile(&done, &live, &preference()).differences.is_empty());
        let again = bar(ProviderId::Yahoo, 100.5, 12, false);
        assert!(reconcile(&live, &again, &preference()).replace);
        assert!(
            !reconcile(&again, &live, &preference()).replace,
            "a partial refetch never replaces a final bar"
        );
    }

    #[test]
    fn gaps_are_not_disagreements() {
        let mut yahoo = bar(ProviderId::Yahoo, 100.0, 10, false);
        yahoo.open = None;
        let mut polygon = bar(ProviderId::Polygon, 100.0, 10, false);
        polygon.open = Some(50.0);
        assert!(reconcile(&yahoo, &polygon, &preference()).differences.is_empty());
    }

    #[test]
    fn unlisted_providers_rank_last() {
        let order = ProviderPreference::new([ProviderId::Sample]);
        assert_eq!(order.rank(ProviderId::Sample), 0);
        assert!(order.rank(ProviderId::Yahoo) > 0);
        assert_eq!(order.order().len(), ProviderId::ALL.len());
    }
}
