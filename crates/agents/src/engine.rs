//! Running a crew: the agent loop (model turn → tool calls → results → next turn), delegation,
//! limits, memory and the trace.
//!
//! Everything a run creates lives in [`RunState`] on the caller's task and is dropped when the
//! run returns: no background task, no global store. A model call in flight is a future inside
//! `select!`, so cancellation and the deadline drop it (and with it the HTTP request).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use llm::{
    ChatModel, ChatRequest, ChatResponse, LlmError, Message, ResponseFormat, ToolChoice, ToolSpec, Usage,
};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::crew::{ASK_QUESTION, Agent, Crew, DELEGATE_WORK, Process, Task};
use crate::memory::{LongTermMemory, RunMemory};
use crate::text::{extract_json_object, fill_template, final_answer, truncate};
use crate::tool::ToolBox;
use crate::trace::{RunObserver, TRACE_TEXT_BYTES, Trace, TraceStep};
use crate::{schema, tool::ToolError};

/// Long-term memory entries are cut to this many bytes when recalled and stored.
const LONG_TERM_ENTRY_BYTES: usize = 2048;

/// What a run needs besides the crew.
pub struct RunContext<'a> {
    pub tools: &'a ToolBox,
    /// The model of every agent that has none of its own.
    pub llm: Arc<dyn ChatModel>,
    /// Values for `{name}` placeholders in task descriptions, e.g. `symbol`.
    pub inputs: Vec<(String, String)>,
    pub cancel: CancellationToken,
    pub observer: &'a dyn RunObserver,
    /// Long-term memory and the scope to use in it (e.g. `equity-research:AAPL`); used only when
    /// the crew's memory config enables it.
    pub long_term: Option<(&'a dyn LongTermMemory, String)>,
    /// Ask models to stream (the observer then sees text as it arrives).
    pub stream: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    Completed,
    /// A hard limit ended the run; `limit` names it (`max_iterations`, `max_tool_calls`,
    /// `max_tokens`, `deadline`, `max_delegations`, …) and `detail` says where.
    LimitReached {
        limit: String,
        detail: String,
    },
    Cancelled,
    Failed {
        error: String,
    },
}

impl RunStatus {
    /// A stable label: `completed`, `limit_reached`, `cancelled`, `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::LimitReached { .. } => "limit_reached",
            Self::Cancelled => "cancelled",
            Self::Failed { .. } => "failed",
        }
    }

    /// A one-line description for errors and run records (`None` when completed).
    pub fn describe(&self) -> Option<String> {
        match self {
            Self::Completed => None,
            Self::LimitReached { limit, detail } => Some(format!("limit reached: {limit} ({detail})")),
            Self::Cancelled => Some("cancelled".to_owned()),
            Self::Failed { error } => Some(error.clone()),
        }
    }
}

/// The result of one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskOutput {
    pub task: String,
    pub agent: String,
    pub text: String,
    /// The parsed answer of a task with an output schema.
    pub json: Option<Value>,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct CrewOutcome {
    pub crew: String,
    pub status: RunStatus,
    /// Results of the tasks that finished, in order.
    pub outputs: Vec<TaskOutput>,
    pub usage: Usage,
    pub llm_calls: u32,
    pub tool_calls: u32,
    pub trace: Trace,
    pub elapsed: Duration,
}

impl CrewOutcome {
    /// The last task's result when every task finished.
    pub fn final_output(&self) -> Option<&TaskOutput> {
        (self.status == RunStatus::Completed).then(|| self.outputs.last()).flatten()
    }
}

/// Why a run stopped early, inside the engine.
enum Stop {
    Limit { limit: &'static str, detail: String },
    Cancelled,
    Failed(String),
}

type Step<T> = Result<T, Stop>;

/// Runs `crew` to the end, a limit, cancellation or a failure. Never panics on model or tool
/// misbehaviour; an invalid crew is a `Failed` outcome naming the problem.
pub async fn run_crew(crew: &Crew, context: &RunContext<'_>) -> CrewOutcome {
    let started = Instant::now();
    let mut state = RunState {
        crew,
        context,
        started,
        deadline: tokio::time::Instant::now() + crew.limits.deadline,
        usage: Usage::default(),
        llm_calls: 0,
        tool_calls: 0,
        delegations: 0,
        trace: Trace::with_capacity(crew.limits.max_trace_steps),
        memory: crew.memory.enabled.then(|| RunMemory::new(crew.memory.max_entries, crew.memory.max_bytes)),
        long_term_notes: Vec::new(),
    };
    let mut outputs = Vec::with_capacity(crew.tasks.len());
    let status = match crew.validate(context.tools) {
        Err(error) => RunStatus::Failed { error: error.to_string() },
        Ok(()) => match state.run_tasks(&mut outputs).await {
            Ok(()) => RunStatus::Completed,
            Err(Stop::Limit { limit, detail }) => {
                state.record(TraceStep::LimitReached { limit: limit.to_owned(), detail: detail.clone() });
                RunStatus::LimitReached { limit: limit.to_owned(), detail }
            }
            Err(Stop::Cancelled) => RunStatus::Cancelled,
            Err(Stop::Failed(error)) => RunStatus::Failed { error },
        },
    };
    if status == RunStatus::Completed {
        state.store_long_term(outputs.last()).await;
    }
    CrewOutcome {
        crew: crew.name.clone(),
        status,
        outputs,
        usage: state.usage,
        llm_calls: state.llm_calls,
        tool_calls: state.tool_calls,
        trace: state.trace,
        elapsed: started.elapsed(),
    }
}

struct RunState<'r, 'c> {
    crew: &'r Crew,
    context: &'r RunContext<'c>,
    started: Instant,
    deadline: tokio::time::Instant,
    usage: Usage,
    llm_calls: u32,
    tool_calls: u32,
    delegations: u32,
    trace: Trace,
    memory: Option<RunMemory>,
    long_term_notes: Vec<String>,
}

/// One agent's assignment: the task it serves and the text it is given.
struct Assignment<'t> {
    task: &'t str,
    text: String,
    schema: Option<&'t Value>,
}

impl RunState<'_, '_> {
    fn record(&mut self, step: TraceStep) {
        self.context.observer.on_step(&step);
        self.trace.push(step);
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn run_tasks(&mut self, outputs: &mut Vec<TaskOutput>) -> Step<()> {
        self.recall_long_term().await;
        let crew = self.crew;
        for (index, task) in crew.tasks.iter().enumerate() {
            let assignee = match &crew.process {
                Process::Sequential => crew.agent(&task.agent),
                Process::Hierarchical { manager } => Some(manager),
            }
            .ok_or_else(|| Stop::Failed(format!("task {:?} has no agent", task.name)))?;
            let text = self.assignment_text(task, index, outputs);
            self.record(TraceStep::TaskStarted {
                task: task.name.clone(),
                agent: assignee.role.clone(),
                at_ms: self.elapsed_ms(),
            });
            let assignment = Assignment { task: &task.name, text, schema: task.output_schema.as_ref() };
            let (text, json) = self.execute(assignee, assignment).await?;
            let text = truncate(&text, crew.limits.max_output_bytes).into_owned();
            self.record(TraceStep::TaskFinished {
                task: task.name.clone(),
                agent: assignee.role.clone(),
                output_bytes: text.len(),
                at_ms: self.elapsed_ms(),
            });
            if let Some(memory) = &mut self.memory {
                memory.remember(task.name.clone(), &text);
            }
            outputs.push(TaskOutput { task: task.name.clone(), agent: assignee.role.clone(), text, json });
        }
        Ok(())
    }

    /// The user message of a task: description, expected output, context, memory.
    fn assignment_text(&self, task: &Task, index: usize, outputs: &[TaskOutput]) -> String {
        let inputs = &self.context.inputs;
        let mut text = fill_template(&task.description, inputs);
        let _ = write!(text, "\n\nExpected output: {}", fill_template(&task.expected_output, inputs));
        let context: Vec<&TaskOutput> = match &task.context {
            None => outputs.last().filter(|_| index > 0).into_iter().collect(),
            Some(names) => outputs.iter().filter(|output| names.contains(&output.task)).collect(),
        };
        if !context.is_empty() {
            text.push_str("\n\nContext from earlier tasks:");
            for output in &context {
                let _ = write!(text, "\n## {} ({})\n{}", output.task, output.agent, output.text);
            }
        }
        if let Some(memory) = &self.memory {
            let extra: Vec<_> = memory
                .entries()
                .filter(|entry| !context.iter().any(|output| output.task == entry.source))
                .collect();
            if !extra.is_empty() {
                text.push_str("\n\nFrom memory of this run:");
                for entry in extra {
                    let _ = write!(text, "\n- [{}] {}", entry.source, entry.text);
                }
            }
        }
        if !self.long_term_notes.is_empty() {
            text.push_str("\n\nNotes from earlier runs (may be outdated):");
            for note in &self.long_term_notes {
                let _ = write!(text, "\n- {note}");
            }
        }
        if let Process::Hierarchical { .. } = &self.crew.process {
            let _ = write!(text, "\n\nThis task is best suited to: {}.\nYour coworkers:", task.agent);
            for agent in &self.crew.agents {
                let _ = write!(text, "\n- {}: {}", agent.role, agent.goal);
            }
        }
        text
    }

    /// One agent works on one assignment until it answers, or a limit ends the run.
    async fn execute(&mut self, agent: &Agent, assignment: Assignment<'_>) -> Step<(String, Option<Value>)> {
        let crew = self.crew;
        let limits = &crew.limits;
        let llm = agent.llm.clone().unwrap_or_else(|| Arc::clone(&self.context.llm));
        let is_manager =
            matches!(&crew.process, Process::Hierarchical { manager } if manager.role == agent.role);
        let tools = if is_manager { self.delegation_specs() } else { self.context.tools.specs(&agent.tools) };
        let response_format = match assignment.schema {
            Some(schema) => {
                ResponseFormat::JsonSchema { name: schema_name(assignment.task), schema: schema.clone() }
            }
            None => ResponseFormat::Text,
        };
        let mut request = ChatRequest {
            messages: vec![
                Message::system(system_prompt(agent, !tools.is_empty())),
                Message::user(assignment.text),
            ],
            tool_choice: if tools.is_empty() { ToolChoice::None } else { ToolChoice::Auto },
            tools,
            response_format,
            temperature: None,
            max_tokens: None,
        };
        let mut invalid_arguments = 0;
        let mut invalid_outputs = 0;
        for iteration in 1..=agent.max_iterations {
            let response = self.call_model(llm.as_ref(), &request, agent, assignment.task, iteration).await?;
            if !response.tool_calls.is_empty() {
                let tool_calls = response.tool_calls;
                let content = response.content.filter(|text| !text.is_empty());
                request.messages.push(Message::Assistant { content, tool_calls: tool_calls.clone() });
                for call in tool_calls {
                    if self.tool_calls >= limits.max_tool_calls {
                        return Err(Stop::Limit {
                            limit: "max_tool_calls",
                            detail: format!("{} tool calls in this run", limits.max_tool_calls),
                        });
                    }
                    self.tool_calls += 1;
                    let started = Instant::now();
                    let (ok, result) = match parse_arguments(&call.arguments) {
                        Err(reason) => {
                            invalid_arguments += 1;
                            if invalid_arguments > limits.max_invalid_tool_arguments {
                                return Err(Stop::Limit {
                                    limit: "max_invalid_tool_arguments",
                                    detail: format!(
                                        "{} sent invalid arguments {invalid_arguments} times on task {:?}: {reason}",
                                        agent.role, assignment.task
                                    ),
                                });
                            }
                            (
                                false,
                                format!(
                                    "Error: {reason}. Call {} again with a JSON object that matches its schema.",
                                    call.name
                                ),
                            )
                        }
                        Ok(arguments) if is_manager => self.delegate(agent, &call.name, &arguments).await?,
                        Ok(arguments) => self.call_tool(agent, &call.name, arguments).await?,
                    };
                    let result = truncate(&result, limits.max_tool_result_bytes).into_owned();
                    self.record(TraceStep::ToolCall {
                        task: assignment.task.to_owned(),
                        agent: agent.role.clone(),
                        tool: call.name.clone(),
                        arguments: truncate(&call.arguments, TRACE_TEXT_BYTES).into_owned(),
                        ok,
                        result: truncate(&result, TRACE_TEXT_BYTES).into_owned(),
                        latency_ms: started.elapsed().as_secs_f64() * 1e3,
                    });
                    request.messages.push(Message::tool(call.id, result));
                }
                continue;
            }
            let content = response.content.unwrap_or_default();
            // The answer without ReAct scaffolding (`Thought: …`, `Final Answer:`), which some
            // OpenAI-compatible servers add: it must not reach the next task or the note.
            let answer = final_answer(&content);
            let problem = if answer.is_empty() {
                Some("the answer was empty".to_owned())
            } else if let Some(schema) = assignment.schema {
                match extract_json_object(&content) {
                    None => Some("the answer is not a JSON object".to_owned()),
                    Some(value) => match schema::check(schema, &value) {
                        // The JSON alone is the task's text, whatever prose or fence came with it.
                        Ok(()) => return Ok((value.to_string(), Some(value))),
                        Err(reason) => Some(reason),
                    },
                }
            } else {
                None
            };
            let Some(problem) = problem else { return Ok((answer.to_owned(), None)) };
            invalid_outputs += 1;
            self.record(TraceStep::InvalidOutput {
                task: assignment.task.to_owned(),
                agent: agent.role.clone(),
                reason: truncate(&problem, TRACE_TEXT_BYTES).into_owned(),
            });
            if invalid_outputs > limits.max_invalid_outputs {
                return Err(Stop::Limit {
                    limit: "max_invalid_outputs",
                    detail: format!(
                        "{} answered task {:?} wrongly {invalid_outputs} times: {problem}",
                        agent.role, assignment.task
                    ),
                });
            }
            request.messages.push(Message::Assistant { content: Some(content), tool_calls: Vec::new() });
            let ask = if assignment.schema.is_some() {
                format!(
                    "Your answer was rejected: {problem}. Answer again with only the JSON object that matches the schema."
                )
            } else {
                format!("Your answer was rejected: {problem}. Give your final answer.")
            };
            request.messages.push(Message::user(ask));
        }
        Err(Stop::Limit {
            limit: "max_iterations",
            detail: format!(
                "{} used all {} iterations on task {:?}",
                agent.role, agent.max_iterations, assignment.task
            ),
        })
    }

    /// One model turn, raced against cancellation and the run's deadline; tokens are counted
    /// against the run's budget.
    async fn call_model(
        &mut self,
        llm: &dyn ChatModel,
        request: &ChatRequest,
        agent: &Agent,
        task: &str,
        iteration: u32,
    ) -> Step<ChatResponse> {
        let limits = &self.crew.limits;
        if self.context.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        if self.usage.total_tokens >= limits.max_tokens {
            return Err(Stop::Limit {
                limit: "max_tokens",
                detail: format!("{} of {} tokens used", self.usage.total_tokens, limits.max_tokens),
            });
        }
        let started = Instant::now();
        let observer = self.context.observer;
        let role = agent.role.as_str();
        let sink = move |event: llm::StreamEvent| observer.on_stream(role, &event);
        let call = async {
            if self.context.stream {
                llm.chat_streaming(request, &sink).await
            } else {
                llm.chat(request).await
            }
        };
        let result = self
            .race(call, || {
                format!("the run took longer than {:?} ({} on task {task:?})", limits.deadline, agent.role)
            })
            .await?;
        self.llm_calls += 1;
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        let (usage, finish_reason, tool_calls, error) = match &result {
            Ok(response) => (
                response.usage,
                Some(response.finish_reason.as_str().to_owned()),
                response.tool_calls.iter().map(|call| call.name.clone()).collect(),
                None,
            ),
            Err(error) => (Usage::default(), None, Vec::new(), Some(error.to_string())),
        };
        self.usage.add(usage);
        self.record(TraceStep::LlmCall {
            task: task.to_owned(),
            agent: agent.role.clone(),
            model: result.as_ref().map_or_else(|_| llm.label(), |response| response.model.clone()),
            iteration,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            latency_ms,
            finish_reason,
            tool_calls,
            error,
        });
        result.map_err(|error: LlmError| Stop::Failed(format!("{} ({}): {error}", agent.role, llm.label())))
    }

    /// Runs one of the agent's tools; errors (unknown tool, tool failure) become text for the
    /// model.
    async fn call_tool(&mut self, agent: &Agent, name: &str, arguments: Value) -> Step<(bool, String)> {
        let tool =
            agent.tools.iter().any(|allowed| allowed == name).then(|| self.context.tools.get(name)).flatten();
        let Some(tool) = tool else {
            return Ok((
                false,
                format!("Error: there is no tool {name:?}. Available tools: {}.", agent.tools.join(", ")),
            ));
        };
        let result =
            self.race(tool.call(arguments), || format!("tool {name} was running at the deadline")).await?;
        Ok(match result {
            Ok(text) => (true, text),
            Err(error @ ToolError::InvalidArguments(_)) => {
                (false, format!("Error: {error}. Call {name} again with arguments that match its schema."))
            }
            Err(error) => (false, format!("Error: {error}")),
        })
    }

    /// Runs `work` unless the run is cancelled or reaches its deadline first; then `work` is
    /// dropped (a model call in flight is abandoned with its HTTP request).
    async fn race<T>(&self, work: impl Future<Output = T>, at_deadline: impl FnOnce() -> String) -> Step<T> {
        tokio::select! {
            biased;
            () = self.context.cancel.cancelled() => Err(Stop::Cancelled),
            () = tokio::time::sleep_until(self.deadline) => Err(Stop::Limit { limit: "deadline", detail: at_deadline() }),
            result = work => Ok(result),
        }
    }

    /// The manager's delegation tools: a coworker works on the request and its answer is the
    /// tool result.
    async fn delegate(&mut self, manager: &Agent, tool: &str, arguments: &Value) -> Step<(bool, String)> {
        if tool != DELEGATE_WORK && tool != ASK_QUESTION {
            return Ok((
                false,
                format!("Error: there is no tool {tool:?}. Use {DELEGATE_WORK} or {ASK_QUESTION}."),
            ));
        }
        let text_of = |key: &str| arguments.get(key).and_then(Value::as_str).unwrap_or("").trim().to_owned();
        let wanted = text_of("coworker");
        let request = if tool == DELEGATE_WORK { text_of("task") } else { text_of("question") };
        let crew = self.crew;
        let Some(coworker) = crew
            .agents
            .iter()
            .find(|agent| agent.role.eq_ignore_ascii_case(&wanted) && agent.role != manager.role)
        else {
            let roles: Vec<_> = crew.agents.iter().map(|agent| agent.role.as_str()).collect();
            return Ok((false, format!("Error: no coworker {wanted:?}. Coworkers: {}.", roles.join(", "))));
        };
        if request.is_empty() {
            return Ok((false, format!("Error: {tool} needs a non-empty request for {}.", coworker.role)));
        }
        if self.delegations >= crew.limits.max_delegations {
            return Err(Stop::Limit {
                limit: "max_delegations",
                detail: format!("{} delegations in this run", crew.limits.max_delegations),
            });
        }
        self.delegations += 1;
        self.record(TraceStep::Delegation {
            manager: manager.role.clone(),
            coworker: coworker.role.clone(),
            request: truncate(&request, TRACE_TEXT_BYTES).into_owned(),
        });
        let context = text_of("context");
        let mut text = request;
        if !context.is_empty() {
            let _ = write!(text, "\n\nContext:\n{context}");
        }
        let task = format!("{tool} from {}", manager.role);
        let (answer, _) =
            Box::pin(self.execute(coworker, Assignment { task: &task, text, schema: None })).await?;
        Ok((true, answer))
    }

    fn delegation_specs(&self) -> Vec<ToolSpec> {
        let roles: Vec<&str> = self.crew.agents.iter().map(|agent| agent.role.as_str()).collect();
        vec![
            ToolSpec {
                name: DELEGATE_WORK.to_owned(),
                description: "Give a coworker a piece of work; their answer comes back as the result."
                    .to_owned(),
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "coworker": {"type": "string", "enum": roles},
                        "task": {"type": "string", "description": "What to do, precisely."},
                        "context": {"type": "string", "description": "Everything they need to know."}
                    },
                    "required": ["coworker", "task", "context"]
                }),
            },
            ToolSpec {
                name: ASK_QUESTION.to_owned(),
                description: "Ask a coworker a question; their answer comes back as the result.".to_owned(),
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "coworker": {"type": "string", "enum": roles},
                        "question": {"type": "string"},
                        "context": {"type": "string"}
                    },
                    "required": ["coworker", "question", "context"]
                }),
            },
        ]
    }

    async fn recall_long_term(&mut self) {
        let Some((store, scope)) = self.context.long_term.as_ref().filter(|_| self.crew.memory.long_term)
        else {
            return;
        };
        match store.recall(scope, self.crew.memory.recall_limit).await {
            Ok(notes) => {
                self.long_term_notes =
                    notes.iter().map(|note| truncate(note, LONG_TERM_ENTRY_BYTES).into_owned()).collect();
                let entries = self.long_term_notes.len();
                self.record(TraceStep::Memory { action: "recall", entries, detail: None });
            }
            Err(error) => {
                self.record(TraceStep::Memory { action: "recall", entries: 0, detail: Some(error) });
            }
        }
    }

    async fn store_long_term(&mut self, last: Option<&TaskOutput>) {
        let (Some((store, scope)), Some(last)) =
            (self.context.long_term.as_ref().filter(|_| self.crew.memory.long_term), last)
        else {
            return;
        };
        let content = truncate(&last.text, LONG_TERM_ENTRY_BYTES);
        let detail = store.remember(scope, &content).await.err();
        self.record(TraceStep::Memory { action: "store", entries: 1, detail });
    }
}

fn system_prompt(agent: &Agent, has_tools: bool) -> String {
    let mut prompt = format!("You are {}. {}\nYour goal: {}", agent.role, agent.backstory, agent.goal);
    if has_tools {
        prompt.push_str("\nUse your tools to gather facts before you answer; cite the figures they return.");
    }
    prompt.push_str("\nAnswer the task directly and concisely.");
    prompt
}

/// A schema name servers accept (`^[a-zA-Z0-9_-]{1,64}$`).
fn schema_name(task: &str) -> String {
    let name: String =
        task.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(64).collect();
    if name.is_empty() { "output".to_owned() } else { name }
}

/// Tool arguments arrive as a JSON string that may be invalid; an empty string means no
/// arguments (some servers send `""` for tools without parameters).
fn parse_arguments(raw: &str) -> Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => {
            Err(format!("arguments must be a JSON object, got {}", truncate(&other.to_string(), 80)))
        }
        Err(error) => Err(format!("arguments are not valid JSON ({error}): {}", truncate(raw, 120))),
    }
}
