//! End-to-end tests of the real binary on a temporary SQLite database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn db_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("nested/dir/tw.db").display())
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_env(args, &[])
    }

    fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tickerwatch"));
        command
            .args(args)
            .current_dir(self.path())
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env("TICKERWATCH_DATABASE__URL", self.db_url());
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    }
}

impl Workspace {
    /// Research notes and crew runs stored for `symbol`, read from the workspace's database.
    fn stored_notes_and_crew_runs(&self, symbol: &str) -> (usize, usize) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let storage =
                storage::Storage::connect(&self.db_url(), &storage::DatabaseConfig::default()).await.unwrap();
            let notes = storage
                .research_notes(Some(&domain::Symbol::parse(symbol).unwrap()), 100)
                .await
                .unwrap()
                .len();
            let runs = storage.crew_runs(Some(symbol), 100).await.unwrap().len();
            storage.close().await;
            (notes, runs)
        })
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn fetch_stores_sample_history_and_bars_prints_it() {
    let ws = Workspace::new();
    let out = ws.run(&["fetch", "AAPL", "MSFT", "--range", "1y"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("AAPL") && text.contains("MSFT") && text.contains("sample"), "{text}");
    assert!(text.contains("2013-03-01"), "{text}");

    let csv = ws.run(&["bars", "AAPL", "--from", "2013-02-25", "--format", "csv"]);
    assert!(csv.status.success(), "{}", stderr(&csv));
    let csv = stdout(&csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "symbol,interval,date,open,high,low,close,adj_close,volume,provider,partial,flag");
    assert_eq!(lines.len(), 1 + 5, "{csv}"); // 2013-02-25 .. 2013-03-01
    assert!(lines[1].starts_with("AAPL,1d,2013-02-25,"), "{}", lines[1]);
    assert!(lines.iter().skip(1).all(|l| l.ends_with(",sample,false,")), "{csv}");

    // Fetching the same range again stores no duplicates.
    let again = ws.run(&["fetch", "AAPL", "--range", "1y"]);
    assert!(again.status.success());
    let json = ws.run(&["bars", "AAPL", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let n = rows.as_array().unwrap().len();
    assert!((240..=260).contains(&n), "{n} rows");
}

#[test]
fn quote_is_labelled_last_bar_close_offline() {
    let ws = Workspace::new();
    let out = ws.run(&["quote", "IBM"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("last bar close") && text.contains("sample"), "{text}");
}

#[test]
fn watchlist_add_list_remove_and_fetch_watchlist() {
    let ws = Workspace::new();
    assert!(ws.run(&["watchlist", "add", "goog", "FB"]).status.success());
    let list = stdout(&ws.run(&["watchlist", "list"]));
    assert!(list.contains("GOOG") && list.contains("FB") && list.contains("2 symbol(s)"), "{list}");
    let fetch = ws.run(&["fetch", "--range", "5d"]);
    assert!(fetch.status.success(), "{}", stderr(&fetch));
    assert!(stdout(&fetch).contains("GOOG"));
    assert!(ws.run(&["watchlist", "remove", "FB"]).status.success());
    let list = stdout(&ws.run(&["watchlist", "list"]));
    assert!(!list.contains("FB") && list.contains("1 symbol(s)"), "{list}");
}

#[test]
fn unknown_symbol_fails_with_exit_1_and_keeps_other_data() {
    let ws = Workspace::new();
    let out = ws.run(&["fetch", "IBM", "NVDA", "--range", "5d"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("NVDA") && err.contains("sample"), "{err}");
    let bars = stdout(&ws.run(&["bars", "IBM", "--format", "csv"]));
    assert!(bars.lines().count() > 1, "IBM should still be stored: {bars}");
}

#[test]
fn a_role_other_than_all_on_sqlite_is_a_clear_error() {
    let ws = Workspace::new();
    for role in ["api", "worker"] {
        let out =
            ws.run_with_env(&["serve", "--role", role], &[("TICKERWATCH_SERVER__LISTEN", "127.0.0.1:0")]);
        assert_eq!(out.status.code(), Some(1), "{role}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("--role {role} needs a PostgreSQL database")), "{err}");
    }
    let out = ws.run(&["serve", "--role", "janitor"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2() {
    let ws = Workspace::new();
    for args in [
        &["fetch", "A;DROP"][..],
        &["fetch", "../etc"],
        &["fetch", "AAPL", "--interval", "2d"],
        &["fetch", "AAPL", "--range", "forever"],
        &["fetch", "AAPL", "--provider", "bloomberg"],
        &["frobnicate"],
    ] {
        let out = ws.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn bad_date_window_is_a_clear_error() {
    let ws = Workspace::new();
    let out = ws.run(&["bars", "AAPL", "--from", "2013-02-01", "--to", "2013-01-01"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("after"), "{}", stderr(&out));
}

#[test]
fn bad_config_names_the_key() {
    let ws = Workspace::new();
    std::fs::write(ws.path().join("tickerwatch.toml"), "[providers.yahoo]\ntimeout = 3\n").unwrap();
    let out = ws.run(&["config", "show"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("timeout"), "{}", stderr(&out));

    let out = ws.run_with_env(&["config", "show"], &[("TICKERWATCH_PROVIDERS__ORDER", "[\"nope\"]")]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn config_show_masks_secrets() {
    let ws = Workspace::new();
    let config: PathBuf = ws.path().join("custom.toml");
    std::fs::write(&config, "[providers.polygon]\napi_key = \"POLYSECRET\"\n").unwrap();
    let out = ws.run_with_env(
        &["--config", config.to_str().unwrap(), "config", "show"],
        &[("TICKERWATCH_PROVIDERS__FINNHUB__API_KEY", "FINNSECRET")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("POLYSECRET") && !text.contains("FINNSECRET"), "{text}");
    assert!(text.contains("api_key = \"***\""), "{text}");
}

/// Issue 10: `[social.reddit]` and its base-URL keys show before any Reddit key is set, as a
/// commented block of defaults; once set, the section is live and its secrets are masked.
#[test]
fn config_show_has_every_section_with_defaults() {
    let ws = Workspace::new();
    let out = ws.run(&["config", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("# [social.reddit]"), "{text}");
    assert!(text.contains("# base_url = \"https://www.reddit.com\""), "{text}");
    assert!(text.contains("# api_key = \"\""), "unset secrets show as commented keys: {text}");
    toml::from_str::<toml::Table>(&text).expect("valid TOML");

    let reddit = [
        ("TICKERWATCH_SOCIAL__REDDIT__USER_AGENT", "linux:tw-test:0.1 (by /u/tester)"),
        ("TICKERWATCH_SOCIAL__REDDIT__CLIENT_ID", "app-id"),
        ("TICKERWATCH_SOCIAL__REDDIT__CLIENT_SECRET", "REDDITSECRET"),
    ];
    let out = ws.run_with_env(&["config", "show"], &reddit);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let section =
        text.split("\n[social.reddit]\n").nth(1).unwrap_or_else(|| panic!("no live section: {text}"));
    assert!(section.contains("base_url = \"https://www.reddit.com\""), "{text}");
    assert!(section.contains("client_secret = \"***\"") && !text.contains("REDDITSECRET"), "{text}");
    assert!(section.contains("# password = \"\""), "{text}");
    assert!(!text.contains("# [social.reddit]"), "{text}");
}

#[test]
fn db_migrate_is_idempotent() {
    let ws = Workspace::new();
    assert!(ws.run(&["db", "migrate"]).status.success());
    let out = ws.run(&["db", "migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("up to date"));
}

#[test]
fn offline_scan_shows_trending_tickers_and_coverage() {
    let ws = Workspace::new();
    let out = ws.run(&["scan", "--subreddit", "wallstreetbets", "--limit", "50"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("symbol") && text.contains("mentions"), "{text}");
    assert!(text.contains("sample of r/wallstreetbets") && text.contains("complete"), "{text}");

    let trending = ws.run(&["trending", "--window", "7d", "--limit", "5"]);
    assert!(trending.status.success(), "{}", stderr(&trending));
    let rows = stdout(&trending).lines().filter(|l| l.starts_with('│') && !l.contains("symbol")).count();
    assert!((1..=5).contains(&rows), "{}", stdout(&trending));

    let bad = ws.run(&["trending", "--window", "90d"]);
    assert_eq!(bad.status.code(), Some(2));

    // Issue 10: a bad flag value is a usage error naming the flag, not a config setting.
    for (args, flag) in [
        (&["scan", "--subreddit", "no such/sub"][..], "--subreddit <NAME>"),
        (&["scan", "--limit", "0"], "--limit <LIMIT>"),
    ] {
        let bad = ws.run(args);
        let err = stderr(&bad);
        assert_eq!(bad.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag) && err.contains(args[2]) && !err.contains("social."), "{args:?}: {err}");
    }

    // Both registered jobs are listed, the scan with its last run.
    let jobs = stdout(&ws.run(&["jobs", "list"]));
    assert!(jobs.contains("download-tracker") && jobs.contains("reddit-scan"), "{jobs}");
    assert!(jobs.contains("succeeded"), "{jobs}");
}

#[test]
fn analyze_streams_progress_and_prints_the_note_on_the_offline_model() {
    let ws = Workspace::new();
    let output = ws.run(&["analyze", "aapl"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(out.starts_with("# AAPL: "), "{out}");
    assert!(out.contains("model offline"), "{out}");
    assert!(err.contains("▶ market research (Market Researcher)"), "{err}");
    assert!(err.contains("↳ get_indicators ok"), "{err}");
    assert!(err.contains("Done in"), "{err}");

    let output = ws.run(&["analyze", "MSFT", "--json", "--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).is_empty(), "quiet: {}", stderr(&output));
    let note: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(note["symbol"], "MSFT");
    assert!(["buy", "hold", "sell"].contains(&note["rating"].as_str().unwrap()), "{note}");

    // Issue 10: a symbol that does not exist gets no note (it used to get "HOLD 30 %").
    let unknown = ws.run(&["analyze", "ZZZZ"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", stderr(&unknown));
    let err = stderr(&unknown);
    assert!(err.contains("error: unknown symbol ZZZZ: no bars are stored and no provider knows"), "{err}");
    assert!(stdout(&unknown).is_empty(), "no note: {}", stdout(&unknown));
    assert_eq!(ws.stored_notes_and_crew_runs("ZZZZ"), (0, 0));
    assert_eq!(ws.stored_notes_and_crew_runs("AAPL"), (1, 1));

    let bad = ws.run(&["analyze", "A;DROP"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let unknown_crew = ws.run(&["analyze", "AAPL", "--crew", "nope"]);
    assert_eq!(unknown_crew.status.code(), Some(1));
    assert!(stderr(&unknown_crew).contains("unknown crew \"nope\""), "{}", stderr(&unknown_crew));
}

#[test]
fn analyze_with_a_model_server_that_refuses_the_key_fails_clearly_without_leaking_it() {
    let ws = Workspace::new();
    // Nothing listens on this port: a connection error after retries, reported, no key shown.
    let output = ws.run_with_env(
        &["analyze", "AAPL", "--model", "gpt-4o-mini"],
        &[
            ("TICKERWATCH_ANALYSIS__LLM__BASE_URL", "http://127.0.0.1:9/v1"),
            ("TICKERWATCH_ANALYSIS__LLM__API_KEY", "sk-secret-should-not-appear"),
            ("TICKERWATCH_ANALYSIS__LLM__MAX_RETRIES", "0"),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("analysis failed") && err.contains("cannot reach the model server"), "{err}");
    assert!(!err.contains("sk-secret"), "{err}");
    let shown = ws.run_with_env(
        &["config", "show"],
        &[("TICKERWATCH_ANALYSIS__LLM__API_KEY", "sk-secret-should-not-appear")],
    );
    assert!(stdout(&shown).contains("[analysis.llm]"), "{}", stdout(&shown));
    assert!(!stdout(&shown).contains("sk-secret"), "{}", stdout(&shown));
}

#[test]
fn a_crew_defined_in_the_config_file_runs_without_code() {
    let ws = Workspace::new();
    let toml = r#"
[[analysis.crews]]
name = "quick-take"
process = { kind = "sequential" }
limits = { deadline = 30, max_tool_calls = 10 }

[[analysis.crews.agents]]
role = "Chartist"
goal = "Read the chart of {symbol}"
tools = ["get_indicators"]

[[analysis.crews.agents]]
role = "Writer"
goal = "Write a note on {symbol}"

[[analysis.crews.tasks]]
name = "chart"
description = "Symbol: {symbol}. Read the chart."
expected_output = "figures"
agent = "Chartist"

[[analysis.crews.tasks]]
name = "note"
description = "Symbol: {symbol}. Write the note."
expected_output = "JSON"
agent = "Writer"
output_schema = { type = "object", required = ["rating", "confidence"], properties = { rating = { type = "string", enum = ["buy", "hold", "sell"] }, confidence = { type = "number", minimum = 0, maximum = 1 } } }
"#;
    std::fs::write(ws.path().join("tickerwatch.toml"), toml).unwrap();
    let out = ws.run(&["analyze", "IBM", "--crew", "quick-take", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let note: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((note["crew"].as_str(), note["symbol"].as_str()), (Some("quick-take"), Some("IBM")));
    assert!(stderr(&out).contains("▶ chart (Chartist)"), "{}", stderr(&out));

    // A crew naming a tool that does not exist is a config error before anything runs.
    std::fs::write(ws.path().join("tickerwatch.toml"), toml.replace("get_indicators", "get_horoscope"))
        .unwrap();
    let out = ws.run(&["analyze", "IBM", "--crew", "quick-take"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown tool \"get_horoscope\""), "{}", stderr(&out));
}

/// Issue 16: `TICKERWATCH_CONFIG`, which `--help` offers, names the config file like `--config`,
/// and the other variables the command line reads (`TICKERWATCH_TOKEN`) are not taken for
/// settings; an unknown `TICKERWATCH_*` variable is still refused, naming it.
#[test]
fn the_config_file_can_be_named_by_flag_or_by_environment() {
    let ws = Workspace::new();
    let file = ws.path().join("my.toml");
    std::fs::write(&file, "[providers]\nfetch_concurrency = 3\n").unwrap();
    let file = file.to_str().unwrap();

    let by_env = ws.run_with_env(
        &["config", "show"],
        &[("TICKERWATCH_CONFIG", file), ("TICKERWATCH_TOKEN", "tw_0123456789abcdef")],
    );
    assert!(by_env.status.success(), "{}", stderr(&by_env));
    assert!(stdout(&by_env).contains("fetch_concurrency = 3"), "{}", stdout(&by_env));
    let by_flag = ws.run(&["--config", file, "config", "show"]);
    assert!(by_flag.status.success(), "{}", stderr(&by_flag));
    assert_eq!(stdout(&by_flag), stdout(&by_env), "both ways give the same configuration");

    let missing = ws.run_with_env(&["config", "show"], &[("TICKERWATCH_CONFIG", "nowhere.toml")]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("nowhere.toml"), "{}", stderr(&missing));

    let unknown = ws.run_with_env(&["config", "show"], &[("TICKERWATCH_FOO", "1")]);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("TICKERWATCH_FOO"), "{}", stderr(&unknown));
}

/// `bars --format csv` is the csv export written to stdout: same header, same rows, same text.
#[test]
fn bars_csv_is_the_csv_export() {
    let ws = Workspace::new();
    assert!(ws.run(&["fetch", "IBM", "--range", "1mo"]).status.success());
    let printed = ws.run(&["bars", "IBM", "--format", "csv"]);
    assert!(printed.status.success(), "{}", stderr(&printed));
    let file = ws.path().join("ibm.csv");
    let exported = ws.run(&["export", "--symbols", "IBM", "--format", "csv", "-o", file.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let exported = std::fs::read_to_string(&file).unwrap();
    assert!(exported.lines().count() > 15, "{exported}");
    assert_eq!(stdout(&printed), exported);

    let json = ws.run(&["bars", "IBM", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let first = &rows.as_array().unwrap()[0];
    assert_eq!(first["symbol"], "IBM");
    assert!(first["date"].is_string() && first.get("ts").is_none(), "{first}");
    assert!(first["volume"].is_i64() && first["partial"] == false, "{first}");
}

/// Issue 10: ANSI colour codes never go into redirected stderr (logs, usage errors), also where
/// libraries would colour pipes (`CI` set), and `NO_COLOR` beats even a forced colour.
#[test]
fn redirected_output_carries_no_colour_codes() {
    const ESC: char = '\x1b';
    let ws = Workspace::new();
    let logs = [("TICKERWATCH_LOG__FILTER", "info"), ("CI", "true")];
    let out = ws.run_with_env(&["fetch", "IBM", "--range", "5d"], &logs);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(" INFO ") && err.contains("connected to database"), "logs are written: {err}");
    assert!(!err.contains(ESC) && !stdout(&out).contains(ESC), "{err:?}");
    let usage = ws.run_with_env(&["fetch", "A;DROP"], &[("CI", "true")]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(stderr(&usage).starts_with("error: invalid value 'A;DROP'"), "{:?}", stderr(&usage));

    // Forcing colour works (so the checks above are not vacuous), and NO_COLOR wins over it.
    let forced = ws.run_with_env(&["fetch", "A;DROP"], &[("CLICOLOR_FORCE", "1")]);
    assert!(stderr(&forced).contains(ESC), "{:?}", stderr(&forced));
    let forced_logs = ws.run_with_env(&["quote", "IBM"], &[logs[0], ("CLICOLOR_FORCE", "1")]);
    assert!(stderr(&forced_logs).contains(ESC), "{:?}", stderr(&forced_logs));
    for args in [&["fetch", "A;DROP"][..], &["quote", "IBM"]] {
        let out = ws.run_with_env(args, &[logs[0], ("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
        assert!(!stderr(&out).is_empty() && !stderr(&out).contains(ESC), "{args:?}: {:?}", stderr(&out));
    }
}

/// Issue 10: `--help` lists the values of enumerated flags.
#[test]
fn help_lists_the_export_formats_and_other_enumerated_values() {
    let ws = Workspace::new();
    let out = ws.run(&["export", "--help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let help = stdout(&out);
    assert!(help.contains("[possible values: csv, ndjson, xlsx, parquet, html]"), "{help}");
    assert!(help.contains("[possible values: 1m, 5m, 15m, 30m, 1h, 1d, 1wk, 1mo]"), "{help}");
    let help = stdout(&ws.run(&["bars", "--help"]));
    assert!(help.contains("[possible values: yahoo, alpha_vantage, polygon, finnhub, sample]"), "{help}");
    assert!(help.contains("[possible values: table, csv, json]"), "{help}");
}

/// A closed stderr (`tickerwatch … 2>&1 | head -1`) neither kills nor hangs a command: logging
/// used to report its failed write on that same stderr, which panicked (exit 101) or hung.
#[test]
fn a_closed_stderr_does_not_break_a_command() {
    let ws = Workspace::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickerwatch"))
        .args(["quote", "IBM"])
        .current_dir(ws.path())
        .env_remove("RUST_LOG")
        .env("TICKERWATCH_DATABASE__URL", ws.db_url())
        .env("TICKERWATCH_LOG__FILTER", "debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let mut status = None;
    let exited = test_support::wait_until_blocking(std::time::Duration::from_secs(30), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if !exited {
        child.kill().unwrap();
    }
    assert!(exited, "the command hung with a closed stderr");
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

#[test]
fn alert_rules_are_managed_from_the_command_line() {
    let ws = Workspace::new();
    assert!(ws.run(&["fetch", "AAPL", "--range", "1y"]).status.success());
    let hook = "slack:https://hooks.slack.com/services/T000/B000/very-secret-token";
    let added = ws.run(&[
        "alerts",
        "add",
        "AAPL",
        "--above",
        "1000",
        "--frequency",
        "every",
        "--cooldown",
        "60",
        "--webhook",
        hook,
    ]);
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(stdout(&added).starts_with("Rule 1 added"), "{}", stdout(&added));
    let watchlist_rule = ws.run(&[
        "alerts",
        "add",
        "--watchlist",
        "--condition",
        r#"{"kind":"rsi","direction":"below","level":30,"period":14}"#,
    ]);
    assert!(watchlist_rule.status.success(), "{}", stderr(&watchlist_rule));

    // Refused, each with a reason: a duplicate, an unknown symbol, a bad level, a bad webhook.
    for (args, reason) in [
        (vec!["alerts", "add", "AAPL", "--above", "1000"], "already watches"),
        (vec!["alerts", "add", "ZZZZ", "--above", "1"], "no stored bars"),
        (vec!["alerts", "add", "AAPL", "--above=-5"], "level"),
        (vec!["alerts", "add", "AAPL", "--above", "900", "--webhook", "ftp://example.com/x"], "--webhook"),
        (vec!["alerts", "add", "AAPL", "--condition", r#"{"kind":"moon"}"#], "--condition"),
    ] {
        let refused = ws.run(&args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}: {}", stdout(&refused));
        assert!(stderr(&refused).contains(reason), "{args:?}: {}", stderr(&refused));
    }

    let list = ws.run(&["alerts", "list"]);
    let listed = stdout(&list);
    assert!(
        listed.contains("AAPL") && listed.contains("(watchlist)") && listed.contains("2 rule(s)"),
        "{listed}"
    );
    assert!(!listed.contains("very-secret-token"), "{listed}");
    assert!(ws.run(&["alerts", "pause", "1"]).status.success());
    assert!(stdout(&ws.run(&["alerts", "list"])).contains("paused"));
    assert!(ws.run(&["alerts", "resume", "1"]).status.success());
    assert!(ws.run(&["alerts", "rearm", "1"]).status.success());
    assert!(stdout(&ws.run(&["alerts", "history"])).contains("0 alert(s)"));

    // A webhook at an IP address the address policy refuses is refused when the rule is added,
    // naming the address and without the URL's secret path; the operator can open it.
    let private_ip =
        ["alerts", "add", "AAPL", "--below", "2", "--webhook", "http://127.0.0.1:9/hooks/ip-secret"];
    let refused = ws.run(&private_ip);
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let reason = stderr(&refused);
    assert!(
        reason.contains("127.0.0.1") && reason.contains("loopback") && !reason.contains("ip-secret"),
        "{reason}"
    );
    let opened =
        ws.run_with_env(&private_ip, &[("TICKERWATCH_JOBS__MONITOR__TARGETS__ALLOW_PRIVATE", "true")]);
    assert!(opened.status.success(), "{}", stderr(&opened));

    // A name is checked where it points at each delivery: a test delivery to one the policy
    // refuses fails, without leaking the URL.
    let private = ws.run(&[
        "alerts",
        "add",
        "AAPL",
        "--below",
        "1",
        "--webhook",
        "http://localhost:9/hooks/another-secret",
    ]);
    assert!(private.status.success(), "{}", stderr(&private));
    let added = stdout(&private);
    let id = added.strip_prefix("Rule ").and_then(|rest| rest.split(' ').next()).expect("the rule's id");
    let tested = ws.run(&["alerts", "test", id]);
    assert_eq!(tested.status.code(), Some(1), "{}", stdout(&tested));
    let out = stdout(&tested);
    assert!(out.contains("failed after 0 attempt(s)") && !out.contains("another-secret"), "{out}");

    assert!(ws.run(&["alerts", "remove", "1"]).status.success());
    let again = ws.run(&["alerts", "remove", "1"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("alert rule 1 not found"), "{}", stderr(&again));
}

/// `tickerwatch providers`: every provider, configured or not, today's stored requests and the
/// budgets left, as a table or the API's JSON; a configured key never appears.
#[test]
fn providers_lists_every_provider_with_budgets_and_never_a_key() {
    let ws = Workspace::new();
    let env = [
        ("TICKERWATCH_PROVIDERS__ORDER", "[\"alpha_vantage\", \"sample\"]"),
        ("TICKERWATCH_PROVIDERS__ALPHA_VANTAGE__API_KEY", "AVSECRET123"),
    ];
    // Another process spent 20 of Alpha Vantage's 25 requests today.
    ws.run(&["db", "migrate"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let storage =
            storage::Storage::connect(&ws.db_url(), &storage::DatabaseConfig::default()).await.unwrap();
        let today = chrono::Utc::now().date_naive();
        let spent = storage::ProviderRequests {
            provider: domain::ProviderId::AlphaVantage,
            day: today,
            requests: 20,
        };
        storage.add_provider_requests(&[spent]).await.unwrap();
        storage.close().await;
    });

    let table = ws.run_with_env(&["providers"], &env);
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    for expected in
        ["alpha_vantage", "sample", "yahoo", "polygon", "finnhub", "not configured", "5/25", "offline"]
    {
        assert!(text.contains(expected), "{expected} missing: {text}");
    }
    assert!(!text.contains("AVSECRET123") && !stderr(&table).contains("AVSECRET123"), "{text}");

    let json = ws.run_with_env(&["providers", "--format", "json"], &env);
    assert!(json.status.success(), "{}", stderr(&json));
    assert!(!stdout(&json).contains("AVSECRET123"));
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let alpha_vantage = &report[0];
    assert_eq!(alpha_vantage["provider"], "alpha_vantage");
    assert_eq!(alpha_vantage["configured"], true);
    assert_eq!(alpha_vantage["requests_today"], 20);
    assert_eq!(alpha_vantage["budget"]["day_left"], 5);
    assert_eq!(alpha_vantage["budget"]["per_minute"], 5);
    let polygon = report.as_array().unwrap().iter().find(|p| p["provider"] == "polygon").unwrap();
    assert_eq!(polygon["status"], "not configured");

    let bad = ws.run(&["providers", "--format", "csv"]);
    assert_eq!(bad.status.code(), Some(2), "an unknown format is a usage error");
}

/// What the SMTP sink received: each message's recipients and data.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(Vec<String>, String)>>>;

/// A line-based SMTP server on loopback, on its own thread: accepts every message and keeps
/// each one's recipients and data. (The approach of `crates/notify/tests/deliver.rs`, blocking.)
struct SmtpSink {
    port: u16,
    messages: Received,
}

impl SmtpSink {
    fn start() -> Self {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Received::default();
        let received = std::sync::Arc::clone(&messages);
        // Detached: it blocks in `accept` until the test process exits.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut write) = stream else { continue };
                let mut lines = BufReader::new(write.try_clone().unwrap()).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n");
                let mut to = Vec::new();
                while let Some(Ok(line)) = lines.next() {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if let Some(rest) = upper.strip_prefix("RCPT TO:") {
                        to.push(rest.trim().to_ascii_lowercase());
                        b"250 OK\r\n"
                    } else if upper == "DATA" {
                        let _ = write.write_all(b"354 go on\r\n");
                        let mut data = String::new();
                        for line in lines.by_ref() {
                            let Ok(line) = line else { break };
                            if line == "." {
                                break;
                            }
                            data.push_str(&line);
                            data.push('\n');
                        }
                        received.lock().unwrap().push((std::mem::take(&mut to), data));
                        b"250 OK queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n");
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    if write.write_all(reply).is_err() {
                        break;
                    }
                }
            }
        });
        Self { port, messages }
    }

    fn messages(&self) -> Vec<(Vec<String>, String)> {
        self.messages.lock().unwrap().clone()
    }
}

/// Issue 12: `[jobs.monitor.smtp]` from the config file is what the monitor and `alerts test`
/// deliver e-mail through: a rule with an e-mail target fires in `jobs trigger monitor` and its
/// alert reaches the test's SMTP server, recorded as delivered; `config show` masks the
/// password, environment variables override the file, and a bad setting is refused naming it.
#[test]
fn an_email_rules_alert_goes_through_the_smtp_server_of_the_config_file() {
    let ws = Workspace::new();
    // Creates the database.
    assert!(ws.run(&["watchlist", "list"]).status.success());
    let sink = SmtpSink::start();
    let config = ws.path().join("smtp.toml");
    std::fs::write(
        &config,
        format!(
            r#"
            [jobs.monitor.targets]
            allowed_hosts = ["127.0.0.1"]

            [jobs.monitor.smtp]
            host = "127.0.0.1"
            port = {}
            tls = "none"
            from = "tickerwatch <alerts@example.com>"
            timeout_secs = 5
            "#,
            sink.port
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    // Daily bars of the last ten days (the bundled sample is from 2013, older than the monitor
    // reads), and a rule armed a week back, so the bars since then fire it (once).
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let armed = runtime.block_on(async {
        let storage =
            storage::Storage::connect(&ws.db_url(), &storage::DatabaseConfig::default()).await.unwrap();
        let aapl = domain::Symbol::parse("AAPL").unwrap();
        let today = chrono::Utc::now().date_naive();
        let bars: Vec<domain::Bar> = (1..=10)
            .map(|back| today - chrono::Duration::days(back))
            .filter(|day| chrono::Datelike::weekday(day).number_from_monday() <= 5)
            .rev()
            .map(|day| domain::Bar {
                ts: day.and_hms_opt(0, 0, 0).unwrap().and_utc(),
                open: Some(100.0),
                high: Some(102.0),
                low: Some(99.0),
                close: Some(101.0),
                adj_close: None,
                volume: Some(1000),
                provider: domain::ProviderId::Sample,
                partial: false,
                flag: None,
            })
            .collect();
        let preference = domain::reconcile::ProviderPreference::default();
        storage.upsert_bars(&aapl, domain::Interval::Day1, &bars, &preference).await.unwrap();
        let rule = storage::AlertRule {
            symbol: Some(aapl.clone()),
            name: Some("AAPL above 1".to_owned()),
            rule: monitor::Rule {
                condition: monitor::Condition::Price { direction: monitor::Direction::Above, level: 1.0 },
                frequency: monitor::Frequency::Once,
                hysteresis: 0.0,
                expires_at: None,
                paused: false,
            },
            targets: vec![serde_json::json!({"type": "email", "to": ["ops@example.com"]})],
        };
        let rule = storage.create_alert_rule(&rule).await.unwrap();
        let armed = chrono::Utc::now().date_naive() - chrono::Duration::days(7);
        let state = monitor::RuleState::armed(armed);
        storage.record_rule_evaluation(rule.id, &aapl, &state, &[]).await.unwrap();
        storage.close().await;
        armed
    });

    let triggered = ws.run(&["--config", config, "jobs", "trigger", "monitor"]);
    assert!(triggered.status.success(), "{}\n{}", stdout(&triggered), stderr(&triggered));
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "one alert, one e-mail: {messages:?} (armed {armed})");
    assert_eq!(messages[0].0, ["<ops@example.com>"]);
    assert!(messages[0].1.contains("AAPL"), "{}", messages[0].1);
    let deliveries = runtime.block_on(async {
        let storage =
            storage::Storage::connect(&ws.db_url(), &storage::DatabaseConfig::default()).await.unwrap();
        let alerts = storage.alerts(None, None, 10).await.unwrap();
        let deliveries = storage.alert_deliveries(alerts[0].id).await.unwrap();
        storage.close().await;
        deliveries
    });
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].delivered, "{:?}", deliveries[0]);
    assert_eq!(deliveries[0].target, "e-mail to ops@example.com");

    // `alerts test` sends through the same server.
    let tested = ws.run(&["--config", config, "alerts", "test", "1"]);
    assert!(tested.status.success(), "{}\n{}", stdout(&tested), stderr(&tested));
    assert_eq!(sink.messages().len(), 2);

    // The password from the environment: masked in `config show`.
    let env = [
        ("TICKERWATCH_JOBS__MONITOR__SMTP__USERNAME", "alerts"),
        ("TICKERWATCH_JOBS__MONITOR__SMTP__PASSWORD", "smtp-hunter2"),
        ("TICKERWATCH_JOBS__MONITOR__SMTP__PORT", "2525"),
    ];
    let shown = ws.run_with_env(&["--config", config, "config", "show"], &env);
    let out = stdout(&shown);
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(!out.contains("smtp-hunter2") && out.contains("password = \"***\""), "{out}");
    assert!(out.contains("port = 2525") && out.contains("username = \"alerts\""), "{out}");

    // A bad setting stops every command, naming the key; the password never shows.
    let bad = [("TICKERWATCH_JOBS__MONITOR__SMTP__FROM", "not a mailbox"), env[1]];
    let refused = ws.run_with_env(&["--config", config, "alerts", "list"], &bad);
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(err.contains("jobs.monitor.smtp.from") && !err.contains("smtp-hunter2"), "{err}");
}

#[test]
fn news_and_profile_are_fetched_once_then_read_from_storage_offline() {
    let ws = Workspace::new();
    let out = ws.run(&["news", "AAPL", "--limit", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Sample news: ") && text.contains("sample"), "{text}");
    assert!(stderr(&out).contains("from sample (3 new)"), "{}", stderr(&out));
    assert_eq!(text.matches("Sample news: ").count(), 2, "--limit 2: {text}");

    // Stored now: no fetch, and JSON for scripts.
    let out = ws.run(&["news", "aapl", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Fetched"), "{}", stderr(&out));
    let items: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let items = items.as_array().expect("an array");
    assert_eq!(items.len(), 3);
    assert!(items[0]["published_at"].as_str() > items[2]["published_at"].as_str(), "newest first");
    assert!(items.iter().all(|i| i["url"].as_str().unwrap().starts_with("https://example.invalid/")));
    let out = ws.run(&["news", "AAPL", "--refresh"]);
    assert!(stderr(&out).contains("(0 new)"), "{}", stderr(&out));

    let out = ws.run(&["profile", "IBM"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("International Business Machines Corporation") && text.contains("sample"),
        "{text}"
    );
    let out = ws.run(&["profile", "IBM", "--format", "json"]);
    let profile: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(profile["provider"], "sample");

    // A symbol nobody knows: exit 1 naming it; a bad one: usage error.
    let out = ws.run(&["profile", "NVDA"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("NVDA"), "{}", stderr(&out));
    let out = ws.run(&["news", "NVDA"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(ws.run(&["news", "A;B"]).status.code(), Some(2));
    assert_eq!(ws.run(&["news", "AAPL", "--limit", "0"]).status.code(), Some(2));
}
