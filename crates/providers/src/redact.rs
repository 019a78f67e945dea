//! Secret redaction for everything that leaves a provider: log lines, error messages, stored
//! records. Alpha Vantage quotes the caller's key back in its quota message, and reqwest puts the
//! full URL (query string included) into its errors, so redaction cannot be left to call sites.

use secrecy::{ExposeSecret, SecretString};

/// Query parameters that carry credentials at some vendor.
const SECRET_PARAMS: [&str; 5] = ["apikey", "api_key", "token", "crumb", "access_token"];

/// The mask written in place of a secret.
pub use outbound::MASK;

/// Removes known secret values and credential-looking query parameters from text.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<SecretString>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").field("n_secrets", &self.secrets.len()).finish()
    }
}

impl Redactor {
    /// A redactor for the given secret values (empty values are ignored).
    pub fn new(secrets: impl IntoIterator<Item = SecretString>) -> Self {
        Self { secrets: secrets.into_iter().filter(|s| !s.expose_secret().is_empty()).collect() }
    }

    /// Returns `text` with every known secret and every `apikey=`/`token=`/`crumb=` value masked.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            let value = secret.expose_secret();
            if out.contains(value) {
                out = out.replace(value, MASK);
            }
        }
        redact_query_params(&out)
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
                SECRET_PARAMS
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_known_secret_anywhere() {
        let r = Redactor::new([SecretString::from("ABCD1234")]);
        let msg = "We have detected your API key as ABCD1234 and our standard API rate limit is 25";
        let out = r.redact(msg);
        assert!(!out.contains("ABCD1234"));
        assert!(out.contains("as *** and"));
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
    }

    #[test]
    fn leaves_lookalikes_alone() {
        assert_eq!(redact_query_params("mytoken=abc"), "mytoken=abc");
        assert_eq!(redact_query_params("no secrets here"), "no secrets here");
    }
}
