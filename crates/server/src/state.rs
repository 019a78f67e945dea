//! [`AppState`]: what handlers share.

use std::sync::Arc;

use axum::extract::FromRef;
use jobs::{ExportService, JobEngine};
use metrics_exporter_prometheus::PrometheusHandle;
use providers::ProviderChain;
use storage::Storage;

use crate::ServerConfig;
use crate::cache::BarsCache;
use crate::routes::alert_stream::AlertStreams;
use crate::session::SessionKeys;

/// Everything the handlers use, each with one owner outside the server (the binary builds them
/// and shuts them down); the state only holds handles.
///
/// Cloning is cheap, but handlers extract only the part they need (`State<Storage>` and so on,
/// through [`FromRef`]), so the hot path clones one pool handle per request, not the whole state.
#[derive(Clone)]
pub struct AppState {
    pub storage: Storage,
    pub jobs: Arc<JobEngine>,
    pub exports: ExportService,
    pub providers: ProviderChain,
    pub config: Arc<ServerConfig>,
    /// The Prometheus recorder's handle; see [`crate::metrics::install_recorder`].
    pub metrics: PrometheusHandle,
    /// Recent `GET …/bars` responses (see [`crate::cache`]); private, so a state is built with
    /// [`AppState::new`].
    pub(crate) bars_cache: Arc<BarsCache>,
    /// Signs the web UI's session cookies (see [`crate::session`]).
    pub(crate) sessions: SessionKeys,
    /// The open `GET /api/alerts/stream` streams: their cap, and the signal the server gives
    /// them at shutdown (see [`crate::routes::alert_stream`]).
    pub(crate) alert_streams: Arc<AlertStreams>,
    /// The symbol universe `POST /api/social/analyze` scores against: the stored one, else the
    /// bundled one (built on first use).
    pub(crate) universe: Arc<jobs::universe::CurrentUniverse>,
    /// Where alert deliveries may connect (`jobs.monitor.targets`): a rule whose webhook is an
    /// IP address this refuses is refused when saved. Closed by default, as in the config.
    pub(crate) target_policy: Arc<notify::TargetPolicy>,
}

impl AppState {
    /// The state over already-built parts; installs the metrics recorder if needed.
    pub fn new(
        storage: Storage,
        jobs: Arc<JobEngine>,
        exports: ExportService,
        providers: ProviderChain,
        config: ServerConfig,
    ) -> Self {
        let bars_cache = Arc::new(BarsCache::new(config.bars_cache_ttl()));
        let sessions = SessionKeys::new(
            config.auth.session_secret.as_ref().map(crate::ApiToken::expose),
            config.auth.session_hours,
        );
        let alert_streams = Arc::new(AlertStreams::new(&config));
        Self {
            storage,
            jobs,
            exports,
            providers,
            config: Arc::new(config),
            metrics: crate::metrics::install_recorder(),
            bars_cache,
            sessions,
            alert_streams,
            universe: Arc::new(jobs::universe::CurrentUniverse::default()),
            target_policy: Arc::new(notify::TargetPolicy::default()),
        }
    }

    /// The same state with the address policy alert deliveries run under, so rules are checked
    /// against it when saved (the instance that delivers should have the same one).
    #[must_use]
    pub fn with_target_policy(mut self, policy: notify::TargetPolicy) -> Self {
        self.target_policy = Arc::new(policy);
        self
    }
}

impl FromRef<AppState> for Storage {
    fn from_ref(state: &AppState) -> Self {
        state.storage.clone()
    }
}

impl FromRef<AppState> for Arc<JobEngine> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.jobs)
    }
}

impl FromRef<AppState> for ExportService {
    fn from_ref(state: &AppState) -> Self {
        state.exports.clone()
    }
}

impl FromRef<AppState> for Arc<BarsCache> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.bars_cache)
    }
}

impl FromRef<AppState> for Arc<notify::TargetPolicy> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.target_policy)
    }
}

impl FromRef<AppState> for Arc<AlertStreams> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.alert_streams)
    }
}

impl FromRef<AppState> for ProviderChain {
    fn from_ref(state: &AppState) -> Self {
        state.providers.clone()
    }
}
