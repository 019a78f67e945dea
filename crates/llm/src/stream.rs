//! Server-sent events, incrementally: bytes in, `data:` payloads out, and the assembly of the
//! answer from its chunks.
//!
//! A small parser of our own rather than a crate: the servers only send `data:` lines, and
//! owning the buffer lets the whole stream be bounded by `max_body_bytes` (a server that never
//! sends a newline cannot grow memory without limit).

use std::collections::BTreeMap;

use crate::types::{ChatResponse, FinishReason, StreamEvent, ToolCall, Usage};
use crate::wire::{self, StreamChunk};

/// Splits a byte stream into SSE event payloads (the `data:` lines of one event, joined by `\n`).
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    total: usize,
    limit: usize,
}

/// The stream grew past the configured bound.
#[derive(Debug)]
pub(crate) struct TooLarge;

impl SseParser {
    pub(crate) fn new(limit: usize) -> Self {
        Self { limit, ..Self::default() }
    }

    /// Feeds bytes; returns the payloads of the events they complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, TooLarge> {
        self.total += bytes.len();
        if self.total > self.limit {
            return Err(TooLarge);
        }
        let mut events = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.line(&line, &mut events);
            } else {
                self.line.push(byte);
            }
        }
        Ok(events)
    }

    /// Ends the stream: a last event not followed by a blank line still counts.
    pub(crate) fn finish(&mut self) -> Option<String> {
        let line = std::mem::take(&mut self.line);
        let mut events = Vec::new();
        if !line.is_empty() {
            self.line(&line, &mut events);
        }
        self.dispatch(&mut events);
        events.pop()
    }

    fn line(&mut self, line: &[u8], events: &mut Vec<String>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        // Only `data` matters; `event:`, `id:`, `retry:` and `:` comments (keep-alives) are skipped.
        if let Some(value) = line.strip_prefix(b"data:") {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            if self.has_data {
                self.data.push('\n');
            }
            self.data.push_str(&String::from_utf8_lossy(value));
            self.has_data = true;
        }
    }

    fn dispatch(&mut self, events: &mut Vec<String>) {
        if self.has_data {
            events.push(std::mem::take(&mut self.data));
            self.has_data = false;
        }
    }
}

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Builds the answer from stream chunks, reporting progress to the sink.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    content: String,
    has_content: bool,
    reasoning: String,
    calls: BTreeMap<u32, PartialCall>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    model: String,
}

impl Assembler {
    /// Takes one chunk in. Only choice 0 is read: we never ask for `n > 1`.
    pub(crate) fn push(&mut self, chunk: StreamChunk, sink: &(dyn Fn(StreamEvent) + Send + Sync)) {
        let StreamChunk { chunk, extras } = chunk;
        if self.model.is_empty() && !chunk.model.is_empty() {
            self.model = chunk.model.clone();
        }
        if let Some(usage) = chunk.usage.as_ref() {
            self.usage = Some(wire::usage(Some(usage)));
        }
        let Some((position, choice)) = chunk.choices.into_iter().enumerate().find(|(_, c)| c.index == 0)
        else {
            return;
        };
        let extra = extras.into_iter().nth(position).unwrap_or_default();
        if let Some(reasoning) = extra.reasoning {
            self.reasoning.push_str(&reasoning);
            sink(StreamEvent::Reasoning(reasoning));
        }
        if let Some(content) = choice.delta.content {
            self.has_content = true;
            if !content.is_empty() {
                self.content.push_str(&content);
                sink(StreamEvent::Content(content));
            }
        }
        for fragment in choice.delta.tool_calls.unwrap_or_default() {
            let call = self.calls.entry(fragment.index).or_default();
            if let Some(id) = fragment.id.filter(|id| !id.is_empty()) {
                call.id = id;
            }
            if let Some(function) = fragment.function {
                if let Some(name) = function.name.filter(|n| !n.is_empty())
                    && call.name.is_empty()
                {
                    call.name.clone_from(&name);
                    sink(StreamEvent::ToolCall { index: fragment.index, name });
                }
                if let Some(arguments) = function.arguments {
                    call.arguments.push_str(&arguments);
                }
            }
        }
        if let Some(reason) = extra.finish_reason {
            self.finish_reason = Some(reason);
        }
    }

    /// True once the server said why it stopped (the usage chunk may still follow).
    pub(crate) fn finished(&self) -> bool {
        self.finish_reason.is_some()
    }

    pub(crate) fn into_response(self) -> ChatResponse {
        let tool_calls: Vec<ToolCall> = self
            .calls
            .into_iter()
            .map(|(index, call)| ToolCall {
                id: if call.id.is_empty() { format!("call_{index}") } else { call.id },
                name: call.name,
                arguments: call.arguments,
            })
            .collect();
        let content =
            (self.has_content && (!self.content.is_empty() || tool_calls.is_empty())).then_some(self.content);
        let finish_reason: FinishReason =
            wire::finish_reason(self.finish_reason.as_deref(), !tool_calls.is_empty());
        ChatResponse {
            content,
            tool_calls,
            finish_reason,
            usage: self.usage.unwrap_or_default(),
            model: self.model,
            reasoning: (!self.reasoning.is_empty()).then_some(self.reasoning),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_events_across_chunks_and_line_endings() {
        let mut parser = SseParser::new(1024);
        assert!(parser.push(b"data: {\"a\"").unwrap().is_empty());
        assert_eq!(
            parser.push(b":1}\r\n\r\n: keep-alive\n\ndata: x\ndata: y\n\nevent: e\ndata: [DONE]").unwrap(),
            vec!["{\"a\":1}".to_owned(), "x\ny".to_owned()]
        );
        assert_eq!(parser.finish().as_deref(), Some("[DONE]"));
        assert_eq!(parser.finish(), None);
    }

    #[test]
    fn bounded() {
        let mut parser = SseParser::new(8);
        assert!(parser.push(b"data: 12").is_ok());
        assert!(parser.push(b"3").is_err());
    }
}
