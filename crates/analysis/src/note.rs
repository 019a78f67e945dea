//! The research note: parsed from the writer's JSON, rendered as markdown, stored.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use agents::TaskOutput;
use domain::Rating;
use serde::Deserialize;
use serde_json::Value;

/// The writer's answer, as the note schema describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NoteBody {
    pub rating: Rating,
    pub confidence: f64,
    #[serde(default)]
    pub horizon: String,
    #[serde(default)]
    pub thesis: String,
    #[serde(default)]
    pub risks: Vec<String>,
    #[serde(default)]
    pub key_figures: BTreeMap<String, Value>,
    #[serde(default)]
    pub sources: Vec<String>,
}

impl NoteBody {
    /// Reads the note from the final task's parsed JSON.
    ///
    /// # Errors
    /// A readable reason when the JSON does not make a note.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let mut body: Self =
            serde_json::from_value(value.clone()).map_err(|e| format!("not a research note: {e}"))?;
        if !body.confidence.is_finite() || !(0.0..=1.0).contains(&body.confidence) {
            return Err(format!("confidence {} is outside 0..1", body.confidence));
        }
        body.horizon = body.horizon.trim().to_owned();
        if body.horizon.is_empty() {
            "unspecified".clone_into(&mut body.horizon);
        }
        Ok(body)
    }
}

/// The note as markdown: the verdict first, then thesis, figures, risks, sources and what each
/// analyst found.
pub fn render_markdown(
    symbol: &str,
    body: &NoteBody,
    model: &str,
    crew: &str,
    outputs: &[TaskOutput],
) -> String {
    let mut md = String::new();
    let rating = format!("{:?}", body.rating).to_uppercase();
    let _ =
        writeln!(md, "# {symbol}: {rating} ({:.0}% confidence, {})\n", body.confidence * 100.0, body.horizon);
    let _ = writeln!(md, "*Crew {crew}, model {model}. Research, not investment advice.*\n");
    let _ = writeln!(md, "## Thesis\n\n{}\n", body.thesis.trim());
    if !body.key_figures.is_empty() {
        md.push_str("## Key figures\n\n| Figure | Value |\n|---|---|\n");
        for (name, value) in &body.key_figures {
            let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            let _ = writeln!(md, "| {} | {} |", escape_cell(name), escape_cell(&value));
        }
        md.push('\n');
    }
    if !body.risks.is_empty() {
        md.push_str("## Risks\n\n");
        for risk in &body.risks {
            let _ = writeln!(md, "- {risk}");
        }
        md.push('\n');
    }
    if !body.sources.is_empty() {
        md.push_str("## Sources\n\n");
        for source in &body.sources {
            let _ = writeln!(md, "- {source}");
        }
        md.push('\n');
    }
    let findings: Vec<_> = outputs.iter().filter(|output| output.json.is_none()).collect();
    if !findings.is_empty() {
        md.push_str("## Findings\n");
        for output in findings {
            let _ = writeln!(
                md,
                "\n### {} ({})\n\n{}",
                output.task.replace('_', " "),
                output.agent,
                output.text.trim()
            );
        }
    }
    md
}

fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_and_renders_a_note() {
        let body = NoteBody::from_json(&json!({
            "rating": "buy", "confidence": 0.72, "horizon": "3-6 months", "thesis": "Uptrend | strong",
            "risks": ["Earnings"], "key_figures": {"rsi14": 61.2, "trend": "up"}, "sources": ["sample"]
        }))
        .unwrap();
        assert_eq!(body.rating, Rating::Buy);
        let outputs = [TaskOutput {
            task: "technical_analysis".into(),
            agent: "TA".into(),
            text: "Up.".into(),
            json: None,
        }];
        let md = render_markdown("AAPL", &body, "offline", "equity-research", &outputs);
        assert!(md.starts_with("# AAPL: BUY (72% confidence, 3-6 months)"), "{md}");
        assert!(md.contains("| rsi14 | 61.2 |") && md.contains("| trend | up |"), "{md}");
        assert!(md.contains("### technical analysis (TA)"), "{md}");
    }

    #[test]
    fn rejects_what_is_not_a_note() {
        assert!(NoteBody::from_json(&json!({"rating": "moon", "confidence": 0.5})).is_err());
        assert!(
            NoteBody::from_json(&json!({"rating": "buy", "confidence": 1.5}))
                .unwrap_err()
                .contains("outside")
        );
        let body = NoteBody::from_json(&json!({"rating": "sell", "confidence": 0.3})).unwrap();
        assert_eq!(body.horizon, "unspecified");
    }
}
