//! Secrets from config (API keys, client secrets, passwords): one type for every crate, so the
//! rule "never printed, never serialized" lives in one place.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// What a secret looks like wherever it would be shown: logs, errors, `config show`.
pub const MASK: &str = "***";

/// A secret value. `Debug` and `Serialize` print [`MASK`]; only [`expose`](Self::expose) gives the
/// value, for the one place that sends it and for redaction.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The value as a [`SecretString`], for holders that keep it apart from the config.
    pub fn secret(&self) -> SecretString {
        self.0.clone()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_value() {
        let secret: Secret = serde_json::from_str("\"sk-live-123\"").unwrap();
        assert_eq!(secret.expose(), "sk-live-123");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"***\"");
    }
}
