//! The offline model: a deterministic stand-in for an LLM, so every feature runs (and every test
//! passes) with no key and no network.
//!
//! It plays the protocol honestly — it calls the tools it is offered, reads their JSON results,
//! delegates when it is a manager, and answers in the requested shape — and it writes its
//! findings as `- name: value` lines that the writer (also this model) reads back from its
//! context. The rating is a transparent rule over trend, momentum, RSI, 3-month change and
//! Reddit sentiment; every note it writes says `model: offline`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use async_trait::async_trait;
use llm::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, LlmError, Message, ResponseFormat, ToolCall,
    ToolChoice, Usage,
};
use serde_json::{Map, Value, json};

/// The label on everything the offline model writes.
pub const OFFLINE: &str = "offline";

/// The offline model. Stateless: every answer is a function of the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineModel;

#[async_trait]
impl ChatModel for OfflineModel {
    fn label(&self) -> String {
        OFFLINE.to_owned()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        Ok(respond(request))
    }
}

fn respond(request: &ChatRequest) -> ChatResponse {
    let conversation = Conversation::read(request);
    let prompt_chars: usize = request.messages.iter().map(message_chars).sum();
    let (content, tool_calls) = match plan_tool_calls(request, &conversation) {
        Some(calls) => (None, calls),
        None => {
            let facts = conversation.facts();
            let answer = match &request.response_format {
                ResponseFormat::Text => findings(&conversation, &facts),
                ResponseFormat::JsonObject => note(&conversation, &facts).to_string(),
                ResponseFormat::JsonSchema { schema, .. } => {
                    if schema.pointer("/properties/rating").is_some() {
                        note(&conversation, &facts).to_string()
                    } else {
                        fill_schema(schema, &facts).to_string()
                    }
                }
            };
            (Some(answer), Vec::new())
        }
    };
    let completion_chars = content.as_ref().map_or(0, String::len)
        + tool_calls.iter().map(|call: &ToolCall| call.name.len() + call.arguments.len()).sum::<usize>();
    let usage = Usage {
        prompt_tokens: (prompt_chars / 4) as u64,
        completion_tokens: (completion_chars / 4) as u64,
        total_tokens: ((prompt_chars + completion_chars) / 4) as u64,
    };
    ChatResponse {
        finish_reason: if tool_calls.is_empty() { FinishReason::Stop } else { FinishReason::ToolCalls },
        content,
        tool_calls,
        usage,
        model: OFFLINE.to_owned(),
        reasoning: None,
    }
}

fn message_chars(message: &Message) -> usize {
    match message {
        Message::System { content } | Message::User { content } | Message::Tool { content, .. } => {
            content.len()
        }
        Message::Assistant { content, tool_calls } => {
            content.as_ref().map_or(0, String::len)
                + tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>()
        }
    }
}

/// What the model has seen: the assignment, the symbol, and each tool's result by tool name.
struct Conversation<'a> {
    assignment: &'a str,
    symbol: Option<String>,
    called: BTreeSet<&'a str>,
    results: Vec<(&'a str, &'a str)>,
}

impl<'a> Conversation<'a> {
    fn read(request: &'a ChatRequest) -> Self {
        let assignment = request
            .messages
            .iter()
            .find_map(|m| if let Message::User { content } = m { Some(content.as_str()) } else { None })
            .unwrap_or("");
        let mut names_by_id = BTreeMap::new();
        let mut called = BTreeSet::new();
        let mut results = Vec::new();
        for message in &request.messages {
            match message {
                Message::Assistant { tool_calls, .. } => {
                    for call in tool_calls {
                        names_by_id.insert(call.id.as_str(), call.name.as_str());
                        called.insert(call.name.as_str());
                    }
                }
                Message::Tool { tool_call_id, content } => {
                    results.push((
                        names_by_id.get(tool_call_id.as_str()).copied().unwrap_or("tool"),
                        content.as_str(),
                    ));
                }
                _ => {}
            }
        }
        Self { assignment, symbol: find_symbol(assignment), called, results }
    }

    /// Every figure in sight: numbers from tool results (flattened) and `- name: value` lines of
    /// the assignment (earlier tasks' findings) and of text results (a coworker's answer).
    fn facts(&self) -> Facts {
        let mut facts = Facts::default();
        facts.read_lines(self.assignment);
        for (tool, result) in &self.results {
            match serde_json::from_str::<Value>(result) {
                Ok(Value::Object(object)) => facts.read_tool_result(tool, &object, self.symbol.as_deref()),
                _ => facts.read_lines(result),
            }
        }
        facts
    }
}

/// `Symbol: XXX` as our tasks write it; else the first upper-case ticker-like word.
fn find_symbol(text: &str) -> Option<String> {
    if let Some((_, rest)) = text.split_once("Symbol:") {
        let word: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .collect();
        // A sentence may end right after the symbol ("Symbol: AAPL. Get …").
        let word = word.trim_end_matches(['.', '-']);
        if !word.is_empty() {
            return Some(word.to_owned());
        }
    }
    const NOT_TICKERS: [&str; 8] = ["A", "I", "JSON", "RSI", "MACD", "SMA", "EMA", "ATR"];
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|word| {
            (1..=5).contains(&word.len())
                && word.chars().all(|c| c.is_ascii_uppercase())
                && !NOT_TICKERS.contains(word)
        })
        .map(str::to_owned)
}

/// Tool calls for this turn, or `None` to answer now: a manager delegates once to the coworker
/// the task suits; any other agent calls each offered tool it has not called yet, all at once.
fn plan_tool_calls(request: &ChatRequest, conversation: &Conversation<'_>) -> Option<Vec<ToolCall>> {
    if request.tools.is_empty() || request.tool_choice == ToolChoice::None {
        return None;
    }
    let delegate = request.tools.iter().find(|tool| tool.name == agents::DELEGATE_WORK);
    if let Some(delegate) = delegate {
        if !conversation.results.is_empty() {
            return None;
        }
        let coworkers: Vec<&str> = delegate
            .parameters
            .pointer("/properties/coworker/enum")
            .and_then(Value::as_array)
            .map(|roles| roles.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let suited = conversation
            .assignment
            .split_once("best suited to: ")
            .map(|(_, rest)| rest.split(['.', '\n']).next().unwrap_or("").trim());
        let coworker =
            suited.filter(|role| coworkers.contains(role)).or_else(|| coworkers.first().copied())?;
        let task = conversation.assignment.split("\n\n").next().unwrap_or(conversation.assignment);
        let arguments = json!({"coworker": coworker, "task": task, "context": agents::truncate(conversation.assignment, 4000)});
        return Some(vec![ToolCall {
            id: "call_offline_0".into(),
            name: delegate.name.clone(),
            arguments: arguments.to_string(),
        }]);
    }
    let calls: Vec<ToolCall> = request
        .tools
        .iter()
        .filter(|tool| !conversation.called.contains(tool.name.as_str()))
        .enumerate()
        .map(|(index, tool)| ToolCall {
            id: format!("call_offline_{}_{index}", conversation.called.len()),
            name: tool.name.clone(),
            arguments: arguments_for(&tool.parameters, conversation.symbol.as_deref()).to_string(),
        })
        .collect();
    (!calls.is_empty()).then_some(calls)
}

/// Arguments from a tool's schema: the symbol where one is wanted, nothing else.
fn arguments_for(schema: &Value, symbol: Option<&str>) -> Value {
    let mut arguments = Map::new();
    if let (Some(symbol), Some(_)) = (symbol, schema.pointer("/properties/symbol")) {
        arguments.insert("symbol".into(), symbol.into());
    }
    Value::Object(arguments)
}

/// Figures by name, plus where they came from.
#[derive(Debug, Default)]
struct Facts {
    numbers: BTreeMap<String, f64>,
    texts: BTreeMap<String, String>,
    sources: BTreeSet<String>,
}

impl Facts {
    fn number(&self, name: &str) -> Option<f64> {
        self.numbers.get(name).copied()
    }

    fn read_lines(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim();
            if let Some(sources) = line.strip_prefix("Sources:") {
                self.sources
                    .extend(sources.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned));
                continue;
            }
            let Some((name, value)) = line.strip_prefix("- ").and_then(|rest| rest.split_once(": ")) else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() || name.contains(' ') {
                continue;
            }
            match value.trim().parse::<f64>() {
                Ok(number) if number.is_finite() => {
                    self.numbers.insert(name.to_owned(), number);
                }
                _ => {
                    self.texts.insert(name.to_owned(), value.trim().to_owned());
                }
            }
        }
    }

    fn read_tool_result(&mut self, tool: &str, object: &Map<String, Value>, symbol: Option<&str>) {
        let provider = object.get("provider").and_then(Value::as_str).filter(|p| !p.is_empty());
        let as_of = object.get("as_of").and_then(Value::as_str);
        let mut source = tool.to_owned();
        match (provider, as_of) {
            (Some(provider), Some(as_of)) => {
                let _ = write!(source, " ({provider}, as of {})", as_of.get(..10).unwrap_or(as_of));
            }
            (Some(provider), None) => {
                let _ = write!(source, " ({provider})");
            }
            _ => {}
        }
        self.sources.insert(source);
        if let Some(as_of) = as_of {
            self.texts.insert("as_of".into(), as_of.get(..10).unwrap_or(as_of).to_owned());
        }
        for (name, value) in object {
            if matches!(name.as_str(), "days" | "hours" | "limit") {
                continue;
            }
            match value {
                Value::Number(number) => {
                    if let Some(number) = number.as_f64() {
                        self.numbers.insert(name.clone(), number);
                    }
                }
                Value::Array(items) if name == "trending" => {
                    let position =
                        items.iter().position(|item| item.get("symbol").and_then(Value::as_str) == symbol);
                    if let Some(position) = position {
                        self.numbers.insert("trending_rank".into(), (position + 1) as f64);
                        if let Some(spike) = items[position].get("spike_score").and_then(Value::as_f64) {
                            self.numbers.insert("spike_score".into(), spike);
                        }
                    }
                }
                Value::Array(items) if name == "notes" => {
                    if let Some(rating) =
                        items.first().and_then(|note| note.get("rating")).and_then(Value::as_str)
                    {
                        self.texts.insert("previous_rating".into(), rating.to_owned());
                    }
                }
                Value::Array(items) if name == "news" => {
                    self.numbers.insert("news_count".into(), items.len() as f64);
                    // The tool lists the newest first.
                    if let Some(headline) =
                        items.first().and_then(|item| item.get("headline")).and_then(Value::as_str)
                    {
                        self.texts.insert("latest_headline".into(), shorten(headline, HEADLINE_CHARS));
                    }
                    let scores: Vec<f64> = items
                        .iter()
                        .filter_map(|item| item.get("sentiment").and_then(Value::as_f64))
                        .filter(|score| score.is_finite())
                        .collect();
                    if !scores.is_empty() {
                        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
                        self.numbers.insert("news_sentiment".into(), (mean * 100.0).round() / 100.0);
                        self.numbers.insert("news_rated".into(), scores.len() as f64);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Findings as text: figures as `- name: value` lines, a reading, and sources.
fn findings(conversation: &Conversation<'_>, facts: &Facts) -> String {
    let symbol = conversation.symbol.as_deref().unwrap_or("the stock");
    let mut text = format!("Findings on {symbol} (offline model):\n");
    for (name, value) in &facts.numbers {
        let _ = writeln!(text, "- {name}: {value}");
    }
    for (name, value) in &facts.texts {
        let _ = writeln!(text, "- {name}: {value}");
    }
    let signals = Signals::read(facts);
    if !signals.reasons.is_empty() {
        let _ = writeln!(text, "Reading: {}.", signals.reasons.join("; "));
    }
    if facts.numbers.is_empty() && facts.texts.is_empty() {
        text.push_str("No data was available from the tools.\n");
    }
    if !facts.sources.is_empty() {
        let _ = writeln!(text, "Sources: {}", facts.sources.iter().cloned().collect::<Vec<_>>().join("; "));
    }
    text
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e12 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}

/// A figure for the note: whole numbers as integers (`12`, not `12.0`).
fn figure(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 { json!(value as i64) } else { json!(value) }
}

/// Characters of a headline quoted in findings and notes; vendor headlines can be long.
const HEADLINE_CHARS: usize = 120;

/// `text` cut to at most `max` characters (on a character boundary), with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The rule behind the rating: each signal adds or subtracts, with its reason.
struct Signals {
    score: f64,
    reasons: Vec<String>,
    risks: Vec<String>,
    evidence: usize,
}

impl Signals {
    fn read(facts: &Facts) -> Self {
        let mut signals = Self { score: 0.0, reasons: Vec::new(), risks: Vec::new(), evidence: 0 };
        let close = facts.number("last_close").or_else(|| facts.number("price"));
        if let (Some(close), Some(sma50)) = (close, facts.number("sma50")) {
            signals.add(
                if close >= sma50 { 1.0 } else { -1.0 },
                format!(
                    "price {} is {} its 50-day average {}",
                    format_number(close),
                    if close >= sma50 { "above" } else { "below" },
                    format_number(sma50)
                ),
            );
        }
        if let (Some(sma20), Some(sma50)) = (facts.number("sma20"), facts.number("sma50")) {
            signals.add(
                if sma20 >= sma50 { 0.5 } else { -0.5 },
                format!(
                    "the 20-day average is {} the 50-day",
                    if sma20 >= sma50 { "above" } else { "below" }
                ),
            );
        }
        if let Some(histogram) = facts.number("macd_hist") {
            signals.add(
                if histogram >= 0.0 { 1.0 } else { -1.0 },
                format!("MACD momentum is {}", if histogram >= 0.0 { "positive" } else { "negative" }),
            );
        }
        if let Some(rsi) = facts.number("rsi14") {
            if rsi > 70.0 {
                signals.add(-1.0, format!("RSI {rsi:.1} is overbought"));
                signals.risks.push(format!("Overbought: RSI {rsi:.1} often precedes a pullback"));
            } else if rsi < 30.0 {
                signals.add(1.0, format!("RSI {rsi:.1} is oversold"));
                signals.risks.push(format!("Oversold (RSI {rsi:.1}): the downtrend may continue"));
            } else {
                signals.add(0.0, format!("RSI {rsi:.1} is neutral"));
            }
        }
        if let Some(change) = facts.number("change_3m_pct") {
            let weight = if change > 10.0 {
                0.5
            } else if change < -10.0 {
                -0.5
            } else {
                0.0
            };
            signals.add(weight, format!("{change:+.1}% over three months"));
        }
        let mentions = facts.number("mentions").unwrap_or(0.0);
        if let Some(sentiment) = facts.number("mean_sentiment").filter(|_| mentions >= 3.0) {
            let weight = if sentiment > 0.15 {
                0.5
            } else if sentiment < -0.15 {
                -0.5
            } else {
                0.0
            };
            signals.add(weight, format!("Reddit sentiment {sentiment:+.2} over {mentions:.0} mentions"));
            if sentiment < -0.15 {
                signals.risks.push("Retail sentiment on Reddit is negative".into());
            }
        }
        if let Some(count) = facts.number("news_count").filter(|count| *count > 0.0) {
            let latest =
                facts.texts.get("latest_headline").map(|h| format!(" (latest: \"{h}\")")).unwrap_or_default();
            let rated = facts.number("news_rated").unwrap_or(0.0);
            // Vendor sentiment counts as a signal only over two or more rated articles, weighed
            // like Reddit's: one headline is an anecdote.
            match facts.number("news_sentiment").filter(|_| rated >= 2.0) {
                Some(sentiment) => {
                    let weight = if sentiment > 0.15 {
                        0.5
                    } else if sentiment < -0.15 {
                        -0.5
                    } else {
                        0.0
                    };
                    signals.add(
                        weight,
                        format!("{count:.0} recent news items{latest}, vendor sentiment {sentiment:+.2}"),
                    );
                    if sentiment < -0.15 {
                        signals.risks.push("Recent news coverage is negative".into());
                    }
                }
                None => signals.reasons.push(format!("{count:.0} recent news items{latest}")),
            }
        }
        if let Some(spike) = facts.number("spike_score").filter(|s| *s >= 3.0) {
            signals
                .risks
                .push(format!("Mention spike (z-score {spike:.1}): a crowded retail trade can reverse fast"));
        }
        if let Some(volatility) = facts.number("volatility20").filter(|v| *v > 0.4) {
            signals.risks.push(format!("High volatility: {:.0}% annualised", volatility * 100.0));
        }
        signals
    }

    fn add(&mut self, weight: f64, reason: String) {
        self.score += weight;
        self.evidence += 1;
        self.reasons.push(reason);
    }
}

/// The research note from every figure in sight.
fn note(conversation: &Conversation<'_>, facts: &Facts) -> Value {
    let signals = Signals::read(facts);
    let rating = if signals.score >= 1.5 {
        "buy"
    } else if signals.score <= -1.5 {
        "sell"
    } else {
        "hold"
    };
    let thin = facts.number("bars_used").is_some_and(|bars| bars < 60.0) || signals.evidence < 3;
    let mut confidence = 0.45 + 0.08 * signals.score.abs().min(4.0);
    if facts.number("mentions").is_some_and(|m| m >= 3.0) {
        confidence += 0.05;
    }
    if thin {
        confidence -= 0.15;
    }
    let confidence = (confidence.clamp(0.1, 0.9) * 100.0).round() / 100.0;
    let symbol = conversation.symbol.as_deref().unwrap_or("The stock");
    let mut thesis = if signals.reasons.is_empty() {
        format!("{symbol}: too little data for a view; holding until prices and indicators are available.")
    } else {
        format!("{symbol}: {}. Net signal {:+.1} → {rating}.", signals.reasons.join("; "), signals.score)
    };
    if let Some(as_of) = facts.texts.get("as_of") {
        let _ = write!(thesis, " Prices as of {as_of}.");
    }
    let mut risks = signals.risks;
    if thin {
        risks.push("Thin data: few bars or indicators were available".into());
    }
    if risks.is_empty() {
        risks.push("Market-wide drawdowns and earnings surprises can override technical signals".into());
    }
    const KEY: [&str; 13] = [
        "last_close",
        "price",
        "change_3m_pct",
        "sma20",
        "sma50",
        "rsi14",
        "macd_hist",
        "volatility20",
        "mentions",
        "mean_sentiment",
        "spike_score",
        "news_count",
        "news_sentiment",
    ];
    let key_figures: Map<String, Value> = KEY
        .iter()
        .filter_map(|name| facts.number(name).map(|value| ((*name).to_owned(), figure(value))))
        .collect();
    let mut sources: Vec<String> = facts.sources.iter().cloned().collect();
    if sources.is_empty() {
        sources.push("no data sources were available".into());
    }
    json!({
        "rating": rating, "confidence": confidence, "horizon": "3-6 months", "thesis": thesis,
        "risks": risks, "key_figures": key_figures, "sources": sources
    })
}

/// A generic schema answer (config-defined crews): required properties filled from the facts
/// where names match, else with neutral values of the right type.
fn fill_schema(schema: &Value, facts: &Facts) -> Value {
    let mut object = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object);
    for name in
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    {
        let property = properties.and_then(|p| p.get(name));
        let value = if let Some(first) =
            property.and_then(|p| p.get("enum")).and_then(Value::as_array).and_then(|e| e.first())
        {
            first.clone()
        } else if let Some(number) = facts.number(name) {
            json!(number)
        } else {
            match property.and_then(|p| p.get("type")).and_then(Value::as_str) {
                Some("number" | "integer") => json!(0),
                Some("array") => json!([]),
                Some("object") => json!({}),
                Some("boolean") => json!(false),
                _ => json!(facts.texts.get(name).cloned().unwrap_or_else(|| "n/a".into())),
            }
        };
        object.insert(name.to_owned(), value);
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use llm::ToolSpec;

    use super::*;

    fn tool(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters: json!({"type":"object","properties":{"symbol":{"type":"string"}},"required":["symbol"]}),
        }
    }

    #[test]
    fn calls_each_offered_tool_once_with_the_tasks_symbol() {
        let mut request = ChatRequest {
            messages: vec![Message::user("Symbol: BRK-B. Look it up.")],
            tools: vec![tool("get_quote"), tool("get_indicators")],
            ..ChatRequest::default()
        };
        let first = respond(&request);
        let names: Vec<_> = first.tool_calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["get_quote", "get_indicators"]);
        assert_eq!(first.tool_calls[0].arguments, r#"{"symbol":"BRK-B"}"#);
        request.messages.push(Message::Assistant { content: None, tool_calls: first.tool_calls.clone() });
        for call in &first.tool_calls {
            request.messages.push(Message::tool(call.id.clone(), r#"{"rsi14": 71.5, "provider": "sample"}"#));
        }
        let answer = respond(&request);
        assert!(answer.tool_calls.is_empty());
        let text = answer.content.unwrap();
        assert!(text.contains("- rsi14: 71.5") && text.contains("RSI 71.5 is overbought"), "{text}");
        assert_eq!(answer.model, OFFLINE);
    }

    #[test]
    fn fills_a_config_crews_schema_from_the_facts() {
        let request = ChatRequest {
            messages: vec![Message::user("Symbol: IBM.\n\nContext:\n- rsi14: 48.2\n- verdict: steady")],
            response_format: ResponseFormat::JsonSchema {
                name: "take".into(),
                schema: json!({"type":"object","required":["rsi14","verdict","tags","mood"],
                    "properties":{"rsi14":{"type":"number"},"verdict":{"type":"string"},"tags":{"type":"array"},
                                  "mood":{"type":"string","enum":["calm","wild"]}}}),
            },
            ..ChatRequest::default()
        };
        let answer: Value = serde_json::from_str(&respond(&request).content.unwrap()).unwrap();
        assert_eq!(answer, json!({"rsi14": 48.2, "verdict": "steady", "tags": [], "mood": "calm"}));
    }

    #[test]
    fn findings_mention_the_news_and_its_vendor_sentiment() {
        let mut request = ChatRequest {
            messages: vec![Message::user("Symbol: AAPL. Look it up.")],
            tools: vec![tool("get_news")],
            ..ChatRequest::default()
        };
        let first = respond(&request);
        request.messages.push(Message::Assistant { content: None, tool_calls: first.tool_calls.clone() });
        let news = json!({"symbol": "AAPL", "news_count": 3, "news": [
            {"headline": "Sample news: Apple shares drift lower", "sentiment": -0.4},
            {"headline": "Sample news: analysts debate", "sentiment": -0.3},
            {"headline": "Sample news: the annual meeting", "sentiment": null}]});
        request.messages.push(Message::tool(first.tool_calls[0].id.clone(), news.to_string()));

        let text = respond(&request).content.unwrap();

        assert!(text.contains("- news_count: 3"), "{text}");
        assert!(text.contains("- news_sentiment: -0.35"), "{text}");
        assert!(
            text.contains(
                "3 recent news items (latest: \"Sample news: Apple shares drift lower\"), vendor sentiment -0.35"
            ),
            "{text}"
        );
        let facts = Facts { numbers: [("news_count".to_owned(), 2.0)].into(), ..Facts::default() };
        let reasons = Signals::read(&facts).reasons;
        assert_eq!(reasons, ["2 recent news items"], "no sentiment: mentioned, not weighed");
        assert_eq!(shorten("ab\u{e9}cd", 3), "ab\u{e9}…");
        assert_eq!(shorten(" short ", 10), "short");
    }
}
