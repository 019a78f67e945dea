//! The crew engine: role-playing agents that use tools to work through tasks, sequentially or
//! under a manager who delegates.
//!
//! Why it exists instead of a port of CrewAI: the system it replaces built a new crew with an
//! unbounded memory store on every run and died after hours. Here a run owns everything it
//! allocates ([`run_crew`] returns, and it is gone), every loop has a hard limit
//! ([`RunLimits`]), memory is off by default and bounded when on ([`RunMemory`]), and every step
//! is recorded in a bounded [`Trace`].

mod crew;
mod engine;
mod memory;
pub mod schema;
mod text;
mod tool;
mod trace;

pub use crew::{ASK_QUESTION, Agent, Crew, CrewError, DELEGATE_WORK, Process, RunLimits, Task};
pub use engine::{CrewOutcome, RunContext, RunStatus, TaskOutput, run_crew};
pub use memory::{LongTermMemory, MemoryConfig, MemoryEntry, RunMemory};
pub use text::{extract_json_object, final_answer, truncate};
pub use tool::{Tool, ToolBox, ToolError};
pub use trace::{NoObserver, RunObserver, TRACE_TEXT_BYTES, Trace, TraceStep};
