//! What a command needs: the config, the database and the provider chain, built once.

use anyhow::Context;
use domain::ProviderId;
use providers::ProviderChain;
use storage::Storage;

use crate::config::Config;

/// The opened application. Owns the database pool; providers are built per command so each
/// owns (and on drop closes) its own HTTP client.
pub struct App {
    pub config: Config,
    pub storage: Storage,
}

impl App {
    /// Connects to the database and brings its schema up to date, so a fresh machine needs no
    /// separate `db migrate` step.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let storage = Storage::connect(&config.database.url, &config.database)
            .await
            .with_context(|| format!("cannot open database {}", storage::redact_url(&config.database.url)))?;
        storage.migrate().await.context("cannot migrate the database schema")?;
        Ok(Self { config, storage })
    }

    /// The configured provider chain, or just `only`.
    ///
    /// # Errors
    /// When a provider's settings are invalid.
    pub fn chain(&self, only: Option<ProviderId>) -> anyhow::Result<ProviderChain> {
        Ok(ProviderChain::from_config(&self.config.providers, only)?)
    }

    /// Closes the pool (flushes SQLite's WAL cleanly).
    pub async fn close(self) {
        self.storage.close().await;
    }
}
