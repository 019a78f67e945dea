//! Secrets from config (API keys, client secrets, passwords): one type for every crate, so the
//! rule "never printed, never serialized" lives in one place.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// What a secret looks like wherever it would be shown: logs, errors, `config show`.
pub const MASK: &str = "***";

/// A secret value. `Debug` and `Serialize` print [`MASK`]; only [`expose`](Self::expose) gives the
/// value, for the one place that sends it and for redaction. Deserializing anything but text is
/// an error that does not quote the value.
#[derive(Clone)]
pub struct Secret(SecretString);

/// Why a secret that is not text is refused. serde's own message quotes the value
/// (`found unsigned int 987654321`), and a config loader parses an all-digit environment variable
/// (a PIN-like password, a numeric key) as a number, so that message would print the secret.
const NOT_TEXT: &str = "a secret must be text, and this value is not (a value of digits only from an \
     environment variable is read as a number: quote it, e.g. VAR='\"0123\"'); the value is not shown";

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `any`, not `string`: serde_json answers `deserialize_string` of a number with its own
        // error, which quotes the number.
        deserializer.deserialize_any(SecretVisitor)
    }
}

/// Takes text; refuses everything else with [`NOT_TEXT`], whatever it is.
struct SecretVisitor;

impl serde::de::Visitor<'_> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Secret, E> {
        Ok(Secret::new(value))
    }

    fn visit_string<E: serde::de::Error>(self, value: String) -> Result<Secret, E> {
        Ok(Secret::new(value))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<Secret, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<Secret, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Secret, E> {
        Err(E::custom(NOT_TEXT))
    }
}

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

    #[test]
    fn a_value_that_is_not_text_is_refused_without_quoting_it() {
        for json in ["987654321", "-987654321", "9876.54321", "true"] {
            let error = serde_json::from_str::<Secret>(json).unwrap_err().to_string();
            assert!(error.contains("must be text") && !error.contains("98765"), "{json}: {error}");
        }
    }
}
