//! Export files: list, download, delete. Clients name exports by id only; the file name is
//! decided by the export service and never taken from a request, so no path can be injected.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use export::ExportFormat;
use jobs::ExportService;
use serde::{Deserialize, Serialize};
use storage::{ExportRecord, Storage};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorResponse};
use crate::extract::{ApiPath, ApiQuery};
use crate::params::{self, LimitParam};

/// Exports listed when no `limit` is given, and the most one request may ask for.
const EXPORTS_LIMIT: LimitParam = LimitParam { default: 100, max: 1000 };

fn exports_limit_schema() -> Object {
    EXPORTS_LIMIT.schema()
}

/// An export.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExportDto {
    id: i64,
    created_at: DateTime<Utc>,
    /// `csv`, `ndjson`, `xlsx`, `parquet` or `html`.
    #[schema(example = "csv")]
    format: String,
    /// `bars`, `summary`, `mentions` or `notes`.
    #[schema(example = "bars")]
    kind: String,
    /// `writing`, `ready` or `failed`; only `ready` exports can be downloaded.
    #[schema(example = "ready")]
    status: &'static str,
    rows: Option<u64>,
    bytes: Option<u64>,
    /// SHA-256 of the file, lower-case hex.
    sha256: Option<String>,
    /// The run that wrote it.
    run_id: Option<i64>,
    /// Why it failed.
    error: Option<String>,
}

impl From<ExportRecord> for ExportDto {
    fn from(record: ExportRecord) -> Self {
        Self {
            id: record.id,
            created_at: record.created_at,
            format: record.format,
            kind: record.kind,
            status: record.status.as_str(),
            rows: record.rows,
            bytes: record.bytes,
            sha256: record.sha256,
            run_id: record.run_id,
            error: record.error,
        }
    }
}

/// The bytes of a binary export (xlsx, parquet): a spec type only (`string`, format `binary`;
/// `Vec<u8>` would be documented as an array of integers).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[expect(dead_code, reason = "never built: the download streams the file")]
pub(crate) struct FileBytes(Vec<u8>);

/// Query of `GET /api/exports`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportsParams {
    /// At most this many, newest first (default 100, at most 1000).
    #[param(schema_with = exports_limit_schema)]
    limit: Option<u64>,
}

/// Path of the routes under `/api/exports/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ExportPath {
    /// Export id.
    #[param(schema_with = params::id_schema)]
    id: String,
}

impl ExportPath {
    /// The id, or a 400 naming it.
    fn parse(&self) -> Result<i64, ApiError> {
        params::id(&self.id, "export id")
    }
}

/// Exports, newest first.
#[utoipa::path(
    get,
    path = "/api/exports",
    operation_id = "list_exports",
    tag = "exports",
    params(ExportsParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<ExportDto>),
        (status = 400, description = "Invalid limit, or an unknown parameter (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn list(
    State(storage): State<Storage>,
    ApiQuery(params): ApiQuery<ExportsParams>,
) -> Result<Json<Vec<ExportDto>>, ApiError> {
    let limit = EXPORTS_LIMIT.check(params.limit)?;
    let exports = storage.exports(limit).await?;
    Ok(Json(exports.into_iter().map(ExportDto::from).collect()))
}

/// One export.
#[utoipa::path(
    get,
    path = "/api/exports/{id}",
    operation_id = "get_export",
    tag = "exports",
    params(ExportPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = ExportDto),
        (status = 400, description = "Not an export id: an integer from 1 to 2^63-1 (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 404, description = "Unknown export (`unknown_export`)", body = ErrorResponse),
    )
)]
pub(crate) async fn get(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<ExportPath>,
) -> Result<Json<ExportDto>, ApiError> {
    let id = path.parse()?;
    let record = storage.export(id).await?.ok_or(ApiError::UnknownExport(id))?;
    Ok(Json(record.into()))
}

/// The export's file, streamed from disk or from the object store (memory does not grow with
/// its size); any instance serves any export.
#[utoipa::path(
    get,
    path = "/api/exports/{id}/download",
    operation_id = "download_export",
    tag = "exports",
    params(ExportPath),
    security((), ("bearer" = [])),
    responses(
        (
            status = 200,
            description = "The file, as an attachment named `tickerwatch-{id}.{ext}`, in the export's format",
            content(
                (String = "text/csv"),
                (String = "application/x-ndjson"),
                (FileBytes = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (FileBytes = "application/vnd.apache.parquet"),
                (String = "text/html"),
            ),
            headers(
                ("Content-Disposition" = String, description = "`attachment; filename=\"tickerwatch-{id}.{ext}\"`"),
                ("ETag" = String, description = "The file's SHA-256 (lower-case hex), quoted"),
            )
        ),
        (status = 400, description = "Not an export id: an integer from 1 to 2^63-1 (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 404, description = "Unknown export (`unknown_export`)", body = ErrorResponse),
        (status = 409, description = "Still being written (`export_not_ready`)", body = ErrorResponse),
    )
)]
pub(crate) async fn download(
    State(exports): State<ExportService>,
    ApiPath(path): ApiPath<ExportPath>,
) -> Result<Response, ApiError> {
    let id = path.parse()?;
    // From the local file or the bucket, whichever instance wrote it.
    let (record, content) = exports.open(id).await?;
    let format: ExportFormat = record.format.parse().map_err(ApiError::internal)?;
    let length = content.length;
    let disposition = format!("attachment; filename=\"tickerwatch-{id}.{}\"", format.extension());
    let mut response = Body::from_stream(content.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(ApiError::internal)?,
    );
    // An HTML report must never be sniffed into something else or rendered inline by accident.
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Some(sha256) =
        record.sha256.as_deref().and_then(|sha| HeaderValue::from_str(&format!("\"{sha}\"")).ok())
    {
        headers.insert(header::ETAG, sha256);
    }
    Ok(response)
}

/// Deletes the export's record and file.
#[utoipa::path(
    delete,
    path = "/api/exports/{id}",
    operation_id = "delete_export",
    tag = "exports",
    params(ExportPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not an export id: an integer from 1 to 2^63-1 (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Revoked token", body = ErrorResponse),
        (status = 404, description = "Unknown export (`unknown_export`)", body = ErrorResponse),
        (status = 409, description = "Still being written (`export_not_ready`)", body = ErrorResponse),
    )
)]
pub(crate) async fn delete(
    State(exports): State<ExportService>,
    ApiPath(path): ApiPath<ExportPath>,
) -> Result<StatusCode, ApiError> {
    let id = path.parse()?;
    let record = exports.delete(id).await?;
    tracing::info!(export_id = record.id, "Export deleted.");
    Ok(StatusCode::NO_CONTENT)
}
