//! The equity-research crew through the real OpenAI-compatible client against local mock
//! servers that speak the exact wire format: tool-call round trips, invalid tool arguments,
//! 429 then success, insufficient quota, timeouts, malformed JSON, the max-iteration cut-off,
//! hierarchical delegation, and ReAct-style `Final Answer:` replies.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agents::{NoObserver, TraceStep};
use analysis::{AnalysisConfig, AnalysisError, AnalysisService};
use common::{env, openai_config, request};
use llm::OpenAiClient;
use serde_json::json;
use storage::CrewRunStatus;
use test_support::llm::{MockChatServer, ScriptedChat, openai_error_body, rate_limit_body};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn completion(message: serde_json::Value, finish_reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_714_760_000, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99}
    }))
}

fn tool_call(name: &str, arguments: &str) -> ResponseTemplate {
    completion(
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_Ab12", "type": "function", "function": {"name": name, "arguments": arguments}}
        ]}),
        "tool_calls",
    )
}

async fn mock_with(responder: impl Respond + 'static) -> MockServer {
    let server = MockServer::builder().disable_request_recording().start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(responder)
        .mount(&server)
        .await;
    server
}

async fn failed_run(service: &AnalysisService, symbol: &str) -> (String, String, i64) {
    let error = service.analyze(&request(symbol), &NoObserver, CancellationToken::new()).await.unwrap_err();
    match error {
        AnalysisError::Run { status, reason, crew_run_id, .. } => (status, reason, crew_run_id),
        other => panic!("expected a run error, got {other}"),
    }
}

#[tokio::test]
async fn the_crew_round_trips_tool_calls_and_stores_the_note() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    let server = MockChatServer::start().await.unwrap();
    let service = env.service_at(&server.uri(), |_| {});
    let analysis = service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap();
    assert_eq!(analysis.note.model, "openai:gpt-4o-mini");
    // The mock calls one tool per turn: researcher 3 tools + answer, technical 1 + answer,
    // sentiment 2 + answer, writer 1.
    assert_eq!(server.requests_served(), 10);
    let tool_results: Vec<_> = analysis
        .outcome
        .trace
        .steps()
        .iter()
        .filter_map(|s| match s {
            TraceStep::ToolCall { tool, ok, result, .. } => Some((tool.clone(), *ok, result.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(tool_results.len(), 6, "{tool_results:?}");
    assert!(tool_results.iter().all(|(_, ok, _)| *ok), "{tool_results:?}");
    let indicators = tool_results.iter().find(|(tool, ..)| tool == "get_indicators").unwrap();
    assert!(indicators.1 && indicators.2.contains("\"rsi14\""), "{indicators:?}");
    let run = env.storage.crew_run(analysis.crew_run_id).await.unwrap().unwrap();
    assert_eq!((run.status, run.llm_calls, run.tool_calls), (CrewRunStatus::Completed, 10, 6));
    assert!(run.prompt_tokens > 0 && run.completion_tokens > 0, "usage recorded per call");
    // The mock's analysts answer `Final Answer: get_… returned {…}`: the findings keep the answer,
    // not the marker (issue 10).
    let markdown = &analysis.note.markdown;
    assert!(markdown.contains("get_indicators returned {"), "{markdown}");
    assert!(!markdown.contains("Final Answer"), "{markdown}");
}

/// Issue 10: a server that ignores `response_format` and a ReAct-tuned model: every answer is
/// `Thought: …` then `Final Answer: …`, the note's JSON in a fence. The note is read all the same
/// and no scaffolding reaches it.
#[tokio::test]
async fn react_style_answers_give_a_clean_note() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    let server = MockChatServer::builder().react_answers(true).start().await.unwrap();
    let service = env.service_at(&server.uri(), |_| {});
    let analysis = service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap();
    assert_eq!((analysis.note.rating.as_str(), analysis.note.confidence), ("hold", 0.6));
    assert!(
        analysis.note.thesis.starts_with("AAPL trades near its 50-day average"),
        "{}",
        analysis.note.thesis
    );
    let markdown = &analysis.note.markdown;
    assert!(!markdown.contains("Final Answer") && !markdown.contains("Thought:"), "{markdown}");
    assert!(markdown.contains("get_indicators returned {"), "{markdown}");
    let rejected = analysis
        .outcome
        .trace
        .steps()
        .iter()
        .filter(|s| matches!(s, TraceStep::InvalidOutput { .. }))
        .count();
    assert_eq!(rejected, 0, "nothing needed asking again");
    let writer = analysis.outcome.final_output().unwrap();
    assert!(writer.text.starts_with('{') && !writer.text.contains("```"), "{}", writer.text);
}

/// Issue 10: a `Final Answer:` whose JSON is cut off is refused as malformed and asked again; the
/// model's second answer makes the note.
#[tokio::test]
async fn a_malformed_final_answer_is_asked_again() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    let scripted = ScriptedChat::new();
    let broken = Arc::new(AtomicU64::new(0));
    let counter = broken.clone();
    let server = mock_with(move |request: &Request| {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        if body.get("response_format").is_some() && counter.fetch_add(1, Ordering::SeqCst) == 0 {
            return completion(
                json!({"role": "assistant", "content": "Thought: writing it.\nFinal Answer: {\"rating\": \"hold\", \"confid"}),
                "stop",
            );
        }
        scripted.respond(request)
    })
    .await;
    let service = env.service_at(&format!("{}/v1", server.uri()), |_| {});
    let analysis = service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap();
    assert_eq!(broken.load(Ordering::SeqCst), 2, "the writer was asked twice");
    let reasons: Vec<_> = analysis
        .outcome
        .trace
        .steps()
        .iter()
        .filter_map(
            |s| if let TraceStep::InvalidOutput { reason, .. } = s { Some(reason.clone()) } else { None },
        )
        .collect();
    assert_eq!(reasons, ["the answer is not a JSON object"]);
    assert_eq!(analysis.note.rating.as_str(), "hold");
    assert!(!analysis.note.markdown.contains("Final Answer"), "{}", analysis.note.markdown);
}

#[tokio::test]
async fn invalid_tool_arguments_go_back_to_the_model() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    let scripted = ScriptedChat::new();
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let server = mock_with(move |request: &Request| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            return tool_call("get_quote", "{\"symbol\": AAPL");
        }
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        if let Some(tool_message) = body["messages"].as_array().unwrap().iter().find(|m| m["role"] == "tool")
        {
            let content = tool_message["content"].as_str().unwrap_or("");
            if counter.load(Ordering::SeqCst) == 2 {
                assert!(content.contains("not valid JSON"), "the error is fed back: {content}");
            }
        }
        scripted.respond(request)
    })
    .await;
    let service = env.service_at(&format!("{}/v1", server.uri()), |_| {});
    let analysis = service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap();
    let failed_calls = analysis
        .outcome
        .trace
        .steps()
        .iter()
        .filter(|s| matches!(s, TraceStep::ToolCall { ok: false, .. }))
        .count();
    assert_eq!(failed_calls, 1);
    assert_eq!(analysis.note.symbol, "AAPL");
}

#[tokio::test]
async fn a_rate_limit_is_retried_and_the_run_completes() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    let server = MockChatServer::start_failing_first(2, 429, rate_limit_body()).await.unwrap();
    let service = env.service_at(&server.uri(), |_| {});
    let analysis = service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap();
    assert_eq!(server.requests_served(), 12, "two 429s, then the 10 calls of a run");
    assert_eq!(analysis.outcome.llm_calls, 10);
}

#[tokio::test]
async fn insufficient_quota_fails_at_once_without_retries() {
    let env = env().await;
    let body = openai_error_body(
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    );
    let server = MockChatServer::start_failing_first(1_000, 429, body).await.unwrap();
    let service = env.service_at(&server.uri(), |_| {});
    let (status, reason, crew_run_id) = failed_run(&service, "AAPL").await;
    assert_eq!(status, "failed");
    assert!(reason.contains("quota"), "{reason}");
    assert_eq!(server.requests_served(), 1, "no retry on insufficient_quota");
    let run = env.storage.crew_run(crew_run_id).await.unwrap().unwrap();
    assert_eq!(run.status, CrewRunStatus::Failed);
    assert!(!run.error.unwrap_or_default().contains("sk-test"), "the key never appears");
}

#[tokio::test]
async fn a_silent_server_times_out_with_a_clear_error() {
    let env = env().await;
    let server = mock_with(tool_call("get_quote", "{}").set_delay(Duration::from_secs(10))).await;
    let service = env.service_at(&format!("{}/v1", server.uri()), |config| {
        config.timeout_secs = 1;
        config.max_retries = 0;
    });
    let started = std::time::Instant::now();
    let (status, reason, _) = failed_run(&service, "AAPL").await;
    assert_eq!(status, "failed");
    assert!(reason.contains("no answer within"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn malformed_json_from_the_server_fails_the_run_clearly() {
    let env = env().await;
    let server = mock_with(
        ResponseTemplate::new(200)
            .set_body_raw("{\"id\": \"chatcmpl-1\", \"choices\": [", "application/json"),
    )
    .await;
    let service = env.service_at(&format!("{}/v1", server.uri()), |config| config.max_retries = 0);
    let (status, reason, _) = failed_run(&service, "AAPL").await;
    assert_eq!(status, "failed");
    assert!(reason.contains("malformed"), "{reason}");
}

#[tokio::test]
async fn a_model_that_never_stops_calling_tools_is_cut_off() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    let server = mock_with(tool_call("get_quote", "{\"symbol\":\"AAPL\"}")).await;
    let service = env.service_at(&format!("{}/v1", server.uri()), |_| {});
    let (status, reason, crew_run_id) = failed_run(&service, "AAPL").await;
    assert_eq!(status, "limit_reached");
    assert!(reason.contains("max_iterations") && reason.contains("Market Researcher"), "{reason}");
    let run = env.storage.crew_run(crew_run_id).await.unwrap().unwrap();
    assert_eq!(run.status, CrewRunStatus::LimitReached);
    assert_eq!(run.llm_calls, 8, "the default max_iterations");
    assert!(run.trace.contains("\"limit_reached\""), "{}", run.trace);
}

#[tokio::test]
async fn a_hierarchical_crew_delegates_through_the_wire() {
    let env = env().await;
    env.store_year_of_bars("MSFT").await;
    // The mock's delegated task text names no ticker, so its tool calls fall back to AAPL.
    env.store_year_of_bars("AAPL").await;
    let server = MockChatServer::start().await.unwrap();
    let crew: agents::Crew = serde_json::from_value(json!({
        "name": "desk",
        "process": {"kind": "hierarchical", "manager": {"role": "Desk Head", "goal": "Deliver the note"}},
        "agents": [
            {"role": "Technical Analyst", "goal": "Read the chart", "tools": ["get_indicators"]},
            {"role": "Report Writer", "goal": "Write"}
        ],
        "tasks": [
            {"name": "note", "description": "Symbol: {symbol}. Research and write the note on {symbol}.",
             "expected_output": "JSON", "agent": "Technical Analyst", "output_schema": analysis::note_schema()}
        ]
    }))
    .unwrap();
    let config = AnalysisConfig { crews: vec![crew], crew: "desk".into(), ..AnalysisConfig::default() };
    let model = Arc::new(OpenAiClient::new(&openai_config(&server.uri())).unwrap());
    let service =
        AnalysisService::with_model(env.storage.clone(), Some(env.chain.clone()), &config, model).unwrap();
    let analysis = service.analyze(&request("MSFT"), &NoObserver, CancellationToken::new()).await.unwrap();
    let steps = analysis.outcome.trace.steps();
    let delegated_to: Vec<_> = steps
        .iter()
        .filter_map(|s| {
            if let TraceStep::Delegation { coworker, .. } = s { Some(coworker.as_str()) } else { None }
        })
        .collect();
    // The mock uses each manager tool once (delegate_work, then ask_question), naming the first
    // coworker of the schema's enum; the coworker's answers come back as tool results.
    assert_eq!(delegated_to, ["Technical Analyst", "Technical Analyst"]);
    assert!(
        steps
            .iter()
            .any(|s| matches!(s, TraceStep::ToolCall { tool, ok: true, .. } if tool == "get_indicators"))
    );
    assert_eq!(analysis.note.crew, "desk");
}

/// Collects what a streaming run reports.
#[derive(Default)]
struct Collect {
    content: std::sync::Mutex<String>,
    tool_calls: AtomicU64,
}

impl agents::RunObserver for Collect {
    fn on_stream(&self, _agent: &str, event: &llm::StreamEvent) {
        match event {
            llm::StreamEvent::Content(text) => self.content.lock().unwrap().push_str(text),
            llm::StreamEvent::ToolCall { .. } => {
                self.tool_calls.fetch_add(1, Ordering::SeqCst);
            }
            llm::StreamEvent::Reasoning(_) => {}
        }
    }
}

#[tokio::test]
async fn a_streaming_run_reports_text_and_tool_calls_as_they_arrive() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    let server = MockChatServer::start().await.unwrap();
    let service = env.service_at(&server.uri(), |config| config.stream = true);
    let observer = Collect::default();
    let mut streamed = request("AAPL");
    streamed.stream = true;
    let analysis = service.analyze(&streamed, &observer, CancellationToken::new()).await.unwrap();
    assert_eq!(observer.tool_calls.load(Ordering::SeqCst), 6, "each tool call announced while streaming");
    let content = observer.content.lock().unwrap().clone();
    assert!(content.contains("\"rating\""), "the writer's JSON streamed through: {content}");
    assert!(analysis.outcome.usage.total_tokens > 0, "usage arrives in the stream's last chunk");
}

/// A model that takes 150 ms per answer: the crew run's stored trace grows while it is still
/// `running` (the web UI shows those steps as they come), and the final trace holds them all.
#[tokio::test]
async fn a_running_crews_steps_are_stored_as_they_happen() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    let server = MockChatServer::builder().answer_delay(Duration::from_millis(150)).start().await.unwrap();
    let service = env.service_at(&server.uri(), |_| {});
    let run = tokio::spawn(async move {
        service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.map(|a| a.note.id)
    });
    let mut seen_while_running = Vec::new();
    while !run.is_finished() {
        if let Some(crew_run) = env.storage.crew_runs(Some("AAPL"), 1).await.unwrap().pop()
            && crew_run.status == CrewRunStatus::Running
        {
            let steps = serde_json::from_str::<Vec<serde_json::Value>>(&crew_run.trace).unwrap().len();
            if seen_while_running.last() != Some(&steps) {
                seen_while_running.push(steps);
            }
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    run.await.unwrap().expect("the run succeeds");
    assert!(seen_while_running.len() >= 4, "the trace grew step by step: {seen_while_running:?}");
    assert!(seen_while_running.windows(2).all(|pair| pair[0] < pair[1]), "{seen_while_running:?}");
    let finished = env.storage.crew_runs(Some("AAPL"), 1).await.unwrap().pop().unwrap();
    assert_eq!(finished.status, CrewRunStatus::Completed);
    let final_steps = serde_json::from_str::<Vec<serde_json::Value>>(&finished.trace).unwrap().len();
    assert!(final_steps >= *seen_while_running.last().unwrap(), "{final_steps} vs {seen_while_running:?}");
    // A late snapshot never overwrites a finished run's trace.
    assert!(!env.storage.update_crew_run_trace(finished.id, "[]").await.unwrap());
}
