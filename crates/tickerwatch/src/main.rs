//! The `tickerwatch` binary: parses arguments, loads config, runs the command, maps the result
//! to an exit code (0 ok, 1 failure, 2 usage error via clap).

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use tickerwatch::cli::Cli;
use tickerwatch::config::Config;
use tickerwatch::{run, telemetry};

/// Exit code for a failed command (usage errors exit with 2 through clap).
const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    let cli = parse_args();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    telemetry::init(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_FAILURE),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Parses the command line; help and usage errors exit here (0 and 2), coloured only where
/// [`telemetry::clap_colour`] allows.
fn parse_args() -> Cli {
    let mut command = Cli::command().color(telemetry::clap_colour());
    let mut matches = command.get_matches_mut();
    Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|error| error.format(&mut command).exit())
}
