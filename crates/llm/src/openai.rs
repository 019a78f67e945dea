//! The client for any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM,
//! llama.cpp).
//!
//! Like the market-data providers, the client owns exactly one [`outbound::Client`] (bounded
//! idle pool, connect timeout, idle timeout, requests in flight bounded by
//! `max_concurrent_requests`), so dropping the client closes its connections and nothing it
//! starts outlives a call. Failures are typed ([`LlmError`]): rate limits, 5xx, timeouts and
//! dropped connections are retried with exponential backoff and jitter (honouring the server's
//! wait: `retry-after-ms`, `Retry-After`, `x-ratelimit-reset-*`), while an exhausted quota, a
//! refused key or a refused request fail at once. A streamed answer is retried only until its
//! body starts: after that the sink has seen part of an answer that a retry would contradict.

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use outbound::{Client, Exchange, Failure, Retryable, Vendor};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use crate::config::LlmConfig;
use crate::stream::{Assembler, SseParser};
use crate::types::{ChatModel, ChatRequest, ChatResponse, LlmError, StreamEvent, StreamSink};
use crate::wire::{self, ApiErrorBody, BodyError, RequestOptions};

/// Every HTTP attempt, labelled `model` and `outcome` (`ok` or the error kind); counted by the
/// `outbound` client (metric prefix `llm`).
pub const LLM_REQUESTS_TOTAL: &str = "llm_requests_total";
/// Duration of every HTTP attempt in seconds, labelled `model`; recorded by the `outbound` client.
pub const LLM_REQUEST_SECONDS: &str = "llm_request_seconds";
/// Prompt tokens of successful calls, labelled `model`.
pub const LLM_PROMPT_TOKENS_TOTAL: &str = "llm_prompt_tokens_total";
/// Completion tokens of successful calls, labelled `model`.
pub const LLM_COMPLETION_TOKENS_TOTAL: &str = "llm_completion_tokens_total";

/// Error bodies are only read for their message, so a smaller bound than for answers suffices.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// A chat model served over the OpenAI chat-completions API. See the module docs.
pub struct OpenAiClient {
    http: Client<OpenAi>,
    url: String,
    model: String,
    /// What a call is, in log lines: `gpt-4o-mini chat completion`.
    what: String,
    temperature: Option<f32>,
    json_mode: bool,
    stream: bool,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("url", &self.url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// One failed attempt and whether another may follow: the retry loop's view of an [`LlmError`].
struct AttemptError {
    error: LlmError,
    /// The server's requested wait, if any: for any failed status, not only 429.
    hint: Option<Duration>,
    /// False once a streamed body has started.
    may_retry: bool,
}

impl AttemptError {
    fn retryable(error: LlmError) -> Self {
        Self { error, hint: None, may_retry: true }
    }

    fn final_(error: LlmError) -> Self {
        Self { error, hint: None, may_retry: false }
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl Retryable for AttemptError {
    fn is_retryable(&self) -> bool {
        self.may_retry && self.error.is_retryable()
    }

    fn retry_after(&self) -> Option<Duration> {
        self.hint
    }

    fn kind(&self) -> &'static str {
        self.error.kind()
    }
}

/// The vendor side of the client: failures become [`LlmError`]s.
struct OpenAi;

impl Vendor for OpenAi {
    type Error = AttemptError;

    fn failure(&self, _what: &str, failure: Failure) -> AttemptError {
        match failure {
            Failure::Timeout { after } => AttemptError::retryable(LlmError::Timeout { after }),
            Failure::Transport { message } => AttemptError::retryable(LlmError::Connection { message }),
            Failure::TooLarge { limit } => AttemptError::final_(LlmError::Malformed {
                message: format!("answer larger than {limit} bytes refused"),
            }),
            Failure::RateLimited { wait, .. } => AttemptError {
                error: LlmError::RateLimited {
                    message: failure.to_string(),
                    attempts: 1,
                    retry_after: Some(wait),
                },
                hint: Some(wait),
                may_retry: true,
            },
            Failure::ShuttingDown => {
                AttemptError::final_(LlmError::NotConfigured { message: failure.to_string() })
            }
        }
    }
}

impl OpenAiClient {
    /// Builds the client from its config.
    ///
    /// # Errors
    /// `NotConfigured` when the config is invalid or the TLS stack cannot start.
    pub fn new(config: &LlmConfig) -> Result<Self, LlmError> {
        config.validate().map_err(|message| LlmError::NotConfigured { message: format!("llm.{message}") })?;
        let http = Client::new(config.client_config(), OpenAi)
            .map_err(|e| LlmError::NotConfigured { message: e.to_string() })?;
        Ok(Self {
            http,
            url: config.chat_url(),
            model: config.model.clone(),
            what: format!("{} chat completion", config.model),
            temperature: config.temperature,
            json_mode: config.json_mode,
            stream: config.stream,
        })
    }

    /// The configured model name (what is sent, not what the server reports back).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Runs one call with retries; streams to `sink` when given.
    async fn call(
        &self,
        request: &ChatRequest,
        sink: Option<StreamSink<'_>>,
    ) -> Result<ChatResponse, LlmError> {
        let options = RequestOptions {
            model: &self.model,
            default_temperature: self.temperature,
            json_mode: self.json_mode,
            stream: sink.is_some(),
        };
        let body = serde_json::to_vec(&wire::build_request(request, &options)).map_err(|e| {
            LlmError::InvalidRequest { status: 0, message: format!("cannot encode the request: {e}") }
        })?;
        let body = Bytes::from(body);
        let started = Instant::now();
        let mut attempts = 0;
        let result = self
            .http
            .call(&self.what, |exchange| {
                attempts = exchange.number();
                self.attempt(exchange, &body, sink)
            })
            .await;
        let response = result.map_err(|failure| failure.error)?;
        metrics::counter!(LLM_PROMPT_TOKENS_TOTAL, "model" => self.model.clone())
            .increment(response.usage.prompt_tokens);
        metrics::counter!(LLM_COMPLETION_TOKENS_TOTAL, "model" => self.model.clone())
            .increment(response.usage.completion_tokens);
        tracing::debug!(
            model = %self.model,
            served_by = %response.model,
            attempts,
            latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            prompt_tokens = response.usage.prompt_tokens,
            completion_tokens = response.usage.completion_tokens,
            finish_reason = ?response.finish_reason,
            n_tool_calls = response.tool_calls.len(),
            "Chat completion finished."
        );
        Ok(response)
    }

    /// One HTTP exchange; the client holds its in-flight permit until the body is read.
    async fn attempt(
        &self,
        exchange: Exchange<'_, OpenAi>,
        body: &Bytes,
        sink: Option<StreamSink<'_>>,
    ) -> Result<ChatResponse, AttemptError> {
        let attempts = exchange.number();
        let builder =
            exchange.http().post(&self.url).header(CONTENT_TYPE, "application/json").body(body.clone());
        let response = match sink {
            Some(_) => exchange.send_streaming(builder.header(ACCEPT, "text/event-stream")).await?,
            None => exchange.send(builder.header(ACCEPT, "application/json")).await?,
        };
        let status = response.status();
        if !status.is_success() {
            // A failure to read the error body leaves what arrived; the status decides anyway.
            let response = exchange.read_prefix(response, MAX_ERROR_BODY_BYTES).await;
            let api = wire::parse_error_body(&response.body);
            let fallback = wire::excerpt(&response.body);
            let hint = response.wait_hint();
            let error = self.classify(status.as_u16(), api.as_ref(), &fallback, hint, attempts);
            return Err(AttemptError { error, hint, may_retry: true });
        }
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
        match sink {
            // A server that ignores `stream` answers with plain JSON; take it whole.
            Some(sink) if !is_json => {
                self.read_stream(&exchange, response, sink, attempts).await.map_err(AttemptError::final_)
            }
            _ => {
                let response = exchange.read(response).await?;
                let answer = wire::parse_completion(&response.body).map_err(|e| {
                    let error = self.body_error(e, attempts);
                    AttemptError { may_retry: error.is_retryable(), error, hint: None }
                })?;
                if let Some(sink) = sink {
                    emit_whole(&answer, sink);
                }
                Ok(answer)
            }
        }
    }

    async fn read_stream(
        &self,
        exchange: &Exchange<'_, OpenAi>,
        mut response: reqwest::Response,
        sink: StreamSink<'_>,
        attempts: u32,
    ) -> Result<ChatResponse, LlmError> {
        let limit = exchange.max_body_bytes();
        let mut parser = SseParser::new(limit);
        let mut assembler = Assembler::default();
        loop {
            let chunk = response.chunk().await.map_err(|e| exchange.transport_error(e).error)?;
            let at_end = chunk.is_none();
            let events = match chunk {
                Some(bytes) => {
                    parser.push(&bytes).map_err(|_| exchange.failure(Failure::TooLarge { limit }).error)?
                }
                None => parser.finish().into_iter().collect(),
            };
            for data in events {
                let data = data.trim();
                if data == "[DONE]" {
                    return Ok(assembler.into_response());
                }
                if data.is_empty() {
                    continue;
                }
                let chunk = wire::parse_chunk(data).map_err(|e| self.body_error(e, attempts))?;
                assembler.push(chunk, sink);
            }
            if at_end {
                break;
            }
        }
        // Some servers close the stream without `[DONE]`; a stated finish reason is enough.
        if assembler.finished() {
            Ok(assembler.into_response())
        } else {
            Err(LlmError::Malformed {
                message: "the stream ended without [DONE] or a finish_reason".to_owned(),
            })
        }
    }

    /// Maps an error reported by the server (by status, or mid-stream / in a 200 body by its
    /// `code` and `type`).
    fn classify(
        &self,
        status: u16,
        api: Option<&ApiErrorBody>,
        fallback: &str,
        retry_after: Option<Duration>,
        attempts: u32,
    ) -> LlmError {
        let raw = api.map(|a| a.message.as_str()).filter(|m| !m.trim().is_empty()).unwrap_or(fallback);
        let message = self.redact(raw);
        let says = |needle: &str| {
            api.is_some_and(|a| a.code.as_deref() == Some(needle) || a.kind.as_deref() == Some(needle))
        };
        let lower = raw.to_ascii_lowercase();
        let context_length = says("context_length_exceeded")
            || says("exceed_context_size_error")
            || lower.contains("maximum context length")
            || lower.contains("context window")
            || lower.contains("exceeds the available context size");
        match status {
            401 => LlmError::Unauthorized { message },
            429 if says("insufficient_quota") => LlmError::QuotaExceeded { message },
            429 => LlmError::RateLimited { message, attempts, retry_after },
            400..=499 if context_length => LlmError::ContextLength { message },
            // Request timeout and conflict are transient (OpenAI's own SDKs retry them).
            408 | 409 => LlmError::Server { status, message, attempts },
            400..=499 => LlmError::InvalidRequest { status, message },
            _ => LlmError::Server { status, message, attempts },
        }
    }

    /// Maps a 200 body that is not an answer.
    fn body_error(&self, error: BodyError, attempts: u32) -> LlmError {
        match error {
            BodyError::Malformed(message) => LlmError::Malformed { message: self.redact(&message) },
            BodyError::Api(api) => {
                let status =
                    api.status.filter(|s| (400..=599).contains(s)).unwrap_or_else(|| status_for(&api));
                self.classify(status, Some(&api), "the server reported an error", None, attempts)
            }
        }
    }

    fn redact(&self, text: &str) -> String {
        self.http.redactor().redact(text)
    }
}

#[async_trait]
impl ChatModel for OpenAiClient {
    fn label(&self) -> String {
        format!("openai:{}", self.model)
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.call(request, None).await
    }

    async fn chat_streaming(
        &self,
        request: &ChatRequest,
        sink: StreamSink<'_>,
    ) -> Result<ChatResponse, LlmError> {
        if self.stream {
            self.call(request, Some(sink)).await
        } else {
            let response = self.call(request, None).await?;
            emit_whole(&response, sink);
            Ok(response)
        }
    }
}

/// Reports a complete answer to a sink, in the order a stream would have.
fn emit_whole(response: &ChatResponse, sink: StreamSink<'_>) {
    if let Some(reasoning) = response.reasoning.as_ref().filter(|r| !r.is_empty()) {
        sink(StreamEvent::Reasoning(reasoning.clone()));
    }
    if let Some(content) = response.content.as_ref().filter(|c| !c.is_empty()) {
        sink(StreamEvent::Content(content.clone()));
    }
    for (index, call) in response.tool_calls.iter().enumerate() {
        sink(StreamEvent::ToolCall {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            name: call.name.clone(),
        });
    }
}

/// The HTTP status an in-body error stands for, from its `type`/`code`.
fn status_for(api: &ApiErrorBody) -> u16 {
    let says = |needle: &str| api.code.as_deref() == Some(needle) || api.kind.as_deref() == Some(needle);
    if says("insufficient_quota") || says("rate_limit_exceeded") || says("rate_limit_error") {
        429
    } else if says("invalid_api_key") || says("authentication_error") {
        401
    } else if says("not_found_error") {
        404
    } else if says("invalid_request_error") || says("BadRequestError") || says("context_length_exceeded") {
        400
    } else {
        StatusCode::INTERNAL_SERVER_ERROR.as_u16()
    }
}
