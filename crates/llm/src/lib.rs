//! Chat models behind one trait.
//!
//! The crew engine talks to [`ChatModel`] only, so an OpenAI-compatible server (OpenAI, Ollama,
//! vLLM, llama.cpp) and the offline heuristic model are interchangeable, and tests run the real
//! client against a local mock server. [`openai::OpenAiClient`] is the one networked model; only
//! this crate knows the chat-completions wire format (see `wire`).

pub mod config;
pub mod openai;
mod stream;
mod types;
mod wire;

pub use config::{ApiKey, LlmConfig, LlmProvider};
pub use openai::OpenAiClient;
pub use types::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, LlmError, Message, ResponseFormat, StreamEvent,
    StreamSink, ToolCall, ToolChoice, ToolSpec, Usage,
};
