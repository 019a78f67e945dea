//! Secret redaction for everything that leaves a client: error messages, log lines, stored
//! records. Vendors quote keys back (Alpha Vantage in its quota message, OpenAI a masked form in
//! its 401), and reqwest puts the full URL, query string included, into its errors, so redaction
//! is done once, here, rather than at call sites.

use crate::secret::{MASK, Secret};

/// Query parameters that carry credentials at some vendor.
const CREDENTIAL_PARAMS: [&str; 5] = ["apikey", "api_key", "token", "crumb", "access_token"];

/// Removes known secret values (and, when asked, credential-looking query parameters and words
/// in a vendor's key format) from text.
///
/// The client adds the secret of its [`Auth`](crate::Auth) itself; adapters add what else they
/// hold (a client secret, a password).
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<Secret>,
    credential_params: bool,
    key_prefixes: Vec<&'static str>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("n_secrets", &self.secrets.len())
            .field("credential_params", &self.credential_params)
            .field("key_prefixes", &self.key_prefixes)
            .finish()
    }
}

impl Redactor {
    /// A redactor masking the given secret values (blank values are ignored).
    pub fn new(secrets: impl IntoIterator<Item = Secret>) -> Self {
        Self::default().with_secrets(secrets)
    }

    /// Also masks these secret values (blank values are ignored).
    #[must_use]
    pub fn with_secrets(mut self, secrets: impl IntoIterator<Item = Secret>) -> Self {
        self.secrets.extend(secrets.into_iter().filter(|s| !s.expose().trim().is_empty()));
        self
    }

    /// Also masks the values of credential query parameters (`apikey=`, `api_key=`, `token=`,
    /// `crumb=`, `access_token=`), case-insensitively.
    #[must_use]
    pub fn with_credential_params(mut self) -> Self {
        self.credential_params = true;
        self
    }

    /// Also masks every word starting with `prefix` (a vendor's key format, such as OpenAI's
    /// `sk-`), whole or already partly masked by the vendor.
    #[must_use]
    pub fn with_key_prefix(mut self, prefix: &'static str) -> Self {
        if !prefix.is_empty() {
            self.key_prefixes.push(prefix);
        }
        self
    }

    /// Returns `text` with every known secret, and what the options above name, replaced by
    /// [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            let value = secret.expose().trim();
            if out.contains(value) {
                out = out.replace(value, MASK);
            }
        }
        for prefix in &self.key_prefixes {
            if out.contains(prefix) {
                out = mask_prefixed_words(&out, prefix);
            }
        }
        if self.credential_params { redact_query_params(&out) } else { out }
    }
}

/// Masks the value of credential query parameters (`apikey=…&`), case-insensitively.
pub fn redact_query_params(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied_to = 0;
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || matches!(bytes[i - 1], b'?' | b'&' | b' ' | b'(' | b'"' | b'\'');
        let matched = at_boundary
            .then(|| {
                CREDENTIAL_PARAMS
                    .iter()
                    .find(|p| lower[i..].starts_with(*p) && lower[i + p.len()..].starts_with('='))
            })
            .flatten();
        if let Some(param) = matched {
            let value_start = i + param.len() + 1;
            let value_end = lower[value_start..]
                .find(['&', ' ', ')', '"', '\'', '#', '\n'])
                .map_or(lower.len(), |n| value_start + n);
            out.push_str(&text[copied_to..value_start]);
            if value_end > value_start {
                out.push_str(MASK);
            }
            copied_to = value_end;
            i = value_end;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied_to..]);
    out
}

/// Masks words that start with `prefix`; a word ends at a character that cannot be in a key.
fn mask_prefixed_words(text: &str, prefix: &str) -> String {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(prefix) {
        let at_word_start = rest[..start].chars().next_back().is_none_or(|c| !is_key_char(c));
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find(|c: char| !is_key_char(c)).unwrap_or(tail.len());
        // A sentence may end right after the key: keep the full stop out of the mask.
        let end = if tail[..end].ends_with('.') { end - 1 } else { end };
        // `end` is at least the prefix's length unless the prefix itself holds a non-key char.
        let end = end.max(prefix.len());
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
    fn masks_known_secret_anywhere() {
        let r = Redactor::new([Secret::new("ABCD1234")]);
        let msg = "We have detected your API key as ABCD1234 and our standard API rate limit is 25";
        let out = r.redact(msg);
        assert!(!out.contains("ABCD1234"));
        assert!(out.contains("as *** and"));
        assert_eq!(Redactor::new([Secret::new(""), Secret::new("  ")]).redact("a b"), "a b");
    }

    #[test]
    fn masks_query_params_case_insensitively() {
        let url = "https://x/query?function=A&apikey=SECRET&symbol=IBM";
        assert_eq!(redact_query_params(url), "https://x/query?function=A&apikey=***&symbol=IBM");
        let url = "error sending request for url (https://p/v2/aggs?cursor=1&apiKey=K9)";
        assert_eq!(
            redact_query_params(url),
            "error sending request for url (https://p/v2/aggs?cursor=1&apiKey=***)"
        );
        assert_eq!(redact_query_params("q?token=t&crumb=c"), "q?token=***&crumb=***");
        let r = Redactor::default();
        assert_eq!(r.redact("q?token=t"), "q?token=t", "only when asked");
        assert_eq!(r.with_credential_params().redact("q?token=t"), "q?token=***");
    }

    #[test]
    fn leaves_lookalikes_alone() {
        assert_eq!(redact_query_params("mytoken=abc"), "mytoken=abc");
        assert_eq!(redact_query_params("no secrets here"), "no secrets here");
    }

    #[test]
    fn masks_full_and_quoted_keys_by_prefix() {
        let key = "sk-proj-abcdef0123456789";
        let r = Redactor::new([Secret::new(key)]).with_key_prefix("sk-");
        let text = format!("Incorrect API key provided: sk-proj-************6789. Also {key}, risk-free.");
        assert_eq!(r.redact(&text), "Incorrect API key provided: ***. Also ***, risk-free.");
        let r = Redactor::new([Secret::new("abc123")]).with_key_prefix("sk-");
        assert_eq!(r.redact("token abc123 here"), "token *** here");
        assert_eq!(r.redact("nothing secret"), "nothing secret");
        assert_eq!(r.redact("ends with sk-"), "ends with ***");
    }
}
