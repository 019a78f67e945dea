//! Liveness, readiness and the Prometheus scrape.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorResponse};

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Probe {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the process serves HTTP. Touches nothing else, so a slow database never gets a
/// healthy process restarted.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "ops", responses((status = 200, description = "Alive", body = Probe)))]
pub(crate) async fn healthz() -> Json<Probe> {
    Json(Probe { status: "ok" })
}

/// Readiness: the database answers a trivial query.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "ops",
    responses(
        (status = 200, description = "Ready", body = Probe),
        (status = 503, description = "Database unreachable", body = ErrorResponse),
    )
)]
pub(crate) async fn readyz(State(storage): State<storage::Storage>) -> Result<Json<Probe>, ApiError> {
    match storage.ping().await {
        Ok(()) => Ok(Json(Probe { status: "ready" })),
        Err(error) => {
            tracing::warn!(%error, "Readiness check failed.");
            Err(ApiError::Unavailable("the database is unreachable".to_owned()))
        }
    }
}

/// Prometheus text format; see the `metrics` module for what is covered.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "ops",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"))
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = crate::metrics::render(&state.metrics, &state.storage).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}
