//! `tickerwatch config show`: the effective configuration as TOML that a user can read, search
//! and copy from.
//!
//! Every section appears with its values, defaults included. Secrets that are set show as `***`
//! (their types serialize so; the database password is replaced). Optional keys that are not
//! set cannot be written as TOML values, so they appear as commented lines (`# key = example`)
//! with a note on what leaving them unset means, inside their section, and an optional section
//! that is not set (`[social.reddit]`) appears as a commented block of its keys and defaults.
//! The output stays valid TOML, and loading it gives the same configuration; uncommenting a line
//! sets that key.

use std::fmt::Write as _;

use social::reddit::RedditConfig;

use super::{CONFIG_ENV, Config, DEFAULT_CONFIG_FILE, ENV_PREFIX};

/// The example User-Agent of the commented `[social.reddit]` block.
const EXAMPLE_REDDIT_USER_AGENT: &str = "linux:tickerwatch:0.1.0 (by /u/yourname)";

/// Column where the note of a commented line starts.
const NOTE_COLUMN: usize = 40;

/// One optional key that is not set, shown commented in its section.
struct Hint {
    section: &'static str,
    key: &'static str,
    /// A valid TOML value, shown after `=`.
    example: String,
    note: String,
}

impl Hint {
    fn new(section: &'static str, key: &'static str, example: &str, note: &str) -> Self {
        Self { section, key, example: example.to_owned(), note: note.to_owned() }
    }

    /// An unset secret: an empty example, and where it can come from instead of the file.
    fn secret(section: &'static str, key: &'static str) -> Self {
        let variable = format!("{ENV_PREFIX}{}__{}", section.replace('.', "__"), key).to_ascii_uppercase();
        Self::new(section, key, "\"\"", &format!("secret, not set (or {variable})"))
    }

    fn line(&self) -> String {
        commented(&format!("{} = {}", self.key, self.example), &self.note)
    }
}

/// `# text`, and the note aligned after it when there is one.
fn commented(text: &str, note: &str) -> String {
    let line = format!("# {text}");
    if note.is_empty() {
        return line;
    }
    let pad = NOTE_COLUMN.saturating_sub(line.chars().count()).max(2);
    format!("{line}{:pad$}# {note}", "")
}

/// The optional keys of `config` that are not set.
fn hints(config: &Config) -> Vec<Hint> {
    let mut hints = Vec::new();
    let mut unset = |is_none: bool, hint: Hint| {
        if is_none {
            hints.push(hint);
        }
    };
    unset(
        config.database.max_connections.is_none(),
        Hint::new("database", "max_connections", "8", "not set: 8 for SQLite, 10 for PostgreSQL"),
    );
    for (section, vendor) in [
        ("providers.alpha_vantage", &config.providers.alpha_vantage),
        ("providers.polygon", &config.providers.polygon),
        ("providers.finnhub", &config.providers.finnhub),
    ] {
        unset(vendor.api_key.is_none(), Hint::secret(section, "api_key"));
    }
    for (section, vendor) in [
        ("providers.yahoo", &config.providers.yahoo),
        ("providers.polygon", &config.providers.polygon),
        ("providers.finnhub", &config.providers.finnhub),
    ] {
        unset(
            vendor.daily_budget.is_none(),
            Hint::new(section, "daily_budget", "500", "not set: no daily budget (requests per UTC day)"),
        );
    }
    unset(
        config.jobs.download_tracker.schedule.is_none(),
        Hint::new(
            "jobs.download_tracker",
            "schedule",
            "\"0 30 22 * * Mon-Fri\"",
            "not set: on trigger only (cron with seconds, UTC)",
        ),
    );
    let retention = &config.exports.retention;
    unset(
        retention.keep_last.is_none(),
        Hint::new("exports.retention", "keep_last", "50", "not set: no limit on the number of runs"),
    );
    unset(
        retention.max_age_days.is_none(),
        Hint::new("exports.retention", "max_age_days", "90", "not set: no age limit"),
    );
    // Not set at all: the whole section is shown as a commented block, see `s3_block`.
    if let Some(s3) = &config.exports.s3 {
        let [endpoint, key_id, secret] = s3_hints();
        unset(s3.endpoint.is_none(), endpoint);
        unset(s3.access_key_id.is_none(), key_id);
        unset(s3.secret_access_key.is_none(), secret);
    }
    unset(
        config.social.schedule.is_none(),
        Hint::new(
            "social",
            "schedule",
            "\"0 */30 * * * *\"",
            "not set: on trigger only (cron with seconds, UTC)",
        ),
    );
    // Not set at all: the whole section is shown as a commented block, see `reddit_block`.
    if let Some(reddit) = &config.social.reddit {
        for hint in reddit_hints() {
            let is_none = match hint.key {
                "client_id" => reddit.client_id.is_none(),
                "client_secret" => reddit.client_secret.is_none(),
                "username" => reddit.username.is_none(),
                "password" => reddit.password.is_none(),
                _ => reddit.queries_per_minute.is_none(),
            };
            unset(is_none, hint);
        }
    }
    // Not set at all: the whole section is shown as a commented block, see `smtp_block`.
    if let Some(smtp) = &config.jobs.monitor.smtp {
        let [username, password] = smtp_hints();
        unset(smtp.username.is_none(), username);
        unset(smtp.password.is_none(), password);
    }
    unset(
        config.analysis.schedule.is_none(),
        Hint::new(
            "analysis",
            "schedule",
            "\"0 0 23 * * Mon-Fri\"",
            "not set: on request only (every watched symbol; cron with seconds, UTC)",
        ),
    );
    unset(config.analysis.llm.api_key.is_none(), Hint::secret("analysis.llm", "api_key"));
    unset(
        config.analysis.llm.temperature.is_none(),
        Hint::new("analysis.llm", "temperature", "0.0", "not set: the server's default"),
    );
    hints
}

/// The optional keys of `[social.reddit]`.
fn reddit_hints() -> [Hint; 5] {
    [
        Hint::new(
            "social.reddit",
            "client_id",
            "\"your-app-id\"",
            "not set: public JSON listings (no OAuth)",
        ),
        Hint::secret("social.reddit", "client_secret"),
        Hint::secret("social.reddit", "username"),
        Hint::secret("social.reddit", "password"),
        Hint::new("social.reddit", "queries_per_minute", "10", "not set: 10 public, 100 with OAuth"),
    ]
}

/// `[social.reddit]` when it is not set: every key with its default, commented.
fn reddit_block() -> Vec<String> {
    let defaults = RedditConfig::new(EXAMPLE_REDDIT_USER_AGENT);
    let mut lines = vec![commented("[social.reddit]", "not set: needed for source = \"reddit\"")];
    let body = toml::to_string_pretty(&defaults).unwrap_or_default();
    for line in body.lines().filter(|line| !line.trim().is_empty()) {
        let note = if line.starts_with("user_agent") { "required by Reddit, in this form" } else { "" };
        lines.push(commented(line, note));
    }
    lines.extend(reddit_hints().iter().map(Hint::line));
    lines
}

/// The optional keys of `[exports.s3]`.
fn s3_hints() -> [Hint; 3] {
    [
        Hint::new(
            "exports.s3",
            "endpoint",
            "\"http://127.0.0.1:9000\"",
            "not set: AWS S3 (else any S3-compatible server, path-style)",
        ),
        Hint::secret("exports.s3", "access_key_id"),
        Hint::secret("exports.s3", "secret_access_key"),
    ]
}

/// `[exports.s3]` when it is not set: its keys with example values, commented.
fn s3_block() -> Vec<String> {
    let mut lines = vec![commented("[exports.s3]", "not set: needed for exports.store = \"s3\"")];
    for (line, note) in [
        ("bucket = \"tickerwatch-exports\"", ""),
        ("prefix = \"exports\"", "objects are {prefix}/{file name}"),
        ("region = \"us-east-1\"", ""),
        ("part_size_mib = 8", "multipart upload part size (at least 5)"),
        ("upload_concurrency = 2", "parts of one export uploaded at once"),
    ] {
        lines.push(commented(line, note));
    }
    lines.extend(s3_hints().iter().map(Hint::line));
    lines
}

/// The optional keys of `[jobs.monitor.smtp]`.
fn smtp_hints() -> [Hint; 2] {
    [
        Hint::new("jobs.monitor.smtp", "username", "\"alerts@example.com\"", "not set: no login"),
        Hint::secret("jobs.monitor.smtp", "password"),
    ]
}

/// `[jobs.monitor.smtp]` when it is not set: its keys with example values, commented.
fn smtp_block() -> Vec<String> {
    let mut lines = vec![commented("[jobs.monitor.smtp]", "not set: e-mail targets fail (no SMTP server)")];
    for (line, note) in [
        ("host = \"smtp.example.com\"", "must pass [jobs.monitor.targets]"),
        ("port = 587", ""),
        ("tls = \"starttls\"", "none, starttls or tls"),
        ("from = \"tickerwatch <alerts@example.com>\"", ""),
        ("timeout_secs = 30", "one SMTP session, connect to QUIT"),
    ] {
        lines.push(commented(line, note));
    }
    lines.extend(smtp_hints().iter().map(Hint::line));
    lines
}

/// Inserts the commented lines into `toml` (the masked config as `toml` renders it: a header line
/// per table, its keys below it).
pub(super) fn annotate(toml: &str, config: &Config) -> String {
    let hints = hints(config);
    let mut extra_blocks: Vec<(&str, Vec<String>)> = Vec::new();
    if config.social.reddit.is_none() {
        extra_blocks.push(("social", reddit_block()));
    }
    if config.exports.s3.is_none() {
        // After the retention table, the last of `[exports]`.
        extra_blocks.push(("exports.retention", s3_block()));
    }
    if config.jobs.monitor.smtp.is_none() {
        // After the policy's table: a table header ends the keys of the one before it.
        extra_blocks.push(("jobs.monitor.targets", smtp_block()));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The effective configuration: built-in defaults, then the config file (--config,\n\
         # {CONFIG_ENV} or ./{DEFAULT_CONFIG_FILE}), then {ENV_PREFIX}* variables. Secrets that are\n\
         # set show as \"***\". Commented lines are optional keys that are not set: uncomment one to\n\
         # set it."
    );
    let mut section: Option<String> = None;
    let mut block: Vec<&str> = Vec::new();
    let flush = |out: &mut String, section: Option<&str>, block: &mut Vec<&str>| {
        // Keys first, then the section's commented lines, then the blank line before the next.
        while block.last().is_some_and(|line| line.trim().is_empty()) {
            block.pop();
        }
        let mut lines: Vec<String> = block.drain(..).map(str::to_owned).collect();
        if let Some(section) = section {
            lines.extend(hints.iter().filter(|hint| hint.section == section).map(Hint::line));
            for (_, block) in extra_blocks.iter().filter(|(parent, _)| *parent == section) {
                lines.push(String::new());
                lines.extend(block.iter().cloned());
            }
        }
        if !lines.is_empty() {
            out.push('\n');
            for line in lines {
                out.push_str(&line);
                out.push('\n');
            }
        }
    };
    for line in toml.lines() {
        if let Some(header) = header(line) {
            flush(&mut out, section.as_deref(), &mut block);
            section = header.map(str::to_owned);
        }
        block.push(line);
    }
    flush(&mut out, section.as_deref(), &mut block);
    out
}

/// For a header line: `Some(Some("a.b"))` for `[a.b]`, `Some(None)` for `[[a.b]]` (an element of
/// an array of tables, where none of our optional keys live); `None` for other lines.
fn header(line: &str) -> Option<Option<&str>> {
    let name = line.strip_prefix('[')?.strip_suffix(']')?;
    Some((!name.starts_with('[')).then_some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_tables_or_arrays_of_tables_not_values() {
        assert_eq!(header("[providers.polygon]"), Some(Some("providers.polygon")));
        assert_eq!(header("[[providers.polygon.rate_limits]]"), Some(None));
        assert_eq!(header("order = [\"sample\"]"), None);
        assert_eq!(header("    \"stocks\","), None);
    }

    #[test]
    fn secrets_name_their_variable() {
        let line = Hint::secret("providers.polygon", "api_key").line();
        assert!(line.starts_with("# api_key = \"\""), "{line}");
        assert!(line.contains("TICKERWATCH_PROVIDERS__POLYGON__API_KEY"), "{line}");
    }
}
