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
    let role = args.role;
    // Before anything listens: a SIGTERM from then on drains the service instead of killing it.
    let shutdown = shutdown_signal();
    let application = Application::build_as(config, role).await?;
    if role.serves_api() {
        eprintln!(
            "tickerwatch ({role}) listening on http://{addr} (API docs: http://{addr}{docs})",
            role = role.as_str(),
            addr = application.local_addr(),
            docs = server::DOCS_PATH
        );
    } else {
        eprintln!(
            "tickerwatch (worker) running jobs; health and metrics on http://{addr}",
            addr = application.local_addr()
        );
    }
    application.run_until_stopped(shutdown).await
}
