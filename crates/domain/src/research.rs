//! What the research crew leaves behind about a symbol: a rated note.

use serde::{Deserialize, Serialize};

use crate::Symbol;

crate::text_enum! {
    /// A note's rating.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Rating {
        Buy => "buy",
        Hold => "hold",
        Sell => "sell",
    }
    parse_error = "unknown rating {:?}: expected buy, hold or sell";
}

/// A research note about one symbol, as the crew writes it and as it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResearchNote {
    /// The crew run that wrote it, if any.
    pub crew_run_id: Option<i64>,
    pub symbol: Symbol,
    pub rating: Rating,
    /// In `0.0..=1.0`.
    pub confidence: f64,
    /// E.g. `3-6 months`.
    pub horizon: String,
    pub thesis: String,
    pub risks: Vec<String>,
    pub key_figures: serde_json::Map<String, serde_json::Value>,
    /// Where the figures came from (URLs, provider names, tool names).
    pub sources: Vec<String>,
    /// The full note for people.
    pub markdown: String,
    pub model: String,
    pub crew: String,
}
