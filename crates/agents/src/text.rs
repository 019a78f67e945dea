//! Small text helpers shared by the engine and the trace.

use std::borrow::Cow;

/// Cuts `text` to at most `max_bytes` on a character boundary, marking the cut.
pub fn truncate(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    const MARK: &str = "…";
    let mut end = max_bytes.saturating_sub(MARK.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{MARK}", &text[..end]))
}

/// Replaces `{name}` placeholders with the run's inputs; unknown placeholders stay as written.
pub(crate) fn fill_template(template: &str, inputs: &[(String, String)]) -> String {
    let mut filled = template.to_owned();
    for (name, value) in inputs {
        let placeholder = format!("{{{name}}}");
        if filled.contains(&placeholder) {
            filled = filled.replace(&placeholder, value);
        }
    }
    filled
}

/// The answer in a model's reply, without the ReAct scaffolding some OpenAI-compatible servers
/// and fine-tunes add: the text after the last line that starts with `Final Answer:` (any case,
/// also as `**Final Answer:**`), so a `Thought: …` preamble goes too; the whole reply when no line
/// does. Trimmed; empty when the marker is followed by nothing. Only line starts count, so the
/// words inside a sentence or a JSON string are left alone.
pub fn final_answer(text: &str) -> &str {
    const MARKER: &str = "final answer:";
    let mut answer = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_start_matches([' ', '\t', '*', '_', '#', '>']);
        let start = offset + (line.len() - content.len());
        if content.get(..MARKER.len()).is_some_and(|head| head.eq_ignore_ascii_case(MARKER)) {
            answer = Some(&text[start + MARKER.len()..]);
        }
        offset += line.len();
    }
    answer.map_or(text, |rest| rest.trim_start_matches(['*', '_'])).trim()
}

/// The JSON object inside a model's answer: the answer after a `Final Answer:` marker (see
/// [`final_answer`]), taken whole, or from a fenced ```` ```json ```` block, or from the first
/// `{` that starts a complete object, whatever prose follows it (models wrap JSON in prose more
/// often than not).
pub fn extract_json_object(text: &str) -> Option<serde_json::Value> {
    if let Ok(value @ serde_json::Value::Object(_)) = serde_json::from_str(text.trim()) {
        return Some(value);
    }
    let answer = final_answer(text);
    let fenced = answer.split_once("```").and_then(|(_, rest)| {
        let rest = rest.strip_prefix("json").or_else(|| rest.strip_prefix("JSON")).unwrap_or(rest);
        rest.split_once("```").map(|(inner, _)| inner)
    });
    let whole = [Some(answer), fenced]
        .into_iter()
        .flatten()
        .filter_map(|candidate| serde_json::from_str::<serde_json::Value>(candidate.trim()).ok())
        .find(serde_json::Value::is_object);
    whole.or_else(|| {
        // An object followed by anything: parse one value from each `{` (the first few only, so
        // a long reply full of braces costs little).
        answer.match_indices('{').take(8).find_map(|(at, _)| {
            let mut values =
                serde_json::Deserializer::from_str(&answer[at..]).into_iter::<serde_json::Value>();
            values.next().and_then(Result::ok).filter(serde_json::Value::is_object)
        })
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("abc", 10), "abc");
        let cut = truncate("ééééé", 6);
        assert!(cut.len() <= 6 && cut.ends_with('…'), "{cut}");
    }

    #[test]
    fn fills_known_placeholders_only() {
        let inputs = vec![("symbol".to_owned(), "AAPL".to_owned())];
        assert_eq!(fill_template("Research {symbol} ({other})", &inputs), "Research AAPL ({other})");
    }

    #[test]
    fn extracts_json_from_prose_and_fences() {
        assert!(extract_json_object(r#"{"a":1}"#).is_some());
        assert_eq!(
            extract_json_object("Here:\n```json\n{\"a\":2}\n```\nDone").and_then(|v| v.get("a").cloned()),
            Some(2.into())
        );
        assert_eq!(
            extract_json_object("Note {\"a\":3} end").and_then(|v| v.get("a").cloned()),
            Some(3.into())
        );
        assert!(extract_json_object("no json here").is_none());
        assert!(extract_json_object("[1,2]").is_none());
    }

    /// Issue 10: replies of servers that ignore `response_format` and answer in ReAct style.
    #[test]
    fn extracts_json_after_a_final_answer_marker() {
        let a = |text: &str| extract_json_object(text).and_then(|v| v.get("a").cloned());
        assert_eq!(a("Final Answer: {\"a\": 1}"), Some(1.into()));
        assert_eq!(a("Thought: I know it now.\nFinal Answer: ```json\n{\"a\": 2}\n```"), Some(2.into()));
        assert_eq!(a("**Final Answer:** ```\n{\"a\": 3}\n```"), Some(3.into()));
        assert_eq!(
            a("Here is my note.\n\nfinal answer: {\"a\": {\"b\": 4}} Hope this helps {:)}"),
            Some(json!({"b": 4}))
        );
        assert_eq!(
            a("Thought: the format is {\"a\": 0}.\nFinal Answer: {\"a\": 5}"),
            Some(5.into()),
            "the answer, not the thought"
        );
        assert_eq!(a("I considered {x} and {y}. {\"a\": 6} is it."), Some(6.into()));
        assert!(extract_json_object("Final Answer:").is_none());
        assert!(extract_json_object("Final Answer: {\"a\": ").is_none(), "cut off");
    }

    #[test]
    fn final_answer_drops_the_react_scaffolding() {
        assert_eq!(
            final_answer("Thought: I now know the final answer\nFinal Answer: RSI 61, uptrend."),
            "RSI 61, uptrend."
        );
        assert_eq!(final_answer("**Final Answer:** up"), "up");
        assert_eq!(final_answer("  plain answer \n"), "plain answer");
        assert_eq!(final_answer("Final Answer:  "), "");
        assert_eq!(
            final_answer("Ünïcode first.\nFINAL ANSWER: ok"),
            "ok",
            "byte offsets survive non-ASCII text"
        );
        assert_eq!(
            final_answer("The final answer: hold."),
            "The final answer: hold.",
            "only at a line start"
        );
        let json = r#"{"thesis": "Final Answer: hold", "a": 1}"#;
        assert_eq!(extract_json_object(json).and_then(|v| v.get("a").cloned()), Some(1.into()));
    }
}
