//! The `tickerwatch` application: configuration, telemetry and the CLI over the library crates.
//!
//! Design decision: this is the only crate that uses `anyhow`; library crates return typed
//! errors, and here they are given context and mapped to exit codes (0 ok, 1 failure, 2 usage).
//! It is a library with a thin `main.rs` so integration tests can drive the same code.

pub mod app;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod output;
pub mod soak;
pub mod startup;
pub mod telemetry;

use crate::cli::Command;
use crate::config::Config;

/// Runs one command; `Ok(false)` means it finished but part of the work failed (reported).
pub async fn run(command: Command, config: Config) -> anyhow::Result<bool> {
    match command {
        Command::Config(cli::ConfigCommand::Show) => {
            print!("{}", config.to_masked_toml());
            Ok(true)
        }
        Command::Bench(cli::BenchCommand::Ingest(args)) => commands::bench::ingest(args).await.map(|()| true),
        Command::Bench(cli::BenchCommand::Export(args)) => commands::bench::export(args).await.map(|()| true),
        Command::Bench(cli::BenchCommand::Seed(args)) => commands::bench::seed(args).await.map(|()| true),
        Command::Bench(cli::BenchCommand::Cluster(args)) => {
            commands::bench_cluster::run(args).await.map(|()| true)
        }
        Command::Bench(cli::BenchCommand::Monitor(args)) => {
            commands::bench::monitor(args).await.map(|()| true)
        }
        Command::Serve(args) => commands::serve::run(config, args).await.map(|()| true),
        Command::Soak(args) => commands::soak::run(config, args).await,
        command => {
            let app = app::App::open(config).await?;
            let result = match command {
                Command::Fetch(args) => commands::fetch::run(&app, args).await,
                Command::Quote(args) => commands::quote::run(&app, args).await,
                Command::Bars(args) => commands::bars::run(&app, args).await.map(|()| true),
                Command::News(args) => commands::news::news(&app, args).await.map(|()| true),
                Command::Profile(args) => commands::news::profile(&app, args).await.map(|()| true),
                Command::Watchlist(command) => commands::watchlist::run(&app, command).await.map(|()| true),
                Command::Alerts(command) => commands::alerts::run(&app, command).await,
                Command::Db(cli::DbCommand::Migrate) => {
                    println!("Database schema is up to date ({}).", app.storage.backend());
                    Ok(true)
                }
                Command::Token(command) => commands::token::run(&app, command).await.map(|()| true),
                Command::Jobs(command) => commands::jobs::run(&app, command).await,
                Command::Export(args) => commands::export::run(&app, args).await.map(|()| true),
                Command::Scan(args) => commands::social::scan(&app, args).await,
                Command::Trending(args) => commands::social::trending(&app, &args).await.map(|()| true),
                Command::Sentiment(args) => commands::universe::sentiment(&app, args).await.map(|()| true),
                Command::Universe(command) => commands::universe::run(&app, command).await,
                Command::Analyze(args) => commands::analyze::run(&app, args).await,
                Command::Providers(args) => commands::providers::run(&app, &args).await.map(|()| true),
                Command::Config(_) | Command::Bench(_) | Command::Serve(_) | Command::Soak(_) => {
                    unreachable!("handled above")
                }
            };
            app.close().await;
            result
        }
    }
}
