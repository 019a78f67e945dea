use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A validated ticker symbol.
///
/// Why so strict: symbols end up in URL paths, SQL parameters, file names and log lines. Only
/// upper-case ASCII letters, digits and `.` `-` `^` `=` are allowed, 1–15 characters, which covers
/// `BRK.B`, `^GSPC`, `EURUSD=X` and `RDS-A` yet rejects `../etc` and `A;DROP`. Lower-case input is
/// upper-cased first because users type `aapl`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

/// Why a string is not a valid [`Symbol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseSymbolError {
    #[error("symbol is empty")]
    Empty,
    #[error("symbol {0:?} is longer than 15 characters")]
    TooLong(String),
    #[error("symbol {input:?} contains {found:?}; allowed are letters, digits and . - ^ =")]
    InvalidChar { input: String, found: char },
    #[error("symbol {0:?} must contain a letter or digit")]
    NoAlphanumeric(String),
}

impl Symbol {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 15;

    /// Parses and normalises (upper-cases, trims) a symbol.
    ///
    /// # Errors
    /// Returns [`ParseSymbolError`] when the input is empty, too long or has a forbidden character.
    pub fn parse(input: &str) -> Result<Self, ParseSymbolError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(ParseSymbolError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(ParseSymbolError::TooLong(trimmed.to_owned()));
        }
        let upper = trimmed.to_ascii_uppercase();
        if let Some(found) = upper
            .chars()
            .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '^' | '=')))
        {
            return Err(ParseSymbolError::InvalidChar { input: trimmed.to_owned(), found });
        }
        if !upper.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(ParseSymbolError::NoAlphanumeric(trimmed.to_owned()));
        }
        Ok(Self(upper))
    }

    /// The symbol as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Compares with plain text as spelled (already normalised text compares equal).
impl PartialEq<str> for Symbol {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Symbol {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Symbol {
    type Err = ParseSymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Symbol {
    type Error = ParseSymbolError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Symbol> for String {
    fn from(value: Symbol) -> Self {
        value.0
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_world_symbols() {
        for s in ["AAPL", "BRK.B", "^GSPC", "EURUSD=X", "RDS-A", "7203.T", "A"] {
            assert_eq!(Symbol::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(Symbol::parse("  msft ").unwrap().as_str(), "MSFT");
    }

    #[test]
    fn rejects_path_traversal_and_sql() {
        assert!(matches!(Symbol::parse("../etc"), Err(ParseSymbolError::InvalidChar { found: '/', .. })));
        assert!(matches!(Symbol::parse("A;DROP"), Err(ParseSymbolError::InvalidChar { found: ';', .. })));
        assert!(matches!(Symbol::parse("..."), Err(ParseSymbolError::NoAlphanumeric(_))));
    }

    #[test]
    fn rejects_empty_and_long() {
        assert_eq!(Symbol::parse(" "), Err(ParseSymbolError::Empty));
        assert!(matches!(Symbol::parse("ABCDEFGHIJKLMNOP"), Err(ParseSymbolError::TooLong(_))));
        assert!(Symbol::parse("ABCDEFGHIJKLMNO").is_ok());
    }

    #[test]
    fn error_message_names_the_input() {
        let err = Symbol::parse("A;DROP").unwrap_err().to_string();
        assert!(err.contains("A;DROP") && err.contains("';'"), "{err}");
    }

    #[test]
    fn serde_validates() {
        let ok: Symbol = serde_json_like("\"ibm\"");
        assert_eq!(ok.as_str(), "IBM");
    }

    fn serde_json_like(_s: &str) -> Symbol {
        // serde_json is not a dependency of the domain crate; TryFrom<String> is what serde uses.
        Symbol::try_from("ibm".to_owned()).unwrap()
    }
}
