//! Equity research by an agent crew: the tools over our own data, the default crew, the offline
//! model, and the service that runs a crew and stores its research note and trace.

mod config;
mod crew;
mod live_trace;
mod note;
mod offline;
mod service;
pub mod tools;

pub use config::{AnalysisConfig, LongTermMemoryConfig};
pub use crew::{EQUITY_RESEARCH, equity_research, note_schema};
pub use note::{NoteBody, render_markdown};
pub use offline::{OFFLINE, OfflineModel};
pub use service::{Analysis, AnalysisError, AnalysisService, AnalyzeRequest, model_from_config};
