//! Running an analysis end to end: crew run record → crew → trace → research note.

use std::sync::Arc;
use std::time::Duration;

use agents::{Crew, CrewOutcome, LongTermMemory, RunContext, RunObserver, RunStatus, ToolBox, run_crew};
use async_trait::async_trait;
use domain::{ResearchNote, Symbol};
use llm::{ChatModel, LlmConfig, LlmError, LlmProvider, OpenAiClient};
use providers::ProviderChain;
use storage::{CrewRunFinish, CrewRunStatus, NewCrewRun, Storage, StorageError, Stored};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::{AnalysisConfig, LongTermMemoryConfig};
use crate::crew::equity_research;
use crate::live_trace::{self, LiveTrace};
use crate::note::{NoteBody, render_markdown};
use crate::offline::{OFFLINE, OfflineModel};
use crate::tools::toolbox;

/// Why an analysis produced no note.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("unknown crew {name:?} (known: {known})")]
    UnknownCrew { name: String, known: String },
    #[error("invalid analysis config: {0}")]
    Config(String),
    #[error("the {crew} crew did not finish (run {crew_run_id}): {reason}")]
    Run { crew: String, crew_run_id: i64, status: String, reason: String },
    #[error("the {crew} crew's answer is not a research note (run {crew_run_id}): {reason}")]
    BadNote { crew: String, crew_run_id: i64, reason: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Builds the chat model: the offline model, or an OpenAI-compatible client. `model_override`
/// (the CLI's `--model`) replaces the configured model; `offline` always means the offline model.
///
/// # Errors
/// When the config is invalid or the HTTP client cannot start.
pub fn model_from_config(
    config: &LlmConfig,
    model_override: Option<&str>,
) -> Result<Arc<dyn ChatModel>, LlmError> {
    match model_override {
        Some(OFFLINE) => return Ok(Arc::new(OfflineModel)),
        None if config.provider == LlmProvider::Offline => return Ok(Arc::new(OfflineModel)),
        _ => {}
    }
    let mut config = config.clone();
    config.provider = LlmProvider::Openai;
    if let Some(model) = model_override {
        model.clone_into(&mut config.model);
    }
    Ok(Arc::new(OpenAiClient::new(&config)?))
}

/// What one analysis asks for.
#[derive(Debug, Clone)]
pub struct AnalyzeRequest {
    pub symbol: Symbol,
    /// A crew by name; `None` runs the configured one.
    pub crew: Option<String>,
    /// The job run this analysis belongs to, if any.
    pub job_run_id: Option<i64>,
    /// Stream model output to the observer.
    pub stream: bool,
}

/// A finished analysis.
#[derive(Debug)]
pub struct Analysis {
    pub crew_run_id: i64,
    pub note: Stored<ResearchNote>,
    pub outcome: CrewOutcome,
}

/// Runs crews for symbols and keeps what they wrote. Cheap to clone; built once per process so
/// the model's HTTP client (and its connection pool) is shared by every run.
#[derive(Clone)]
pub struct AnalysisService {
    storage: Storage,
    tools: ToolBox,
    model: Arc<dyn ChatModel>,
    crews: Arc<Vec<Crew>>,
    default_crew: String,
    memory: LongTermMemoryConfig,
    keep_traces_days: u32,
}

impl std::fmt::Debug for AnalysisService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalysisService")
            .field("model", &self.model.label())
            .field("crews", &self.crews.iter().map(|c| c.name.as_str()).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl AnalysisService {
    /// Builds the service from config: the model, the tools over `storage` (quotes fall back to
    /// `chain`), the built-in crew and the configured ones, each validated.
    ///
    /// # Errors
    /// [`AnalysisError::Config`] for an invalid model config, crew or unknown default crew.
    pub fn new(
        storage: Storage,
        chain: Option<Arc<ProviderChain>>,
        config: &AnalysisConfig,
        model_override: Option<&str>,
    ) -> Result<Self, AnalysisError> {
        let model = model_from_config(&config.llm, model_override)
            .map_err(|e| AnalysisError::Config(e.to_string()))?;
        Self::with_model(storage, chain, config, model)
    }

    /// As [`new`](Self::new) with a model built by the caller.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_model(
        storage: Storage,
        chain: Option<Arc<ProviderChain>>,
        config: &AnalysisConfig,
        model: Arc<dyn ChatModel>,
    ) -> Result<Self, AnalysisError> {
        let tools = toolbox(&storage, chain);
        let mut crews: Vec<Crew> = vec![equity_research()];
        for crew in &config.crews {
            crews.retain(|existing| existing.name != crew.name);
            crews.push(crew.clone());
        }
        for crew in &crews {
            crew.validate(&tools).map_err(|e| AnalysisError::Config(e.to_string()))?;
        }
        let service = Self {
            storage,
            tools,
            model,
            crews: Arc::new(crews),
            default_crew: config.crew.clone(),
            memory: config.long_term_memory.clone(),
            keep_traces_days: config.keep_traces_days,
        };
        service.crew(None).map_err(|e| AnalysisError::Config(e.to_string()))?;
        Ok(service)
    }

    /// The model's label, e.g. `offline` or `openai:gpt-4o-mini`.
    pub fn model_label(&self) -> String {
        self.model.label()
    }

    /// Names of the crews this service can run.
    pub fn crew_names(&self) -> Vec<&str> {
        self.crews.iter().map(|crew| crew.name.as_str()).collect()
    }

    fn crew(&self, name: Option<&str>) -> Result<&Crew, AnalysisError> {
        let name = name.unwrap_or(&self.default_crew);
        self.crews.iter().find(|crew| crew.name == name).ok_or_else(|| AnalysisError::UnknownCrew {
            name: name.to_owned(),
            known: self.crew_names().join(", "),
        })
    }

    /// Deletes crew runs (traces) past `keep_traces_days` and expired long-term memory; returns
    /// how many crew runs went.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn apply_retention(&self) -> Result<u64, AnalysisError> {
        self.storage.forget_expired().await?;
        if self.keep_traces_days == 0 {
            return Ok(0);
        }
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(self.keep_traces_days));
        Ok(self.storage.delete_crew_runs_before(cutoff).await?)
    }

    /// Runs a crew on one symbol and stores its trace and, when it finished, its note.
    ///
    /// # Errors
    /// [`AnalysisError::Run`] when the crew hit a limit, failed or was cancelled (its trace is
    /// stored all the same), [`AnalysisError::BadNote`], or a storage failure.
    pub async fn analyze(
        &self,
        request: &AnalyzeRequest,
        observer: &dyn RunObserver,
        cancel: CancellationToken,
    ) -> Result<Analysis, AnalysisError> {
        let crew = self.crew(request.crew.as_deref())?;
        let model_label = self.model.label();
        let crew_run_id = self
            .storage
            .begin_crew_run(&NewCrewRun {
                job_run_id: request.job_run_id,
                crew: crew.name.clone(),
                subject: request.symbol.as_str().to_owned(),
                model: model_label.clone(),
            })
            .await?;
        let memory = StorageMemory { storage: self.storage.clone(), config: self.memory.clone() };
        let long_term = (self.memory.enabled && crew.memory.long_term)
            .then(|| (&memory as &dyn LongTermMemory, format!("{}:{}", crew.name, request.symbol)));
        let (live, updates) = LiveTrace::new(observer);
        let run_ended = CancellationToken::new();
        let snapshots = tokio::spawn(live_trace::write_snapshots(
            self.storage.clone(),
            crew_run_id,
            updates,
            run_ended.clone(),
        ));
        let context = RunContext {
            tools: &self.tools,
            llm: Arc::clone(&self.model),
            inputs: vec![("symbol".to_owned(), request.symbol.as_str().to_owned())],
            cancel,
            observer: &live,
            long_term,
            stream: request.stream,
        };
        // If this future is dropped mid-run, the live trace's sender goes with it and the
        // writer ends on its own; otherwise it is stopped and awaited before the final write.
        let outcome = run_crew(crew, &context).await;
        run_ended.cancel();
        let _ = snapshots.await;
        let status = match &outcome.status {
            RunStatus::Completed => CrewRunStatus::Completed,
            RunStatus::LimitReached { .. } => CrewRunStatus::LimitReached,
            RunStatus::Cancelled => CrewRunStatus::Cancelled,
            RunStatus::Failed { .. } => CrewRunStatus::Failed,
        };
        let note = outcome.final_output().map(|output| match &output.json {
            Some(json) => NoteBody::from_json(json),
            None => Err("the last task has no JSON answer".to_owned()),
        });
        let (status, error) = match (&note, outcome.status.describe()) {
            (Some(Err(reason)), _) => (CrewRunStatus::Failed, Some(reason.clone())),
            (_, error) => (status, error),
        };
        self.storage
            .finish_crew_run(
                crew_run_id,
                &CrewRunFinish {
                    status,
                    llm_calls: u64::from(outcome.llm_calls),
                    tool_calls: u64::from(outcome.tool_calls),
                    prompt_tokens: outcome.usage.prompt_tokens,
                    completion_tokens: outcome.usage.completion_tokens,
                    error: error.clone(),
                    trace: outcome.trace.to_json(),
                },
            )
            .await?;
        info!(
            symbol = %request.symbol, crew = %crew.name, model = %model_label, status = status.as_str(),
            llm_calls = outcome.llm_calls, tool_calls = outcome.tool_calls, tokens = outcome.usage.total_tokens,
            elapsed_ms = outcome.elapsed.as_millis(), "Analysis finished."
        );
        let body = match note {
            Some(Ok(body)) => body,
            Some(Err(reason)) => {
                return Err(AnalysisError::BadNote { crew: crew.name.clone(), crew_run_id, reason });
            }
            None => {
                return Err(AnalysisError::Run {
                    crew: crew.name.clone(),
                    crew_run_id,
                    status: status.as_str().to_owned(),
                    reason: error.unwrap_or_else(|| "no result".to_owned()),
                });
            }
        };
        let markdown =
            render_markdown(request.symbol.as_str(), &body, &model_label, &crew.name, &outcome.outputs);
        let note = self
            .storage
            .insert_research_note(&ResearchNote {
                crew_run_id: Some(crew_run_id),
                symbol: request.symbol.clone(),
                rating: body.rating,
                confidence: body.confidence,
                horizon: body.horizon,
                thesis: body.thesis,
                risks: body.risks,
                key_figures: body.key_figures.into_iter().collect(),
                sources: body.sources,
                markdown,
                model: model_label,
                crew: crew.name.clone(),
            })
            .await?;
        Ok(Analysis { crew_run_id, note, outcome })
    }
}

/// Long-term memory in our database, bounded per scope by entries, bytes and a TTL.
struct StorageMemory {
    storage: Storage,
    config: LongTermMemoryConfig,
}

#[async_trait]
impl LongTermMemory for StorageMemory {
    async fn recall(&self, scope: &str, limit: usize) -> Result<Vec<String>, String> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let records = self.storage.recall(scope, limit).await.map_err(|e| e.to_string())?;
        Ok(records.into_iter().map(|record| record.content).collect())
    }

    async fn remember(&self, scope: &str, content: &str) -> Result<(), String> {
        let ttl = Duration::from_secs(u64::from(self.config.ttl_days) * 86_400);
        self.storage
            .remember(scope, content, ttl, self.config.max_entries, self.config.max_bytes)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
