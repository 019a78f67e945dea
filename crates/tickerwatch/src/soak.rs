//! The soak loop: trigger the download-tracker job over HTTP again and again, and after each
//! run record the server's resident memory and open fds (from its own `/metrics`), the run's
//! time and outcome, and check its export downloads with the listed SHA-256.
//!
//! One implementation serves the operator's `tickerwatch soak` and the leak test, so what the
//! test proves is what an operator measures.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use plotters::prelude::*;

use crate::client::{ApiClient, TriggerOutcome};

/// What one cycle measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleStats {
    pub cycle: usize,
    pub run_id: i64,
    pub status: String,
    pub run_time: Duration,
    pub rss_bytes: u64,
    pub open_fds: u64,
    pub export_bytes: Option<u64>,
}

/// Longest a single run may take before the soak gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `cycles` cycles against `client`, calling `on_cycle` after each.
///
/// # Errors
/// When a request fails, a run does not finish in time, or an export fails its checksum.
pub async fn run_cycles(
    client: &ApiClient,
    cycles: usize,
    mut on_cycle: impl FnMut(&CycleStats),
) -> anyhow::Result<Vec<CycleStats>> {
    let mut all = Vec::with_capacity(cycles);
    for cycle in 1..=cycles {
        let started = Instant::now();
        let run_id = match client.trigger("download-tracker").await? {
            TriggerOutcome::Queued(id) | TriggerOutcome::AlreadyActive(id) => id,
        };
        let run = client.wait_for_run(run_id, RUN_TIMEOUT).await?;
        let run_time = started.elapsed();
        let export_bytes = match run.export_id {
            Some(id) => Some(client.download_export(id).await.with_context(|| format!("cycle {cycle}"))?),
            None => None,
        };
        let stats = CycleStats {
            cycle,
            run_id,
            status: run.status,
            run_time,
            rss_bytes: client.metric("process_resident_memory_bytes").await? as u64,
            open_fds: client.metric("process_open_fds").await? as u64,
            export_bytes,
        };
        on_cycle(&stats);
        all.push(stats);
    }
    Ok(all)
}

/// Draws RSS (MB) and open fds against the cycle number into an SVG file.
///
/// # Errors
/// When the file cannot be written.
pub fn write_svg(stats: &[CycleStats], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (upper, lower) = root.split_vertically(270);
    let n = stats.len().max(2) as f64;
    let mb = |s: &CycleStats| s.rss_bytes as f64 / 1_048_576.0;
    let max_rss = stats.iter().map(mb).fold(1.0, f64::max) * 1.2;
    let max_fds = stats.iter().map(|s| s.open_fds as f64).fold(1.0, f64::max) * 1.2;
    let draw = |area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
                caption: &str,
                y_max: f64,
                color: RGBColor,
                value: &dyn Fn(&CycleStats) -> f64|
     -> anyhow::Result<()> {
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(1.0..n, 0.0..y_max)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("cycle")
            .x_labels(10)
            .y_labels(6)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(LineSeries::new(
                stats.iter().map(|s| (s.cycle as f64, value(s))),
                color.stroke_width(2),
            ))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    };
    draw(&upper, "Server resident memory (MB)", max_rss, BLUE, &mb)?;
    draw(&lower, "Server open file descriptors", max_fds, RED, &|s| s.open_fds as f64)?;
    root.present().map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}
