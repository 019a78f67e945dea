//! `tickerwatch serve`: the HTTP API and the job engine until SIGINT/SIGTERM.

use crate::cli::ServeArgs;
use crate::config::Config;
use crate::startup::{Application, shutdown_signal};

/// Runs the service.
///
/// # Errors
/// When it cannot start or the listener fails.
pub async fn run(mut config: Config, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let application = Application::build(config).await?;
    eprintln!(
        "tickerwatch listening on http://{addr} (API docs: http://{addr}{docs})",
        addr = application.local_addr(),
        docs = server::DOCS_PATH
    );
    application.run_until_stopped(shutdown_signal()).await
}
