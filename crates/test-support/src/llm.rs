//! A scripted mock of an OpenAI-compatible chat-completions endpoint, for tests and benchmarks.
//!
//! [`ScriptedChat`] answers `POST /v1/chat/completions` instantly and deterministically from the
//! request body alone (the wire format of `shared/provider-apis.md` section 6):
//!
//! - While the request offers `tools` (and `tool_choice` is not `"none"`) and one of them has not
//!   been called yet in this conversation, it answers with one `tool_calls` entry for the first
//!   such tool (`finish_reason: "tool_calls"`, id `call_<n>`). Its `arguments` are a JSON string
//!   built from the tool schema's `required` properties: `symbol`/`ticker` get the first
//!   upper-case ticker of the last user message (fallback `AAPL`), enums their first value,
//!   other strings `"x"`, integers `1`, numbers `0.5`, arrays one such item. A hierarchical
//!   manager's `delegate_work` is just another tool: `{"coworker": <first enum value or
//!   "Analyst">, "task": "x", ...}`. CrewAI 1.x agents use this native function calling.
//! - Otherwise it answers with content (`finish_reason: "stop"`): with `response_format`
//!   `json_schema` a JSON object filling the schema's required properties (a realistic research
//!   note for the rating/confidence/thesis shape), with `json_object` such a research note, and
//!   without `response_format` one line `Final Answer: ...` summarising the last tool result or
//!   the task. Arrays in structured output stay empty unless the schema sets `minItems`.
//! - ReAct prompts (no `tools`, but a system prompt listing `Tool Name: X` and asking for
//!   `Action:`/`Action Input:`) get `Thought/Action/Action Input` text once per listed tool and
//!   then a `Thought/Final Answer` text.
//! - `"stream": true` gets `text/event-stream` chunks: a role delta, content or tool-call
//!   fragments, the finish chunk, a usage chunk with `stream_options.include_usage`, then
//!   `data: [DONE]`.
//!
//! [`MockChatServer`] serves a [`ScriptedChat`] on `127.0.0.1`. It is a small hyper server rather
//! than a `wiremock::MockServer`: every wiremock `MountedMock` keeps a clone of each request it
//! matched, even with `disable_request_recording()` (which only covers the server-wide log), so
//! memory would grow with every request of a long soak run. This server keeps no per-request
//! state, only a counter. [`ScriptedChat`] also implements [`wiremock::Respond`], for tests that
//! want to mount it on their own `MockServer`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The path the mock answers.
pub const CHAT_COMPLETIONS_PATH: &str = "/v1/chat/completions";

/// The `created` timestamp of every response (fixed, so answers are deterministic).
const CREATED: u64 = 1_714_760_000;

/// Upper-case words that are not tickers.
const NOT_TICKERS: &[&str] = &[
    "A", "I", "AN", "AND", "ANY", "ARE", "AS", "AT", "BE", "BUT", "BY", "DO", "FOR", "IF", "IN", "IS", "IT",
    "ITS", "NO", "NOT", "OF", "ON", "OR", "SO", "THE", "TO", "UP", "WE", "YOU", "YOUR", "MUST", "ONLY",
    "NEVER", "ALL", "USE", "NOTE", "THIS", "THAT", "WITH", "FROM", "WHAT", "WHEN", "TOOL", "TASK", "JSON",
    "API", "ID", "OK", "AI", "LLM", "USD", "EUR", "US", "USA", "UK", "EU", "CEO", "CFO", "ETF", "EPS", "PE",
    "RSI", "MACD", "SMA", "EMA", "ATR", "VWAP", "GDP", "CPI", "FED", "SEC", "IPO", "NEWS", "DATA", "TODO",
    "FINAL", "THINK", "ANSWER", "DONE", "TRUE", "FALSE", "NULL", "NONE", "HTTP", "URL",
];

/// What the mock answers for one request (status, content type, body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockReply {
    /// HTTP status.
    pub status: u16,
    /// `application/json` or `text/event-stream`.
    pub content_type: &'static str,
    /// The response body.
    pub body: String,
}

/// An OpenAI error body: `{"error":{"message","type","param":null,"code"}}`.
pub fn openai_error_body(message: &str, kind: &str, code: &str) -> String {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}}).to_string()
}

/// The body of OpenAI's retryable 429 (`rate_limit_exceeded`).
pub fn rate_limit_body() -> String {
    openai_error_body(
        "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1. \
         Please try again in 20s.",
        "requests",
        "rate_limit_exceeded",
    )
}

#[derive(Debug)]
struct ChatState {
    served: AtomicU64,
    fail_first: u64,
    failure_status: u16,
    failure_body: String,
    log_requests: bool,
}

/// The scripted responder; cheap to clone (clones share the request counter).
#[derive(Debug, Clone)]
pub struct ScriptedChat {
    state: Arc<ChatState>,
}

impl Default for ScriptedChat {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptedChat {
    /// A responder that answers every request.
    pub fn new() -> Self {
        Self::with_options(0, 200, String::new(), false)
    }

    /// A responder whose first `n` requests get `status` with `body` (a JSON error body, e.g.
    /// [`rate_limit_body`]) before it answers normally.
    pub fn failing_first(n: u64, status: u16, body: impl Into<String>) -> Self {
        Self::with_options(n, status, body.into(), false)
    }

    fn with_options(fail_first: u64, failure_status: u16, failure_body: String, log_requests: bool) -> Self {
        let state =
            ChatState { served: AtomicU64::new(0), fail_first, failure_status, failure_body, log_requests };
        Self { state: Arc::new(state) }
    }

    /// Requests answered so far, injected failures included.
    pub fn requests_served(&self) -> u64 {
        self.state.served.load(Ordering::SeqCst)
    }

    /// Answers one request body.
    pub fn reply(&self, body: &[u8]) -> MockReply {
        let n = self.state.served.fetch_add(1, Ordering::SeqCst);
        let reply = if n < self.state.fail_first {
            MockReply {
                status: self.state.failure_status,
                content_type: "application/json",
                body: self.state.failure_body.clone(),
            }
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(request) if request.get("messages").is_some_and(Value::is_array) => answer(&request, n),
                Ok(_) => bad_request("'messages' is a required property"),
                Err(error) => bad_request(&format!("could not parse the JSON body of your request: {error}")),
            }
        };
        if self.state.log_requests {
            eprintln!("--> {}\n<-- {} {}", String::from_utf8_lossy(body), reply.status, reply.body);
        }
        reply
    }
}

impl wiremock::Respond for ScriptedChat {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let reply = self.reply(&request.body);
        wiremock::ResponseTemplate::new(reply.status).set_body_raw(reply.body, reply.content_type)
    }
}

fn bad_request(message: &str) -> MockReply {
    MockReply {
        status: 400,
        content_type: "application/json",
        body: openai_error_body(message, "invalid_request_error", "invalid_request_error"),
    }
}

/// What the assistant says.
#[derive(Debug, PartialEq)]
enum Turn {
    ToolCall { id: String, name: String, arguments: String },
    Content(String),
}

fn answer(request: &Value, n: u64) -> MockReply {
    let messages = request["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
    let turn = plan(request, messages);
    let model = request["model"].as_str().unwrap_or("gpt-4o-mini");
    let id = format!("chatcmpl-mock{n}");
    let prompt_tokens = 10 + 20 * messages.len() as u64;
    let completion_tokens = match &turn {
        Turn::ToolCall { arguments, .. } => 8 + arguments.len() as u64 / 4,
        Turn::Content(text) => 1 + text.len() as u64 / 4,
    };
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    if request["stream"].as_bool() == Some(true) {
        let include_usage = request["stream_options"]["include_usage"].as_bool() == Some(true);
        let body = stream_body(&id, model, &turn, include_usage.then_some(usage));
        return MockReply { status: 200, content_type: "text/event-stream", body };
    }
    let (message, finish_reason) = match turn {
        Turn::ToolCall { id, name, arguments } => (
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}],
                "refusal": null,
            }),
            "tool_calls",
        ),
        Turn::Content(text) => (json!({"role": "assistant", "content": text, "refusal": null}), "stop"),
    };
    let body = json!({
        "id": id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": usage,
        "system_fingerprint": "fp_mock",
    });
    MockReply { status: 200, content_type: "application/json", body: body.to_string() }
}

fn stream_body(id: &str, model: &str, turn: &Turn, usage: Option<Value>) -> String {
    let with_usage = usage.is_some();
    let chunk = |choices: Value| {
        let mut chunk = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": choices,
        });
        if with_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    };
    let delta = |delta: Value, finish: Option<&str>| {
        chunk(json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]))
    };
    let mut chunks = Vec::new();
    let finish = match turn {
        Turn::ToolCall { id: call_id, name, arguments } => {
            chunks.push(delta(
                json!({"role": "assistant", "content": null, "tool_calls": [{
                    "index": 0, "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": ""},
                }]}),
                None,
            ));
            let (first, second) = arguments.split_at(floor_char_boundary(arguments, arguments.len() / 2));
            for fragment in [first, second].into_iter().filter(|f| !f.is_empty()) {
                chunks.push(delta(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}),
                    None,
                ));
            }
            "tool_calls"
        }
        Turn::Content(text) => {
            chunks.push(delta(json!({"role": "assistant", "content": "", "refusal": null}), None));
            for fragment in fragments(text) {
                chunks.push(delta(json!({"content": fragment}), None));
            }
            "stop"
        }
    };
    chunks.push(delta(json!({}), Some(finish)));
    if let Some(usage) = usage {
        let mut last = chunk(json!([]));
        last["usage"] = usage;
        chunks.push(last);
    }
    let mut body = String::new();
    for chunk in chunks {
        body.push_str("data: ");
        body.push_str(&chunk.to_string());
        body.push_str("\n\n");
    }
    body.push_str("data: [DONE]\n\n");
    body
}

/// Splits text into pieces of up to four words (whitespace kept), as a model would stream it.
fn fragments(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut words = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                words += 1;
                in_word = false;
                if words == 4 {
                    pieces.push(&text[start..i]);
                    start = i;
                    words = 0;
                }
            }
        } else {
            in_word = true;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

fn floor_char_boundary(s: &str, mut index: usize) -> usize {
    while !s.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The text of a message's `content` (a string, or an array of `{"type":"text","text":...}` parts).
fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => {
            parts.iter().filter_map(|part| part["text"].as_str()).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

fn role(message: &Value) -> &str {
    message["role"].as_str().unwrap_or_default()
}

fn plan(request: &Value, messages: &[Value]) -> Turn {
    let last_user = messages.iter().rposition(|m| role(m) == "user");
    let task = last_user.map(|i| text_of(&messages[i])).unwrap_or_default();
    let symbol = first_ticker(&task).unwrap_or("AAPL");

    // Native function calling.
    let tools: Vec<&Value> = request["tools"].as_array().map(|t| t.iter().collect()).unwrap_or_default();
    let called: HashSet<&str> = messages
        .iter()
        .filter(|m| role(m) == "assistant")
        .filter_map(|m| m["tool_calls"].as_array())
        .flatten()
        .filter_map(|call| call["function"]["name"].as_str())
        .collect();
    let choice = &request["tool_choice"];
    if !tools.is_empty() && choice.as_str() != Some("none") {
        let forced = choice["function"]["name"].as_str();
        let next = tools.iter().map(|tool| &tool["function"]).find(|function| {
            let name = function["name"].as_str().unwrap_or_default();
            !called.contains(name) && forced.is_none_or(|forced| forced == name)
        });
        if let Some(function) = next {
            let n_calls =
                messages.iter().filter_map(|m| m["tool_calls"].as_array()).map(Vec::len).sum::<usize>();
            return Turn::ToolCall {
                id: format!("call_{}", n_calls + 1),
                name: function["name"].as_str().unwrap_or_default().to_owned(),
                arguments: Value::Object(fill_required(&function["parameters"], symbol, 1, &Map::new()))
                    .to_string(),
            };
        }
    }

    // Structured output.
    let format = &request["response_format"];
    match format["type"].as_str() {
        Some("json_schema") => {
            let schema = &format["json_schema"]["schema"];
            let object = if is_note_shape(schema) {
                fill_required(schema, symbol, 0, &research_note(symbol))
            } else {
                fill_required(schema, symbol, 0, &Map::new())
            };
            return Turn::Content(Value::Object(object).to_string());
        }
        Some("json_object") => return Turn::Content(Value::Object(research_note(symbol)).to_string()),
        _ => {}
    }

    // ReAct text protocol: tools listed in the system prompt instead of `tools`.
    if tools.is_empty() {
        let system = messages.iter().filter(|m| role(m) == "system").map(text_of).collect::<Vec<_>>();
        let prompt = system.join("\n");
        let react_tools = react_tool_names(&prompt);
        if !react_tools.is_empty() || prompt.contains("Final Answer:") || task.contains("Final Answer:") {
            let transcript: String =
                messages.iter().filter(|m| role(m) != "system").map(text_of).collect::<Vec<_>>().join("\n");
            let used: HashSet<&str> = transcript
                .lines()
                .filter_map(|line| line.trim().strip_prefix("Action:"))
                .map(str::trim)
                .collect();
            if let Some(tool) = react_tools.iter().find(|tool| !used.contains(tool.as_str())) {
                let input = json!({"symbol": symbol});
                return Turn::Content(format!(
                    "Thought: I should look this up with {tool}.\nAction: {tool}\nAction Input: {input}"
                ));
            }
            let summary = summary(messages, &transcript, &task);
            return Turn::Content(format!("Thought: I now know the final answer\nFinal Answer: {summary}"));
        }
    }

    let transcript = String::new();
    Turn::Content(format!("Final Answer: {}", summary(messages, &transcript, &task)))
}

/// One line summarising the last tool result (native `tool` message or ReAct `Observation:`), or
/// else the task.
fn summary(messages: &[Value], transcript: &str, task: &str) -> String {
    if let Some(last) = messages.last().filter(|m| role(m) == "tool") {
        let call_id = last["tool_call_id"].as_str().unwrap_or_default();
        let name = messages
            .iter()
            .filter_map(|m| m["tool_calls"].as_array())
            .flatten()
            .find(|call| call["id"].as_str() == Some(call_id))
            .and_then(|call| call["function"]["name"].as_str())
            .unwrap_or("the tool");
        return format!("{name} returned {}", one_line(&text_of(last), 160));
    }
    if let Some(observation) = transcript.rfind("Observation:").map(|i| &transcript[i + 12..]) {
        return format!("the tool returned {}", one_line(observation, 160));
    }
    let first_line = task.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or("the task");
    format!("done: {}", one_line(first_line, 120))
}

fn one_line(text: &str, max_chars: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &joined[..cut]),
        None => joined,
    }
}

/// Tool names a ReAct system prompt lists (`Tool Name: X` lines), when it asks for `Action:`.
fn react_tool_names(prompt: &str) -> Vec<String> {
    if !prompt.contains("Action Input:") {
        return Vec::new();
    }
    prompt
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Tool Name:"))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

/// The first word of 1–5 upper-case ASCII letters that is not a common word.
fn first_ticker(text: &str) -> Option<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric()).find(|word| {
        (1..=5).contains(&word.len())
            && word.bytes().all(|b| b.is_ascii_uppercase())
            && !NOT_TICKERS.contains(word)
    })
}

fn is_note_shape(schema: &Value) -> bool {
    let properties = &schema["properties"];
    ["rating", "confidence", "thesis"].iter().all(|key| properties.get(*key).is_some())
}

fn research_note(symbol: &str) -> Map<String, Value> {
    let note = json!({
        "rating": "hold",
        "confidence": 0.6,
        "horizon": "3-6 months",
        "thesis": format!(
            "{symbol} trades near its 50-day average with neutral momentum (RSI 55); mentions are \
             steady and mildly positive, so the risk/reward looks balanced."
        ),
        "risks": ["Valuation leaves little room for an earnings miss", "Sector-wide drawdown"],
        "key_figures": {"rsi_14": 55.0},
        "sources": ["mock"],
    });
    match note {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// An object with a value for each required property of `schema` (all properties when it lists
/// none), taken from `preferred` when that value fits the property's type, else made up. Arrays
/// get at least `min_items` items (1 for tool arguments, so e.g. a memory tool's `queries` is not
/// empty; 0 for structured output).
fn fill_required(
    schema: &Value,
    symbol: &str,
    min_items: u64,
    preferred: &Map<String, Value>,
) -> Map<String, Value> {
    let schema = resolve(schema);
    let mut object = Map::new();
    let Some(properties) = schema["properties"].as_object() else {
        return object;
    };
    let names: Vec<&str> = match schema["required"].as_array() {
        Some(required) => required.iter().filter_map(Value::as_str).collect(),
        None => properties.keys().map(String::as_str).collect(),
    };
    for name in names {
        let property = resolve(properties.get(name).unwrap_or(&Value::Null));
        let value = match preferred.get(name) {
            Some(value) if fits(property, value) => value.clone(),
            _ => value_for(name, property, symbol, min_items),
        };
        object.insert(name.to_owned(), value);
    }
    object
}

/// The first non-null variant of `anyOf`/`oneOf`, or the schema itself.
fn resolve(schema: &Value) -> &Value {
    for key in ["anyOf", "oneOf"] {
        if let Some(variants) = schema[key].as_array()
            && let Some(variant) = variants.iter().find(|v| v["type"].as_str() != Some("null"))
        {
            return resolve(variant);
        }
    }
    schema
}

/// The schema's type (the first non-null one of a type list).
fn type_of(schema: &Value) -> &str {
    match &schema["type"] {
        Value::String(kind) => kind,
        Value::Array(kinds) => {
            kinds.iter().filter_map(Value::as_str).find(|k| *k != "null").unwrap_or("string")
        }
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    }
}

fn fits(schema: &Value, value: &Value) -> bool {
    if let Some(choices) = schema["enum"].as_array() {
        return choices.contains(value);
    }
    match type_of(schema) {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn value_for(name: &str, schema: &Value, symbol: &str, min_items: u64) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|choices| choices.first()) {
        return first.clone();
    }
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    match type_of(schema) {
        "integer" => json!(1),
        "number" => json!(0.5),
        "boolean" => json!(true),
        "array" => {
            let n_items = schema["minItems"].as_u64().unwrap_or(0).max(min_items);
            let item = resolve(&schema["items"]);
            Value::Array((0..n_items).map(|_| value_for(name, item, symbol, min_items)).collect())
        }
        "object" => Value::Object(fill_required(schema, symbol, min_items, &Map::new())),
        _ => match name {
            "symbol" | "ticker" => json!(symbol),
            "coworker" => json!("Analyst"),
            _ => json!("x"),
        },
    }
}

/// Options for [`MockChatServer`].
#[derive(Debug, Clone)]
pub struct MockChatServerBuilder {
    port: u16,
    fail_first: u64,
    failure_status: u16,
    failure_body: String,
    log_requests: bool,
}

impl MockChatServerBuilder {
    /// Listens on this port of `127.0.0.1` (default: any free port).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The first `n` requests get `status` with `body` (e.g. 429 and [`rate_limit_body`]).
    #[must_use]
    pub fn fail_first(mut self, n: u64, status: u16, body: impl Into<String>) -> Self {
        self.fail_first = n;
        self.failure_status = status;
        self.failure_body = body.into();
        self
    }

    /// Prints each request body and reply to stderr (for finding out what a client sends).
    #[must_use]
    pub fn log_requests(mut self, log: bool) -> Self {
        self.log_requests = log;
        self
    }

    /// Starts the server. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(self) -> io::Result<MockChatServer> {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await?;
        let address = listener.local_addr()?;
        let chat = ScriptedChat::with_options(
            self.fail_first,
            self.failure_status,
            self.failure_body,
            self.log_requests,
        );
        let accept_task = tokio::spawn(accept_loop(listener, chat.clone()));
        Ok(MockChatServer { address, chat, accept_task })
    }
}

/// A [`ScriptedChat`] served over HTTP/1.1 (keep-alive) on `127.0.0.1`. It keeps no per-request
/// state. Dropping it aborts its tasks and closes its sockets.
#[derive(Debug)]
pub struct MockChatServer {
    address: SocketAddr,
    chat: ScriptedChat,
    accept_task: JoinHandle<()>,
}

impl MockChatServer {
    /// Options: port, failure injection, request logging.
    pub fn builder() -> MockChatServerBuilder {
        MockChatServerBuilder {
            port: 0,
            fail_first: 0,
            failure_status: 429,
            failure_body: rate_limit_body(),
            log_requests: false,
        }
    }

    /// Starts a server on a free port that answers every request.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// Starts a server whose first `n` requests get `status` with `body` before it answers.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start_failing_first(n: u64, status: u16, body: impl Into<String>) -> io::Result<Self> {
        Self::builder().fail_first(n, status, body).start().await
    }

    /// The base URL including `/v1`: `http://127.0.0.1:PORT/v1`.
    pub fn uri(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// The listening address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Chat requests answered so far, injected failures included.
    pub fn requests_served(&self) -> u64 {
        self.chat.requests_served()
    }
}

impl Drop for MockChatServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

async fn accept_loop(listener: TcpListener, chat: ScriptedChat) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let _ = socket.set_nodelay(true);
                    let chat = chat.clone();
                    let service = service_fn(move |request| handle(chat.clone(), request));
                    connections.spawn(async move {
                        let _ = http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(chat: ScriptedChat, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_chat = request.method() == Method::POST && request.uri().path() == CHAT_COMPLETIONS_PATH;
    let reply = if is_chat {
        match request.into_body().collect().await {
            Ok(body) => chat.reply(&body.to_bytes()),
            Err(error) => bad_request(&format!("could not read the request body: {error}")),
        }
    } else {
        let message = format!("Invalid URL ({} {})", request.method(), request.uri().path());
        MockReply {
            status: 404,
            content_type: "application/json",
            body: openai_error_body(&message, "invalid_request_error", "unknown_url"),
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(reply.content_type));
    headers.insert("x-request-id", hyper::header::HeaderValue::from_static("req_mock"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    fn quote_tool() -> Value {
        json!({"type": "function", "function": {
            "name": "get_quote",
            "description": "Latest quote",
            "parameters": {"type": "object", "properties": {"symbol": {"type": "string"},
                "days": {"type": "integer"}}, "required": ["symbol", "days"]},
        }})
    }

    fn reply_json(body: &Value) -> Value {
        let reply = ScriptedChat::new().reply(body.to_string().as_bytes());
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.content_type, "application/json");
        serde_json::from_str(&reply.body).unwrap()
    }

    /// One HTTP/1.1 request over a raw socket; returns (status line, headers+body text).
    async fn post(server: &MockChatServer, path: &str, body: &Value) -> (String, String) {
        let body = body.to_string();
        let mut socket = TcpStream::connect(server.address()).await.unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
             authorization: Bearer mock\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).await.unwrap();
        let (status, rest) = response.split_once("\r\n").unwrap();
        (status.to_owned(), rest.to_owned())
    }

    fn body_of(response: &str) -> &str {
        response.split_once("\r\n\r\n").unwrap().1
    }

    #[test]
    fn calls_the_first_tool_with_arguments_from_its_schema() {
        let response = reply_json(&json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": "You are an analyst."},
                         {"role": "user", "content": "What is the price of NVDA? I need it."}],
            "tools": [quote_tool()],
            "tool_choice": "auto",
        }));
        for key in ["id", "object", "created", "model", "choices", "usage", "system_fingerprint"] {
            assert!(response.get(key).is_some(), "missing {key}: {response}");
        }
        assert_eq!(response["object"], "chat.completion");
        assert_eq!(response["model"], "gpt-4o-mini");
        let choice = &response["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert!(choice["message"]["content"].is_null());
        let call = &choice["message"]["tool_calls"][0];
        assert_eq!(call["id"], "call_1");
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_quote");
        let arguments: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, json!({"symbol": "NVDA", "days": 1}));
        assert!(response["usage"]["total_tokens"].as_u64().unwrap() > 0);
    }

    #[test]
    fn delegate_work_gets_the_first_coworker_of_the_enum() {
        let delegate = json!({"type": "function", "function": {"name": "delegate_work", "parameters": {
            "type": "object",
            "properties": {"task": {"type": "string"}, "context": {"type": "string"},
                "coworker": {"type": "string", "enum": ["Market researcher", "Report writer"]}},
            "required": ["task", "context", "coworker"]}}});
        let response = reply_json(&json!({
            "model": "m", "messages": [{"role": "user", "content": "Research TSLA"}], "tools": [delegate],
        }));
        let arguments = response["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"].as_str();
        let arguments: Value = serde_json::from_str(arguments.unwrap()).unwrap();
        assert_eq!(arguments, json!({"task": "x", "context": "x", "coworker": "Market researcher"}));
    }

    #[test]
    fn answers_after_the_tool_result() {
        let response = reply_json(&json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "user", "content": "Price of NVDA?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_quote", "arguments": "{\"symbol\":\"NVDA\",\"days\":1}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "{\"price\": 123.4}"},
            ],
            "tools": [quote_tool()],
        }));
        let choice = &response["choices"][0];
        assert_eq!(choice["finish_reason"], "stop");
        assert!(choice["message"].get("tool_calls").is_none());
        assert_eq!(choice["message"]["content"], "Final Answer: get_quote returned {\"price\": 123.4}");
    }

    #[test]
    fn fills_a_research_note_schema() {
        let schema = json!({"type": "object", "additionalProperties": false,
            "properties": {
                "rating": {"type": "string", "enum": ["buy", "hold", "sell"]},
                "confidence": {"type": "number"},
                "horizon": {"type": "string"},
                "thesis": {"type": "string"},
                "risks": {"type": "array", "items": {"type": "string"}},
                "key_figures": {"type": "object", "additionalProperties": {"type": "number"}},
                "sources": {"type": "array", "items": {"type": "string"}},
                "symbol": {"type": "string"},
            },
            "required": ["rating", "confidence", "horizon", "thesis", "risks", "key_figures", "sources", "symbol"]});
        let response = reply_json(&json!({
            "model": "m",
            "messages": [{"role": "user", "content": "Write the note for MSFT"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "note", "strict": true, "schema": schema}},
        }));
        assert_eq!(response["choices"][0]["finish_reason"], "stop");
        let note: Value =
            serde_json::from_str(response["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
        assert_eq!(note["rating"], "hold");
        assert_eq!(note["confidence"], 0.6);
        assert_eq!(note["horizon"], "3-6 months");
        assert_eq!(note["key_figures"], json!({"rsi_14": 55.0}));
        assert_eq!(note["sources"], json!(["mock"]));
        assert_eq!(note["symbol"], "MSFT");
        assert!(note["thesis"].as_str().unwrap().contains("MSFT"));
        assert_eq!(note.as_object().unwrap().len(), 8);
    }

    #[test]
    fn fills_a_generic_schema() {
        let schema = json!({"type": "object", "properties": {
            "label": {"type": "string", "enum": ["up", "down"]}, "score": {"type": "number"},
            "count": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
            "extra": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            "note": {"anyOf": [{"type": "null"}, {"type": "string"}]}, "unused": {"type": "string"}},
            "required": ["label", "score", "count", "tags", "extra", "note"]});
        let response = reply_json(&json!({"model": "m", "messages": [{"role": "user", "content": "go"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}}));
        let content: Value =
            serde_json::from_str(response["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
        assert_eq!(
            content,
            json!({"label": "up", "score": 0.5, "count": 1, "tags": [], "extra": {"a": "x"}, "note": "x"})
        );
    }

    #[test]
    fn react_prompts_get_action_then_final_answer() {
        let system = "You are an analyst.\nTool Name: get_quote\nTool Arguments: {}\n\
                      Use this format:\nThought: ...\nAction: ...\nAction Input: ...\nFinal Answer: ...";
        let mut messages = vec![
            json!({"role": "system", "content": system}),
            json!({"role": "user", "content": "Current Task: quote AMD"}),
        ];
        let first = reply_json(&json!({"model": "m", "messages": messages}));
        let text = first["choices"][0]["message"]["content"].as_str().unwrap().to_owned();
        assert!(text.contains("Action: get_quote\nAction Input: {\"symbol\":\"AMD\"}"), "{text}");
        messages.push(json!({"role": "assistant", "content": text}));
        messages.push(json!({"role": "user", "content": "Observation: {\"price\": 1}"}));
        let second = reply_json(&json!({"model": "m", "messages": messages}));
        let text = second["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(text.contains("Final Answer: the tool returned {\"price\": 1}"), "{text}");
    }

    #[test]
    fn tickers_skip_common_words() {
        assert_eq!(first_ticker("I think A MUST look at $NVDA, not AMD"), Some("NVDA"));
        assert_eq!(first_ticker("nothing here, Really"), None);
        assert_eq!(first_ticker("TOOLONG words"), None);
    }

    #[tokio::test]
    async fn streams_a_tool_call_and_ends_with_done() {
        let server = MockChatServer::start().await.unwrap();
        let request = json!({
            "model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "Price of NVDA?"}], "tools": [quote_tool()],
        });
        let (status, response) = post(&server, CHAT_COMPLETIONS_PATH, &request).await;
        assert!(status.ends_with("200 OK"), "{status}");
        assert!(response.to_ascii_lowercase().contains("content-type: text/event-stream"), "{response}");
        let body = body_of(&response);
        assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
        let chunks: Vec<Value> = body
            .split("\n\n")
            .filter_map(|event| event.strip_prefix("data: "))
            .filter(|data| *data != "[DONE]")
            .map(|data| serde_json::from_str(data).unwrap())
            .collect();
        assert_eq!(chunks[0]["object"], "chat.completion.chunk");
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[0]["choices"][0]["delta"]["tool_calls"][0]["id"], "call_1");
        let arguments: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
            .collect();
        assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap(), json!({"symbol": "NVDA", "days": 1}));
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        let usage = chunks.last().unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert!(usage["usage"]["total_tokens"].as_u64().unwrap() > 0);
        assert_eq!(server.requests_served(), 1);
    }

    #[tokio::test]
    async fn streams_content_in_fragments() {
        let server = MockChatServer::start().await.unwrap();
        let request = json!({"model": "m", "stream": true,
            "messages": [{"role": "user", "content": "Summarise the week for AAPL and MSFT please"}]});
        let (_, response) = post(&server, CHAT_COMPLETIONS_PATH, &request).await;
        let body = body_of(&response);
        assert!(body.ends_with("data: [DONE]\n\n"));
        let chunks: Vec<Value> = body
            .split("\n\n")
            .filter_map(|event| event.strip_prefix("data: "))
            .filter(|data| *data != "[DONE]")
            .map(|data| serde_json::from_str(data).unwrap())
            .collect();
        let text: String =
            chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(text, "Final Answer: done: Summarise the week for AAPL and MSFT please");
        assert!(chunks.len() > 4);
        assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    }

    #[tokio::test]
    async fn injected_failures_come_first() {
        let server = MockChatServer::start_failing_first(2, 429, rate_limit_body()).await.unwrap();
        let request = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        for _ in 0..2 {
            let (status, response) = post(&server, CHAT_COMPLETIONS_PATH, &request).await;
            assert!(status.contains(" 429 "), "{status}");
            let error: Value = serde_json::from_str(body_of(&response)).unwrap();
            assert_eq!(error["error"]["code"], "rate_limit_exceeded");
        }
        let (status, _) = post(&server, CHAT_COMPLETIONS_PATH, &request).await;
        assert!(status.ends_with("200 OK"), "{status}");
        let (status, _) = post(&server, "/v1/other", &request).await;
        assert!(status.contains(" 404 "), "{status}");
        assert_eq!(server.requests_served(), 3);
    }

    #[tokio::test]
    async fn mounts_on_wiremock() {
        let server = wiremock::MockServer::builder().disable_request_recording().start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path(CHAT_COMPLETIONS_PATH))
            .respond_with(ScriptedChat::new())
            .mount(&server)
            .await;
        let mut socket = TcpStream::connect(server.address()).await.unwrap();
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string();
        let request = format!(
            "POST {CHAT_COMPLETIONS_PATH} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("Final Answer: done: hi"), "{response}");
    }
}
