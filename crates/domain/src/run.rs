//! The vocabulary of job runs shared by the engine, storage, the API and the CLI.

use serde::{Deserialize, Serialize};

crate::text_enum! {
    /// Who asked for a run.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum RunTrigger {
        /// `POST /api/jobs/{job}/trigger` (and the CLI talking to a server).
        Api => "api",
        /// The job's cron schedule.
        Schedule => "schedule",
        /// A CLI command run in-process.
        Cli => "cli",
    }
    parse_error = "unknown run trigger {:?}: expected api, schedule or cli";
}

crate::text_enum! {
    /// What kind of record a run produced. The job engine stores these references without knowing
    /// what they are; the API links each to its resource.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum OutputKind {
        /// A file in the export directory (`/api/exports/{id}`).
        Export => "export",
        /// A research note written by the analyst crew.
        ResearchNote => "research_note",
        /// A crew run (its trace and token counts).
        CrewRun => "crew_run",
        /// A Reddit scan.
        SocialScan => "social_scan",
        /// An alert fired by a monitor rule (`/api/alerts`).
        Alert => "alert",
    }
    parse_error = "unknown run output kind {:?}: expected export, research_note, crew_run, social_scan or alert";
}

/// One record a run produced: its kind and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunOutput {
    pub kind: OutputKind,
    pub id: i64,
}

impl RunOutput {
    pub fn new(kind: OutputKind, id: i64) -> Self {
        Self { kind, id }
    }
}
