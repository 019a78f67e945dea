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
//! - With `react_answers` (like some OpenAI-compatible servers running ReAct-tuned models) it
//!   ignores `response_format`: every content answer is `Thought: …` then `Final Answer: …`, JSON
//!   inside a ```` ```json ```` fence.
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
//!
//! Layout: `script` decides what the model says, `payloads` writes it in the wire format
//! (completions, SSE chunks, error bodies), `server` serves it over HTTP.

mod payloads;
mod script;
mod server;

pub use payloads::{MockReply, openai_error_body, rate_limit_body};
pub use script::ScriptedChat;
pub use server::{MockChatServer, MockChatServerBuilder};

/// The path the mock answers.
pub const CHAT_COMPLETIONS_PATH: &str = "/v1/chat/completions";
