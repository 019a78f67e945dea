//! Jobs, triggers and run history.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::{OutputKind, RunOutput};
use jobs::JobEngine;
use serde::{Deserialize, Serialize};
use storage::{RunItem, RunRecord, Storage};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorResponse};
use crate::extract::{ApiPath, ApiQuery};
use crate::params::{self, LimitParam};

/// Runs listed when no `limit` is given, and the most one request may ask for.
const RUNS_LIMIT: LimitParam = LimitParam { default: 50, max: 1000 };

fn runs_limit_schema() -> Object {
    RUNS_LIMIT.schema()
}

/// A job the engine knows.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobDto {
    #[schema(example = "download-tracker")]
    name: &'static str,
    /// Cron expression (with seconds), or `null` when the job only runs on trigger.
    #[schema(example = "0 30 22 * * Mon-Fri")]
    schedule: Option<String>,
    /// How many of its runs may execute at once (`jobs.concurrency`); each job has its own lane.
    #[schema(example = 1)]
    concurrency: usize,
    next_run: Option<DateTime<Utc>>,
    last_run: Option<RunDto>,
}

/// One run of a job.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunDto {
    id: i64,
    #[schema(example = "download-tracker")]
    job: String,
    /// `queued`, `running`, `succeeded`, `partial` (some symbols failed), `failed` or `interrupted`.
    #[schema(example = "succeeded")]
    status: &'static str,
    /// Who asked: `api`, `schedule` or `cli`.
    #[schema(example = "api")]
    trigger: &'static str,
    queued_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    /// Why the run failed as a whole.
    error: Option<String>,
    /// The first export among `outputs` (the bars export of a download-tracker run).
    export_id: Option<i64>,
    /// What the run produced, in the order of kind then id.
    outputs: Vec<RunOutputDto>,
    /// The instance (process) that queued the run, then the worker that claimed it.
    #[schema(example = "9f2c4e1a7b3d5c60")]
    owner: String,
    /// The owner's latest heartbeat while the run was active.
    heartbeat_at: Option<DateTime<Utc>>,
    /// How many times a worker took the run (more than 1: a worker died and another retried it).
    #[schema(example = 1)]
    attempts: u32,
    /// How many attempts the job's policy allows (`jobs.max_attempts`).
    #[schema(example = 3)]
    max_attempts: u32,
}

/// One record a run produced.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunOutputDto {
    /// `export`, `research_note`, `crew_run` or `social_scan`.
    #[schema(example = "export")]
    kind: &'static str,
    #[schema(example = 42)]
    id: i64,
}

impl From<RunOutput> for RunOutputDto {
    fn from(output: RunOutput) -> Self {
        Self { kind: output.kind.as_str(), id: output.id }
    }
}

/// The first export among `outputs`.
fn first_export(outputs: &[RunOutput]) -> Option<i64> {
    outputs.iter().find(|o| o.kind == OutputKind::Export).map(|o| o.id)
}

impl RunDto {
    fn new(run: RunRecord, mut outputs: Vec<RunOutput>) -> Self {
        outputs.sort_unstable();
        Self {
            id: run.id,
            job: run.job,
            status: run.status.as_str(),
            trigger: run.trigger.as_str(),
            queued_at: run.queued_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            error: run.error,
            export_id: first_export(&outputs),
            outputs: outputs.into_iter().map(RunOutputDto::from).collect(),
            owner: run.owner,
            heartbeat_at: run.heartbeat_at,
            attempts: run.attempts,
            max_attempts: run.max_attempts,
        }
    }

    /// The DTOs of a page of runs, their outputs read in one query.
    async fn page(storage: &Storage, runs: Vec<RunRecord>) -> Result<Vec<Self>, ApiError> {
        let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
        let mut outputs = storage.outputs_of_runs(&ids).await?;
        Ok(runs
            .into_iter()
            .map(|run| {
                let mine = outputs.iter().filter(|(id, _)| *id == run.id).map(|(_, o)| *o).collect();
                outputs.retain(|(id, _)| *id != run.id);
                Self::new(run, mine)
            })
            .collect())
    }
}

/// One run with what it did per symbol.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunDetailDto {
    id: i64,
    job: String,
    #[schema(example = "partial")]
    status: &'static str,
    trigger: &'static str,
    queued_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    error: Option<String>,
    /// The first export among `outputs`.
    export_id: Option<i64>,
    outputs: Vec<RunOutputDto>,
    owner: String,
    heartbeat_at: Option<DateTime<Utc>>,
    attempts: u32,
    max_attempts: u32,
    items: Vec<RunItemDto>,
}

/// What a run did for one symbol.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunItemDto {
    #[schema(example = "AAPL")]
    symbol: String,
    /// `succeeded` or `failed`.
    #[schema(example = "succeeded")]
    status: &'static str,
    /// Bars stored.
    bars: u64,
    /// The provider that served the symbol.
    provider: Option<String>,
    /// Why the symbol failed.
    error: Option<String>,
}

impl From<RunItem> for RunItemDto {
    fn from(item: RunItem) -> Self {
        Self {
            symbol: item.symbol,
            status: if item.succeeded { "succeeded" } else { "failed" },
            bars: item.bars,
            provider: item.provider,
            error: item.error,
        }
    }
}

/// A trigger that was accepted.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TriggeredDto {
    run_id: i64,
    #[schema(example = "download-tracker")]
    job: String,
    #[schema(example = "queued")]
    status: &'static str,
}

/// Query of `GET /api/jobs/runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunsParams {
    /// Only runs of this job.
    job: Option<String>,
    /// At most this many, newest first (default 50, at most 1000).
    #[param(schema_with = runs_limit_schema)]
    limit: Option<u64>,
}

/// Path of `GET /api/jobs/runs/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct RunPath {
    /// Run id.
    #[param(schema_with = params::id_schema)]
    id: String,
}

/// Registered jobs with their schedule, next and last run.
#[utoipa::path(
    get,
    path = "/api/jobs",
    operation_id = "list_jobs",
    tag = "jobs",
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<JobDto>),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn list(
    State(engine): State<Arc<JobEngine>>,
    State(storage): State<Storage>,
) -> Result<Json<Vec<JobDto>>, ApiError> {
    let jobs = engine.jobs().await?;
    let mut dtos = Vec::with_capacity(jobs.len());
    for job in jobs {
        let last_run = match job.last_run {
            Some(run) => {
                let outputs = storage.run_outputs(run.id).await?;
                Some(RunDto::new(run, outputs))
            }
            None => None,
        };
        dtos.push(JobDto {
            name: job.name,
            schedule: job.schedule,
            concurrency: job.concurrency,
            next_run: job.next_run,
            last_run,
        });
    }
    Ok(Json(dtos))
}

/// Queues a run. Single-flight: while the job has a queued or running run, a trigger is refused
/// with 409 and that run's id, so a burst of triggers cannot pile up work.
#[utoipa::path(
    post,
    path = "/api/jobs/{name}/trigger",
    operation_id = "trigger_job",
    tag = "jobs",
    params(("name" = String, Path, description = "Job name", example = "download-tracker")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued", body = TriggeredDto),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Revoked token", body = ErrorResponse),
        (status = 404, description = "Unknown job (`unknown_job`)", body = ErrorResponse),
        (status = 409, description = "A run is already queued or running (`conflict`); `run_id` names it", body = ErrorResponse),
        (status = 503, description = "Shutting down, or the job queue is full (`unavailable`)", body = ErrorResponse),
    )
)]
pub(crate) async fn trigger(
    State(engine): State<Arc<JobEngine>>,
    ApiPath(name): ApiPath<String>,
) -> Result<(StatusCode, Json<TriggeredDto>), ApiError> {
    let triggered = engine.trigger(&name, domain::RunTrigger::Api).await?;
    tracing::info!(job = %triggered.run.job, run_id = triggered.run.id, "Job triggered.");
    Ok((
        StatusCode::ACCEPTED,
        Json(TriggeredDto {
            run_id: triggered.run.id,
            job: triggered.run.job,
            status: triggered.run.status.as_str(),
        }),
    ))
}

/// Runs, newest first.
#[utoipa::path(
    get,
    path = "/api/jobs/runs",
    operation_id = "list_runs",
    tag = "jobs",
    params(RunsParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<RunDto>),
        (status = 400, description = "Invalid limit, or an unknown parameter (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn runs(
    State(storage): State<Storage>,
    ApiQuery(params): ApiQuery<RunsParams>,
) -> Result<Json<Vec<RunDto>>, ApiError> {
    let limit = RUNS_LIMIT.check(params.limit)?;
    let runs = storage.runs(params.job.as_deref(), limit).await?;
    Ok(Json(RunDto::page(&storage, runs).await?))
}

/// One run with its per-symbol items.
#[utoipa::path(
    get,
    path = "/api/jobs/runs/{id}",
    operation_id = "get_run",
    tag = "jobs",
    params(RunPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = RunDetailDto),
        (status = 400, description = "Not a run id: an integer from 1 to 2^63-1 (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 404, description = "No such run (`not_found`)", body = ErrorResponse),
    )
)]
pub(crate) async fn run(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<RunPath>,
) -> Result<Json<RunDetailDto>, ApiError> {
    let id = params::id(&path.id, "run id")?;
    let Some(run) = storage.run(id).await? else {
        return Err(ApiError::NotFound(format!("run {id} not found")));
    };
    let items = storage.run_items(id).await?;
    let mut outputs = storage.run_outputs(id).await?;
    outputs.sort_unstable();
    Ok(Json(RunDetailDto {
        id: run.id,
        job: run.job,
        status: run.status.as_str(),
        trigger: run.trigger.as_str(),
        queued_at: run.queued_at,
        started_at: run.started_at,
        finished_at: run.finished_at,
        error: run.error,
        export_id: first_export(&outputs),
        outputs: outputs.into_iter().map(RunOutputDto::from).collect(),
        owner: run.owner,
        heartbeat_at: run.heartbeat_at,
        attempts: run.attempts,
        max_attempts: run.max_attempts,
        items: items.into_iter().map(RunItemDto::from).collect(),
    }))
}
