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

/// The JSON object inside a model's answer: the whole text, or a fenced ```json block, or the
/// span from the first `{` to the last `}` (models wrap JSON in prose more often than not).
pub fn extract_json_object(text: &str) -> Option<serde_json::Value> {
    let trimmed = text.trim();
    let candidates = [
        Some(trimmed),
        trimmed.split_once("```json").and_then(|(_, rest)| rest.split_once("```")).map(|(inner, _)| inner),
        trimmed.find('{').zip(trimmed.rfind('}')).filter(|(a, b)| a < b).map(|(a, b)| &trimmed[a..=b]),
    ];
    candidates
        .into_iter()
        .flatten()
        .filter_map(|candidate| serde_json::from_str::<serde_json::Value>(candidate.trim()).ok())
        .find(serde_json::Value::is_object)
}

#[cfg(test)]
mod tests {
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
}
