//! `tickerwatch analyze SYMBOL`: the research crew in this process, with live progress.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use agents::{RunObserver, TraceStep};
use analysis::{AnalysisService, AnalyzeRequest};
use anyhow::Context as _;
use jobs::{Heartbeat, ensure_bars};
use llm::StreamEvent;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::cli::AnalyzeArgs;

/// Runs the crew and prints the note; false when no note was written.
///
/// # Errors
/// When the symbol is unknown (no bars are stored and no provider knows it), or the config or
/// the database is unusable.
pub async fn run(app: &App, args: AnalyzeArgs) -> anyhow::Result<bool> {
    let symbol = args.symbol;
    let chain = app.chain(None).await.context("cannot set up providers")?;
    let service = AnalysisService::new(
        app.storage.clone(),
        Some(Arc::new(chain.clone())),
        &app.config.analysis,
        args.model.as_deref(),
    )
    .context("cannot set up the analysis crew")?;
    let progress = Progress { quiet: args.quiet, streaming: AtomicBool::new(false) };
    // An unknown symbol is refused before the crew runs: no crew run, no note.
    if let Some(error) = ensure_bars(&chain, &app.storage, &symbol).await? {
        progress.line(&format!("! no price history for {symbol}: {error}"));
    }
    progress.line(&format!(
        "Analysing {symbol} with {} ({} crew)…",
        service.model_label(),
        args.crew.as_deref().unwrap_or(&app.config.analysis.crew)
    ));
    let request =
        AnalyzeRequest { symbol, crew: args.crew, job_run_id: None, stream: app.config.analysis.llm.stream };
    // The crew run this process records is ours while we beat: a `serve` starting meanwhile on
    // the same database leaves it alone.
    let heartbeat = Heartbeat::start(
        &app.storage,
        app.config.jobs.heartbeat_interval(),
        app.config.jobs.owner_stale_after(),
    )
    .await
    .context("cannot register this process in the database")?;
    let cancel = CancellationToken::new();
    let on_ctrl_c = {
        let cancel = cancel.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = service.analyze(&request, &progress, cancel.clone()) => result,
        () = on_ctrl_c => unreachable!("pending never resolves"),
    };
    heartbeat.stop().await;
    match result {
        Ok(analysis) => {
            let outcome = &analysis.outcome;
            progress.line(&format!(
                "Done in {:.1} s: {} model calls, {} tool calls, {} tokens; crew run {}.",
                outcome.elapsed.as_secs_f64(),
                outcome.llm_calls,
                outcome.tool_calls,
                outcome.usage.total_tokens,
                analysis.crew_run_id
            ));
            if args.json {
                println!("{}", serde_json::to_string_pretty(&analysis.note)?);
            } else {
                println!("{}", analysis.note.markdown);
            }
            Ok(true)
        }
        Err(error) => {
            eprintln!("analysis failed: {error}");
            Ok(false)
        }
    }
}

/// Prints each step as it happens on stderr; streamed text goes there too.
struct Progress {
    quiet: bool,
    /// A streamed answer is being printed (the next line starts on a fresh line).
    streaming: AtomicBool,
}

impl Progress {
    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        if self.streaming.swap(false, Ordering::Relaxed) {
            let _ = writeln!(stderr);
        }
        let _ = writeln!(stderr, "{text}");
    }
}

impl RunObserver for Progress {
    fn on_step(&self, step: &TraceStep) {
        match step {
            TraceStep::TaskStarted { task, agent, .. } => {
                self.line(&format!("▶ {} ({agent})", task.replace('_', " ")))
            }
            TraceStep::LlmCall {
                model,
                prompt_tokens,
                completion_tokens,
                latency_ms,
                tool_calls,
                error,
                ..
            } => {
                let what = match (error, tool_calls.is_empty()) {
                    (Some(error), _) => format!("failed: {error}"),
                    (None, false) => format!("calls {}", tool_calls.join(", ")),
                    (None, true) => "answers".to_owned(),
                };
                self.line(&format!(
                    "  · {model} {what} ({prompt_tokens}+{completion_tokens} tokens, {:.0} ms)",
                    latency_ms
                ));
            }
            TraceStep::ToolCall { tool, ok, latency_ms, result, .. } => {
                let status =
                    if *ok { "ok".to_owned() } else { format!("error: {}", agents::truncate(result, 120)) };
                self.line(&format!("    ↳ {tool} {status} ({latency_ms:.0} ms)"));
            }
            TraceStep::Delegation { coworker, request, .. } => {
                self.line(&format!("  → delegates to {coworker}: {}", agents::truncate(request, 100)));
            }
            TraceStep::InvalidOutput { reason, .. } => self.line(&format!("  ! answer rejected: {reason}")),
            TraceStep::TaskFinished { output_bytes, .. } => {
                self.line(&format!("  ✓ done ({output_bytes} bytes)"))
            }
            TraceStep::LimitReached { limit, detail } => {
                self.line(&format!("✗ limit reached: {limit} ({detail})"))
            }
            TraceStep::Memory { action, entries, detail } => {
                self.line(&format!(
                    "  · memory {action}: {entries} entries{}",
                    detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
                ));
            }
        }
    }

    fn on_stream(&self, _agent: &str, event: &StreamEvent) {
        if self.quiet {
            return;
        }
        if let StreamEvent::Content(text) = event {
            let mut stderr = std::io::stderr().lock();
            if !self.streaming.swap(true, Ordering::Relaxed) {
                let _ = write!(stderr, "    ");
            }
            let _ = write!(stderr, "{text}");
            let _ = stderr.flush();
        }
    }
}
