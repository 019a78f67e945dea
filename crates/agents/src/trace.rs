//! The trace of a run: every model call, tool call, delegation and result, with tokens and
//! latency — bounded like everything else (steps beyond the cap are counted, texts are cut).

use serde::Serialize;

/// Texts in the trace (arguments, results) are cut to this many bytes.
pub const TRACE_TEXT_BYTES: usize = 480;

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum TraceStep {
    TaskStarted {
        task: String,
        agent: String,
        at_ms: u64,
    },
    LlmCall {
        task: String,
        agent: String,
        model: String,
        iteration: u32,
        prompt_tokens: u64,
        completion_tokens: u64,
        latency_ms: f64,
        finish_reason: Option<String>,
        tool_calls: Vec<String>,
        error: Option<String>,
    },
    ToolCall {
        task: String,
        agent: String,
        tool: String,
        arguments: String,
        ok: bool,
        result: String,
        latency_ms: f64,
    },
    Delegation {
        manager: String,
        coworker: String,
        request: String,
    },
    InvalidOutput {
        task: String,
        agent: String,
        reason: String,
    },
    Memory {
        action: &'static str,
        entries: usize,
        detail: Option<String>,
    },
    TaskFinished {
        task: String,
        agent: String,
        output_bytes: usize,
        at_ms: u64,
    },
    LimitReached {
        limit: String,
        detail: String,
    },
}

/// A bounded list of steps.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Trace {
    steps: Vec<TraceStep>,
    dropped: u64,
    #[serde(skip)]
    capacity: usize,
}

impl Trace {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { steps: Vec::with_capacity(capacity.min(64)), dropped: 0, capacity }
    }

    pub(crate) fn push(&mut self, step: TraceStep) {
        if self.steps.len() < self.capacity {
            self.steps.push(step);
        } else {
            self.dropped += 1;
        }
    }

    pub fn steps(&self) -> &[TraceStep] {
        &self.steps
    }

    /// Steps not kept because the trace was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The trace as a JSON array of steps for storage; when steps were dropped, a last
    /// element `{"step":"truncated","dropped":n}` says how many.
    pub fn to_json(&self) -> String {
        let mut steps: Vec<serde_json::Value> =
            self.steps.iter().filter_map(|step| serde_json::to_value(step).ok()).collect();
        if self.dropped > 0 {
            steps.push(serde_json::json!({"step": "truncated", "dropped": self.dropped}));
        }
        serde_json::Value::Array(steps).to_string()
    }
}

/// Watches a run as it happens (progress bars, server-sent events). Called on the run's task:
/// implementations must be quick and must not block.
pub trait RunObserver: Send + Sync {
    /// A step was recorded.
    fn on_step(&self, _step: &TraceStep) {}
    /// A piece of a streamed answer arrived from `agent`.
    fn on_stream(&self, _agent: &str, _event: &llm::StreamEvent) {}
}

/// Observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl RunObserver for NoObserver {}
