//! The effective configuration: built-in defaults, then `tickerwatch.toml`, then
//! `TICKERWATCH_<SECTION>__<KEY>` environment variables, merged with figment.
//!
//! Why defaults are serialized into figment rather than left to `#[serde(default)]`: a vendor
//! table that sets only `base_url` must keep that vendor's other defaults (its rate limits, its
//! User-Agent), which per-field serde defaults cannot know. Unknown keys are rejected at every
//! level (`deny_unknown_fields`), so a typo is an error naming the key, never a silent default.

mod show;

use std::path::{Path, PathBuf};

use analysis::AnalysisConfig;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use jobs::{ExportsConfig, JobsConfig, SocialConfig};
use providers::ProvidersConfig;
use serde::{Deserialize, Serialize};
use server::ServerConfig;
use storage::DatabaseConfig;

/// Prefix of environment overrides; `__` separates nesting levels.
pub const ENV_PREFIX: &str = "TICKERWATCH_";

/// The variable naming the config file (`--config`), read by the command line.
pub const CONFIG_ENV: &str = "TICKERWATCH_CONFIG";
/// The API token of the client commands (`--token`), read by the command line.
pub const TOKEN_ENV: &str = "TICKERWATCH_TOKEN";

/// Variables with the settings prefix that the command line reads itself: they are not settings,
/// so the settings layer must not take them for unknown keys.
const CLI_ENV_VARS: [&str; 2] = [CONFIG_ENV, TOKEN_ENV];

/// The config file looked for in the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "tickerwatch.toml";

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub providers: ProvidersConfig,
    pub server: ServerConfig,
    pub jobs: JobsConfig,
    pub exports: ExportsConfig,
    pub social: SocialConfig,
    pub analysis: AnalysisConfig,
    pub log: LogConfig,
}

/// The `[log]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `tickerwatch=debug,providers=debug`; `RUST_LOG` wins.
    pub filter: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { filter: "warn".to_owned(), format: LogFormat::Text }
    }
}

/// A config that could not be loaded; the message names the file and key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads from `path` (must exist) or `./tickerwatch.toml` (if present), then the process
    /// environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the offending key and source.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(path, settings_env())
    }

    fn load_from(path: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match path {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        let config: Config = figment.merge(env).extract().map_err(|e| ConfigError::Invalid(describe(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.providers.validate().map_err(ConfigError::Invalid)?;
        self.server.validate().map_err(ConfigError::Invalid)?;
        self.jobs.validate().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.exports.validate().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.social.validate().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.analysis.llm.validate().map_err(|e| ConfigError::Invalid(format!("analysis.llm: {e}")))?;
        if self.database.url.trim().is_empty() {
            return Err(ConfigError::Invalid("database.url must not be empty".to_owned()));
        }
        Ok(())
    }

    /// The effective config as TOML with every secret masked (API keys serialize as `***`, the
    /// database password is replaced), every section shown, and optional keys that are not set
    /// as commented lines (see [`show`]).
    pub fn to_masked_toml(&self) -> String {
        let mut masked = self.clone();
        masked.database.url = storage::redact_url(&masked.database.url);
        show::annotate(&toml_string(&masked), &masked)
    }
}

fn toml_string(config: &Config) -> String {
    toml::to_string_pretty(config).unwrap_or_else(|e| format!("# cannot render config: {e}"))
}

/// The `TICKERWATCH_*` variables that are settings: every one but those the command line reads.
fn settings_env() -> Env {
    let cli_keys: Vec<String> =
        CLI_ENV_VARS.iter().map(|name| name[ENV_PREFIX.len()..].to_ascii_lowercase()).collect();
    Env::prefixed(ENV_PREFIX)
        .filter(move |key| !cli_keys.iter().any(|cli| key.as_str().eq_ignore_ascii_case(cli)))
        .split("__")
}

/// figment's errors already name the key path and the source (file or env var); join them.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() { String::new() } else { format!("key `{}`: ", e.path.join(".")) };
            let from_env = e.metadata.as_ref().is_some_and(|m| m.name.contains("environment"));
            let source = match e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
                Some(source) => format!(" (from {source})"),
                // figment names no variable: rebuild it from the key, as the user spelled it.
                None if from_env && !e.path.is_empty() => {
                    format!(
                        " (from environment variable {ENV_PREFIX}{})",
                        e.path.join("__").to_ascii_uppercase()
                    )
                }
                None => String::new(),
            };
            format!("{key}{}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
// figment::Jail's closure must return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use domain::ProviderId;
    use figment::Jail;

    use super::*;

    fn invalid(result: Result<Config, ConfigError>) -> String {
        match result {
            Err(ConfigError::Invalid(message)) => message,
            other => panic!("expected an invalid-config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_offline() {
        Jail::expect_with(|_jail| {
            let config = Config::load(None).unwrap();
            assert_eq!(config.providers.order, vec![ProviderId::Sample]);
            assert_eq!(config.database.url, "sqlite://data/tickerwatch.db");
            assert_eq!(config.providers.polygon.rate_limits[0].requests, 5);
            Ok(())
        });
    }

    #[test]
    fn file_then_env_override_and_partial_vendor_tables_keep_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "tickerwatch.toml",
                r#"
                [providers]
                order = ["polygon", "sample"]
                [providers.polygon]
                base_url = "http://127.0.0.1:9/file"
                api_key = "from-file"
                "#,
            )?;
            jail.set_env("TICKERWATCH_PROVIDERS__POLYGON__BASE_URL", "http://127.0.0.1:9/env");
            jail.set_env("TICKERWATCH_DATABASE__URL", "sqlite::memory:");
            let config = Config::load(None).unwrap();
            assert_eq!(config.providers.order, vec![ProviderId::Polygon, ProviderId::Sample]);
            assert_eq!(config.providers.polygon.base_url, "http://127.0.0.1:9/env");
            assert_eq!(config.providers.polygon.api_key.as_ref().unwrap().expose(), "from-file");
            // Untouched fields of a partially given vendor table keep that vendor's defaults.
            assert_eq!(config.providers.polygon.rate_limits, VendorConfigDefaults::polygon_limits());
            assert_eq!(config.database.url, "sqlite::memory:");
            Ok(())
        });
    }

    /// Issue 11: the connection limits come from the environment like every key, are checked,
    /// and `config show` lists them.
    #[test]
    fn server_connection_limits_from_env_validated_and_shown() {
        Jail::expect_with(|jail| {
            let shown = Config::load(None).unwrap().to_masked_toml();
            for line in
                ["header_read_timeout_secs = 10.0", "idle_timeout_secs = 60.0", "max_connections = 512"]
            {
                assert!(shown.contains(line), "{line} missing:\n{shown}");
            }
            jail.set_env("TICKERWATCH_SERVER__HEADER_READ_TIMEOUT_SECS", "0.3");
            jail.set_env("TICKERWATCH_SERVER__IDLE_TIMEOUT_SECS", "5");
            jail.set_env("TICKERWATCH_SERVER__MAX_CONNECTIONS", "3");
            let config = Config::load(None).unwrap();
            assert_eq!(config.server.header_read_timeout(), std::time::Duration::from_millis(300));
            assert_eq!(config.server.idle_timeout(), std::time::Duration::from_secs(5));
            assert_eq!(config.server.max_connections, 3);
            jail.set_env("TICKERWATCH_SERVER__MAX_CONNECTIONS", "0");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("server.max_connections"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn api_key_from_env() {
        Jail::expect_with(|jail| {
            jail.set_env("TICKERWATCH_PROVIDERS__FINNHUB__API_KEY", "env-key");
            let config = Config::load(None).unwrap();
            assert_eq!(config.providers.finnhub.api_key.as_ref().unwrap().expose(), "env-key");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        Jail::expect_with(|jail| {
            jail.create_file("tickerwatch.toml", "[providers.yahoo]\nbase_urll = \"http://x\"\n")?;
            let message = invalid(Config::load(None));
            assert!(message.contains("base_urll"), "{message}");
            assert!(message.contains("tickerwatch.toml"), "{message}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("TICKERWATCH_DATABSE__URL", "x");
            let message = invalid(Config::load(None));
            assert!(message.contains("databse"), "{message}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("TICKERWATCH_FOO", "1");
            let message = invalid(Config::load(None));
            assert!(message.contains("foo") && message.contains("TICKERWATCH_FOO"), "{message}");
            Ok(())
        });
    }

    /// Issue 16: the variables the command line reads are not settings.
    #[test]
    fn the_command_lines_own_variables_are_not_settings() {
        Jail::expect_with(|jail| {
            jail.create_file("my.toml", "[database]\nurl = \"sqlite::memory:\"\n")?;
            jail.set_env(CONFIG_ENV, "my.toml");
            jail.set_env(TOKEN_ENV, "tw_0123456789abcdef");
            jail.set_env("TICKERWATCH_PROVIDERS__FETCH_CONCURRENCY", "2");
            let config = Config::load(Some(Path::new("my.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.database.url, "sqlite::memory:");
            assert_eq!(config.providers.fetch_concurrency, 2);
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_errors_naming_the_key() {
        Jail::expect_with(|jail| {
            jail.create_file("tickerwatch.toml", "[providers]\norder = [\"bloomberg\"]\n")?;
            let message = invalid(Config::load(None));
            assert!(message.contains("providers.order") && message.contains("bloomberg"), "{message}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("TICKERWATCH_PROVIDERS__YAHOO__TIMEOUT_SECS", "-1");
            let message = invalid(Config::load(None));
            assert!(message.contains("providers.yahoo.timeout_secs"), "{message}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("TICKERWATCH_PROVIDERS__POLYGON__BASE_URL", "not a url");
            let message = invalid(Config::load(None));
            assert!(message.contains("providers.polygon.base_url"), "{message}");
            Ok(())
        });
    }

    #[test]
    fn explicit_missing_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/tw.toml"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/tw.toml"));
    }

    #[test]
    fn masked_output_hides_secrets() {
        Jail::expect_with(|jail| {
            jail.set_env("TICKERWATCH_PROVIDERS__ALPHA_VANTAGE__API_KEY", "SUPERSECRET");
            jail.set_env("TICKERWATCH_DATABASE__URL", "postgres://tw:hunter2@db.example/tw");
            let shown = Config::load(None).unwrap().to_masked_toml();
            assert!(!shown.contains("SUPERSECRET"), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("api_key = \"***\""), "{shown}");
            Ok(())
        });
    }

    /// Issue 10: every section shows, `[social.reddit]` too, before any Reddit key is set.
    #[test]
    fn config_show_lists_every_section_and_the_optional_keys() {
        Jail::expect_with(|_jail| {
            let shown = Config::load(None).unwrap().to_masked_toml();
            let value: toml::Table = toml::from_str(&shown).expect("valid TOML");
            for section in ["database", "providers", "server", "jobs", "exports", "social", "analysis", "log"]
            {
                assert!(value.contains_key(section), "{section} missing:\n{shown}");
            }
            for line in [
                "# [social.reddit]",
                "# base_url = \"https://www.reddit.com\"",
                "# oauth_base_url = \"https://oauth.reddit.com\"",
                "# user_agent = ",
                "# client_secret = \"\"",
                "# max_connections = 8",
                "# schedule = \"0 30 22 * * Mon-Fri\"",
            ] {
                assert!(shown.lines().any(|l| l.starts_with(line)), "{line:?} missing:\n{shown}");
            }
            // The secrets that are not set, with the variable that could set them.
            assert_eq!(shown.matches("# api_key = \"\"").count(), 4, "{shown}");
            assert!(shown.contains("TICKERWATCH_PROVIDERS__POLYGON__API_KEY"), "{shown}");
            // The vendor's key goes in its own table, before its rate-limit array.
            let polygon = shown.split("[providers.polygon]").nth(1).unwrap();
            assert!(
                polygon.find("# api_key").unwrap()
                    < polygon.find("[[providers.polygon.rate_limits]]").unwrap()
            );
            Ok(())
        });
    }

    /// Uncommented lines of `config show` (`# [table]`, `# key = value`) made live.
    fn uncomment_all(shown: &str) -> String {
        shown
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(key, _)| {
                            key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                        }) =>
                {
                    rest
                }
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The output loads back to the same configuration, and every commented line names a real key
    /// with a valid value: uncommented, they all load, and then nothing optional is unset.
    #[test]
    fn config_show_round_trips_and_its_commented_keys_are_real() {
        Jail::expect_with(|jail| {
            jail.set_env("TICKERWATCH_PROVIDERS__POLYGON__API_KEY", "POLYSECRET");
            let shown = Config::load(None).unwrap().to_masked_toml();
            assert!(shown.contains("api_key = \"***\"") && !shown.contains("POLYSECRET"), "{shown}");
            jail.create_file("shown.toml", &shown)?;
            let again = Config::load(Some(Path::new("shown.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(again.to_masked_toml(), shown, "loading the output gives the same configuration");

            jail.create_file("all.toml", &uncomment_all(&shown))?;
            let all = Config::load(Some(Path::new("all.toml"))).map_err(|e| e.to_string())?;
            let reddit = all.social.reddit.as_ref().expect("the commented [social.reddit] block loads");
            assert_eq!(reddit.base_url, "https://www.reddit.com");
            assert!(reddit.client_secret.is_some() && reddit.queries_per_minute == Some(10));
            assert!(all.providers.finnhub.api_key.is_some() && all.analysis.llm.api_key.is_some());
            assert_eq!(all.database.max_connections, Some(8));
            assert!(all.jobs.download_tracker.schedule.is_some() && all.analysis.schedule.is_some());
            let smtp = all.jobs.monitor.smtp.as_ref().expect("the commented [jobs.monitor.smtp] block loads");
            assert_eq!((smtp.host.as_str(), smtp.port), ("smtp.example.com", 587));
            assert!(smtp.username.is_some() && smtp.password.is_some());
            let shown_all = all.to_masked_toml();
            let left: Vec<&str> =
                shown_all.lines().filter(|l| l.starts_with("# ") && l.contains(" = ")).collect();
            assert!(left.is_empty(), "with every optional key set, none is left commented: {left:?}");
            Ok(())
        });
    }

    /// Issue 12: the SMTP server of e-mail alerts from the file, overridden by the environment,
    /// `exports.store = "s3"` with `[exports.s3]` from the file and the environment, credentials
    /// masked everywhere, and bad values refused naming the key (never showing a credential).
    #[test]
    fn s3_export_settings_from_file_and_env_masked_and_checked() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "tickerwatch.toml",
                r#"
                [exports]
                store = "s3"

                [exports.s3]
                bucket = "tickerwatch-exports"
                prefix = "prod/exports"
                endpoint = "http://127.0.0.1:9000"
                access_key_id = "file-key-id"
                secret_access_key = "file-s3-secret"
                "#,
            )?;
            jail.set_env("TICKERWATCH_EXPORTS__S3__SECRET_ACCESS_KEY", "env-s3-secret");
            jail.set_env("TICKERWATCH_EXPORTS__S3__REGION", "eu-central-1");
            let config = Config::load(None).unwrap();
            assert_eq!(config.exports.store, jobs::ExportStoreKind::S3);
            let s3 = config.exports.s3.clone().expect("s3 set");
            assert_eq!((s3.bucket.as_str(), s3.region.as_str()), ("tickerwatch-exports", "eu-central-1"));
            assert_eq!((s3.part_size_mib, s3.upload_concurrency), (8, 2));
            assert_eq!(s3.secret_access_key.as_ref().map(|s| s.expose()), Some("env-s3-secret"));
            let shown = config.to_masked_toml();
            assert!(!shown.contains("s3-secret") && !shown.contains("file-key-id"), "{shown}");
            assert!(
                shown.contains("secret_access_key = \"***\"") && shown.contains("store = \"s3\""),
                "{shown}"
            );
            assert!(!format!("{config:?}").contains("s3-secret"));
            // What `config show` prints loads back to the same settings (credentials aside).
            jail.create_file("shown.toml", &shown)?;
            let reloaded = Config::load(Some(Path::new("shown.toml"))).unwrap().exports;
            assert_eq!(
                (reloaded.store, reloaded.s3.map(|s3| s3.prefix)),
                (config.exports.store, Some(s3.prefix))
            );

            jail.set_env("TICKERWATCH_EXPORTS__S3__BUCKET", "Not_A_Bucket");
            let message = invalid(Config::load(None));
            assert!(message.contains("exports.s3.bucket") && !message.contains("s3-secret"), "{message}");
            jail.set_env("TICKERWATCH_EXPORTS__S3__BUCKET", "tickerwatch-exports");
            jail.set_env("TICKERWATCH_EXPORTS__S3__ENDPOINT", "ftp://user:pw-in-url@host");
            let message = invalid(Config::load(None));
            assert!(message.contains("exports.s3.endpoint") && !message.contains("pw-in-url"), "{message}");
            jail.set_env("TICKERWATCH_EXPORTS__S3__ENDPOINT", "http://127.0.0.1:9000");
            jail.set_env("TICKERWATCH_EXPORTS__S3__PART_SIZE_MIB", "4");
            assert!(invalid(Config::load(None)).contains("exports.s3.part_size_mib"));
            jail.set_env("TICKERWATCH_EXPORTS__S3__PART_SIZE_MIB", "8");
            jail.set_env("TICKERWATCH_EXPORTS__S3__PREFIX", "a/../b");
            assert!(invalid(Config::load(None)).contains("exports.s3.prefix"));
            jail.set_env("TICKERWATCH_EXPORTS__S3__PREFIX", "exports");
            jail.set_env("TICKERWATCH_EXPORTS__S3__SECRET_ACCESS_KEY", "");
            let message = invalid(Config::load(None));
            assert!(
                message.contains("exports.s3.secret_access_key")
                    && message.contains("TICKERWATCH_EXPORTS__S3__SECRET_ACCESS_KEY"),
                "{message}"
            );
            // s3 without its table is an error naming it; the default is local, unchanged.
            jail.create_file("tickerwatch.toml", "[exports]\nstore = \"s3\"\n")?;
            assert!(invalid(Config::load(None)).contains("exports.s3"));
            jail.set_env("TICKERWATCH_EXPORTS__STORE", "local");
            assert_eq!(Config::load(None).unwrap().exports.store, jobs::ExportStoreKind::Local);
            Ok(())
        });
    }

    /// its password masked, and a bad value refused naming the key (never showing the password).
    #[test]
    fn smtp_settings_from_file_and_env_masked_and_checked() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "tickerwatch.toml",
                r#"
                [jobs.monitor.smtp]
                host = "smtp.example.com"
                port = 465
                tls = "tls"
                username = "alerts"
                password = "file-secret-pw"
                from = "tickerwatch <alerts@example.com>"
                "#,
            )?;
            jail.set_env("TICKERWATCH_JOBS__MONITOR__SMTP__PASSWORD", "env-secret-pw");
            jail.set_env("TICKERWATCH_JOBS__MONITOR__SMTP__TIMEOUT_SECS", "12");
            let config = Config::load(None).unwrap();
            let smtp = config.jobs.monitor.smtp.clone().expect("smtp set");
            assert_eq!((smtp.port, smtp.tls, smtp.timeout_secs), (465, notify::SmtpTls::Tls, 12));
            assert_eq!(smtp.password.as_ref().map(|p| p.expose()), Some("env-secret-pw"));
            assert_eq!(config.jobs.monitor.notifier_config().smtp, Some(smtp));
            let shown = config.to_masked_toml();
            assert!(!shown.contains("secret-pw") && shown.contains("password = \"***\""), "{shown}");
            assert!(!format!("{config:?}").contains("secret-pw"));

            jail.set_env("TICKERWATCH_JOBS__MONITOR__SMTP__FROM", "no mailbox");
            let message = invalid(Config::load(None));
            assert!(
                message.contains("jobs.monitor.smtp.from") && !message.contains("secret-pw"),
                "{message}"
            );
            jail.set_env("TICKERWATCH_JOBS__MONITOR__SMTP__FROM", "a@example.com");
            // An all-digit password from the environment is read as a number: refused, not shown.
            jail.set_env("TICKERWATCH_JOBS__MONITOR__SMTP__PASSWORD", "987654321");
            let message = invalid(Config::load(None));
            assert!(
                message.contains("jobs.monitor.smtp.password") && !message.contains("98765"),
                "{message}"
            );
            jail.set_env("TICKERWATCH_JOBS__MONITOR__SMTP__PASSWORD", "\"987654321\"");
            let quoted = Config::load(None).unwrap().jobs.monitor.smtp.unwrap();
            assert_eq!(quoted.password.as_ref().map(|p| p.expose()), Some("987654321"));
            jail.set_env("TICKERWATCH_JOBS__MONITOR__SMTP__PORT", "0");
            assert!(invalid(Config::load(None)).contains("jobs.monitor.smtp.port"));
            jail.set_env("TICKERWATCH_JOBS__MONITOR__SMTP__PORT", "25");
            jail.set_env("TICKERWATCH_JOBS__MONITOR__SMTP__TLS", "ssl");
            assert!(invalid(Config::load(None)).contains("jobs.monitor.smtp.tls"));
            Ok(())
        });
    }

    struct VendorConfigDefaults;
    impl VendorConfigDefaults {
        fn polygon_limits() -> Vec<providers::RateLimit> {
            providers::VendorConfig::polygon().rate_limits
        }
    }
}
