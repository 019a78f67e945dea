//! What the scripted model says: a plan from the request body alone (tool calls, structured
//! output, ReAct text, `Final Answer:` lines), and [`ScriptedChat`], which answers requests with it.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};

use super::payloads::{MockReply, Turn, bad_request, completion};

/// Upper-case words that are not tickers.
const NOT_TICKERS: &[&str] = &[
    "A", "I", "AN", "AND", "ANY", "ARE", "AS", "AT", "BE", "BUT", "BY", "DO", "FOR", "IF", "IN", "IS", "IT",
    "ITS", "NO", "NOT", "OF", "ON", "OR", "SO", "THE", "TO", "UP", "WE", "YOU", "YOUR", "MUST", "ONLY",
    "NEVER", "ALL", "USE", "NOTE", "THIS", "THAT", "WITH", "FROM", "WHAT", "WHEN", "TOOL", "TASK", "JSON",
    "API", "ID", "OK", "AI", "LLM", "USD", "EUR", "US", "USA", "UK", "EU", "CEO", "CFO", "ETF", "EPS", "PE",
    "RSI", "MACD", "SMA", "EMA", "ATR", "VWAP", "GDP", "CPI", "FED", "SEC", "IPO", "NEWS", "DATA", "TODO",
    "FINAL", "THINK", "ANSWER", "DONE", "TRUE", "FALSE", "NULL", "NONE", "HTTP", "URL",
];

#[derive(Debug)]
struct ChatState {
    served: AtomicU64,
    fail_first: u64,
    failure_status: u16,
    failure_body: String,
    log_requests: bool,
    react_answers: bool,
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
        Self::with_options(0, 200, String::new(), false, false)
    }

    /// A responder whose first `n` requests get `status` with `body` (a JSON error body, e.g.
    /// [`rate_limit_body`]) before it answers normally.
    pub fn failing_first(n: u64, status: u16, body: impl Into<String>) -> Self {
        Self::with_options(n, status, body.into(), false, false)
    }

    /// A responder like some OpenAI-compatible servers with a ReAct-tuned model: it ignores
    /// `response_format` and writes every answer as `Thought: …` then `Final Answer: …`, JSON
    /// inside a ```` ```json ```` fence. Tool calls stay native.
    pub fn react_answers() -> Self {
        Self::with_options(0, 200, String::new(), false, true)
    }

    pub(super) fn with_options(
        fail_first: u64,
        failure_status: u16,
        failure_body: String,
        log_requests: bool,
        react_answers: bool,
    ) -> Self {
        let state = ChatState {
            served: AtomicU64::new(0),
            fail_first,
            failure_status,
            failure_body,
            log_requests,
            react_answers,
        };
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
                Ok(request) if request.get("messages").is_some_and(Value::is_array) => {
                    let messages = request["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
                    let turn = plan(&request, messages);
                    let turn = if self.state.react_answers { react_style(turn) } else { turn };
                    completion(&request, turn, n)
                }
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

/// `turn` as a ReAct-tuned model writes it when `response_format` is ignored.
fn react_style(turn: Turn) -> Turn {
    match turn {
        Turn::Content(text) => {
            let answer = text.strip_prefix("Final Answer: ").unwrap_or(&text);
            let answer =
                if answer.starts_with('{') { format!("```json\n{answer}\n```") } else { answer.to_owned() };
            match answer.contains("Final Answer:") {
                true => Turn::Content(answer),
                false => {
                    Turn::Content(format!("Thought: I now know the final answer\nFinal Answer: {answer}"))
                }
            }
        }
        call => call,
    }
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

#[cfg(test)]
mod tests {
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
    fn react_answers_wrap_json_in_a_fence_after_a_final_answer_marker() {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "Write the note for MSFT"}],
            "response_format": {"type": "json_object"}});
        let reply = ScriptedChat::react_answers().reply(body.to_string().as_bytes());
        let response: Value = serde_json::from_str(&reply.body).unwrap();
        let text = response["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(text.starts_with("Thought: I now know the final answer\nFinal Answer: ```json\n{"), "{text}");
        assert!(text.ends_with("}\n```") && text.contains("\"rating\":\"hold\""), "{text}");
        let plain = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let reply = ScriptedChat::react_answers().reply(plain.to_string().as_bytes());
        let response: Value = serde_json::from_str(&reply.body).unwrap();
        let text = response["choices"][0]["message"]["content"].as_str().unwrap();
        assert_eq!(text, "Thought: I now know the final answer\nFinal Answer: done: hi");
    }

    #[test]
    fn tickers_skip_common_words() {
        assert_eq!(first_ticker("I think A MUST look at $NVDA, not AMD"), Some("NVDA"));
        assert_eq!(first_ticker("nothing here, Really"), None);
        assert_eq!(first_ticker("TOOLONG words"), None);
    }
}
