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
use outbound::Secret;
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
    /// A process whose heartbeat is older than this is dead: the runs it was running are
    /// queued again (attempts left, see `max_attempts`) or interrupted, and its unfinished
    /// exports failed, by the others.
    pub owner_stale_after_secs: u64,
    /// How many workers may try a run whose worker died mid-run, by job name (e.g.
    /// `analysis = 2`); a job not listed keeps its own policy (analyses 1, the others 3).
    pub max_attempts: BTreeMap<String, u32>,
    /// How often an idle worker looks for queued runs without being told. With PostgreSQL,
    /// workers are woken by `LISTEN/NOTIFY` at once; this only bounds a lost notification. With
    /// SQLite every run is queued in this one process, which wakes its workers directly, so they
    /// look at most once a minute whatever this says (a run left queued by a killed CLI waits
    /// that long). Also how soon a failed claim is tried again.
    pub claim_poll_ms: u64,
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
            max_attempts: BTreeMap::new(),
            claim_poll_ms: 1_000,
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

    /// `(job name, attempts)` of every job with a configured retry policy.
    pub fn max_attempts(&self) -> Vec<(String, u32)> {
        self.max_attempts.iter().map(|(job, n)| (job.clone(), *n)).collect()
    }

    /// How often idle workers look for queued runs.
    pub fn claim_poll(&self) -> Duration {
        Duration::from_millis(self.claim_poll_ms)
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
        if let Some((job, n)) = self.max_attempts.iter().find(|(_, n)| !(1..=MAX_ATTEMPTS).contains(*n)) {
            return Err(ConfigError::new(
                "jobs.max_attempts",
                format!("{job} = {n}: must be between 1 and {MAX_ATTEMPTS}"),
            ));
        }
        if !(50..=60_000).contains(&self.claim_poll_ms) {
            return Err(ConfigError::new(
                "jobs.claim_poll_ms",
                format!("must be between 50 and 60000, got {}", self.claim_poll_ms),
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

/// The most attempts a run may be given.
pub(crate) const MAX_ATTEMPTS: u32 = 10;

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
    /// Directory export files are written to (created if missing). With `store = "s3"` it only
    /// holds the temporary sheet files of xlsx exports while they are written.
    pub dir: PathBuf,
    /// Where finished exports live: `local` (files in `dir`) or `s3` (objects in the bucket of
    /// `[exports.s3]`, so that every instance can serve every export).
    pub store: ExportStoreKind,
    /// The bucket, when `store = "s3"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Config>,
    pub retention: RetentionConfig,
}

impl Default for ExportsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("data/exports"),
            store: ExportStoreKind::Local,
            s3: None,
            retention: RetentionConfig::default(),
        }
    }
}

impl ExportsConfig {
    /// Checks the retention limits and, with `store = "s3"`, the bucket settings.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the bad key; it never quotes a credential.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dir.as_os_str().is_empty() {
            return Err(ConfigError::new("exports.dir", "must not be empty"));
        }
        if self.store == ExportStoreKind::S3 {
            let Some(s3) = &self.s3 else {
                return Err(ConfigError::new(
                    "exports.s3",
                    "required when exports.store = \"s3\" (bucket, region and credentials)",
                ));
            };
            s3.validate()?;
        }
        self.retention.validate()
    }
}

/// `exports.store`: where finished exports live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportStoreKind {
    /// Files in `exports.dir` (one instance, or instances sharing that directory).
    #[default]
    Local,
    /// Objects in an S3-compatible bucket (`[exports.s3]`).
    S3,
}

/// The `[exports.s3]` section: an S3 bucket, or a bucket on any S3-compatible server (MinIO,
/// Ceph, moto) through `endpoint`, addressed path-style. The credentials are [`Secret`]s:
/// `Debug`, `config show` and every error print `***`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// Objects are named `{prefix}/{file name}`; empty: at the bucket's root.
    #[serde(default)]
    pub prefix: String,
    /// Base URL of an S3-compatible server, e.g. `http://127.0.0.1:9000`; not set: AWS S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default = "S3Config::default_region")]
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
    /// Size of each multipart-upload part in MiB (S3 needs at least 5); the memory one upload
    /// holds is about `part_size_mib × (upload_concurrency + 1)` plus a few MiB.
    #[serde(default = "S3Config::default_part_size_mib")]
    pub part_size_mib: u64,
    /// Parts of one export uploaded at once.
    #[serde(default = "S3Config::default_upload_concurrency")]
    pub upload_concurrency: usize,
}

/// Equal settings: the credentials are compared by value (configs are compared in tests; nothing
/// compares credentials a client sent).
impl PartialEq for S3Config {
    fn eq(&self, other: &Self) -> bool {
        let expose = |secret: &Option<Secret>| secret.as_ref().map(|s| s.expose().to_owned());
        self.bucket == other.bucket
            && self.prefix == other.prefix
            && self.endpoint == other.endpoint
            && self.region == other.region
            && expose(&self.access_key_id) == expose(&other.access_key_id)
            && expose(&self.secret_access_key) == expose(&other.secret_access_key)
            && self.part_size_mib == other.part_size_mib
            && self.upload_concurrency == other.upload_concurrency
    }
}

impl Eq for S3Config {}

impl S3Config {
    /// The smallest part S3 accepts (but for the last one).
    pub const MIN_PART_SIZE_MIB: u64 = 5;
    /// The largest part size accepted here: more only holds more memory per upload.
    pub const MAX_PART_SIZE_MIB: u64 = 512;
    /// The most parts of one export uploaded at once.
    pub const MAX_UPLOAD_CONCURRENCY: usize = 16;

    fn default_region() -> String {
        "us-east-1".to_owned()
    }

    fn default_part_size_mib() -> u64 {
        8
    }

    fn default_upload_concurrency() -> usize {
        2
    }

    /// A bucket with the defaults of the other keys and no credentials.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: String::new(),
            endpoint: None,
            region: Self::default_region(),
            access_key_id: None,
            secret_access_key: None,
            part_size_mib: Self::default_part_size_mib(),
            upload_concurrency: Self::default_upload_concurrency(),
        }
    }

    /// The part size in bytes.
    pub fn part_size_bytes(&self) -> usize {
        usize::try_from(self.part_size_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    /// The prefix without leading or trailing `/`.
    pub fn normalized_prefix(&self) -> &str {
        self.prefix.trim_matches('/')
    }

    /// Checks every key, naming it (`exports.s3.bucket` …); never quotes a credential.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bucket = self.bucket.as_str();
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(ConfigError::new(
                "exports.s3.bucket",
                format!(
                    "{bucket:?} is not a bucket name: 3 to 63 lower-case letters, digits, '.' or '-', \
                     beginning and ending with a letter or digit"
                ),
            ));
        }
        let prefix = self.normalized_prefix();
        let prefix_ok = prefix.is_empty()
            || prefix.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && !part.chars().any(|c| c.is_control() || c == '\\')
            });
        if !prefix_ok {
            return Err(ConfigError::new(
                "exports.s3.prefix",
                format!(
                    "{:?}: must be `/`-separated names, without empty parts, `.`, `..` or `\\`",
                    self.prefix
                ),
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            let parsed = url::Url::parse(endpoint).ok().filter(|url| {
                matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some_and(|host| !host.is_empty())
                    && url.username().is_empty()
                    && url.password().is_none()
                    && url.query().is_none()
            });
            if parsed.is_none() {
                // The URL is not quoted: it might carry credentials (`http://user:pass@host`).
                return Err(ConfigError::new(
                    "exports.s3.endpoint",
                    "must be an http:// or https:// URL with a host and without credentials or query, \
                     e.g. http://127.0.0.1:9000",
                ));
            }
        }
        if self.region.trim().is_empty() {
            return Err(ConfigError::new("exports.s3.region", "must not be empty (e.g. us-east-1)"));
        }
        for (key, secret) in [
            ("exports.s3.access_key_id", &self.access_key_id),
            ("exports.s3.secret_access_key", &self.secret_access_key),
        ] {
            if secret.as_ref().is_none_or(|s| s.expose().trim().is_empty()) {
                let variable = key.replace('.', "__").to_ascii_uppercase();
                return Err(ConfigError::new(
                    key,
                    format!("required when exports.store = \"s3\" (or set TICKERWATCH_{variable})"),
                ));
            }
        }
        if !(Self::MIN_PART_SIZE_MIB..=Self::MAX_PART_SIZE_MIB).contains(&self.part_size_mib) {
            return Err(ConfigError::new(
                "exports.s3.part_size_mib",
                format!(
                    "must be between {} and {}, got {}",
                    Self::MIN_PART_SIZE_MIB,
                    Self::MAX_PART_SIZE_MIB,
                    self.part_size_mib
                ),
            ));
        }
        if !(1..=Self::MAX_UPLOAD_CONCURRENCY).contains(&self.upload_concurrency) {
            return Err(ConfigError::new(
                "exports.s3.upload_concurrency",
                format!(
                    "must be between 1 and {}, got {}",
                    Self::MAX_UPLOAD_CONCURRENCY,
                    self.upload_concurrency
                ),
            ));
        }
        Ok(())
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

    fn valid_s3() -> S3Config {
        S3Config {
            prefix: "/tw/exports/".to_owned(),
            endpoint: Some("http://127.0.0.1:9000".to_owned()),
            access_key_id: Some(Secret::new("key-id")),
            secret_access_key: Some(Secret::new("the-secret-value")),
            ..S3Config::new("tickerwatch-exports")
        }
    }

    #[test]
    fn s3_settings_are_checked_naming_the_key_and_never_the_secret() {
        let s3 = valid_s3();
        s3.validate().unwrap();
        assert_eq!(s3.normalized_prefix(), "tw/exports");
        assert_eq!(s3.part_size_bytes(), 8 * 1024 * 1024);
        let exports = ExportsConfig { store: ExportStoreKind::S3, s3: None, ..ExportsConfig::default() };
        assert_eq!(exports.validate().unwrap_err().key, "exports.s3");
        // Local (the default) ignores an incomplete s3 table.
        let exports = ExportsConfig { s3: Some(S3Config::new("x")), ..ExportsConfig::default() };
        exports.validate().unwrap();

        type Spoil = fn(&mut S3Config);
        let cases: [(&str, Spoil); 9] = [
            ("exports.s3.bucket", |s| s.bucket = "Upper_Case".to_owned()),
            ("exports.s3.bucket", |s| s.bucket = "ab".to_owned()),
            ("exports.s3.prefix", |s| s.prefix = "a//b".to_owned()),
            ("exports.s3.prefix", |s| s.prefix = "a/../b".to_owned()),
            ("exports.s3.endpoint", |s| s.endpoint = Some("http://user:the-secret-value@host".to_owned())),
            ("exports.s3.region", |s| s.region = " ".to_owned()),
            ("exports.s3.secret_access_key", |s| s.secret_access_key = None),
            ("exports.s3.part_size_mib", |s| s.part_size_mib = 4),
            ("exports.s3.upload_concurrency", |s| s.upload_concurrency = 0),
        ];
        for (key, spoil) in cases {
            let mut s3 = valid_s3();
            spoil(&mut s3);
            let error = s3.validate().unwrap_err();
            assert_eq!(error.key, key, "{error}");
            assert!(!error.to_string().contains("the-secret-value"), "{error}");
        }
        let shown = format!("{:?}", valid_s3());
        assert!(!shown.contains("the-secret-value") && !shown.contains("key-id"), "{shown}");
    }

    #[test]
    fn schedules_name_the_job() {
        let mut jobs = JobsConfig::default();
        jobs.download_tracker.schedule = Some("0 30 22 * * Mon-Fri".to_owned());
        assert_eq!(jobs.schedules(), vec![("download-tracker".to_owned(), "0 30 22 * * Mon-Fri".to_owned())]);
    }
}
