//! [`ApiError`]: the one error type handlers return, and the one JSON shape clients see.
//!
//! Which error to use where: handlers return `Result<_, ApiError>`; library errors convert with
//! `From` (`StorageError`, `TriggerError`, `ExportServiceError`), mapping what a client can act on
//! to a 4xx and everything else to [`ApiError::Internal`]. An internal error shows the client a
//! generic message; its cause travels in the response extensions ([`ErrorCause`]) and is logged
//! exactly once by [`crate::middleware`], inside the request's trace span.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Everything a request can fail with. The variant decides the status and the `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `bad_request`: a query parameter or path segment that does not parse.
    #[error("{0}")]
    BadRequest(String),
    /// 400 `invalid_symbol`: the message names the offending symbol.
    #[error("{0}")]
    InvalidSymbol(String),
    /// 400 `invalid_range`: e.g. `from` after `to`.
    #[error("{0}")]
    InvalidRange(String),
    /// 400 `invalid_window`: a trending window that is not `Nh` or `Nd` within 1h..30d.
    #[error("{0}")]
    InvalidWindow(String),
    /// 401 `unauthorized`: no token, a malformed header or an unknown token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// 403 `forbidden`: the token was revoked.
    #[error("this token has been revoked")]
    Forbidden,
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 404 `unknown_job`.
    #[error("unknown job {0:?}")]
    UnknownJob(String),
    /// 404 `unknown_export`.
    #[error("export {0} not found")]
    UnknownExport(i64),
    /// 409 `conflict`, with the run that is already active.
    #[error("{message}")]
    Conflict { message: String, run_id: Option<i64> },
    /// 409 `export_not_ready`: the export is still being written.
    #[error("export {0} is still being written; try again when its status is ready")]
    ExportNotReady(i64),
    /// 413 `payload_too_large`.
    #[error(
        "request body is too large{}",
        limit.map(|limit| format!(" (the limit is {limit} bytes)")).unwrap_or_default()
    )]
    PayloadTooLarge { limit: Option<usize> },
    /// 415 `unsupported_media_type`: a JSON body without `Content-Type: application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 `invalid_json`: a body that is not JSON or not the expected shape.
    #[error("{0}")]
    InvalidJson(String),
    /// 422 `invalid_rule`: an alert rule that parses but cannot be watched; the message names the
    /// field (`level`, `days`, `symbol`…).
    #[error("{0}")]
    InvalidRule(String),
    /// 502 `upstream_failed`: every market-data provider failed.
    #[error("{0}")]
    Upstream(String),
    /// 503 `unavailable`: shutting down, or the database is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// 500 `internal`: the cause is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
    /// The active run, on a 409 from a trigger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `invalid_symbol`, `invalid_range`,
    /// `invalid_window`, `unauthorized`, `forbidden`, `not_found`, `unknown_job`,
    /// `unknown_export`, `conflict`, `export_not_ready`, `payload_too_large`,
    /// `unsupported_media_type`, `invalid_json`, `invalid_rule`, `request_timeout`, `method_not_allowed`,
    /// `upstream_failed`, `unavailable`, `internal`.
    #[schema(example = "invalid_symbol")]
    pub code: &'static str,
    /// For humans; may change between versions.
    pub message: String,
}

/// The cause of a 500, in the response extensions, for the logging middleware.
#[derive(Clone)]
pub(crate) struct ErrorCause(pub(crate) Arc<dyn std::error::Error + Send + Sync>);

/// Marks a response whose body is already in our error format, so the normalising middleware
/// leaves it alone.
#[derive(Clone, Copy)]
pub(crate) struct RenderedError;

impl ApiError {
    /// Wraps any error as an internal one.
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Arc::new(error))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::InvalidSymbol(_) | Self::InvalidRange(_) | Self::InvalidWindow(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::UnknownJob(_) | Self::UnknownExport(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } | Self::ExportNotReady(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidJson(_) | Self::InvalidRule(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::InvalidSymbol(_) => "invalid_symbol",
            Self::InvalidRange(_) => "invalid_range",
            Self::InvalidWindow(_) => "invalid_window",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::UnknownJob(_) => "unknown_job",
            Self::UnknownExport(_) => "unknown_export",
            Self::Conflict { .. } => "conflict",
            Self::ExportNotReady(_) => "export_not_ready",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidRule(_) => "invalid_rule",
            Self::Upstream(_) => "upstream_failed",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

/// Builds an error response in our format; also used for responses produced outside handlers
/// (axum's 404/405, tower-http's 408/413, a caught panic).
pub(crate) fn error_response(
    status: StatusCode,
    code: &'static str,
    message: String,
    run_id: Option<i64>,
) -> Response {
    let body = ErrorResponse { error: ErrorDetail { code, message }, run_id };
    let mut response = (status, Json(body)).into_response();
    response.extensions_mut().insert(RenderedError);
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let run_id = match &self {
            Self::Conflict { run_id, .. } => *run_id,
            _ => None,
        };
        let mut response = error_response(status, self.code(), self.to_string(), run_id);
        match self {
            Self::Internal(cause) => {
                response.extensions_mut().insert(ErrorCause(cause));
            }
            Self::Unauthorized => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

impl From<storage::StorageError> for ApiError {
    fn from(error: storage::StorageError) -> Self {
        Self::internal(error)
    }
}

impl From<jobs::TriggerError> for ApiError {
    fn from(error: jobs::TriggerError) -> Self {
        match error {
            jobs::TriggerError::UnknownJob(job) => Self::UnknownJob(job),
            jobs::TriggerError::AlreadyActive { job, active } => Self::Conflict {
                message: match &active.subject {
                    None => format!("job {job} already has an active run {} ({})", active.id, active.status),
                    Some(subject) => format!(
                        "job {job} already has an active run {} for {subject} ({})",
                        active.id, active.status
                    ),
                },
                run_id: Some(active.id),
            },
            jobs::TriggerError::ShuttingDown => {
                Self::Unavailable("the job engine is shutting down".to_owned())
            }
            jobs::TriggerError::QueueFull => Self::Unavailable(jobs::TriggerError::QueueFull.to_string()),
            jobs::TriggerError::Storage(error) => Self::internal(error),
        }
    }
}

impl From<jobs::ExportServiceError> for ApiError {
    fn from(error: jobs::ExportServiceError) -> Self {
        match error {
            jobs::ExportServiceError::NotFound(id) => Self::UnknownExport(id),
            jobs::ExportServiceError::NotReady(id) => Self::ExportNotReady(id),
            other => Self::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_distinct_meaning() {
        let cases = [
            (ApiError::BadRequest("x".into()), 400, "bad_request"),
            (ApiError::InvalidSymbol("x".into()), 400, "invalid_symbol"),
            (ApiError::InvalidRange("x".into()), 400, "invalid_range"),
            (ApiError::InvalidWindow("x".into()), 400, "invalid_window"),
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::Forbidden, 403, "forbidden"),
            (ApiError::UnknownJob("x".into()), 404, "unknown_job"),
            (ApiError::UnknownExport(1), 404, "unknown_export"),
            (ApiError::Conflict { message: "x".into(), run_id: Some(1) }, 409, "conflict"),
            (ApiError::ExportNotReady(1), 409, "export_not_ready"),
            (ApiError::PayloadTooLarge { limit: Some(1) }, 413, "payload_too_large"),
            (ApiError::InvalidJson("x".into()), 422, "invalid_json"),
            (ApiError::internal(std::io::Error::other("disk on fire")), 500, "internal"),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let error = ApiError::internal(std::io::Error::other("password=hunter2"));
        assert_eq!(error.to_string(), "internal error");
        let response = error.into_response();
        assert!(response.extensions().get::<ErrorCause>().is_some());
    }
}
