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
    /// The chains handed out, so [`close`](Self::close) stores the requests they made (daily
    /// budgets count CLI requests too).
    chains: std::sync::Mutex<Vec<ProviderChain>>,
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
        Ok(Self { config, storage, chains: std::sync::Mutex::default() })
    }

    /// The configured provider chain, or just `only`, its clients told what today's stored
    /// request counts are (so a spent daily budget stays spent).
    ///
    /// # Errors
    /// When a provider's settings are invalid.
    pub async fn chain(&self, only: Option<ProviderId>) -> anyhow::Result<ProviderChain> {
        let chain = ProviderChain::from_config(&self.config.providers, only)?;
        jobs::provider_usage::sync_usage_or_warn(&chain, &self.storage).await;
        self.chains.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(chain.clone());
        Ok(chain)
    }

    /// Stores the requests the command's chains made, then closes the pool (flushes SQLite's
    /// WAL cleanly).
    pub async fn close(self) {
        let chains =
            std::mem::take(&mut *self.chains.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for chain in &chains {
            jobs::provider_usage::sync_usage_or_warn(chain, &self.storage).await;
        }
        drop(chains);
        self.storage.close().await;
    }
}
