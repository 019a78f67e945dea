//! Logging setup, and whether output may be coloured. Logs go to stderr so stdout stays clean for
//! tables, CSV and JSON.
//!
//! Colour follows the common conventions, in this order: `NO_COLOR` set to anything non-empty
//! turns it off (<https://no-color.org>); `CLICOLOR_FORCE` set (not `0`) turns it on; otherwise a
//! stream is coloured only when it is a terminal (and `TERM` is not `dumb`). So ANSI codes never
//! land in a log file, a pipe or a CI log unless asked for.

use std::ffi::OsString;
use std::io::IsTerminal as _;

use clap::ColorChoice;
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber once. `RUST_LOG` overrides the configured filter.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A closed stderr (`… 2>&1 | head`) must not make logging print an error about itself
        // to that same stderr, which panics.
        .log_internal_errors(false)
        .with_ansi(Colour::from_env().enabled(std::io::stderr().is_terminal()));
    let result = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let Err(error) = result {
        eprintln!("warning: logging not initialised: {error}");
    }
}

/// How clap may colour help (stdout) and usage errors (stderr). clap's own detection colours
/// piped output when `CI` is set, so the decision is made here: colour only when both streams
/// are terminals, or when forced.
pub fn clap_colour() -> ColorChoice {
    let colour = Colour::from_env();
    match colour {
        Colour::Never => ColorChoice::Never,
        Colour::Always => ColorChoice::Always,
        Colour::Auto { .. } => {
            let terminals = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
            if colour.enabled(terminals) { ColorChoice::Auto } else { ColorChoice::Never }
        }
    }
}

/// What the environment says about colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// `NO_COLOR` is set.
    Never,
    /// `CLICOLOR_FORCE` is set.
    Always,
    /// Colour terminals only; `dumb_terminal` when `TERM=dumb`.
    Auto { dumb_terminal: bool },
}

impl Colour {
    /// Reads `NO_COLOR`, `CLICOLOR_FORCE` and `TERM`.
    pub fn from_env() -> Self {
        Self::from_vars(
            std::env::var_os("NO_COLOR"),
            std::env::var_os("CLICOLOR_FORCE"),
            std::env::var_os("TERM"),
        )
    }

    fn from_vars(no_color: Option<OsString>, force: Option<OsString>, term: Option<OsString>) -> Self {
        let set = |value: &Option<OsString>| value.as_ref().is_some_and(|v| !v.is_empty());
        if set(&no_color) {
            Self::Never
        } else if set(&force) && force.as_deref() != Some("0".as_ref()) {
            Self::Always
        } else {
            Self::Auto { dumb_terminal: term.as_deref() == Some("dumb".as_ref()) }
        }
    }

    /// Whether a stream may be coloured, given whether it is a terminal.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            Self::Never => false,
            Self::Always => true,
            Self::Auto { dumb_terminal } => is_terminal && !dumb_terminal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colour(no_color: Option<&str>, force: Option<&str>, term: Option<&str>) -> Colour {
        Colour::from_vars(no_color.map(Into::into), force.map(Into::into), term.map(Into::into))
    }

    #[test]
    fn terminals_only_by_default() {
        let auto = colour(None, None, Some("xterm-256color"));
        assert!(auto.enabled(true));
        assert!(!auto.enabled(false), "a pipe or a file gets no ANSI codes");
        assert!(!colour(None, None, Some("dumb")).enabled(true));
    }

    #[test]
    fn no_color_wins_and_an_empty_value_is_unset() {
        assert!(!colour(Some("1"), None, None).enabled(true));
        assert!(!colour(Some("1"), Some("1"), None).enabled(true), "NO_COLOR beats CLICOLOR_FORCE");
        assert!(colour(Some(""), None, None).enabled(true), "empty NO_COLOR means unset");
    }

    #[test]
    fn clicolor_force_colours_pipes() {
        assert!(colour(None, Some("1"), None).enabled(false));
        assert!(!colour(None, Some("0"), None).enabled(false));
    }
}
