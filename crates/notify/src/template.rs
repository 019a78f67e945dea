//! Message templates: text with `{placeholder}`s naming alert fields, parsed once into parts so
//! an unknown name is an error when a target is saved, not a silent blank when an alert fires.
//! `{{` and `}}` stand for literal braces.

use std::fmt;

use crate::alert::Alert;

/// The longest template accepted, in characters: far more than any chat message allows.
pub const MAX_TEMPLATE_CHARS: usize = 4000;

/// What a missing optional value (`previous`, `price`, `provider`) renders as.
pub const MISSING: &str = "n/a";

/// A field of [`Alert`] a template can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Symbol,
    Price,
    Value,
    Threshold,
    Previous,
    Rule,
    Kind,
    FiredAt,
    Provider,
    Id,
}

impl Placeholder {
    /// Every placeholder, in the order the docs list them.
    pub const ALL: [Self; 10] = [
        Self::Symbol,
        Self::Price,
        Self::Value,
        Self::Threshold,
        Self::Previous,
        Self::Rule,
        Self::Kind,
        Self::FiredAt,
        Self::Provider,
        Self::Id,
    ];

    /// The name written between braces.
    pub fn name(self) -> &'static str {
        match self {
            Self::Symbol => "symbol",
            Self::Price => "price",
            Self::Value => "value",
            Self::Threshold => "threshold",
            Self::Previous => "previous",
            Self::Rule => "rule",
            Self::Kind => "kind",
            Self::FiredAt => "fired_at",
            Self::Provider => "provider",
            Self::Id => "id",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The field's text: numbers with at most 4 decimals and no trailing zeros, times in
    /// RFC 3339 UTC to the second, a missing value as [`MISSING`].
    pub fn value(self, alert: &Alert) -> String {
        let optional = |value: Option<f64>| value.map_or_else(|| MISSING.to_owned(), format_number);
        match self {
            Self::Symbol => alert.symbol.clone(),
            Self::Price => optional(alert.price),
            Self::Value => format_number(alert.value),
            Self::Threshold => format_number(alert.threshold),
            Self::Previous => optional(alert.previous),
            Self::Rule => alert.rule.clone(),
            Self::Kind => alert.kind.clone(),
            Self::FiredAt => alert.fired_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            Self::Provider => alert.provider.clone().unwrap_or_else(|| MISSING.to_owned()),
            Self::Id => alert.id.to_string(),
        }
    }
}

/// A number for people: `187.5`, `70.1235`, `-3`; not `187.50000000000003`.
pub fn format_number(value: f64) -> String {
    if !value.is_finite() {
        return MISSING.to_owned();
    }
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

/// Why a template was refused. Positions are character offsets, counted from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{name}}} (known: {known})", known = known_names())]
    UnknownPlaceholder { name: String },
    #[error("unclosed {{ at character {at} (write {{{{ for a literal brace)")]
    Unclosed { at: usize },
    #[error("unmatched }} at character {at} (write }}}} for a literal brace)")]
    Unmatched { at: usize },
    #[error("longer than {MAX_TEMPLATE_CHARS} characters")]
    TooLong,
}

fn known_names() -> String {
    Placeholder::ALL.iter().map(|p| format!("{{{}}}", p.name())).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Placeholder),
}

/// A parsed template: it can only hold known placeholders, so rendering cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`.
    ///
    /// # Errors
    /// An unknown placeholder (named), an unclosed `{`, a lone `}`, or a template over
    /// [`MAX_TEMPLATE_CHARS`].
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        if text.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(TemplateError::TooLong);
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|(_, next)| *next == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|(_, next)| *next == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::Unmatched { at }),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, '{')) | None => return Err(TemplateError::Unclosed { at }),
                            Some((_, c)) => name.push(c),
                        }
                    }
                    let field =
                        Placeholder::parse(name.trim()).ok_or(TemplateError::UnknownPlaceholder { name })?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(field));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The message for `alert`, each field's text passed through `escape` (Slack needs `<`,
    /// `>` and `&` escaped in values so a symbol or rule cannot become a mention or a link; the
    /// template's own text is the user's and stays as written).
    pub fn render_with(&self, alert: &Alert, escape: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(field) => out.push_str(&escape(&field.value(alert))),
            }
        }
        out
    }

    /// The message for `alert`, values as they are.
    pub fn render(&self, alert: &Alert) -> String {
        self.render_with(alert, str::to_owned)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(&text.replace('{', "{{").replace('}', "}}"))?,
                Part::Field(field) => write!(f, "{{{}}}", field.name())?,
            }
        }
        Ok(())
    }
}

/// Cuts `text` to at most `max_chars` characters, on a character boundary, ending with `…`
/// when something was cut.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    if max_chars == 0 {
        return String::new();
    }
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some(_) => {
            let end = text.char_indices().nth(max_chars - 1).map_or(text.len(), |(i, _)| i);
            format!("{}…", &text[..end])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            id: 42,
            symbol: "NVDA".into(),
            rule: "price above 900".into(),
            kind: "price_above".into(),
            value: 901.25,
            threshold: 900.0,
            previous: None,
            price: Some(901.250_000_001),
            provider: Some("yahoo".into()),
            fired_at: "2024-05-01T14:30:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn renders_every_placeholder() {
        let text = "{symbol}|{price}|{value}|{threshold}|{previous}|{rule}|{kind}|{fired_at}|{provider}|{id}";
        let rendered = Template::parse(text).unwrap().render(&alert());
        assert_eq!(
            rendered,
            "NVDA|901.25|901.25|900|n/a|price above 900|price_above|2024-05-01T14:30:00Z|yahoo|42"
        );
    }

    #[test]
    fn braces_escape_and_errors_say_where() {
        let template = Template::parse("{{literal}} { symbol } }}").unwrap();
        assert_eq!(template.render(&alert()), "{literal} NVDA }");
        assert_eq!(Template::parse(&template.to_string()).unwrap(), template, "Display round-trips");
        let err = Template::parse("hi {sym}").unwrap_err();
        assert_eq!(err, TemplateError::UnknownPlaceholder { name: "sym".into() });
        assert!(err.to_string().starts_with("unknown placeholder {sym} (known: {symbol}, {price}"), "{err}");
        assert_eq!(Template::parse("a {symbol").unwrap_err(), TemplateError::Unclosed { at: 2 });
        assert_eq!(Template::parse("a {x{y}").unwrap_err(), TemplateError::Unclosed { at: 2 });
        assert_eq!(Template::parse("é}").unwrap_err(), TemplateError::Unmatched { at: 1 });
        assert_eq!(Template::parse(&"x".repeat(MAX_TEMPLATE_CHARS + 1)).unwrap_err(), TemplateError::TooLong);
        assert_eq!(Template::parse("").unwrap().render(&alert()), "");
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(format_number(187.5), "187.5");
        assert_eq!(format_number(70.123_456), "70.1235");
        assert_eq!(format_number(-3.0), "-3");
        assert_eq!(format_number(-0.000_01), "0");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(f64::NAN), "n/a");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars("ééééé", 4), "ééé…");
        assert_eq!(truncate_chars("🚀🚀🚀", 2).chars().count(), 2);
        assert_eq!(truncate_chars("abc", 0), "");
    }
}
