//! The wire format of OpenAI-compatible chat completions, and its translation to and from the
//! model-neutral types.
//!
//! Requests are built and responses parsed with `async-openai`'s types (types only: no client,
//! no second HTTP stack), so field names and shapes follow OpenAI's published schema. Those
//! types are strict where the servers we talk to are not: an unknown `finish_reason` (vLLM's
//! `abort`), a missing `role` or tool-call `type`, an `index`-less streamed tool call (older
//! Ollama), arguments sent as an object, or a `service_tier` value newer than the crate would
//! each fail the whole answer. So a body is first read as `serde_json::Value`, reduced to the
//! fields we use in their canonical shape ([`normalize_completion`]), and only then deserialized.
//! The same pass collects what the types cannot hold: the raw `finish_reason` and the thinking
//! text (Ollama `reasoning`, vLLM `reasoning_content` or `reasoning`). Error bodies use a lenient
//! reader of our own because vLLM sends an integer `code` and older vLLM a flat
//! `{"object":"error",…}`, neither of which async-openai's `ApiError` accepts.

use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls, ChatCompletionNamedToolChoice,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestToolMessage,
    ChatCompletionRequestToolMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionStreamOptions, ChatCompletionTool,
    ChatCompletionToolChoiceOption, ChatCompletionTools, CompletionUsage, CreateChatCompletionRequest,
    CreateChatCompletionResponse, CreateChatCompletionStreamResponse, FunctionCall, FunctionName,
    FunctionObject, ResponseFormat as WireResponseFormat, ResponseFormatJsonSchema, ToolChoiceOptions,
};
use outbound::BodySummary;
use serde_json::{Map, Value};

use crate::types::{
    ChatRequest, ChatResponse, FinishReason, Message, ResponseFormat, ToolCall, ToolChoice, Usage,
};

/// What the client adds to a request from its config.
#[derive(Debug, Clone)]
pub(crate) struct RequestOptions<'a> {
    pub(crate) model: &'a str,
    pub(crate) default_temperature: Option<f32>,
    pub(crate) json_mode: bool,
    pub(crate) stream: bool,
}

/// Builds the request body.
pub(crate) fn build_request(
    request: &ChatRequest,
    options: &RequestOptions<'_>,
) -> CreateChatCompletionRequest {
    let mut body = CreateChatCompletionRequest {
        model: options.model.to_owned(),
        messages: request.messages.iter().map(to_wire_message).collect(),
        ..Default::default()
    };
    if !request.tools.is_empty() {
        body.tools = Some(
            request
                .tools
                .iter()
                .map(|tool| {
                    ChatCompletionTools::Function(ChatCompletionTool {
                        function: FunctionObject {
                            name: tool.name.clone(),
                            description: Some(tool.description.clone()).filter(|d| !d.is_empty()),
                            parameters: Some(tool.parameters.clone()),
                            strict: None,
                        },
                    })
                })
                .collect(),
        );
        // OpenAI refuses `tool_choice` without `tools`, so it is only sent alongside them.
        body.tool_choice = Some(match &request.tool_choice {
            ToolChoice::Auto => ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::Auto),
            ToolChoice::None => ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::None),
            ToolChoice::Required => ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::Required),
            ToolChoice::Function(name) => {
                ChatCompletionToolChoiceOption::Function(ChatCompletionNamedToolChoice {
                    function: FunctionName { name: name.clone() },
                })
            }
        });
    }
    if options.json_mode {
        body.response_format = match &request.response_format {
            ResponseFormat::Text => None,
            ResponseFormat::JsonObject => Some(WireResponseFormat::JsonObject),
            ResponseFormat::JsonSchema { name, schema } => Some(WireResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: None,
                    name: name.clone(),
                    schema: schema.clone(),
                    // Strict mode only accepts a subset of JSON Schema (every property required,
                    // no additional properties); our schemas are written for validation, not
                    // for it, and Ollama/vLLM ignore the flag anyway.
                    strict: Some(false),
                },
            }),
        };
    }
    body.temperature = request.temperature.or(options.default_temperature);
    // `max_tokens`, not `max_completion_tokens`: Ollama and llama.cpp only read the former, and
    // OpenAI still accepts it for chat models.
    #[allow(deprecated)]
    {
        body.max_tokens = request.max_tokens;
    }
    body.stream = Some(options.stream);
    if options.stream {
        body.stream_options =
            Some(ChatCompletionStreamOptions { include_usage: Some(true), include_obfuscation: None });
    }
    body
}

fn to_wire_message(message: &Message) -> ChatCompletionRequestMessage {
    match message {
        Message::System { content } => {
            ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
                content: ChatCompletionRequestSystemMessageContent::Text(content.clone()),
                name: None,
            })
        }
        Message::User { content } => ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
            content: ChatCompletionRequestUserMessageContent::Text(content.clone()),
            name: None,
        }),
        Message::Assistant { content, tool_calls } => {
            let content = match content {
                Some(text) if !text.is_empty() || tool_calls.is_empty() => Some(text.clone()),
                // `content` may only be absent when there are tool calls.
                None if tool_calls.is_empty() => Some(String::new()),
                _ => None,
            };
            ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                content: content.map(ChatCompletionRequestAssistantMessageContent::Text),
                tool_calls: (!tool_calls.is_empty()).then(|| {
                    tool_calls
                        .iter()
                        .map(|call| {
                            ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                                id: call.id.clone(),
                                function: FunctionCall {
                                    name: call.name.clone(),
                                    arguments: call.arguments.clone(),
                                },
                            })
                        })
                        .collect()
                }),
                ..Default::default()
            })
        }
        Message::Tool { tool_call_id, content } => {
            ChatCompletionRequestMessage::Tool(ChatCompletionRequestToolMessage {
                content: ChatCompletionRequestToolMessageContent::Text(content.clone()),
                tool_call_id: tool_call_id.clone(),
            })
        }
    }
}

/// Why a body could not be turned into an answer.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The server reported an error inside the body (a 200 with `{"error":…}`, or mid-stream).
    Api(ApiErrorBody),
    /// Not what the protocol promises; the message is short and unredacted.
    Malformed(String),
}

/// What the normalizing pass kept beside the typed value, per choice.
#[derive(Debug, Default, Clone)]
pub(crate) struct ChoiceExtras {
    pub(crate) finish_reason: Option<String>,
    pub(crate) reasoning: Option<String>,
}

/// Parses a non-streaming answer.
pub(crate) fn parse_completion(body: &[u8]) -> Result<ChatResponse, BodyError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| BodyError::Malformed(json_error(body, &e)))?;
    if let Some(error) = error_in_value(&value) {
        return Err(BodyError::Api(error));
    }
    let (normalized, extras) = normalize_completion(&value, "message")?;
    let response: CreateChatCompletionResponse = serde_json::from_value(normalized)
        .map_err(|e| BodyError::Malformed(format!("unexpected answer shape: {e}")))?;
    let choice =
        response.choices.into_iter().next().ok_or_else(|| BodyError::Malformed("no choices".to_owned()))?;
    let extra = extras.into_iter().next().unwrap_or_default();
    let tool_calls: Vec<ToolCall> = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(|call| match call {
            ChatCompletionMessageToolCalls::Function(call) => {
                ToolCall { id: call.id, name: call.function.name, arguments: call.function.arguments }
            }
            ChatCompletionMessageToolCalls::Custom(call) => {
                ToolCall { id: call.id, name: call.custom_tool.name, arguments: call.custom_tool.input }
            }
        })
        .collect();
    let content = choice.message.content.filter(|text| !text.is_empty() || tool_calls.is_empty());
    let finish_reason = finish_reason(extra.finish_reason.as_deref(), !tool_calls.is_empty());
    Ok(ChatResponse {
        content,
        tool_calls,
        finish_reason,
        usage: usage(response.usage.as_ref()),
        model: response.model,
        reasoning: extra.reasoning,
    })
}

/// One parsed stream chunk.
#[derive(Debug)]
pub(crate) struct StreamChunk {
    pub(crate) chunk: CreateChatCompletionStreamResponse,
    pub(crate) extras: Vec<ChoiceExtras>,
}

/// Parses the JSON of one SSE `data:` event.
pub(crate) fn parse_chunk(data: &str) -> Result<StreamChunk, BodyError> {
    let value: Value =
        serde_json::from_str(data).map_err(|e| BodyError::Malformed(json_error(data.as_bytes(), &e)))?;
    if let Some(error) = error_in_value(&value) {
        return Err(BodyError::Api(error));
    }
    let (normalized, extras) = normalize_completion(&value, "delta")?;
    let chunk = serde_json::from_value(normalized)
        .map_err(|e| BodyError::Malformed(format!("unexpected stream chunk shape: {e}")))?;
    Ok(StreamChunk { chunk, extras })
}

/// Maps the server's `finish_reason`. Some servers (vLLM with some parsers, llama.cpp) say
/// `stop` although the message carries tool calls; the engine branches on the reason, so tool
/// calls win.
pub(crate) fn finish_reason(raw: Option<&str>, has_tool_calls: bool) -> FinishReason {
    let reason = match raw {
        None | Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(_) => FinishReason::Other,
    };
    if has_tool_calls && reason == FinishReason::Stop { FinishReason::ToolCalls } else { reason }
}

pub(crate) fn usage(usage: Option<&CompletionUsage>) -> Usage {
    usage.map_or_else(Usage::default, |u| Usage {
        prompt_tokens: u64::from(u.prompt_tokens),
        completion_tokens: u64::from(u.completion_tokens),
        total_tokens: u64::from(u.total_tokens),
    })
}

/// Reduces a completion (or chunk) to the fields we read, in the shape async-openai expects.
/// `message_key` is `message` for a completion and `delta` for a stream chunk.
fn normalize_completion(value: &Value, message_key: &str) -> Result<(Value, Vec<ChoiceExtras>), BodyError> {
    let object =
        value.as_object().ok_or_else(|| BodyError::Malformed("answer is not a JSON object".to_owned()))?;
    let choices = match object.get("choices") {
        Some(Value::Array(choices)) => choices.as_slice(),
        // A streamed usage chunk may carry `choices: null`; a completion without choices is
        // reported by the caller.
        Some(Value::Null) | None if message_key == "delta" => &[],
        _ => return Err(BodyError::Malformed("no choices".to_owned())),
    };
    let mut out = Map::new();
    out.insert("id".into(), string_or_empty(object.get("id")));
    out.insert("object".into(), string_or_empty(object.get("object")));
    out.insert("model".into(), string_or_empty(object.get("model")));
    let created =
        object.get("created").and_then(Value::as_u64).and_then(|c| u32::try_from(c).ok()).unwrap_or(0);
    out.insert("created".into(), created.into());
    out.insert("usage".into(), normalize_usage(object.get("usage")));
    let mut extras = Vec::with_capacity(choices.len());
    let mut normalized_choices = Vec::with_capacity(choices.len());
    for (position, choice) in choices.iter().enumerate() {
        let Some(choice) = choice.as_object() else { continue };
        let raw_finish = choice.get("finish_reason").and_then(Value::as_str).map(str::to_owned);
        let message = choice.get(message_key).and_then(Value::as_object);
        let reasoning = message.and_then(|m| {
            ["reasoning_content", "reasoning"].iter().find_map(|key| {
                m.get(*key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
            })
        });
        let mut normalized = Map::new();
        let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        normalized.insert("index".into(), index.into());
        let known = matches!(
            raw_finish.as_deref(),
            Some("stop" | "length" | "tool_calls" | "content_filter" | "function_call")
        );
        normalized
            .insert("finish_reason".into(), if known { raw_finish.clone().into() } else { Value::Null });
        normalized.insert(message_key.into(), normalize_message(message, message_key == "delta"));
        normalized_choices.push(Value::Object(normalized));
        extras.push(ChoiceExtras { finish_reason: raw_finish, reasoning });
    }
    out.insert("choices".into(), Value::Array(normalized_choices));
    Ok((Value::Object(out), extras))
}

fn normalize_message(message: Option<&Map<String, Value>>, is_delta: bool) -> Value {
    let mut out = Map::new();
    let Some(message) = message else {
        if !is_delta {
            out.insert("role".into(), "assistant".into());
        }
        return Value::Object(out);
    };
    let role = message.get("role").and_then(Value::as_str);
    match role {
        Some(role @ ("developer" | "system" | "user" | "assistant" | "tool" | "function")) => {
            out.insert("role".into(), role.into());
        }
        _ if !is_delta => {
            out.insert("role".into(), "assistant".into());
        }
        _ => {}
    }
    if let Some(content) = text_of(message.get("content")) {
        out.insert("content".into(), content.into());
    }
    if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
        out.insert("refusal".into(), refusal.into());
    }
    if let Some(Value::Array(calls)) = message.get("tool_calls") {
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .filter_map(|(position, call)| normalize_tool_call(call.as_object()?, position, is_delta))
            .collect();
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    Value::Object(out)
}

fn normalize_tool_call(call: &Map<String, Value>, position: usize, is_delta: bool) -> Option<Value> {
    let function = call.get("function").and_then(Value::as_object);
    let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
    // Arguments are a JSON string; a server that sends an object gets it re-encoded.
    let arguments = function.and_then(|f| f.get("arguments")).and_then(|a| match a {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    });
    let id = call.get("id").and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut out = Map::new();
    if is_delta {
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        out.insert("index".into(), index.into());
        if let Some(id) = id {
            out.insert("id".into(), id.into());
        }
        let mut function = Map::new();
        if let Some(name) = name {
            function.insert("name".into(), name.into());
        }
        if let Some(arguments) = arguments {
            function.insert("arguments".into(), arguments.into());
        }
        out.insert("function".into(), Value::Object(function));
    } else {
        if call.get("type").and_then(Value::as_str).is_some_and(|t| t != "function") {
            // Custom (free-text) tools: we never offer them, so a call to one is dropped.
            return None;
        }
        out.insert("type".into(), "function".into());
        out.insert("id".into(), id.map_or_else(|| format!("call_{position}"), str::to_owned).into());
        let function = serde_json::json!({
            "name": name.unwrap_or_default(),
            "arguments": arguments.unwrap_or_default(),
        });
        out.insert("function".into(), function);
    }
    Some(Value::Object(out))
}

/// `content` as text: a string, or the texts of `[{"type":"text","text":…}]` parts joined.
fn text_of(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            Some(parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<String>())
        }
        _ => None,
    }
}

fn normalize_usage(usage: Option<&Value>) -> Value {
    let Some(usage) = usage.and_then(Value::as_object) else { return Value::Null };
    let count =
        |key: &str| usage.get(key).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
    let (prompt, completion) = (count("prompt_tokens"), count("completion_tokens"));
    let total = usage
        .get("total_tokens")
        .and_then(Value::as_u64)
        .map_or(prompt.saturating_add(completion), |n| u32::try_from(n).unwrap_or(u32::MAX));
    serde_json::json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total})
}

fn string_or_empty(value: Option<&Value>) -> Value {
    value.and_then(Value::as_str).unwrap_or_default().into()
}

/// An error reported by the server, read leniently from any of the shapes in use.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ApiErrorBody {
    pub(crate) message: String,
    /// `type` (`invalid_request_error`, `BadRequestError`, `not_found_error`, …).
    pub(crate) kind: Option<String>,
    /// `code` as text (`rate_limit_exceeded`, `insufficient_quota`, or vLLM's `400`).
    pub(crate) code: Option<String>,
    /// vLLM's integer `code`, which is the HTTP status (useful for mid-stream errors).
    pub(crate) status: Option<u16>,
}

/// Reads an error body: OpenAI/Ollama/new vLLM `{"error":{"message",…}}`, `{"error":"text"}`,
/// and old vLLM's flat `{"object":"error","message",…}`.
pub(crate) fn parse_error_body(body: &[u8]) -> Option<ApiErrorBody> {
    let value: Value = serde_json::from_slice(body).ok()?;
    error_in_value(&value)
}

fn error_in_value(value: &Value) -> Option<ApiErrorBody> {
    let object = value.as_object()?;
    match object.get("error") {
        Some(Value::Object(error)) => Some(error_fields(error)),
        Some(Value::String(message)) => Some(ApiErrorBody { message: message.clone(), ..Default::default() }),
        _ if object.get("object").and_then(Value::as_str) == Some("error") => Some(error_fields(object)),
        _ => None,
    }
}

fn error_fields(error: &Map<String, Value>) -> ApiErrorBody {
    let text =
        |key: &str| error.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let (code, status) = match error.get("code") {
        Some(Value::String(code)) => (Some(code.clone()), None),
        Some(Value::Number(n)) => (Some(n.to_string()), n.as_u64().and_then(|n| u16::try_from(n).ok())),
        _ => (None, None),
    };
    ApiErrorBody { message: text("message").unwrap_or_default(), kind: text("type"), code, status }
}

/// A short description of an unparsable body: an HTML page by its title, else an excerpt.
pub(crate) fn excerpt(body: &[u8]) -> String {
    match outbound::summarize(body, 200) {
        BodySummary::Html { title: Some(title) } => format!("HTML page instead of JSON: {title}"),
        BodySummary::Html { title: None } => "HTML page instead of JSON".to_owned(),
        BodySummary::Empty => "empty body".to_owned(),
        BodySummary::Text(text) => text,
    }
}

fn json_error(body: &[u8], error: &serde_json::Error) -> String {
    if error.is_eof() {
        format!("truncated JSON ({} bytes): {error}", body.len())
    } else if outbound::is_html(body) {
        excerpt(body)
    } else {
        format!("invalid JSON ({error}): {}", excerpt(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ToolSpec;

    #[test]
    fn request_matches_the_documented_shape() {
        let request = ChatRequest {
            messages: vec![Message::user("Price of NVDA?")],
            tools: vec![ToolSpec {
                name: "get_quote".into(),
                description: String::new(),
                parameters: serde_json::json!({"type":"object","properties":{"symbol":{"type":"string"}},"required":["symbol"]}),
            }],
            ..Default::default()
        };
        let options = RequestOptions {
            model: "gpt-4o-mini",
            default_temperature: Some(0.0),
            json_mode: true,
            stream: false,
        };
        let body = serde_json::to_value(build_request(&request, &options)).unwrap();
        let expected = serde_json::json!({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Price of NVDA?"}],
            "tools":[{"type":"function","function":{"name":"get_quote","parameters":{"type":"object","properties":{"symbol":{"type":"string"}},"required":["symbol"]}}}],
            "tool_choice":"auto","temperature":0.0,"stream":false});
        assert_eq!(body, expected);
    }

    #[test]
    fn tool_choice_and_formats() {
        let mut request = ChatRequest {
            messages: vec![Message::user("x")],
            tools: vec![ToolSpec {
                name: "t".into(),
                description: "d".into(),
                parameters: serde_json::json!({}),
            }],
            tool_choice: ToolChoice::Function("t".into()),
            response_format: ResponseFormat::JsonObject,
            ..Default::default()
        };
        let options = RequestOptions { model: "m", default_temperature: None, json_mode: true, stream: true };
        let body = serde_json::to_value(build_request(&request, &options)).unwrap();
        assert_eq!(body["tool_choice"], serde_json::json!({"type":"function","function":{"name":"t"}}));
        assert_eq!(body["response_format"], serde_json::json!({"type":"json_object"}));
        assert_eq!(body["stream_options"], serde_json::json!({"include_usage":true}));
        assert!(body.get("temperature").is_none());
        request.tool_choice = ToolChoice::Required;
        let off = RequestOptions { json_mode: false, ..options };
        let body = serde_json::to_value(build_request(&request, &off)).unwrap();
        assert_eq!(body["tool_choice"], "required");
        assert!(body.get("response_format").is_none());
    }

    #[test]
    fn error_shapes() {
        let openai = br#"{"error":{"message":"m","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let parsed = parse_error_body(openai).unwrap();
        assert_eq!(parsed.code.as_deref(), Some("insufficient_quota"));
        let vllm = br#"{"error":{"message":"bad","type":"BadRequestError","param":null,"code":400}}"#;
        assert_eq!(parse_error_body(vllm).unwrap().status, Some(400));
        let flat = br#"{"object":"error","message":"old","type":"BadRequestError","param":null,"code":400}"#;
        assert_eq!(parse_error_body(flat).unwrap().message, "old");
        assert_eq!(parse_error_body(br#"{"error":"plain"}"#).unwrap().message, "plain");
        assert!(parse_error_body(b"<html>").is_none());
    }

    #[test]
    fn lenient_completion() {
        let body = br#"{"choices":[{"message":{"content":"","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]},"finish_reason":"abort"}]}"#;
        let response = parse_completion(body).unwrap();
        assert_eq!(response.content, None);
        assert_eq!(
            response.tool_calls,
            vec![ToolCall { id: "call_0".into(), name: "f".into(), arguments: r#"{"a":1}"#.into() }]
        );
        assert_eq!(response.finish_reason, FinishReason::Other);
        assert_eq!(response.usage, Usage::default());
    }

    #[test]
    fn excerpts() {
        assert_eq!(
            excerpt(b"<html><head><title>502 Bad Gateway</title></head></html>"),
            "HTML page instead of JSON: 502 Bad Gateway"
        );
        assert_eq!(excerpt(b"  "), "empty body");
    }
}
