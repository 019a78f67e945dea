//! The `[analysis]` config section: the model, which crew runs, extra crews and memory.

use agents::Crew;
use llm::LlmConfig;
use serde::{Deserialize, Serialize};

use crate::crew::EQUITY_RESEARCH;

/// Settings of the analysis crews.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisConfig {
    /// The model every agent uses unless a crew says otherwise; `provider = "offline"` (the
    /// default) needs no key.
    pub llm: LlmConfig,
    /// The crew `analyze` runs unless told otherwise.
    pub crew: String,
    /// Crews defined in config (roles, goals, tasks), beside the built-in `equity-research`. A
    /// crew here with that name replaces the built-in one.
    pub crews: Vec<Crew>,
    /// Optional long-term memory in our database.
    pub long_term_memory: LongTermMemoryConfig,
    /// Crew runs (with their traces) older than this many days are deleted when the analysis
    /// job runs; notes stay. 0 keeps them forever.
    pub keep_traces_days: u32,
    /// Cron expression with seconds, in UTC, to analyse every watched symbol (e.g.
    /// `"0 0 23 * * Mon-Fri"`); none means on request only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            llm: LlmConfig::default(),
            crew: EQUITY_RESEARCH.to_owned(),
            crews: Vec::new(),
            long_term_memory: LongTermMemoryConfig::default(),
            keep_traces_days: 90,
            schedule: None,
        }
    }
}

/// Bounds of the long-term memory table, per scope (crew and symbol).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LongTermMemoryConfig {
    /// Whether crews with `memory.long_term = true` may use it at all.
    pub enabled: bool,
    pub ttl_days: u32,
    pub max_entries: u32,
    pub max_bytes: u64,
}

impl Default for LongTermMemoryConfig {
    fn default() -> Self {
        Self { enabled: false, ttl_days: 30, max_entries: 20, max_bytes: 64 * 1024 }
    }
}
