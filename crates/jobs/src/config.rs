//! The `[jobs]` and `[exports]` settings.
//!
//! Every section is `deny_unknown_fields` (a typo is an error, not a silent default) and
//! `default` (a section may set only the keys it changes). Values a type cannot rule out (a zero
//! concurrency, an unparsable range, a retention that would delete the export just written) are
//! checked by `validate`, which names the offending key, so the binary can refuse to start with a
//! clear message instead of failing at the first run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use domain::Interval;
use export::ExportFormat;
use providers::Span;
use serde::{Deserialize, Serialize};

use crate::download_tracker::DownloadTracker;

/// A setting that parses but makes no sense; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {key}: {message}")]
pub struct ConfigError {
    /// The full key, e.g. `jobs.download_tracker.concurrency`.
    pub key: &'static str,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: &'static str, message: impl Into<String>) -> Self {
        Self { key, message: message.into() }
    }
}

/// The `[jobs]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// How long running jobs may take to finish after a shutdown signal before they are
    /// cancelled and marked `interrupted`.
    pub shutdown_grace_secs: u64,
    /// How many runs of one job may execute at once, by job name (e.g. `analysis = 2`); a job
    /// not listed runs one at a time. Each job has its own lane, so runs of different jobs never
    /// wait for each other whatever these say.
    pub concurrency: BTreeMap<String, usize>,
    /// How often this process tells the database it is alive (and takes over the work of
    /// processes that stopped doing so).
    pub heartbeat_interval_ms: u64,
    /// A process whose heartbeat is older than this is dead: its queued and running runs are
    /// interrupted and its unfinished exports failed by the others.
    pub owner_stale_after_secs: u64,
    pub download_tracker: DownloadTrackerConfig,
    pub monitor: MonitorConfig,
}

/// The `[jobs.monitor]` section: the quote-polling schedule of the stock monitor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Cron expression with seconds, in UTC, e.g. `"0 */5 * * * Mon-Fri"`; none: rules are
    /// evaluated only after each download-tracker run. Symbols whose exchange is closed are not
    /// polled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Where alert deliveries may connect besides public addresses: `allow_private = true`
    /// opens the whole private network, `allowed_hosts` only the hosts named (a LAN chat server,
    /// an SMTP relay). Closed by default, so a rule's webhook cannot probe the internal network.
    pub targets: notify::TargetPolicy,
    /// The SMTP server e-mail targets are sent through (`[jobs.monitor.smtp]`); none: e-mail
    /// deliveries fail, saying so. Its host passes the same address policy as webhooks (a relay
    /// on this host or the LAN is named in `targets.allowed_hosts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<notify::SmtpConfig>,
}

impl MonitorConfig {
    /// Checks the SMTP settings, naming the key (`jobs.monitor.smtp.from` …).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let Some(smtp) = &self.smtp else { return Ok(()) };
        smtp.validate().map(drop).map_err(|error| {
            let key = match error.field() {
                "host" => "jobs.monitor.smtp.host",
                "port" => "jobs.monitor.smtp.port",
                "timeout_secs" => "jobs.monitor.smtp.timeout_secs",
                "from" => "jobs.monitor.smtp.from",
                _ => "jobs.monitor.smtp.password",
            };
            // The message without its own `smtp.<field>: ` prefix; it never holds the password.
            let message = error.to_string();
            let reason = message.split_once(": ").map_or(message.as_str(), |(_, reason)| reason);
            ConfigError::new(key, reason)
        })
    }

    /// The notifier's settings: the address policy and the SMTP server, with the webhook
    /// client's defaults. The one place `serve`'s jobs and `alerts test` build it from.
    pub fn notifier_config(&self) -> notify::NotifierConfig {
        notify::NotifierConfig {
            smtp: self.smtp.clone(),
            ..notify::NotifierConfig::new(self.targets.clone())
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            shutdown_grace_secs: 30,
            concurrency: BTreeMap::new(),
            heartbeat_interval_ms: 5_000,
            owner_stale_after_secs: 30,
            download_tracker: DownloadTrackerConfig::default(),
            monitor: MonitorConfig::default(),
        }
    }
}

impl JobsConfig {
    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_grace_secs)
    }

    /// How often the heartbeat beats.
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    /// When an owner counts as dead.
    pub fn owner_stale_after(&self) -> Duration {
        Duration::from_secs(self.owner_stale_after_secs)
    }

    /// `(job name, maximum runs at once)` of every job with a configured concurrency, as
    /// [`JobEngine::start_with`] takes them.
    ///
    /// [`JobEngine::start_with`]: crate::JobEngine::start_with
    pub fn concurrency(&self) -> Vec<(String, usize)> {
        self.concurrency.iter().map(|(job, n)| (job.clone(), *n)).collect()
    }

    /// `(job name, cron expression)` of every scheduled job, as [`JobEngine::start`] takes them.
    ///
    /// [`JobEngine::start`]: crate::JobEngine::start
    pub fn schedules(&self) -> Vec<(String, String)> {
        let tracker =
            self.download_tracker.schedule.as_ref().map(|s| (DownloadTracker::NAME.to_owned(), s.clone()));
        let monitor = self.monitor.schedule.as_ref().map(|s| (crate::MonitorJob::NAME.to_owned(), s.clone()));
        tracker.into_iter().chain(monitor).collect()
    }

    /// Checks the values serde cannot (cron expressions are checked by `JobEngine::start`).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some((job, n)) = self.concurrency.iter().find(|(_, n)| !(1..=MAX_JOB_CONCURRENCY).contains(*n))
        {
            return Err(ConfigError::new(
                "jobs.concurrency",
                format!("{job} = {n}: must be between 1 and {MAX_JOB_CONCURRENCY}"),
            ));
        }
        if !(100..=60_000).contains(&self.heartbeat_interval_ms) {
            return Err(ConfigError::new(
                "jobs.heartbeat_interval_ms",
                format!("must be between 100 and 60000, got {}", self.heartbeat_interval_ms),
            ));
        }
        // Two missed beats (at least a second, the stored clock's step) before an owner is dead.
        let min_stale = (2 * self.heartbeat_interval_ms).div_ceil(1000).max(2);
        if self.owner_stale_after_secs < min_stale {
            return Err(ConfigError::new(
                "jobs.owner_stale_after_secs",
                format!(
                    "must be at least {min_stale} (twice jobs.heartbeat_interval_ms, and 2), got {}",
                    self.owner_stale_after_secs
                ),
            ));
        }
        self.download_tracker.validate()?;
        self.monitor.validate()
    }
}

/// The most runs of one job that may execute at once.
pub const MAX_JOB_CONCURRENCY: usize = 16;

/// The `[jobs.download_tracker]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DownloadTrackerConfig {
    /// Cron expression with seconds, in UTC, e.g. `"0 30 22 * * Mon-Fri"` (22:30 UTC on
    /// weekdays); none means trigger-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// History to fetch for a symbol with no stored bars (e.g. `1y`, `5y`, `max`).
    pub initial_range: String,
    pub interval: Interval,
    /// Symbols fetched at once.
    pub concurrency: usize,
    /// Export written after each run.
    pub export_format: ExportFormat,
    /// How much history the export covers (e.g. `1y`), counted back from the newest stored bar
    /// of the watchlist (see the download-tracker's module docs).
    pub export_range: String,
    /// News of the last this many days is fetched for each refreshed symbol (stored once per
    /// URL, so overlapping windows cost nothing); 0 turns news off.
    pub news_days: u32,
    /// A symbol's company profile is fetched again only when the stored one is older than this
    /// many days (profiles change rarely, and every call counts against a vendor's budget); 0
    /// turns profile refreshes off.
    pub profile_max_age_days: u32,
}

impl Default for DownloadTrackerConfig {
    fn default() -> Self {
        Self {
            schedule: None,
            initial_range: "1y".to_owned(),
            interval: Interval::Day1,
            concurrency: 4,
            export_format: ExportFormat::Csv,
            export_range: "1y".to_owned(),
            news_days: 7,
            profile_max_age_days: 7,
        }
    }
}

impl DownloadTrackerConfig {
    /// The largest accepted `concurrency`: more would only queue behind the providers' own
    /// connection and rate limits while holding more bars in memory.
    pub const MAX_CONCURRENCY: usize = 64;

    /// The largest accepted `news_days`: vendors keep about a year of company news, and a longer
    /// window only costs pages.
    pub const MAX_NEWS_DAYS: u32 = 365;

    /// Checks the ranges and the concurrency.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.initial_span()?;
        self.export_span()?;
        if !(1..=Self::MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(ConfigError::new(
                "jobs.download_tracker.concurrency",
                format!("must be between 1 and {}, got {}", Self::MAX_CONCURRENCY, self.concurrency),
            ));
        }
        if self.news_days > Self::MAX_NEWS_DAYS {
            return Err(ConfigError::new(
                "jobs.download_tracker.news_days",
                format!("must be at most {} (0 turns news off), got {}", Self::MAX_NEWS_DAYS, self.news_days),
            ));
        }
        Ok(())
    }

    pub(crate) fn initial_span(&self) -> Result<Span, ConfigError> {
        Span::parse_range(&self.initial_range)
            .map_err(|e| ConfigError::new("jobs.download_tracker.initial_range", e.to_string()))
    }

    pub(crate) fn export_span(&self) -> Result<Span, ConfigError> {
        Span::parse_range(&self.export_range)
            .map_err(|e| ConfigError::new("jobs.download_tracker.export_range", e.to_string()))
    }
}

/// The `[exports]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportsConfig {
    /// Directory export files are written to (created if missing).
    pub dir: PathBuf,
    pub retention: RetentionConfig,
}

impl Default for ExportsConfig {
    fn default() -> Self {
        Self { dir: PathBuf::from("data/exports"), retention: RetentionConfig::default() }
    }
}

impl ExportsConfig {
    /// Checks the retention limits.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dir.as_os_str().is_empty() {
            return Err(ConfigError::new("exports.dir", "must not be empty"));
        }
        self.retention.validate()
    }
}

/// Which finished exports to keep; both limits apply when both are set (an export goes when
/// either says so). `keep_last` counts runs: the files one download-tracker run writes (bars,
/// summary, mentions, notes) are kept or removed together; an export made outside a run
/// (CLI, API) counts as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u64>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { keep_last: Some(50), max_age_days: Some(90) }
    }
}

impl RetentionConfig {
    /// Zero would delete the export a run has just written.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.keep_last == Some(0) {
            return Err(ConfigError::new("exports.retention.keep_last", "must be at least 1 (or unset)"));
        }
        if self.max_age_days == Some(0) {
            return Err(ConfigError::new("exports.retention.max_age_days", "must be at least 1 (or unset)"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let jobs = JobsConfig::default();
        jobs.validate().unwrap();
        let exports = ExportsConfig::default();
        exports.validate().unwrap();
        assert_eq!(exports.dir, PathBuf::from("data/exports"));
        assert_eq!((exports.retention.keep_last, exports.retention.max_age_days), (Some(50), Some(90)));
        assert!(jobs.schedules().is_empty());
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut tracker = DownloadTrackerConfig { concurrency: 0, ..DownloadTrackerConfig::default() };
        assert_eq!(tracker.validate().unwrap_err().key, "jobs.download_tracker.concurrency");
        tracker.concurrency = 2;
        tracker.export_range = "1x".to_owned();
        assert_eq!(tracker.validate().unwrap_err().key, "jobs.download_tracker.export_range");
        let jobs = JobsConfig { concurrency: [("analysis".to_owned(), 0)].into(), ..JobsConfig::default() };
        assert_eq!(jobs.validate().unwrap_err().key, "jobs.concurrency");
        let jobs =
            JobsConfig { heartbeat_interval_ms: 5_000, owner_stale_after_secs: 9, ..JobsConfig::default() };
        assert_eq!(jobs.validate().unwrap_err().key, "jobs.owner_stale_after_secs");
        let retention = RetentionConfig { keep_last: Some(0), max_age_days: None };
        assert_eq!(retention.validate().unwrap_err().key, "exports.retention.keep_last");
    }

    #[test]
    fn schedules_name_the_job() {
        let mut jobs = JobsConfig::default();
        jobs.download_tracker.schedule = Some("0 30 22 * * Mon-Fri".to_owned());
        assert_eq!(jobs.schedules(), vec![("download-tracker".to_owned(), "0 30 22 * * Mon-Fri".to_owned())]);
    }
}
