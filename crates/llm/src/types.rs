//! The model-neutral vocabulary of a chat turn: what the engine sends and what comes back.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    System {
        content: String,
    },
    User {
        content: String,
    },
    /// An assistant turn; echoed back verbatim so the model sees its own tool calls.
    Assistant {
        content: Option<String>,
        tool_calls: Vec<ToolCall>,
    },
    /// The result (or error text) of one tool call.
    Tool {
        tool_call_id: String,
        content: String,
    },
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self::System { content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::User { content: content.into() }
    }
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self::Tool { tool_call_id: tool_call_id.into(), content: content.into() }
    }
}

/// A tool call as the model made it. `arguments` is the raw JSON *string* the server sent: it
/// may be invalid, and the engine (not the client) decides what to do about that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A tool offered to the model: a name, what it is for, and a JSON schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ToolChoice {
    #[default]
    Auto,
    None,
    Required,
    Function(String),
}

/// The shape of the answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ResponseFormat {
    #[default]
    Text,
    /// Any JSON object (`{"type":"json_object"}`).
    JsonObject,
    /// Structured output against a JSON schema (`{"type":"json_schema",...}`).
    JsonSchema { name: String, schema: serde_json::Value },
}

/// One chat-completion request, model-neutral.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: ToolChoice,
    pub response_format: ResponseFormat,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    #[default]
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    /// A value this client does not know; kept so nothing fails on a new server.
    Other,
}

impl FinishReason {
    /// The wire spelling: `stop`, `length`, `tool_calls`, `content_filter`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::Other => "other",
        }
    }
}

/// Token counts of one call (zero when the server did not say).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// The answer to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatResponse {
    /// The text (`None` or empty when the model only called tools; Ollama sends `""`).
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// The model that answered, as the server names it (e.g. `gpt-4o-mini-2024-07-18`, `offline`).
    pub model: String,
    /// Thinking text (`reasoning` / `reasoning_content`) when the server sends it.
    pub reasoning: Option<String>,
}

/// What a streaming call reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of the answer's text.
    Content(String),
    /// A piece of thinking text.
    Reasoning(String),
    /// The model started a tool call (its name is known; arguments still arriving).
    ToolCall { index: u32, name: String },
}

/// Receives stream events; called on the task running the request, so it must be quick.
pub type StreamSink<'a> = &'a (dyn Fn(StreamEvent) + Send + Sync);

/// Why a call failed. Messages are redacted: no API key ever appears in one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("the model server refused the API key (401): {message}")]
    Unauthorized { message: String },
    #[error("the account has no quota left (429 insufficient_quota): {message}")]
    QuotaExceeded { message: String },
    #[error("rate limited (429) after {attempts} attempt(s): {message}")]
    RateLimited { message: String, attempts: u32, retry_after: Option<Duration> },
    #[error("the model server failed ({status}) after {attempts} attempt(s): {message}")]
    Server { status: u16, message: String, attempts: u32 },
    #[error("the request was refused ({status}): {message}")]
    InvalidRequest { status: u16, message: String },
    #[error("the conversation is longer than the model's context: {message}")]
    ContextLength { message: String },
    #[error("no answer within {after:?}")]
    Timeout { after: Duration },
    #[error("cannot reach the model server: {message}")]
    Connection { message: String },
    #[error("malformed answer from the model server: {message}")]
    Malformed { message: String },
    #[error("LLM not configured: {message}")]
    NotConfigured { message: String },
}

impl LlmError {
    /// True for failures worth another attempt (429 rate limits, 5xx, timeouts, connection
    /// drops) — never for an exhausted quota or a refused key.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Timeout { .. } | Self::Connection { .. }
        )
    }

    /// A short stable label for traces and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "unauthorized",
            Self::QuotaExceeded { .. } => "quota_exceeded",
            Self::RateLimited { .. } => "rate_limited",
            Self::Server { .. } => "server_error",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::ContextLength { .. } => "context_length",
            Self::Timeout { .. } => "timeout",
            Self::Connection { .. } => "connection",
            Self::Malformed { .. } => "malformed",
            Self::NotConfigured { .. } => "not_configured",
        }
    }
}

/// A chat model: an OpenAI-compatible server or the offline model.
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// The label recorded with every note and trace, e.g. `openai:gpt-4o-mini` or `offline`.
    fn label(&self) -> String;

    /// One completion.
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError>;

    /// One completion, reporting text and tool calls as they arrive. The default calls
    /// [`chat`](Self::chat) and reports the whole text at once.
    async fn chat_streaming(
        &self,
        request: &ChatRequest,
        sink: StreamSink<'_>,
    ) -> Result<ChatResponse, LlmError> {
        let response = self.chat(request).await?;
        for (index, call) in response.tool_calls.iter().enumerate() {
            sink(StreamEvent::ToolCall {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                name: call.name.clone(),
            });
        }
        if let Some(content) = response.content.as_ref().filter(|c| !c.is_empty()) {
            sink(StreamEvent::Content(content.clone()));
        }
        Ok(response)
    }
}
