//! The client for any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM,
//! llama.cpp).
//!
//! Like the market-data providers, the client owns exactly one `reqwest::Client` (bounded idle
//! pool, connect timeout, idle timeout) and a semaphore bounding requests in flight, so dropping
//! the client closes its connections and nothing it starts outlives a call. Failures are typed
//! ([`LlmError`]): rate limits, 5xx, timeouts and dropped connections are retried with
//! exponential backoff and jitter (honouring the server's wait hints), while an exhausted quota,
//! a refused key or a refused request fail at once. A streamed answer is retried only until its
//! body starts: after that the sink has seen part of an answer that a retry would contradict.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::sync::Semaphore;

use crate::config::{ApiKey, LlmConfig};
use crate::redact::redact;
use crate::retry;
use crate::stream::{Assembler, SseParser};
use crate::types::{ChatModel, ChatRequest, ChatResponse, LlmError, StreamEvent, StreamSink};
use crate::wire::{self, ApiErrorBody, BodyError, RequestOptions};

/// Every HTTP attempt, labelled `model` and `outcome` (`ok` or the error kind).
pub const LLM_REQUESTS_TOTAL: &str = "llm_requests_total";
/// Duration of every HTTP attempt in seconds, labelled `model`.
pub const LLM_REQUEST_SECONDS: &str = "llm_request_seconds";
/// Prompt tokens of successful calls, labelled `model`.
pub const LLM_PROMPT_TOKENS_TOTAL: &str = "llm_prompt_tokens_total";
/// Completion tokens of successful calls, labelled `model`.
pub const LLM_COMPLETION_TOKENS_TOTAL: &str = "llm_completion_tokens_total";

/// Error bodies are only read for their message, so a smaller bound than for answers suffices.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Idle pooled connections are closed after this long: agents call in bursts, and a server
/// (or a NAT in between) that silently drops idle connections would otherwise fail the next call.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A chat model served over the OpenAI chat-completions API. See the module docs.
pub struct OpenAiClient {
    http: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<ApiKey>,
    permits: Semaphore,
    temperature: Option<f32>,
    json_mode: bool,
    stream: bool,
    timeout: Duration,
    max_retries: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    max_retry_wait: Duration,
    max_body_bytes: usize,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("url", &self.url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// One failed attempt and whether another may follow.
struct AttemptError {
    error: LlmError,
    /// The server's requested wait (`Retry-After`, `x-ratelimit-reset-*`), if any.
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

impl OpenAiClient {
    /// Builds the client from its config.
    ///
    /// # Errors
    /// `NotConfigured` when the config is invalid or the TLS stack cannot start.
    pub fn new(config: &LlmConfig) -> Result<Self, LlmError> {
        config.validate().map_err(|message| LlmError::NotConfigured { message: format!("llm.{message}") })?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("tickerwatch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout())
            // The longest silence while reading; the total timeout is set per non-streaming
            // request because a stream may legitimately run longer than it.
            .read_timeout(config.timeout())
            .pool_max_idle_per_host(config.max_concurrent_requests)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .tcp_keepalive(Duration::from_secs(30))
            .build()
            .map_err(|e| LlmError::NotConfigured { message: format!("cannot build HTTP client: {e}") })?;
        Ok(Self {
            http,
            url: config.chat_url(),
            model: config.model.clone(),
            api_key: config.api_key().cloned(),
            permits: Semaphore::new(config.max_concurrent_requests),
            temperature: config.temperature,
            json_mode: config.json_mode,
            stream: config.stream,
            timeout: config.timeout(),
            max_retries: config.max_retries,
            backoff_base: Duration::from_millis(config.backoff_base_ms),
            backoff_max: Duration::from_millis(config.backoff_max_ms),
            max_retry_wait: config.max_retry_wait(),
            max_body_bytes: config.max_body_bytes,
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
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let attempt_started = Instant::now();
            let result = self.attempt(&body, attempt + 1, sink).await;
            let outcome = match &result {
                Ok(_) => "ok",
                Err(failure) => failure.error.kind(),
            };
            metrics::counter!(LLM_REQUESTS_TOTAL, "model" => self.model.clone(), "outcome" => outcome)
                .increment(1);
            metrics::histogram!(LLM_REQUEST_SECONDS, "model" => self.model.clone())
                .record(attempt_started.elapsed().as_secs_f64());
            match result {
                Ok(response) => {
                    metrics::counter!(LLM_PROMPT_TOKENS_TOTAL, "model" => self.model.clone())
                        .increment(response.usage.prompt_tokens);
                    metrics::counter!(LLM_COMPLETION_TOKENS_TOTAL, "model" => self.model.clone())
                        .increment(response.usage.completion_tokens);
                    tracing::debug!(
                        model = %self.model,
                        served_by = %response.model,
                        attempts = attempt + 1,
                        latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        prompt_tokens = response.usage.prompt_tokens,
                        completion_tokens = response.usage.completion_tokens,
                        finish_reason = ?response.finish_reason,
                        n_tool_calls = response.tool_calls.len(),
                        "Chat completion finished."
                    );
                    return Ok(response);
                }
                Err(failure)
                    if failure.may_retry && failure.error.is_retryable() && attempt < self.max_retries =>
                {
                    let backoff = retry::backoff(self.backoff_base, self.backoff_max, attempt);
                    let wait = match failure.hint {
                        Some(wanted) if wanted > self.max_retry_wait => {
                            tracing::warn!(model = %self.model, error = %failure.error, ?wanted, "Server asked for a longer wait than allowed; giving up.");
                            return Err(failure.error);
                        }
                        Some(wanted) => wanted.max(backoff),
                        None => backoff,
                    };
                    tracing::warn!(model = %self.model, error = %failure.error, attempt = attempt + 1, ?wait, "Retrying chat completion.");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(failure) => {
                    tracing::debug!(model = %self.model, error = %failure.error, attempts = attempt + 1, "Chat completion failed.");
                    return Err(failure.error);
                }
            }
        }
    }

    /// One HTTP exchange; the permit is held until its body is read.
    async fn attempt(
        &self,
        body: &[u8],
        attempts: u32,
        sink: Option<StreamSink<'_>>,
    ) -> Result<ChatResponse, AttemptError> {
        let _permit = self.permits.acquire().await.map_err(|_| {
            AttemptError::final_(LlmError::NotConfigured {
                message: "the client is shutting down".to_owned(),
            })
        })?;
        let mut builder =
            self.http.post(&self.url).header(CONTENT_TYPE, "application/json").body(body.to_vec());
        builder = match sink {
            Some(_) => builder.header(ACCEPT, "text/event-stream"),
            None => builder.header(ACCEPT, "application/json").timeout(self.timeout),
        };
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        let mut response =
            builder.send().await.map_err(|e| AttemptError::retryable(self.transport_error(e)))?;
        let status = response.status();
        if !status.is_success() {
            let headers = std::mem::take(response.headers_mut());
            // A failure to read the error body leaves what arrived; the status decides anyway.
            let body = read_capped(&mut response, MAX_ERROR_BODY_BYTES, true).await.unwrap_or_default();
            let api = wire::parse_error_body(&body);
            let fallback = wire::excerpt(&body);
            let hint = retry::server_hint(&headers);
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
                self.read_stream(response, sink, attempts).await.map_err(AttemptError::final_)
            }
            _ => {
                let body = match read_capped(&mut response, self.max_body_bytes, false).await {
                    Ok(body) => body,
                    Err(ReadError::TooLarge) => return Err(AttemptError::final_(self.too_large())),
                    Err(ReadError::Transport(e)) => {
                        return Err(AttemptError::retryable(self.transport_error(e)));
                    }
                };
                let answer = wire::parse_completion(&body).map_err(|e| {
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
        mut response: reqwest::Response,
        sink: StreamSink<'_>,
        attempts: u32,
    ) -> Result<ChatResponse, LlmError> {
        let mut parser = SseParser::new(self.max_body_bytes);
        let mut assembler = Assembler::default();
        loop {
            let chunk = response.chunk().await.map_err(|e| self.transport_error(e))?;
            let at_end = chunk.is_none();
            let events = match chunk {
                Some(bytes) => parser.push(&bytes).map_err(|_| self.too_large())?,
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

    fn transport_error(&self, error: reqwest::Error) -> LlmError {
        if error.is_timeout() {
            return LlmError::Timeout { after: self.timeout };
        }
        // reqwest puts the URL in its message; the base URL is config, but keep messages short.
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        LlmError::Connection { message: self.redact(&text) }
    }

    fn too_large(&self) -> LlmError {
        LlmError::Malformed { message: format!("answer larger than {} bytes refused", self.max_body_bytes) }
    }

    fn redact(&self, text: &str) -> String {
        redact(text, self.api_key.as_ref().map(ApiKey::expose))
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

enum ReadError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a body up to `limit` bytes; beyond it, `truncate` keeps the head, else it is refused.
async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
    truncate: bool,
) -> Result<Vec<u8>, ReadError> {
    if !truncate && response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            if truncate {
                body.extend_from_slice(&chunk[..limit - body.len()]);
                break;
            }
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
