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
