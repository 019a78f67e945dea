//! The wire format of the answers: chat-completion bodies, SSE chunks and OpenAI error bodies.

use serde_json::{Value, json};

/// The `created` timestamp of every response (fixed, so answers are deterministic).
const CREATED: u64 = 1_714_760_000;

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

pub(super) fn bad_request(message: &str) -> MockReply {
    MockReply {
        status: 400,
        content_type: "application/json",
        body: openai_error_body(message, "invalid_request_error", "invalid_request_error"),
    }
}

/// What the assistant says.
#[derive(Debug, PartialEq)]
pub(super) enum Turn {
    ToolCall { id: String, name: String, arguments: String },
    Content(String),
}

/// The `n`th response (0-based, it numbers the id): `turn` as a chat completion, or as SSE
/// chunks when `request` asks for a stream.
pub(super) fn completion(request: &Value, turn: Turn, n: u64) -> MockReply {
    let messages = request["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
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
