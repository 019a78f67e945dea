//! A fully read response, and what error messages say about a body: an HTML page (a block page,
//! an nginx error) by its title, anything else by a short excerpt.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// A response read to its end (within the client's `max_body_bytes`).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    wait_hint: Option<Duration>,
}

impl Response {
    /// A response from parts, with the wait hint the client read from its headers. Vendors'
    /// classifiers take `&Response`, so tests and benchmarks can build one without HTTP.
    pub fn new(
        status: StatusCode,
        headers: HeaderMap,
        body: impl Into<Bytes>,
        wait_hint: Option<Duration>,
    ) -> Self {
        Self { status, headers, body: body.into(), wait_hint }
    }

    /// The wait the server asked for in the headers the client reads (its `wait_headers`),
    /// bounded; `None` when there was no usable one.
    pub fn wait_hint(&self) -> Option<Duration> {
        self.wait_hint
    }

    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// True when the body is an HTML page rather than data.
    pub fn is_html(&self) -> bool {
        is_html(&self.body)
    }

    /// What the body is, for an error message; see [`summarize`].
    pub fn summary(&self, max_chars: usize) -> BodySummary {
        summarize(&self.body, max_chars)
    }
}

/// True when `body` starts (after white space) with `<`: an HTML page (block pages, CDN and
/// proxy errors) where JSON was expected.
pub fn is_html(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// What a body is, for an error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySummary {
    /// Nothing but white space.
    Empty,
    /// An HTML page, with its `<title>` (white space folded, at most 120 characters) if it has one.
    Html { title: Option<String> },
    /// The first characters of the text, trimmed.
    Text(String),
}

/// Describes `body` in at most `max_chars` characters of its own text (or its HTML title).
/// Not redacted: the caller redacts what it puts in a message.
pub fn summarize(body: &[u8], max_chars: usize) -> BodySummary {
    if is_html(body) {
        return BodySummary::Html { title: html_title(body) };
    }
    // Four bytes per character at most: enough bytes for `max_chars` characters.
    let head = &body[..body.len().min(max_chars.saturating_mul(4))];
    let text: String = String::from_utf8_lossy(head).trim_start().chars().take(max_chars).collect();
    let text = text.trim_end();
    if text.is_empty() { BodySummary::Empty } else { BodySummary::Text(text.to_owned()) }
}

/// The `<title>` of an HTML page (searched in its first 8 KiB, case-insensitively).
fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(8192)]);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let rest = &text[start..];
    let end = rest.find("</")?;
    let title: String =
        rest[..end].split_whitespace().collect::<Vec<_>>().join(" ").chars().take(120).collect();
    (!title.is_empty()).then_some(title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_by_title() {
        let page = b"  <!DOCTYPE html><html><head><TITLE>Blocked\n by network security</title></head></html>";
        assert!(is_html(page));
        assert_eq!(
            summarize(page, 200),
            BodySummary::Html { title: Some("Blocked by network security".to_owned()) }
        );
        assert_eq!(summarize(b"<html><body>oops</body></html>", 200), BodySummary::Html { title: None });
        assert_eq!(summarize(b"<html><title> </title></html>", 200), BodySummary::Html { title: None });
        assert!(!is_html(br#"{"kind":"Listing"}"#));
    }

    #[test]
    fn text_excerpts() {
        assert_eq!(summarize(b"  \n ", 200), BodySummary::Empty);
        assert_eq!(summarize(b"", 200), BodySummary::Empty);
        assert_eq!(summarize(b" internal error \n", 200), BodySummary::Text("internal error".to_owned()));
        assert_eq!(summarize("é".repeat(300).as_bytes(), 5), BodySummary::Text("ééééé".to_owned()));
        // A multi-byte character cut by the byte window is replaced, never a panic.
        assert!(matches!(summarize("€€€".as_bytes(), 1), BodySummary::Text(_)));
    }
}
