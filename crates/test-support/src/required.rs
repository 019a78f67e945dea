//! Whether the suites that need an outside service (PostgreSQL, an S3 server) run, skip or fail.
//!
//! Each service is named by one environment variable (its URL or endpoint). Locally the variable
//! is often unset, and those tests then skip, saying so once per test binary. In CI a skipped
//! suite would pass silently while testing nothing, so when the service is *required* (`CI` is
//! set, as CI services and `.ci/run` do, or the service's own `TEST_REQUIRE_*` variable is) an
//! unset variable fails the test. A service that is named but does not answer always fails: the
//! caller reports that, since only it knows how to reach the service.

use std::io::Write as _;
use std::sync::Once;

/// An outside service some suites need, and how a developer provides it.
pub struct RequiredService {
    /// The service as a sentence names it: "PostgreSQL", "the S3 server".
    service: &'static str,
    /// The variable that names it, e.g. `TEST_DATABASE_URL`.
    variable: &'static str,
    /// Set to `1` to require the service outside CI. Deliberately not `TICKERWATCH_*`: the
    /// binary refuses unknown variables with its settings prefix, and the CLI tests pass the
    /// environment on.
    require_variable: &'static str,
    /// The suites that skip without it: "PostgreSQL tests", "object-storage tests".
    suites: &'static str,
    /// What to do to provide it, a clause that starts lower-case.
    how_to_provide: &'static str,
    told: Once,
}

/// What a test that needs the service does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Run(String),
    Skip,
    Fail(String),
}

impl RequiredService {
    pub(crate) const fn new(
        service: &'static str,
        variable: &'static str,
        require_variable: &'static str,
        suites: &'static str,
        how_to_provide: &'static str,
    ) -> Self {
        Self { service, variable, require_variable, suites, how_to_provide, told: Once::new() }
    }

    /// True when the service's suites must run: `CI` or the service's require variable is set
    /// to anything but empty, `0` or `false`.
    pub fn required(&self) -> bool {
        is_set(std::env::var("CI").ok().as_deref())
            || is_set(std::env::var(self.require_variable).ok().as_deref())
    }

    /// The variable's value: `Some` when it is set; `None` (skip the test) when it is not,
    /// after telling stderr once per test binary.
    ///
    /// # Panics
    /// When the service is [required](Self::required) and the variable is not set.
    pub fn value(&self) -> Option<String> {
        match self.decide(std::env::var(self.variable).ok(), self.required()) {
            Decision::Run(value) => Some(value),
            Decision::Fail(message) => panic!("{message}"),
            Decision::Skip => {
                self.told.call_once(|| {
                    let binary = std::env::args().next();
                    let name = binary.as_deref().map_or("this test binary", binary_name);
                    let note = format!(
                        "note: {} is not set, so the {} of {name} are SKIPPED (they pass without running); {}, \
                         and {}=1 to make its absence an error\n",
                        self.variable, self.suites, self.how_to_provide, self.require_variable
                    );
                    // Straight to the stream: the test harness captures `eprintln!` of passing tests.
                    let _ = std::io::stderr().write_all(note.as_bytes());
                });
                None
            }
        }
    }

    pub(crate) fn decide(&self, value: Option<String>, required: bool) -> Decision {
        match value.filter(|value| !value.trim().is_empty()) {
            Some(value) => Decision::Run(value),
            None if required => Decision::Fail(format!(
                "{} is not set, but {} is required here (CI or {} is set): {}",
                self.variable, self.service, self.require_variable, self.how_to_provide
            )),
            None => Decision::Skip,
        }
    }
}

fn is_set(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.trim().is_empty() && v.trim() != "0" && !v.trim().eq_ignore_ascii_case("false"))
}

/// `storage-1a2b3c…` → `storage`: the test binary's name without cargo's hash.
fn binary_name(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.rsplit_once('-')
        .filter(|(_, hash)| hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .map_or(file, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    static EXAMPLE: RequiredService = RequiredService::new(
        "the example server",
        "TEST_EXAMPLE_URL",
        "TEST_REQUIRE_EXAMPLE",
        "example tests",
        "run `example start` and set TEST_EXAMPLE_URL=http://127.0.0.1:1",
    );

    #[test]
    fn truthy_values() {
        for value in ["true", "1", "yes", "woodpecker", "TRUE"] {
            assert!(is_set(Some(value)), "{value}");
        }
        for value in [None, Some(""), Some(" "), Some("0"), Some("false"), Some("False")] {
            assert!(!is_set(value), "{value:?}");
        }
    }

    #[test]
    fn names_the_test_binary() {
        assert_eq!(binary_name("/w/target/debug/deps/storage-0123abcd"), "storage");
        assert_eq!(binary_name("runs_exports_tokens-9f8e"), "runs_exports_tokens");
        assert_eq!(binary_name("plain"), "plain");
    }

    #[test]
    fn a_set_value_runs_the_tests_whether_required_or_not() {
        let url = "http://h:1".to_owned();
        assert_eq!(EXAMPLE.decide(Some(url.clone()), true), Decision::Run(url.clone()));
        assert_eq!(EXAMPLE.decide(Some(url.clone()), false), Decision::Run(url));
    }

    #[test]
    fn a_missing_value_skips_locally_and_fails_when_required() {
        assert_eq!(EXAMPLE.decide(None, false), Decision::Skip);
        assert_eq!(EXAMPLE.decide(Some(" ".to_owned()), false), Decision::Skip);
        let Decision::Fail(message) = EXAMPLE.decide(None, true) else { panic!("not a failure") };
        assert_eq!(
            message,
            "TEST_EXAMPLE_URL is not set, but the example server is required here (CI or TEST_REQUIRE_EXAMPLE \
             is set): run `example start` and set TEST_EXAMPLE_URL=http://127.0.0.1:1"
        );
    }
}
