//! `tickerwatch token create|list|revoke`. Tokens are shown once; only a SHA-256 is stored.

use anyhow::Context;

use crate::app::App;
use crate::cli::TokenCommand;
use crate::output;

/// Runs a token subcommand.
///
/// # Errors
/// When the name is taken or the database fails.
pub async fn run(app: &App, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name } => {
            anyhow::ensure!(!name.trim().is_empty(), "--name must not be empty");
            let token = server::generate_token();
            app.storage
                .create_token(name.trim(), &server::hash_token(&token))
                .await
                .with_context(|| format!("cannot create token {name:?} (is the name taken?)"))?;
            println!("{token}");
            eprintln!("Token {name:?} created. It is shown only now; store it safely.");
        }
        TokenCommand::List => {
            let mut table = output::table(&["name", "created", "revoked"]);
            for token in app.storage.tokens().await? {
                table.add_row(vec![
                    token.name,
                    token.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    token.revoked_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default(),
                ]);
            }
            println!("{table}");
        }
        TokenCommand::Revoke { name } => {
            let revoked = app.storage.revoke_token(&name).await?;
            anyhow::ensure!(revoked, "no active token named {name:?}");
            println!("Token {name:?} revoked.");
        }
    }
    Ok(())
}
