//! Command-line arguments (clap). Validation of values into domain types happens here, so a bad
//! symbol or range is a usage error (exit code 2) before anything touches the network or disk.

use std::ffi::OsStr;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use domain::{Interval, ProviderId, Symbol};
use providers::Span;

/// tickerwatch: self-hosted stock-market research and monitoring.
#[derive(Debug, Parser)]
#[command(name = "tickerwatch", version, about, propagate_version = true)]
pub struct Cli {
    /// Config file (default: ./tickerwatch.toml when present, else built-in defaults).
    #[arg(long, global = true, env = crate::config::CONFIG_ENV)]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch bars for symbols (default: the watchlist) through the provider chain and store them.
    Fetch(FetchArgs),
    /// Fetch and store the latest quote of symbols.
    Quote(QuoteArgs),
    /// Print stored bars.
    Bars(BarsArgs),
    /// Print a symbol's stored news, newest first (fetched through the chain when none is
    /// stored, or with --refresh).
    News(NewsArgs),
    /// Print a symbol's stored company profile (fetched through the chain when none is stored,
    /// or with --refresh).
    Profile(ProfileArgs),
    /// Manage the watchlist.
    #[command(subcommand)]
    Watchlist(WatchlistCommand),
    /// Stock-monitor alert rules and the alerts they fired.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCommand),
    /// Inspect configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the HTTP API and the job engine until SIGINT/SIGTERM.
    Serve(ServeArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inspect and run jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Export stored bars to a file.
    Export(ExportArgs),
    /// Scan Reddit (or the offline sample) for ticker mentions, store them, print what is trending.
    Scan(ScanArgs),
    /// Print trending tickers from stored mentions.
    Trending(TrendingArgs),
    /// Score texts as the Reddit scanner would: the tickers they mention and their sentiment.
    Sentiment(SentimentArgs),
    /// The Reddit scanner's symbol universe: refresh it from a vendor's listing, or show it.
    #[command(subcommand)]
    Universe(UniverseCommand),
    /// Run the research crew on a symbol: progress streams to stderr, the note to stdout.
    Analyze(AnalyzeArgs),
    /// Provider health: configured or not, requests today, rate-limit budgets left, last success
    /// and error, back-off.
    Providers(ProvidersArgs),
    /// Trigger the download-tracker job repeatedly and report memory, fds and run time.
    Soak(SoakArgs),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default: `server.listen`).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// What this instance does when several share one PostgreSQL database: `api` accepts
    /// triggers and serves the API and the UI, `worker` claims and runs jobs (and serves only
    /// /healthz, /readyz and /metrics), `all` does both. With SQLite only `all`.
    #[arg(long, value_enum, default_value_t = Role::All)]
    pub role: Role,
}

/// See [`ServeArgs::role`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    Api,
    Worker,
    All,
}

impl Role {
    /// Whether this role runs job workers and the scheduler.
    pub fn runs_jobs(self) -> bool {
        matches!(self, Self::Worker | Self::All)
    }

    /// Whether this role serves the API and the UI.
    pub fn serves_api(self) -> bool {
        matches!(self, Self::Api | Self::All)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Worker => "worker",
            Self::All => "all",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List tokens (names and dates, never the tokens).
    List,
    /// Revoke a token by name.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs with schedule and last run.
    List,
    /// Run a job: in this process (waits for it), or on a running server with --url.
    Trigger {
        /// The job: download-tracker, reddit-scan or analysis (see `jobs list`).
        name: String,
        /// Base URL of a running server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
        /// API token for --url (or TICKERWATCH_TOKEN).
        #[arg(long, env = crate::config::TOKEN_ENV, hide_env_values = true)]
        token: Option<String>,
        /// With --url: wait for the run to finish.
        #[arg(long)]
        wait: bool,
    },
    /// Recent runs.
    Runs {
        /// Only runs of this job (download-tracker, reddit-scan or analysis).
        #[arg(long)]
        job: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Comma-separated symbols (default: the watchlist).
    #[arg(long, value_delimiter = ',', value_parser = parse_symbol)]
    pub symbols: Vec<Symbol>,
    /// File format (the HTML report has charts and a summary per symbol).
    #[arg(long, default_value = "csv", value_parser = export_formats())]
    pub format: export::ExportFormat,
    /// First trading day (YYYY-MM-DD, inclusive; default: the first stored).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last trading day (YYYY-MM-DD, inclusive; default: the last stored).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Bar interval.
    #[arg(long, default_value = "1d", value_parser = intervals())]
    pub interval: Interval,
    /// Output file.
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// A subreddit to scan, without r/ (repeatable; default: `social.subreddits`).
    #[arg(long = "subreddit", value_name = "NAME", value_parser = parse_subreddit)]
    pub subreddits: Vec<String>,
    /// Posts per subreddit, 1 to 1000 (default: `social.limit_per_subreddit`).
    #[arg(long, value_parser = parse_scan_limit)]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The ticker to research, e.g. AAPL.
    #[arg(value_parser = parse_symbol)]
    pub symbol: domain::Symbol,
    /// The model, overriding `analysis.llm.model` (`offline` for the offline model; any other
    /// name uses the OpenAI-compatible server at `analysis.llm.base_url`).
    #[arg(long)]
    pub model: Option<String>,
    /// A crew by name (default: `analysis.crew`).
    #[arg(long)]
    pub crew: Option<String>,
    /// Print the note as JSON instead of markdown.
    #[arg(long)]
    pub json: bool,
    /// Print only the note (no progress on stderr).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct TrendingArgs {
    /// Look-back window: `Nh` or `Nd`, e.g. 24h, 7d.
    #[arg(long, default_value = "24h", value_parser = parse_window)]
    pub window: chrono::Duration,
    #[arg(long, default_value_t = 20)]
    pub limit: u64,
}

#[derive(Debug, Args)]
pub struct SentimentArgs {
    /// Texts to score; `-` reads one text per line from standard input.
    #[arg(required = true)]
    pub texts: Vec<String>,
    /// JSON is the same as `POST /api/social/analyze` answers (one object per text).
    #[arg(long, value_enum, default_value_t = DisplayFormat::Table)]
    pub format: DisplayFormat,
}

#[derive(Debug, Subcommand)]
pub enum UniverseCommand {
    /// Fetch every listed US stock and ETF from a vendor (Alpha Vantage `LISTING_STATUS`,
    /// Finnhub `/stock/symbol`, Polygon `/v3/reference/tickers`) and store it as the universe.
    Update {
        /// The vendor to ask (default: the first configured one that lists symbols).
        #[arg(long, value_parser = providers())]
        provider: Option<ProviderId>,
    },
    /// Where the universe in use comes from, its size, and the listing of some symbols.
    Show {
        #[arg(value_parser = parse_symbol)]
        symbols: Vec<Symbol>,
    },
}

#[derive(Debug, Args)]
pub struct SoakArgs {
    #[arg(long, default_value_t = 100)]
    pub cycles: usize,
    /// Base URL of a running server; without it a server is started in this process on a
    /// temporary database with the offline sample provider.
    #[arg(long)]
    pub url: Option<String>,
    /// API token for --url (or TICKERWATCH_TOKEN).
    #[arg(long, env = crate::config::TOKEN_ENV, hide_env_values = true)]
    pub token: Option<String>,
    /// Where to write the chart of RSS and open fds per cycle.
    #[arg(long, default_value = "soak.svg")]
    pub svg: PathBuf,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Symbols to fetch; the watchlist when none are given.
    #[arg(value_parser = parse_symbol)]
    pub symbols: Vec<Symbol>,
    /// How far back: 5d 1mo 3mo 6mo 1y 2y 5y 10y ytd max.
    #[arg(long, default_value = "1y", value_parser = parse_span, conflicts_with = "from")]
    pub range: Span,
    /// Start date (YYYY-MM-DD) instead of --range.
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// End date (YYYY-MM-DD), with --from; default today.
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    #[arg(long, default_value = "1d", value_parser = intervals())]
    pub interval: Interval,
    /// Use only this provider instead of the configured chain.
    #[arg(long, value_parser = providers())]
    pub provider: Option<ProviderId>,
}

#[derive(Debug, Args)]
pub struct QuoteArgs {
    #[arg(required = true, value_parser = parse_symbol)]
    pub symbols: Vec<Symbol>,
    #[arg(long, value_parser = providers())]
    pub provider: Option<ProviderId>,
}

#[derive(Debug, Args)]
pub struct ProvidersArgs {
    /// JSON is the same as `GET /api/providers` answers.
    #[arg(long, value_enum, default_value_t = DisplayFormat::Table)]
    pub format: DisplayFormat,
}

/// How `news`, `profile` and `providers` print: a table for people, JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DisplayFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct NewsArgs {
    #[arg(value_parser = parse_symbol)]
    pub symbol: Symbol,
    /// At most this many articles, newest first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: u64,
    #[arg(long, value_enum, default_value_t = DisplayFormat::Table)]
    pub format: DisplayFormat,
    /// Fetch the news of the last --days through the chain first, even when some is stored.
    #[arg(long)]
    pub refresh: bool,
    /// The window a fetch asks for, in days back from now.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub days: u32,
    /// Fetch from only this provider instead of the configured chain.
    #[arg(long, value_parser = providers())]
    pub provider: Option<ProviderId>,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[arg(value_parser = parse_symbol)]
    pub symbol: Symbol,
    #[arg(long, value_enum, default_value_t = DisplayFormat::Table)]
    pub format: DisplayFormat,
    /// Fetch the profile through the chain first, even when one is stored.
    #[arg(long)]
    pub refresh: bool,
    /// Fetch from only this provider instead of the configured chain.
    #[arg(long, value_parser = providers())]
    pub provider: Option<ProviderId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct BarsArgs {
    #[arg(value_parser = parse_symbol)]
    pub symbol: Symbol,
    /// First trading day to print (YYYY-MM-DD, inclusive, the exchange's calendar).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last trading day to print (YYYY-MM-DD, inclusive, the exchange's calendar).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    #[arg(long, default_value = "1d", value_parser = intervals())]
    pub interval: Interval,
    /// Only bars this provider served.
    #[arg(long, value_parser = providers())]
    pub provider: Option<ProviderId>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// At most this many bars, counted from the earliest in the window.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Also list where providers disagree about these days (to stderr with csv/json).
    #[arg(long)]
    pub show_disagreements: bool,
}

#[derive(Debug, Subcommand)]
pub enum WatchlistCommand {
    /// Add symbols.
    Add {
        #[arg(required = true, value_parser = parse_symbol)]
        symbols: Vec<Symbol>,
    },
    /// Remove symbols.
    Remove {
        #[arg(required = true, value_parser = parse_symbol)]
        symbols: Vec<Symbol>,
    },
    /// List the watchlist.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Add a rule: a price level (`--above`/`--below`), or any condition as JSON (`--condition`,
    /// e.g. '{"kind":"rsi","direction":"below","level":30,"period":14}').
    Add(AlertAddArgs),
    /// List the rules.
    List,
    /// Stop a rule from firing (it keeps its state).
    Pause { id: i64 },
    /// Let a paused rule fire again.
    Resume { id: i64 },
    /// Arm a rule afresh from today (a `once` rule that fired).
    Rearm { id: i64 },
    /// Delete a rule (its alerts are kept).
    Remove { id: i64 },
    /// Alerts fired, newest first.
    History {
        #[arg(long, value_parser = parse_symbol)]
        symbol: Option<Symbol>,
        /// Only alerts since this date (YYYY-MM-DD).
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Send a sample alert to a rule's targets and print each delivery.
    Test { id: i64 },
}

#[derive(Debug, Args)]
pub struct AlertAddArgs {
    /// The symbol to watch (it must have stored bars or be on the watchlist).
    #[arg(value_parser = parse_symbol, required_unless_present = "watchlist")]
    pub symbol: Option<Symbol>,
    /// Watch every symbol on the watchlist instead of one.
    #[arg(long, conflicts_with = "symbol")]
    pub watchlist: bool,
    /// Fire when the price reaches this level from below.
    #[arg(long, conflicts_with_all = ["below", "condition"])]
    pub above: Option<f64>,
    /// Fire when the price reaches this level from above.
    #[arg(long, conflicts_with = "condition")]
    pub below: Option<f64>,
    /// Any condition, as the API's JSON.
    #[arg(long)]
    pub condition: Option<String>,
    /// once, once-per-day or every (with --cooldown).
    #[arg(long, default_value = "once-per-day")]
    pub frequency: String,
    /// Seconds between two firings of an `every` rule.
    #[arg(long, default_value_t = 3600)]
    pub cooldown: u64,
    /// How far the value must move back past the threshold before the rule fires again.
    #[arg(long, default_value_t = 0.0)]
    pub hysteresis: f64,
    #[arg(long)]
    pub name: Option<String>,
    /// A webhook to deliver to (repeatable); `slack:URL` or `discord:URL` for those formats.
    #[arg(long)]
    pub webhook: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create or upgrade the schema.
    Migrate,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration with secrets masked.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Parse Yahoo chart JSON and upsert into SQLite; prints bars/s and peak RSS.
    Ingest(IngestBenchArgs),
    /// Export bars from SQLite to a format; prints rows/s and peak RSS.
    Export(ExportBenchArgs),
    /// Fill a SQLite file with the export benchmark's synthetic daily bars (for `bench/http-load.sh`).
    Seed(SeedBenchArgs),
    /// Evaluate alert rules over synthetic bars in SQLite; prints the time of each pass.
    Monitor(MonitorBenchArgs),
    /// Against a running API instance (and its workers): trigger latency under a burst of
    /// concurrent triggers, then runs finished per second (see `bench/instances.sh`).
    Cluster(ClusterBenchArgs),
}

#[derive(Debug, Args)]
pub struct ClusterBenchArgs {
    /// The API instance, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    pub url: String,
    /// An API token (`server.auth.tokens`), if the instance requires one.
    #[arg(long)]
    pub token: Option<String>,
    /// Concurrent triggers of the latency burst: analyses of as many distinct symbols, `S0000`…,
    /// whose bars `bench seed --url` stored.
    #[arg(long, default_value_t = 200)]
    pub burst: usize,
    /// How long to keep every symbol's analysis busy for the throughput figure.
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
    /// Concurrent clients of the throughput phase, each keeping one analysis queued or running.
    #[arg(long, default_value_t = 40)]
    pub clients: usize,
}

#[derive(Debug, Args)]
pub struct MonitorBenchArgs {
    /// SQLite file; created with synthetic bars of `--symbols` symbols when missing.
    #[arg(long, default_value = "bench/monitor-bench.db")]
    pub db: PathBuf,
    #[arg(long, default_value_t = 200)]
    pub symbols: usize,
    /// Rules per symbol (price, RSI, SMA cross, volume spike, 52-week high, in turn).
    #[arg(long, default_value_t = 5)]
    pub rules_per_symbol: usize,
    /// Daily bars per symbol (one per weekday from 2010-01-04).
    #[arg(long, default_value_t = 520)]
    pub days: usize,
}

#[derive(Debug, Args)]
pub struct SeedBenchArgs {
    /// SQLite file to fill; left as it is when it already exists.
    #[arg(long, required_unless_present = "url")]
    pub db: Option<PathBuf>,
    /// Or a database URL (e.g. PostgreSQL for `bench/instances.sh`); filled unless its first
    /// symbol already has bars.
    #[arg(long, conflicts_with = "db")]
    pub url: Option<String>,
    /// Symbols `S0000`, `S0001`, …
    #[arg(long, default_value_t = 500)]
    pub symbols: usize,
    /// Daily bars per symbol, one per weekday from 2010-01-04 (2520: ten years of trading days).
    #[arg(long, default_value_t = 2520)]
    pub days: usize,
}

#[derive(Debug, Args)]
pub struct ExportBenchArgs {
    /// SQLite file to read; created and filled with synthetic bars when missing.
    #[arg(long, default_value = "bench/export-bench.db")]
    pub db: PathBuf,
    #[arg(long, default_value_t = 500)]
    pub symbols: usize,
    #[arg(long, default_value_t = 2000)]
    pub days: usize,
    #[arg(long, value_parser = export_formats())]
    pub format: export::ExportFormat,
    /// Output file (default: a temporary file).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct IngestBenchArgs {
    #[arg(long, default_value_t = 500)]
    pub symbols: usize,
    #[arg(long, default_value_t = 10)]
    pub years: usize,
    /// SQLite file to write (default: a temporary file, removed afterwards).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

fn parse_symbol(text: &str) -> Result<Symbol, String> {
    Symbol::parse(text).map_err(|e| e.to_string())
}

/// A value parser over a type's own parse function that also lists the accepted values, so
/// `--help` shows `[possible values: …]` (clap's `ValueEnum` would put clap into the domain types).
#[derive(Clone)]
struct Listed<T> {
    parse: fn(&str) -> Result<T, String>,
    values: Vec<&'static str>,
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Listed<T> {
    type Value = T;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        self.parse.parse_ref(command, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.values.iter().map(|value| PossibleValue::new(*value))))
    }
}

fn export_formats() -> Listed<export::ExportFormat> {
    Listed { parse: parse_export_format, values: export::ExportFormat::ALL.map(|f| f.as_str()).to_vec() }
}

fn intervals() -> Listed<Interval> {
    Listed { parse: parse_interval, values: Interval::ALL.map(Interval::as_str).to_vec() }
}

fn providers() -> Listed<ProviderId> {
    Listed { parse: parse_provider, values: ProviderId::ALL.map(ProviderId::as_str).to_vec() }
}

fn parse_interval(text: &str) -> Result<Interval, String> {
    text.parse().map_err(|e: domain::ParseIntervalError| e.to_string())
}

fn parse_provider(text: &str) -> Result<ProviderId, String> {
    text.parse().map_err(|e: domain::ParseProviderError| e.to_string())
}

/// `Nh` or `Nd`, from one hour to thirty days.
pub fn parse_window(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let invalid = || format!("invalid window {text:?}; expected e.g. 6h, 24h or 7d (1h to 30d)");
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| invalid())?;
    let window = match unit {
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err(invalid()),
    };
    if window < chrono::Duration::hours(1) || window > chrono::Duration::days(30) {
        return Err(invalid());
    }
    Ok(window)
}

fn parse_subreddit(text: &str) -> Result<String, String> {
    social::parse_subreddit(text).map_err(|e| e.to_string())
}

/// Posts per subreddit: what `social.limit_per_subreddit` accepts.
fn parse_scan_limit(text: &str) -> Result<usize, String> {
    let max = jobs::SocialConfig::MAX_LIMIT;
    text.parse()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("expected a number from 1 to {max}"))
}

fn parse_export_format(text: &str) -> Result<export::ExportFormat, String> {
    text.parse().map_err(|e: export::ParseExportFormatError| e.to_string())
}

fn parse_span(text: &str) -> Result<Span, String> {
    Span::parse_range(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bad_symbol_is_a_usage_error() {
        let err = Cli::try_parse_from(["tickerwatch", "fetch", "A;DROP"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("A;DROP"));
    }

    /// Issue 10: a bad flag value is a usage error naming the flag, not a config error.
    #[test]
    fn bad_scan_flags_are_usage_errors_naming_the_flag() {
        for args in [
            &["tickerwatch", "scan", "--subreddit", "no such/sub"][..],
            &["tickerwatch", "scan", "--subreddit", "r/stocks"],
            &["tickerwatch", "scan", "--subreddit", "x"],
            &["tickerwatch", "scan", "--limit", "0"],
            &["tickerwatch", "scan", "--limit", "5000"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            let flag = args[2];
            assert!(err.to_string().contains(&format!("'{flag} <")), "{args:?}: {err}");
        }
        let cli = Cli::try_parse_from([
            "tickerwatch",
            "scan",
            "--subreddit",
            "stocks",
            "--subreddit",
            "de",
            "--limit",
            "50",
        ])
        .unwrap();
        let Command::Scan(args) = cli.command else { panic!("not scan") };
        assert_eq!((args.subreddits, args.limit), (vec!["stocks".to_owned(), "de".to_owned()], Some(50)));
    }

    /// Issue 10: every flag with a fixed set of values lists them in `--help`.
    #[test]
    fn help_lists_enumerated_values() {
        let mut cli = Cli::command();
        let help = |cli: &mut clap::Command, path: &[&str]| {
            let mut command = cli.clone();
            for name in path {
                command = command.find_subcommand(name).unwrap().clone();
            }
            command.render_help().to_string()
        };
        let formats = "[possible values: csv, ndjson, xlsx, parquet, html]";
        let intervals = "[possible values: 1m, 5m, 15m, 30m, 1h, 1d, 1wk, 1mo]";
        let providers = "[possible values: yahoo, alpha_vantage, polygon, finnhub, sample]";
        for (path, expected) in [
            (&["export"][..], &[formats, intervals][..]),
            (&["bench", "export"], &[formats]),
            (&["fetch"], &[intervals, providers]),
            (&["quote"], &[providers]),
            (&["news"], &[providers, "[possible values: table, json]"]),
            (&["profile"], &[providers, "[possible values: table, json]"]),
            (&["bars"], &[intervals, providers, "[possible values: table, csv, json]"]),
        ] {
            let text = help(&mut cli, path);
            for values in expected {
                assert!(text.contains(values), "{path:?}: {values} missing from\n{text}");
            }
        }
        // The listed values are exactly the ones that parse.
        for format in export::ExportFormat::ALL {
            let args = ["tickerwatch", "export", "-o", "x", "--format", format.as_str()];
            assert!(Cli::try_parse_from(args).is_ok(), "{format}");
        }
        let err = Cli::try_parse_from(["tickerwatch", "export", "-o", "x", "--format", "pdf"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--format <FORMAT>"), "{err}");
    }

    #[test]
    fn parses_fetch() {
        let cli = Cli::try_parse_from([
            "tickerwatch",
            "fetch",
            "aapl",
            "MSFT",
            "--range",
            "2y",
            "--provider",
            "sample",
        ])
        .unwrap();
        let Command::Fetch(args) = cli.command else { panic!("not fetch") };
        assert_eq!(args.symbols.len(), 2);
        assert_eq!(args.symbols[0].as_str(), "AAPL");
        assert_eq!(args.provider, Some(ProviderId::Sample));
    }
}
