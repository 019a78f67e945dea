//! The engine against scripted models: each test's model answers from the request it gets, the
//! way a server would, so the loop, limits, delegation and memory are exercised end to end.
//! (The real HTTP client against a mock OpenAI-compatible server is tested in `llm` and in the
//! analysis crate.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agents::{
    Agent, Crew, LongTermMemory, MemoryConfig, NoObserver, Process, RunContext, RunLimits, RunObserver,
    RunStatus, Task, Tool, ToolBox, ToolError, TraceStep, run_crew,
};
use async_trait::async_trait;
use llm::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, LlmError, Message, ResponseFormat, ToolCall,
    ToolSpec, Usage,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

type Script = dyn Fn(&ChatRequest, u32) -> Result<ChatResponse, LlmError> + Send + Sync;

/// A model that answers with a function of the request and its call number.
struct Scripted {
    calls: AtomicU32,
    script: Box<Script>,
    delay: Duration,
    /// Notified when a call starts (a permit is kept if nobody waits yet).
    called: tokio::sync::Notify,
}

impl Scripted {
    fn new(
        script: impl Fn(&ChatRequest, u32) -> Result<ChatResponse, LlmError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicU32::new(0),
            script: Box::new(script),
            delay: Duration::ZERO,
            called: tokio::sync::Notify::new(),
        })
    }
    fn slow(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicU32::new(0),
            script: Box::new(|_, _| Ok(text("late"))),
            delay,
            called: tokio::sync::Notify::new(),
        })
    }
}

#[async_trait]
impl ChatModel for Scripted {
    fn label(&self) -> String {
        "scripted".into()
    }
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.called.notify_one();
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        (self.script)(request, call)
    }
}

fn usage() -> Usage {
    Usage { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }
}

fn text(content: &str) -> ChatResponse {
    ChatResponse {
        content: Some(content.into()),
        model: "scripted".into(),
        usage: usage(),
        ..ChatResponse::default()
    }
}

fn call(name: &str, arguments: &str) -> ChatResponse {
    ChatResponse {
        tool_calls: vec![ToolCall {
            id: format!("call_{name}"),
            name: name.into(),
            arguments: arguments.into(),
        }],
        finish_reason: FinishReason::ToolCalls,
        model: "scripted".into(),
        usage: usage(),
        ..ChatResponse::default()
    }
}

/// True when the last message is a tool result (the model has seen its tool's answer).
fn after_tool(request: &ChatRequest) -> Option<&str> {
    match request.messages.last() {
        Some(Message::Tool { content, .. }) => Some(content),
        _ => None,
    }
}

fn user_text(request: &ChatRequest) -> &str {
    request
        .messages
        .iter()
        .find_map(|m| if let Message::User { content } = m { Some(content.as_str()) } else { None })
        .unwrap_or("")
}

/// Returns a quote for `{"symbol": …}`; anything else is invalid.
struct QuoteTool {
    calls: AtomicU32,
}

#[async_trait]
impl Tool for QuoteTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "get_quote".into(),
            description: "Latest price".into(),
            parameters: json!({"type":"object","properties":{"symbol":{"type":"string"}},"required":["symbol"]}),
        }
    }
    async fn call(&self, arguments: Value) -> Result<String, ToolError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let symbol = arguments
            .get("symbol")
            .and_then(Value::as_str)
            .ok_or_else(|| ToolError::InvalidArguments("symbol is required".into()))?;
        if symbol == "NOPE" {
            return Err(ToolError::Failed("unknown symbol NOPE".into()));
        }
        Ok(json!({"symbol": symbol, "price": 187.5}).to_string())
    }
}

fn toolbox() -> (ToolBox, Arc<QuoteTool>) {
    let quote = Arc::new(QuoteTool { calls: AtomicU32::new(0) });
    let mut tools = ToolBox::new();
    tools.register(quote.clone());
    (tools, quote)
}

fn two_step_crew() -> Crew {
    Crew {
        name: "test".into(),
        agents: vec![
            Agent::new("Researcher", "Find the price", "A careful researcher").with_tools(["get_quote"]),
            Agent::new("Writer", "Write a note", "A writer"),
        ],
        tasks: vec![
            Task {
                name: "research".into(),
                description: "Find the price of {symbol}.".into(),
                expected_output: "The price".into(),
                agent: "Researcher".into(),
                context: None,
                output_schema: None,
            },
            Task {
                name: "write".into(),
                description: "Write a note on {symbol}.".into(),
                expected_output: "JSON".into(),
                agent: "Writer".into(),
                context: None,
                output_schema: Some(json!({
                    "type":"object","required":["rating","confidence"],
                    "properties":{"rating":{"enum":["buy","hold","sell"]},"confidence":{"type":"number","minimum":0,"maximum":1}}
                })),
            },
        ],
        process: Process::Sequential,
        limits: RunLimits::default(),
        memory: MemoryConfig::default(),
    }
}

fn context<'a>(tools: &'a ToolBox, llm: Arc<dyn ChatModel>, observer: &'a dyn RunObserver) -> RunContext<'a> {
    RunContext {
        tools,
        llm,
        inputs: vec![("symbol".into(), "NVDA".into())],
        cancel: CancellationToken::new(),
        observer,
        long_term: None,
        stream: false,
    }
}

/// Researcher calls the quote tool once then summarises; the writer answers JSON.
fn happy_script(request: &ChatRequest, _: u32) -> Result<ChatResponse, LlmError> {
    if let ResponseFormat::JsonSchema { .. } = request.response_format {
        assert!(user_text(request).contains("Context from earlier tasks"), "the writer sees the research");
        assert!(user_text(request).contains("187.5"));
        return Ok(text(r#"Here it is: {"rating":"buy","confidence":0.7}"#));
    }
    match after_tool(request) {
        Some(result) => {
            Ok(text(&format!("NVDA trades at {}", serde_json::from_str::<Value>(result).unwrap()["price"])))
        }
        None => Ok(call("get_quote", r#"{"symbol":"NVDA"}"#)),
    }
}

#[tokio::test]
async fn sequential_crew_calls_tools_passes_context_and_parses_the_schema_output() {
    let (tools, quote) = toolbox();
    let llm = Scripted::new(happy_script);
    let outcome = run_crew(&two_step_crew(), &context(&tools, llm.clone(), &NoObserver)).await;
    assert_eq!(outcome.status, RunStatus::Completed);
    assert_eq!(outcome.outputs.len(), 2);
    assert_eq!(outcome.outputs[0].text, "NVDA trades at 187.5");
    let note = outcome.final_output().unwrap().json.clone().unwrap();
    assert_eq!(note, json!({"rating":"buy","confidence":0.7}));
    assert_eq!((outcome.llm_calls, outcome.tool_calls), (3, 1));
    assert_eq!(quote.calls.load(Ordering::SeqCst), 1);
    assert_eq!(outcome.usage.total_tokens, 45);
    let steps = outcome.trace.steps();
    assert!(matches!(&steps[0], TraceStep::TaskStarted { task, .. } if task == "research"));
    assert!(
        steps.iter().any(|s| matches!(s, TraceStep::ToolCall { tool, ok: true, .. } if tool == "get_quote"))
    );
    assert_eq!(steps.iter().filter(|s| matches!(s, TraceStep::LlmCall { .. })).count(), 3);
    assert!(steps.iter().any(
        |s| matches!(s, TraceStep::LlmCall { finish_reason: Some(r), tool_calls, .. } if r == "tool_calls" && tool_calls == &["get_quote"])
    ));
    let json = outcome.trace.to_json();
    assert!(json.contains("\"step\":\"tool_call\""), "{json}");
}

/// Issue 10: some OpenAI-compatible servers answer in ReAct style (`Thought: …` then
/// `Final Answer: …`, JSON in a fence). The scaffolding is parsed out of text answers and of the
/// JSON, so it reaches neither the next task nor the note; a bare marker is refused and asked
/// again.
#[tokio::test]
async fn final_answer_scaffolding_is_parsed_out_or_the_answer_is_asked_again() {
    let (tools, _) = toolbox();
    let writer_turns = Arc::new(AtomicU32::new(0));
    let turns = writer_turns.clone();
    let llm = Scripted::new(move |request, _| {
        if let ResponseFormat::JsonSchema { .. } = request.response_format {
            let context = user_text(request);
            assert!(
                context.contains("NVDA trades at 187.5") && !context.contains("Final Answer"),
                "{context}"
            );
            return Ok(text(match turns.fetch_add(1, Ordering::SeqCst) {
                0 => "Thought: I need to write the note.\nFinal Answer:",
                _ => {
                    "Thought: now I know.\nFinal Answer: ```json\n{\"rating\": \"hold\", \"confidence\": 0.4}\n```\nDone."
                }
            }));
        }
        match after_tool(request) {
            Some(result) => Ok(text(&format!(
                "Thought: I now know the final answer\nFinal Answer: NVDA trades at {}",
                serde_json::from_str::<Value>(result).unwrap()["price"]
            ))),
            None => Ok(call("get_quote", r#"{"symbol":"NVDA"}"#)),
        }
    });
    let outcome = run_crew(&two_step_crew(), &context(&tools, llm, &NoObserver)).await;
    assert_eq!(outcome.status, RunStatus::Completed, "{:?}", outcome.status);
    assert_eq!(outcome.outputs[0].text, "NVDA trades at 187.5");
    let writer = outcome.final_output().unwrap();
    assert_eq!(writer.json, Some(json!({"rating": "hold", "confidence": 0.4})));
    assert_eq!(writer.text, r#"{"confidence":0.4,"rating":"hold"}"#, "the JSON alone, no prose");
    assert_eq!(writer_turns.load(Ordering::SeqCst), 2, "the empty final answer was asked again");
    let rejected: Vec<_> = outcome
        .trace
        .steps()
        .iter()
        .filter_map(|s| {
            if let TraceStep::InvalidOutput { reason, .. } = s { Some(reason.as_str()) } else { None }
        })
        .collect();
    assert_eq!(rejected, ["the answer was empty"]);
}

#[tokio::test]
async fn invalid_tool_arguments_go_back_to_the_model_which_then_corrects_them() {
    let (tools, quote) = toolbox();
    let seen_error = Arc::new(Mutex::new(String::new()));
    let seen = seen_error.clone();
    let llm = Scripted::new(move |request, call_number| {
        if let ResponseFormat::JsonSchema { .. } = request.response_format {
            return Ok(text(r#"{"rating":"hold","confidence":0.5}"#));
        }
        match (call_number, after_tool(request)) {
            (1, _) => Ok(call("get_quote", r#"{"symbol": NVDA"#)),
            (2, Some(error)) => {
                *seen.lock().unwrap() = error.to_owned();
                Ok(call("get_quote", r#"{"symbol":"NVDA"}"#))
            }
            (_, Some(_)) => Ok(text("done")),
            _ => panic!("unexpected turn"),
        }
    });
    let outcome = run_crew(&two_step_crew(), &context(&tools, llm, &NoObserver)).await;
    assert_eq!(outcome.status, RunStatus::Completed);
    assert!(seen_error.lock().unwrap().contains("not valid JSON"), "{}", seen_error.lock().unwrap());
    assert_eq!(quote.calls.load(Ordering::SeqCst), 1, "the invalid call never reached the tool");
    assert!(outcome.trace.steps().iter().any(|s| matches!(s, TraceStep::ToolCall { ok: false, .. })));
}

#[tokio::test]
async fn endless_invalid_arguments_end_in_a_limit() {
    let (tools, _) = toolbox();
    let llm = Scripted::new(|_, _| Ok(call("get_quote", "not json")));
    let mut crew = two_step_crew();
    crew.limits.max_invalid_tool_arguments = 2;
    let outcome = run_crew(&crew, &context(&tools, llm, &NoObserver)).await;
    assert!(
        matches!(&outcome.status, RunStatus::LimitReached { limit, .. } if limit == "max_invalid_tool_arguments"),
        "{:?}",
        outcome.status
    );
    assert_eq!(outcome.tool_calls, 3);
}

#[tokio::test]
async fn tool_errors_and_unknown_tools_are_results_not_failures() {
    let (tools, _) = toolbox();
    let results = Arc::new(Mutex::new(Vec::new()));
    let seen = results.clone();
    let llm = Scripted::new(move |request, call_number| {
        if let ResponseFormat::JsonSchema { .. } = request.response_format {
            return Ok(text(r#"{"rating":"sell","confidence":0.2}"#));
        }
        if let Some(result) = after_tool(request) {
            seen.lock().unwrap().push(result.to_owned());
        }
        match call_number {
            1 => Ok(call("get_quote", r#"{"symbol":"NOPE"}"#)),
            2 => Ok(call("delete_everything", "{}")),
            3 => Ok(call("get_quote", "{}")),
            _ => Ok(text("no data")),
        }
    });
    let outcome = run_crew(&two_step_crew(), &context(&tools, llm, &NoObserver)).await;
    assert_eq!(outcome.status, RunStatus::Completed);
    let results = results.lock().unwrap();
    assert!(results[0].contains("unknown symbol NOPE"), "{results:?}");
    assert!(results[1].contains("no tool \"delete_everything\""), "{results:?}");
    assert!(results[2].contains("symbol is required"), "{results:?}");
}

#[tokio::test]
async fn an_agent_that_never_answers_is_cut_off_at_max_iterations() {
    let (tools, _) = toolbox();
    let llm = Scripted::new(|_, _| Ok(call("get_quote", r#"{"symbol":"NVDA"}"#)));
    let mut crew = two_step_crew();
    crew.agents[0].max_iterations = 3;
    let outcome = run_crew(&crew, &context(&tools, llm, &NoObserver)).await;
    match &outcome.status {
        RunStatus::LimitReached { limit, detail } => {
            assert_eq!(limit, "max_iterations");
            assert!(detail.contains("Researcher used all 3 iterations"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(outcome.llm_calls, 3);
    assert!(outcome.status.describe().unwrap().starts_with("limit reached"));
    assert!(matches!(outcome.trace.steps().last(), Some(TraceStep::LimitReached { .. })));
}

#[tokio::test]
async fn tool_call_and_token_budgets_are_enforced() {
    let (tools, _) = toolbox();
    let llm = Scripted::new(|_, _| Ok(call("get_quote", r#"{"symbol":"NVDA"}"#)));
    let mut crew = two_step_crew();
    crew.agents[0].max_iterations = 100;
    crew.limits.max_tool_calls = 5;
    let outcome = run_crew(&crew, &context(&tools, llm.clone(), &NoObserver)).await;
    assert!(matches!(&outcome.status, RunStatus::LimitReached { limit, .. } if limit == "max_tool_calls"));
    assert_eq!(outcome.tool_calls, 5);

    crew.limits.max_tool_calls = 1000;
    crew.limits.max_tokens = 100;
    let outcome = run_crew(&crew, &context(&tools, llm, &NoObserver)).await;
    assert!(matches!(&outcome.status, RunStatus::LimitReached { limit, .. } if limit == "max_tokens"));
    assert_eq!(outcome.usage.total_tokens, 105, "7 calls of 15 tokens: the 8th is refused");
}

#[tokio::test]
async fn the_deadline_cancels_the_call_in_flight() {
    let (tools, _) = toolbox();
    let mut crew = two_step_crew();
    crew.limits.deadline = Duration::from_millis(100);
    let started = std::time::Instant::now();
    let outcome =
        run_crew(&crew, &context(&tools, Scripted::slow(Duration::from_secs(30)), &NoObserver)).await;
    assert!(matches!(&outcome.status, RunStatus::LimitReached { limit, .. } if limit == "deadline"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn cancellation_ends_the_run() {
    let (tools, _) = toolbox();
    let crew = two_step_crew();
    let llm = Scripted::slow(Duration::from_secs(30));
    let run_context = context(&tools, llm.clone(), &NoObserver);
    let cancel = run_context.cancel.clone();
    // Cancelled while the model call is in flight.
    let canceller = tokio::spawn(async move {
        llm.called.notified().await;
        cancel.cancel();
    });
    let outcome = tokio::time::timeout(Duration::from_secs(5), run_crew(&crew, &run_context))
        .await
        .expect("cancellation ends the run at once");
    assert_eq!(outcome.status, RunStatus::Cancelled);
    canceller.await.unwrap();
}

#[tokio::test]
async fn model_errors_fail_the_run_with_the_reason() {
    let (tools, _) = toolbox();
    let llm = Scripted::new(|_, _| {
        Err(LlmError::QuotaExceeded { message: "You exceeded your current quota".into() })
    });
    let outcome = run_crew(&two_step_crew(), &context(&tools, llm, &NoObserver)).await;
    match outcome.status {
        RunStatus::Failed { error } => assert!(error.contains("quota"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(outcome.trace.steps().last(), Some(TraceStep::LlmCall { error: Some(_), .. })));
}

#[tokio::test]
async fn answers_that_break_the_schema_are_sent_back_then_limited() {
    let (tools, _) = toolbox();
    let llm = Scripted::new(|request, _| {
        if let ResponseFormat::JsonSchema { .. } = request.response_format {
            let rejected = request
                .messages
                .iter()
                .any(|m| matches!(m, Message::User { content } if content.contains("rejected")));
            return Ok(text(if rejected {
                r#"{"rating":"hold","confidence":0.4}"#
            } else {
                r#"{"rating":"moon","confidence":3}"#
            }));
        }
        Ok(text("research"))
    });
    let outcome = run_crew(&two_step_crew(), &context(&tools, llm, &NoObserver)).await;
    assert_eq!(outcome.status, RunStatus::Completed);
    assert!(outcome.trace.steps().iter().any(
        |s| matches!(s, TraceStep::InvalidOutput { reason, .. } if reason.starts_with("$.confidence: 3"))
    ));

    let stubborn = Scripted::new(|_, _| Ok(text("not json at all")));
    let mut crew = two_step_crew();
    crew.tasks.remove(0);
    crew.tasks[0].context = Some(vec![]);
    let outcome = run_crew(&crew, &context(&tools, stubborn, &NoObserver)).await;
    assert!(
        matches!(&outcome.status, RunStatus::LimitReached { limit, .. } if limit == "max_invalid_outputs")
    );
}

fn hierarchical_crew() -> Crew {
    let mut crew = two_step_crew();
    crew.tasks.truncate(1);
    crew.process =
        Process::Hierarchical { manager: Agent::new("Manager", "Deliver the research", "Runs the desk") };
    crew
}

#[tokio::test]
async fn a_manager_delegates_to_a_coworker_and_uses_the_answer() {
    let (tools, quote) = toolbox();
    let llm = Scripted::new(|request, _| {
        let names: Vec<_> = request.tools.iter().map(|t| t.name.as_str()).collect();
        if names.contains(&"delegate_work") {
            return match after_tool(request) {
                None => Ok(call(
                    "delegate_work",
                    r#"{"coworker":"researcher","task":"Price of NVDA?","context":"none"}"#,
                )),
                Some(answer) => Ok(text(&format!("Manager summary: {answer}"))),
            };
        }
        assert!(user_text(request).starts_with("Price of NVDA?"), "the coworker gets the delegated request");
        match after_tool(request) {
            None => Ok(call("get_quote", r#"{"symbol":"NVDA"}"#)),
            Some(_) => Ok(text("187.5 dollars")),
        }
    });
    let outcome = run_crew(&hierarchical_crew(), &context(&tools, llm, &NoObserver)).await;
    assert_eq!(outcome.status, RunStatus::Completed, "{:?}", outcome.trace.steps());
    assert_eq!(outcome.outputs[0].text, "Manager summary: 187.5 dollars");
    assert_eq!(outcome.outputs[0].agent, "Manager");
    assert_eq!(quote.calls.load(Ordering::SeqCst), 1);
    assert!(outcome.trace.steps().iter().any(
        |s| matches!(s, TraceStep::Delegation { manager, coworker, .. } if manager == "Manager" && coworker == "Researcher")
    ));
}

#[tokio::test]
async fn a_runaway_delegation_loop_ends_with_limit_reached() {
    let (tools, _) = toolbox();
    let llm = Scripted::new(|request, _| {
        if request.tools.iter().any(|t| t.name == "delegate_work") {
            Ok(call("delegate_work", r#"{"coworker":"Writer","task":"again","context":"x"}"#))
        } else {
            Ok(text("ok"))
        }
    });
    let mut crew = hierarchical_crew();
    if let Process::Hierarchical { manager } = &mut crew.process {
        manager.max_iterations = 1000;
    }
    crew.limits.max_delegations = 6;
    let outcome = run_crew(&crew, &context(&tools, llm, &NoObserver)).await;
    assert!(
        matches!(&outcome.status, RunStatus::LimitReached { limit, .. } if limit == "max_delegations"),
        "{:?}",
        outcome.status
    );
    assert_eq!(outcome.trace.steps().iter().filter(|s| matches!(s, TraceStep::Delegation { .. })).count(), 6);
}

#[tokio::test]
async fn invalid_crews_fail_with_a_clear_reason() {
    let (tools, _) = toolbox();
    let llm = Scripted::new(happy_script);
    let mut crew = two_step_crew();
    crew.agents[0].tools.push("missing_tool".into());
    let outcome = run_crew(&crew, &context(&tools, llm.clone(), &NoObserver)).await;
    assert!(
        matches!(&outcome.status, RunStatus::Failed { error } if error.contains("unknown tool \"missing_tool\""))
    );
    let mut crew = two_step_crew();
    crew.tasks[1].context = Some(vec!["later".into()]);
    let error = crew.validate(&tools).unwrap_err().to_string();
    assert!(error.contains("not an earlier task"), "{error}");
    let mut crew = two_step_crew();
    crew.tasks[0].agent = "Nobody".into();
    assert!(crew.validate(&tools).unwrap_err().to_string().contains("unknown agent"));
    assert_eq!(llm.calls.load(Ordering::SeqCst), 0);
}

struct Store(Mutex<Vec<(String, String)>>);

#[async_trait]
impl LongTermMemory for Store {
    async fn recall(&self, scope: &str, limit: usize) -> Result<Vec<String>, String> {
        let entries = self.0.lock().unwrap();
        Ok(entries.iter().rev().filter(|(s, _)| s == scope).take(limit).map(|(_, c)| c.clone()).collect())
    }
    async fn remember(&self, scope: &str, content: &str) -> Result<(), String> {
        self.0.lock().unwrap().push((scope.to_owned(), content.to_owned()));
        Ok(())
    }
}

#[tokio::test]
async fn memory_is_off_by_default_and_long_term_notes_come_back_when_on() {
    let (tools, _) = toolbox();
    let store = Store(Mutex::new(vec![("test:NVDA".into(), "Last time: hold at 150".into())]));
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let seen = prompts.clone();
    let llm = Scripted::new(move |request, call_number| {
        seen.lock().unwrap().push(user_text(request).to_owned());
        happy_script(request, call_number)
    });
    let crew = two_step_crew();
    let mut run_context = context(&tools, llm, &NoObserver);
    run_context.long_term = Some((&store, "test:NVDA".into()));
    run_crew(&crew, &run_context).await;
    assert!(prompts.lock().unwrap().iter().all(|p| !p.contains("Last time")), "memory is off by default");
    assert_eq!(store.0.lock().unwrap().len(), 1);

    let mut crew = two_step_crew();
    crew.memory = MemoryConfig { enabled: true, long_term: true, ..MemoryConfig::default() };
    prompts.lock().unwrap().clear();
    let outcome = run_crew(&crew, &run_context).await;
    assert_eq!(outcome.status, RunStatus::Completed);
    assert!(prompts.lock().unwrap()[0].contains("Last time: hold at 150"));
    assert_eq!(store.0.lock().unwrap().len(), 2, "the run's result was stored");
    assert!(store.0.lock().unwrap()[1].1.contains("\"rating\":\"buy\""));
}

#[tokio::test]
async fn the_trace_is_bounded() {
    let (tools, _) = toolbox();
    let llm = Scripted::new(|_, _| Ok(call("get_quote", r#"{"symbol":"NVDA"}"#)));
    let mut crew = two_step_crew();
    crew.agents[0].max_iterations = 200;
    crew.limits.max_tool_calls = 150;
    crew.limits.max_trace_steps = 50;
    let outcome = run_crew(&crew, &context(&tools, llm, &NoObserver)).await;
    assert_eq!(outcome.trace.steps().len(), 50);
    assert!(outcome.trace.dropped() > 200, "{}", outcome.trace.dropped());
}

struct Counting(AtomicU32);

impl RunObserver for Counting {
    fn on_step(&self, _: &TraceStep) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn the_observer_sees_every_step() {
    let (tools, _) = toolbox();
    let observer = Counting(AtomicU32::new(0));
    let outcome = run_crew(&two_step_crew(), &context(&tools, Scripted::new(happy_script), &observer)).await;
    assert_eq!(observer.0.load(Ordering::SeqCst) as usize, outcome.trace.steps().len());
}
