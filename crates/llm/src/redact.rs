//! Redaction of API keys from everything that leaves the client. OpenAI's 401 message quotes a
//! masked form of the key (`sk-proj-****…ab12`), and a misconfigured proxy may echo the whole
//! header, so redaction is done once, here, for every error message rather than at call sites.

/// The mask written in place of a secret.
pub use outbound::MASK;

/// Returns `text` with every occurrence of `secret` (when non-empty) and every `sk-…` token (an
/// OpenAI-style key, masked or not) replaced by [`MASK`].
pub fn redact(text: &str, secret: Option<&str>) -> String {
    let mut out = match secret.map(str::trim).filter(|s| !s.is_empty()) {
        Some(secret) if text.contains(secret) => text.replace(secret, MASK),
        _ => text.to_owned(),
    };
    if out.contains("sk-") {
        out = mask_key_tokens(&out);
    }
    out
}

/// Masks words that start with `sk-`; a word ends at a character that cannot be in a key.
fn mask_key_tokens(text: &str) -> String {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("sk-") {
        let at_word_start = rest[..start].chars().next_back().is_none_or(|c| !is_key_char(c));
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find(|c: char| !is_key_char(c)).unwrap_or(tail.len());
        // A sentence may end right after the key: keep the full stop out of the mask.
        let end = if tail[..end].ends_with('.') { end - 1 } else { end };
        if at_word_start {
            out.push_str(MASK);
        } else {
            out.push_str(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_full_and_quoted_keys() {
        let key = "sk-proj-abcdef0123456789";
        let text = format!("Incorrect API key provided: sk-proj-************6789. Also {key}, risk-free.");
        let out = redact(&text, Some(key));
        assert_eq!(out, "Incorrect API key provided: ***. Also ***, risk-free.");
        assert_eq!(redact("token abc123 here", Some("abc123")), "token *** here");
        assert_eq!(redact("nothing secret", None), "nothing secret");
        assert_eq!(redact("empty key", Some("")), "empty key");
    }
}
