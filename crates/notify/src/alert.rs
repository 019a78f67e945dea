//! What fired. A plain serde struct: the monitor job fills it from its rule and the quote, the
//! JSON webhook sends it as it is, and templates read its fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One alert that fired, as delivered. Field order is the JSON webhook's key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The alert's id in storage, so a receiver can de-duplicate retried deliveries.
    pub id: i64,
    pub symbol: String,
    /// The rule in words, e.g. "RSI(14) above 70".
    pub rule: String,
    /// The rule's kind, e.g. `price_above`, `rsi_above`.
    pub kind: String,
    /// The value the rule looked at when it fired.
    pub value: f64,
    pub threshold: f64,
    /// The value at the previous check, when there was one (crossing rules).
    pub previous: Option<f64>,
    /// The last price, when the rule is not about the price itself.
    pub price: Option<f64>,
    /// Which market-data provider served the data.
    pub provider: Option<String>,
    pub fired_at: DateTime<Utc>,
}
