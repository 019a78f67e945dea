//! Engine overhead per crew run, printed as figures.
//!
//! The crew mirrors `bench/crewai_crew.py`: four agents (market researcher, technical analyst,
//! sentiment analyst, report writer), one fixed-JSON tool each except the writer, four
//! sequential tasks with the same context chaining, the writer answering the note schema.
//!
//! Two modes:
//! - `engine`: an in-process model that answers instantly (a tool call, then an answer), so the
//!   time and allocations are the engine's own;
//! - `http`: the real OpenAI-compatible client against a mock server (`--base-url`, e.g. the
//!   `mock_llm_server` example the CrewAI script also uses; without it one is started here).
//!
//! `cargo run --release -p analysis --example crew_bench -- [--runs 500] [--base-url URL]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use agents::{
    Agent, Crew, MemoryConfig, NoObserver, Process, RunContext, RunLimits, RunStatus, Task, Tool, ToolBox,
    ToolError, run_crew,
};
use async_trait::async_trait;
use llm::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, LlmConfig, LlmError, LlmProvider, Message,
    OpenAiClient, ResponseFormat, ToolCall, ToolSpec, Usage,
};
use serde_json::{Value, json};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio_util::sync::CancellationToken;

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const WARM_UP: usize = 5;

struct FixedTool {
    name: &'static str,
    description: &'static str,
    result: Value,
}

#[async_trait]
impl Tool for FixedTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.name.into(),
            description: self.description.into(),
            parameters: json!({"type":"object","properties":{"symbol":{"type":"string"}},"required":["symbol"]}),
        }
    }

    async fn call(&self, arguments: Value) -> Result<String, ToolError> {
        let symbol = arguments.get("symbol").and_then(Value::as_str).unwrap_or("NVDA");
        let mut result = self.result.clone();
        result["symbol"] = symbol.into();
        Ok(result.to_string())
    }
}

fn tools() -> ToolBox {
    let mut tools = ToolBox::new();
    tools
        .register(Arc::new(FixedTool {
            name: "get_quote",
            description: "Latest quote (price, change, volume) for a ticker symbol.",
            result: json!({"price": 123.45, "change_pct": 1.2, "volume": 41_000_000}),
        }))
        .register(Arc::new(FixedTool {
            name: "get_indicators",
            description: "Technical indicators (RSI 14, SMA 50/200, MACD) for a ticker symbol.",
            result: json!({"rsi_14": 55.0, "sma_50": 118.2, "sma_200": 104.9, "macd": 0.8}),
        }))
        .register(Arc::new(FixedTool {
            name: "get_mentions",
            description: "Social media mentions and average sentiment over the last 24 hours.",
            result: json!({"mentions_24h": 412, "avg_sentiment": 0.21, "bullish_share": 0.58}),
        }));
    tools
}

fn crew() -> Crew {
    let tasks = vec![
        Task::new(
            "market",
            "Market researcher",
            "Get the latest quote for {symbol} and summarise the price action.",
            "Two sentences on price and volume.",
        )
        .with_context(Vec::<String>::new()),
        Task::new(
            "technical",
            "Technical analyst",
            "Get the technical indicators for {symbol} and say what they imply.",
            "Two sentences on momentum and trend.",
        )
        .with_context(["market"]),
        Task::new(
            "sentiment",
            "Sentiment analyst",
            "Get the social mentions for {symbol} and judge the sentiment.",
            "Two sentences on sentiment.",
        )
        .with_context(["market"]),
        Task::new(
            "note",
            "Report writer",
            "Write the research note for {symbol} from the findings of the other analysts.",
            "A research note: rating, confidence, horizon, thesis, risks, key figures, sources.",
        )
        .with_context(["market", "technical", "sentiment"])
        .with_output_schema(analysis::note_schema()),
    ];
    Crew {
        name: "bench".into(),
        agents: vec![
            Agent::new(
                "Market researcher",
                "Collect the current market data for {symbol}",
                "You gather prices.",
            )
            .with_tools(["get_quote"]),
            Agent::new("Technical analyst", "Read the technical indicators of {symbol}", "You read charts.")
                .with_tools(["get_indicators"]),
            Agent::new("Sentiment analyst", "Gauge the social sentiment around {symbol}", "You read Reddit.")
                .with_tools(["get_mentions"]),
            Agent::new(
                "Report writer",
                "Write a concise research note on {symbol}",
                "You turn findings into a rating.",
            ),
        ],
        tasks,
        process: Process::Sequential,
        limits: RunLimits::default(),
        memory: MemoryConfig::default(),
    }
}

/// Answers at once: each offered tool once, then a short answer (the note's JSON for a schema).
struct InstantModel;

#[async_trait]
impl ChatModel for InstantModel {
    fn label(&self) -> String {
        "instant".into()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let usage = Usage { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 };
        let called = request.messages.iter().any(|m| matches!(m, Message::Tool { .. }));
        if let (Some(tool), false) = (request.tools.first(), called) {
            return Ok(ChatResponse {
                tool_calls: vec![ToolCall {
                    id: "call_1".into(),
                    name: tool.name.clone(),
                    arguments: r#"{"symbol":"NVDA"}"#.into(),
                }],
                finish_reason: FinishReason::ToolCalls,
                usage,
                model: "instant".into(),
                ..ChatResponse::default()
            });
        }
        let content = match request.response_format {
            ResponseFormat::Text => "Price 123.45, up 1.2% on 41M shares; the trend is intact.".to_owned(),
            _ => json!({"rating":"hold","confidence":0.6,"horizon":"3-6 months","thesis":"Trend intact.",
                        "risks":["Valuation"],"key_figures":{"rsi_14":55.0},"sources":["mock"]})
            .to_string(),
        };
        Ok(ChatResponse { content: Some(content), usage, model: "instant".into(), ..ChatResponse::default() })
    }
}

fn rss_mb() -> f64 {
    memory_stats::memory_stats().map_or(0.0, |stats| stats.physical_mem as f64 / 1e6)
}

struct Figures {
    times: Vec<Duration>,
    allocated: Vec<usize>,
    rss_after_warm_up: f64,
    rss_end: f64,
}

async fn measure(model: Arc<dyn ChatModel>, runs: usize) -> Figures {
    let crew = crew();
    let tools = tools();
    let context = RunContext {
        tools: &tools,
        llm: model,
        inputs: vec![("symbol".into(), "NVDA".into())],
        cancel: CancellationToken::new(),
        observer: &NoObserver,
        long_term: None,
        stream: false,
    };
    let mut figures =
        Figures { times: Vec::new(), allocated: Vec::new(), rss_after_warm_up: 0.0, rss_end: 0.0 };
    for run in 1..=WARM_UP + runs {
        let region = Region::new(GLOBAL);
        let started = Instant::now();
        let outcome = run_crew(&crew, &context).await;
        let elapsed = started.elapsed();
        assert_eq!(outcome.status, RunStatus::Completed, "{:?}", outcome.status);
        assert_eq!(outcome.tool_calls, 3);
        drop(outcome);
        let change = region.change();
        if run == WARM_UP {
            figures.rss_after_warm_up = rss_mb();
        }
        if run > WARM_UP {
            figures.times.push(elapsed);
            figures.allocated.push(change.bytes_allocated);
        }
    }
    figures.rss_end = rss_mb();
    figures
}

/// Prints the table row; returns the mean in ms.
fn report(mode: &str, figures: &mut Figures) -> f64 {
    figures.times.sort();
    let n = figures.times.len();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = figures.times.iter().map(|d| ms(*d)).sum::<f64>() / n as f64;
    let p50 = ms(figures.times[n / 2]);
    let p95 = ms(figures.times[(n * 95 / 100).min(n - 1)]);
    let allocated = figures.allocated.iter().sum::<usize>() as f64 / n as f64 / 1e3;
    let max_allocated = figures.allocated.iter().copied().max().unwrap_or(0) as f64 / 1e3;
    println!(
        "{mode:<7} {n:>6} {mean:>9.3} {p50:>9.3} {p95:>9.3} {allocated:>13.1} {max_allocated:>12.1} {:>10.1} {:>10.1} {:>+8.2}",
        figures.rss_after_warm_up,
        figures.rss_end,
        figures.rss_end - figures.rss_after_warm_up
    );
    mean
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let runs: usize = value("--runs").and_then(|r| r.parse().ok()).unwrap_or(500);
    let http_runs: usize = value("--http-runs").and_then(|r| r.parse().ok()).unwrap_or(runs.min(200));
    let mut local_server = None;
    let base_url = match value("--base-url") {
        Some(url) => url,
        None => {
            let server = test_support::llm::MockChatServer::start().await.expect("start a mock server");
            let uri = server.uri();
            local_server = Some(server);
            uri
        }
    };
    let client = OpenAiClient::new(&LlmConfig {
        provider: LlmProvider::Openai,
        base_url: base_url.clone(),
        api_key: Some(llm::ApiKey::new("mock")),
        ..LlmConfig::default()
    })
    .expect("client");

    println!("crew: 4 agents, 4 sequential tasks, 3 tool calls per run (tickerwatch agents engine)");
    println!("http mock: {base_url}{}", if local_server.is_some() { " (in this process)" } else { "" });
    println!(
        "{:<7} {:>6} {:>9} {:>9} {:>9} {:>13} {:>12} {:>10} {:>10} {:>8}",
        "mode",
        "runs",
        "mean ms",
        "p50 ms",
        "p95 ms",
        "alloc/run KB",
        "max alloc KB",
        "RSS@5 MB",
        "RSS@end",
        "growth"
    );
    let mut engine = measure(Arc::new(InstantModel), runs).await;
    let engine_mean = report("engine", &mut engine);
    let mut http = measure(Arc::new(client), http_runs).await;
    let http_mean = report("http", &mut http);
    println!(
        "alloc/run is every byte allocated during a run (an upper bound on its transient memory); \
         RSS growth is from run {WARM_UP} to the last run."
    );
    // For scripts (bench/run-crew-compare.sh computes the ratio from it).
    println!(
        "summary engine_mean_ms={engine_mean:.4} http_mean_ms={http_mean:.4} http_rss_growth_mb={:.2}",
        http.rss_end - http.rss_after_warm_up
    );
}
