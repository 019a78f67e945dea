//! What a crew is: agents, tasks, a process and the limits of a run. Plain data, so crews can
//! come from code or from the config file alike (`serde`), and are checked before they run.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use llm::ChatModel;
use serde::{Deserialize, Serialize};

use crate::memory::MemoryConfig;
use crate::tool::ToolBox;

/// The manager's tool to hand work to a coworker (hierarchical process).
pub const DELEGATE_WORK: &str = "delegate_work";
/// The manager's tool to ask a coworker a question (hierarchical process).
pub const ASK_QUESTION: &str = "ask_question";

/// A role-playing agent.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Unique within the crew; tasks name their agent by role.
    pub role: String,
    pub goal: String,
    #[serde(default)]
    pub backstory: String,
    /// Names of tools from the crew's [`ToolBox`].
    #[serde(default)]
    pub tools: Vec<String>,
    /// The agent's own model; `None` uses the run's model.
    #[serde(skip)]
    pub llm: Option<Arc<dyn ChatModel>>,
    /// Model turns this agent may take per task (each tool round trip is one).
    #[serde(default = "default_max_iterations")]
    pub max_iterations: u32,
}

fn default_max_iterations() -> u32 {
    8
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("role", &self.role)
            .field("tools", &self.tools)
            .field("llm", &self.llm.as_ref().map(|llm| llm.label()))
            .field("max_iterations", &self.max_iterations)
            .finish_non_exhaustive()
    }
}

impl Agent {
    pub fn new(role: impl Into<String>, goal: impl Into<String>, backstory: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            goal: goal.into(),
            backstory: backstory.into(),
            tools: Vec::new(),
            llm: None,
            max_iterations: default_max_iterations(),
        }
    }

    pub fn with_tools<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tools: I) -> Self {
        self.tools = tools.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_llm(mut self, llm: Arc<dyn ChatModel>) -> Self {
        self.llm = Some(llm);
        self
    }

    pub fn with_max_iterations(mut self, max_iterations: u32) -> Self {
        self.max_iterations = max_iterations;
        self
    }
}

/// A piece of work for one agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Unique within the crew; later tasks name earlier ones in `context`.
    pub name: String,
    /// What to do; `{symbol}`-style placeholders are filled from the run's inputs.
    pub description: String,
    pub expected_output: String,
    /// The role of the agent that does it (in a hierarchical crew: a hint for the manager).
    pub agent: String,
    /// Earlier tasks whose results this task sees. `None` (the default) means the previous
    /// task's result, as in CrewAI; `Some([])` means none.
    #[serde(default)]
    pub context: Option<Vec<String>>,
    /// A JSON schema the answer must match; the model is asked for structured output and a
    /// non-matching answer is sent back with the reason.
    #[serde(default)]
    pub output_schema: Option<serde_json::Value>,
}

impl Task {
    /// A task for the agent with role `agent`, taking the previous task's result as context.
    pub fn new(
        name: impl Into<String>,
        agent: impl Into<String>,
        description: impl Into<String>,
        expected_output: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            expected_output: expected_output.into(),
            agent: agent.into(),
            context: None,
            output_schema: None,
        }
    }

    /// Takes exactly these earlier tasks' results as context (none when empty).
    pub fn with_context<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tasks: I) -> Self {
        self.context = Some(tasks.into_iter().map(Into::into).collect());
        self
    }

    /// Requires the answer to match `schema`.
    pub fn with_output_schema(mut self, schema: serde_json::Value) -> Self {
        self.output_schema = Some(schema);
        self
    }
}

/// How tasks are assigned.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Process {
    /// Each task goes to its own agent, in order.
    Sequential,
    /// A manager agent receives every task and delegates to coworkers with tools.
    Hierarchical { manager: Agent },
}

/// Hard limits of one run. Each is enforced; reaching one ends the run with
/// [`RunStatus::LimitReached`](crate::RunStatus::LimitReached), never a hang.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunLimits {
    /// Tool calls in the whole run (delegations included).
    pub max_tool_calls: u32,
    /// Tokens (prompt + completion) in the whole run.
    pub max_tokens: u64,
    /// Wall-clock time of the whole run; the model call in flight is cancelled.
    #[serde(with = "secs")]
    pub deadline: Duration,
    /// Invalid tool-argument strings an agent may send per task before the task gives up.
    pub max_invalid_tool_arguments: u32,
    /// Answers that do not match the task's schema an agent may send per task.
    pub max_invalid_outputs: u32,
    /// Delegations by the manager in the whole run.
    pub max_delegations: u32,
    /// A tool result is cut to this many bytes before the model sees it.
    pub max_tool_result_bytes: usize,
    /// A task result is cut to this many bytes.
    pub max_output_bytes: usize,
    /// Steps kept in the trace; later steps are counted, not kept.
    pub max_trace_steps: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            max_tool_calls: 40,
            max_tokens: 200_000,
            deadline: Duration::from_secs(300),
            max_invalid_tool_arguments: 3,
            max_invalid_outputs: 2,
            max_delegations: 12,
            max_tool_result_bytes: 8 * 1024,
            max_output_bytes: 16 * 1024,
            max_trace_steps: 400,
        }
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// A crew: agents, tasks, process, limits and memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crew {
    pub name: String,
    pub agents: Vec<Agent>,
    pub tasks: Vec<Task>,
    #[serde(default = "sequential")]
    pub process: Process,
    #[serde(default)]
    pub limits: RunLimits,
    #[serde(default)]
    pub memory: MemoryConfig,
}

fn sequential() -> Process {
    Process::Sequential
}

/// A crew that cannot run, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrewError {
    #[error("crew {crew:?}: {message}")]
    Invalid { crew: String, message: String },
}

impl Crew {
    /// Checks that roles and task names are unique, every task names a known agent, context
    /// names only earlier tasks, every tool exists in `tools`, and the limits allow work.
    ///
    /// # Errors
    /// [`CrewError::Invalid`] naming the first problem.
    pub fn validate(&self, tools: &ToolBox) -> Result<(), CrewError> {
        let invalid = |message: String| CrewError::Invalid { crew: self.name.clone(), message };
        if self.agents.is_empty() || self.tasks.is_empty() {
            return Err(invalid("a crew needs at least one agent and one task".into()));
        }
        let mut roles = HashSet::new();
        let manager = match &self.process {
            Process::Hierarchical { manager } => Some(manager),
            Process::Sequential => None,
        };
        for agent in self.agents.iter().chain(manager) {
            if agent.role.trim().is_empty() {
                return Err(invalid("an agent has an empty role".into()));
            }
            if !roles.insert(agent.role.as_str()) {
                return Err(invalid(format!("two agents have the role {:?}", agent.role)));
            }
            if agent.max_iterations == 0 {
                return Err(invalid(format!("agent {:?} has max_iterations 0", agent.role)));
            }
            if let Some(unknown) = agent.tools.iter().find(|name| !tools.contains(name)) {
                let known: Vec<_> = tools.names().collect();
                return Err(invalid(format!(
                    "agent {:?} uses unknown tool {unknown:?} (known: {})",
                    agent.role,
                    known.join(", ")
                )));
            }
        }
        let mut earlier = HashSet::new();
        for task in &self.tasks {
            if !self.agents.iter().any(|agent| agent.role == task.agent) {
                return Err(invalid(format!("task {:?} names unknown agent {:?}", task.name, task.agent)));
            }
            for name in task.context.iter().flatten() {
                if !earlier.contains(name.as_str()) {
                    return Err(invalid(format!(
                        "task {:?} takes context from {name:?}, which is not an earlier task",
                        task.name
                    )));
                }
            }
            if let Some(schema) = &task.output_schema
                && !schema.is_object()
            {
                return Err(invalid(format!(
                    "task {:?} has an output schema that is not an object",
                    task.name
                )));
            }
            if !earlier.insert(task.name.as_str()) {
                return Err(invalid(format!("two tasks are named {:?}", task.name)));
            }
        }
        if self.limits.max_tokens == 0 || self.limits.deadline.is_zero() {
            return Err(invalid("limits max_tokens and deadline must be above zero".into()));
        }
        Ok(())
    }

    /// The agent with this role (the manager included).
    pub fn agent(&self, role: &str) -> Option<&Agent> {
        let manager = match &self.process {
            Process::Hierarchical { manager } => Some(manager),
            Process::Sequential => None,
        };
        self.agents.iter().chain(manager).find(|agent| agent.role == role)
    }
}
