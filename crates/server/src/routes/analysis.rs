//! Research notes written by the analysis crew: ask for one (`POST`, runs the `analysis` job for
//! the symbol), read them (`GET`), and read a crew run with its trace.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::{ResearchNote, RunTrigger};
use jobs::{AnalysisJob, JobEngine, ensure_bars};
use providers::ProviderChain;
use serde::{Deserialize, Serialize};
use storage::{CrewRunRecord, Storage, Stored};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorResponse};
use crate::extract::{ApiPath, ApiQuery};
use crate::params::{self, LimitParam};
use crate::routes::symbols::SymbolPath;

/// Notes listed when no `limit` is given, and the most one request may ask for.
const NOTES_LIMIT: LimitParam = LimitParam { default: 10, max: 100 };

fn notes_limit_schema() -> Object {
    NOTES_LIMIT.schema()
}

/// A research note.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NoteDto {
    id: i64,
    #[schema(example = "AAPL")]
    symbol: String,
    /// `buy`, `hold` or `sell`.
    #[schema(example = "hold")]
    rating: &'static str,
    /// From 0 to 1.
    #[schema(example = 0.62)]
    confidence: f64,
    #[schema(example = "3-6 months")]
    horizon: String,
    thesis: String,
    risks: Vec<String>,
    /// Figure name → number or text.
    #[schema(value_type = Object)]
    key_figures: serde_json::Map<String, serde_json::Value>,
    /// Where the figures came from (tools, providers, dates).
    sources: Vec<String>,
    /// The whole note for people.
    markdown: String,
    /// The model that wrote it: `offline` or `openai:<model>`.
    #[schema(example = "offline")]
    model: String,
    #[schema(example = "equity-research")]
    crew: String,
    /// The crew run (with its trace) that wrote it.
    crew_run_id: Option<i64>,
    created_at: DateTime<Utc>,
}

impl From<Stored<ResearchNote>> for NoteDto {
    fn from(Stored { id, created_at, value: note }: Stored<ResearchNote>) -> Self {
        Self {
            id,
            symbol: note.symbol.into(),
            rating: note.rating.as_str(),
            confidence: note.confidence,
            horizon: note.horizon,
            thesis: note.thesis,
            risks: note.risks,
            key_figures: note.key_figures,
            sources: note.sources,
            markdown: note.markdown,
            model: note.model,
            crew: note.crew,
            crew_run_id: note.crew_run_id,
            created_at,
        }
    }
}

/// Query of `GET /api/analysis/{symbol}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotesParams {
    /// At most this many notes, newest first (default 10, maximum 100).
    #[param(schema_with = notes_limit_schema)]
    limit: Option<u64>,
}

/// Path of `GET /api/analysis/runs/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct CrewRunPath {
    /// Crew run id (a note's `crew_run_id`).
    #[param(schema_with = params::id_schema)]
    id: String,
}

/// The analysis run that was queued.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AnalysisQueuedDto {
    /// The job run; follow it at `/api/jobs/runs/{run_id}`.
    run_id: i64,
    #[schema(example = "analysis")]
    job: String,
    #[schema(example = "AAPL")]
    symbol: String,
    #[schema(example = "queued")]
    status: &'static str,
}

/// Runs the research crew on a symbol as an `analysis` job; the note appears at
/// `GET /api/analysis/{symbol}` when the run has finished.
///
/// A symbol with no stored daily bars is looked up first: its history is fetched through the
/// provider chain (the crew needs it), and a symbol that no provider knows is refused with 404
/// and no run, crew run or note. When the providers cannot be reached the analysis is queued
/// all the same and works with what is stored.
#[utoipa::path(
    post,
    path = "/api/analysis/{symbol}",
    operation_id = "analyze_symbol",
    tag = "analysis",
    params(SymbolPath),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued", body = AnalysisQueuedDto),
        (status = 400, description = "Invalid symbol (`invalid_symbol`)", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Revoked token", body = ErrorResponse),
        (status = 404, description = "Unknown symbol: no bars are stored and no provider knows it (`not_found`)", body = ErrorResponse),
        (status = 409, description = "An analysis of this symbol is already queued or running (`conflict`); `run_id` names it", body = ErrorResponse),
        (status = 503, description = "Shutting down, or the job queue is full (`unavailable`)", body = ErrorResponse),
    )
)]
pub(crate) async fn analyze(
    State(engine): State<Arc<JobEngine>>,
    State(storage): State<Storage>,
    State(chain): State<ProviderChain>,
    ApiPath(path): ApiPath<SymbolPath>,
) -> Result<(StatusCode, Json<AnalysisQueuedDto>), ApiError> {
    let symbol = path.parse()?;
    // The job checks again (a watchlist run has no request to refuse); here the client learns it
    // at once instead of from a failed run.
    ensure_bars(&chain, &storage, &symbol)
        .await
        .map_err(|unknown| ApiError::NotFound(unknown.to_string()))?;
    let triggered = engine.trigger_for(AnalysisJob::NAME, &symbol, RunTrigger::Api).await?;
    tracing::info!(%symbol, run_id = triggered.run.id, "Analysis queued.");
    Ok((
        StatusCode::ACCEPTED,
        Json(AnalysisQueuedDto {
            run_id: triggered.run.id,
            job: triggered.run.job,
            symbol: symbol.into(),
            status: triggered.run.status.as_str(),
        }),
    ))
}

/// Research notes on a symbol, newest first.
#[utoipa::path(
    get,
    path = "/api/analysis/{symbol}",
    operation_id = "list_notes",
    tag = "analysis",
    params(SymbolPath, NotesParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<NoteDto>),
        (status = 400, description = "Invalid symbol (`invalid_symbol`), invalid limit or an unknown parameter (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn notes(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<SymbolPath>,
    ApiQuery(params): ApiQuery<NotesParams>,
) -> Result<Json<Vec<NoteDto>>, ApiError> {
    let symbol = path.parse()?;
    // At most `NOTES_LIMIT.max` (100), so the conversion cannot fail.
    let limit = u32::try_from(NOTES_LIMIT.check(params.limit)?).unwrap_or(u32::MAX);
    let notes = storage.research_notes(Some(&symbol), limit).await?;
    Ok(Json(notes.into_iter().map(NoteDto::from).collect()))
}

/// A crew run: status, usage and the trace of every step.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CrewRunDto {
    id: i64,
    job_run_id: Option<i64>,
    crew: String,
    #[schema(example = "AAPL")]
    subject: String,
    model: String,
    /// `running`, `completed`, `limit_reached`, `failed` or `cancelled`.
    status: &'static str,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    llm_calls: u64,
    tool_calls: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    error: Option<String>,
    /// Every step: task started/finished, LLM call (tokens, latency), tool call (arguments,
    /// result excerpt), delegation, limit reached.
    #[schema(value_type = Vec<Object>)]
    trace: serde_json::Value,
}

impl From<CrewRunRecord> for CrewRunDto {
    fn from(run: CrewRunRecord) -> Self {
        Self {
            id: run.id,
            job_run_id: run.job_run_id,
            crew: run.crew,
            subject: run.subject,
            model: run.model,
            status: run.status.as_str(),
            started_at: run.started_at,
            finished_at: run.finished_at,
            llm_calls: run.llm_calls,
            tool_calls: run.tool_calls,
            prompt_tokens: run.prompt_tokens,
            completion_tokens: run.completion_tokens,
            error: run.error,
            trace: serde_json::from_str(&run.trace).unwrap_or(serde_json::Value::Array(Vec::new())),
        }
    }
}

/// One crew run with its trace.
#[utoipa::path(
    get,
    path = "/api/analysis/runs/{id}",
    operation_id = "get_crew_run",
    tag = "analysis",
    params(CrewRunPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = CrewRunDto),
        (status = 400, description = "Not a crew run id: an integer from 1 to 2^63-1 (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 404, description = "No such crew run (`not_found`)", body = ErrorResponse),
    )
)]
pub(crate) async fn crew_run(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<CrewRunPath>,
) -> Result<Json<CrewRunDto>, ApiError> {
    let id = params::id(&path.id, "crew run id")?;
    let run =
        storage.crew_run(id).await?.ok_or_else(|| ApiError::NotFound(format!("crew run {id} not found")))?;
    Ok(Json(run.into()))
}
