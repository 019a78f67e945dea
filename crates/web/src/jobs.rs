//! The jobs pages: every job with its schedule and a Trigger button, the latest runs, and one
//! run with what it did per symbol.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::layout::{LIVE_SCRIPT_PATH, Nav, Viewer, document};

/// One registered job.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub name: String,
    /// Cron expression, or `None` when it runs only on trigger.
    pub schedule: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<RunRow>,
}

/// One run, as the runs table shows it.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: i64,
    pub job: String,
    /// `queued`, `running`, `succeeded`, `partial`, `failed`, `interrupted`.
    pub status: String,
    /// `api`, `schedule`, `cli`.
    pub trigger: String,
    pub subject: Option<String>,
    pub queued_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// The run's first export, downloadable.
    pub export_id: Option<i64>,
    /// The research note the run wrote (an analysis run).
    pub note_id: Option<i64>,
}

impl RunRow {
    fn is_active(&self) -> bool {
        matches!(self.status.as_str(), "queued" | "running")
    }
}

/// What a run did for one symbol.
#[derive(Debug, Clone)]
pub struct RunItemRow {
    pub symbol: String,
    pub succeeded: bool,
    pub bars: u64,
    pub provider: Option<String>,
    pub error: Option<String>,
}

fn status_class(status: &str) -> &'static str {
    match status {
        "succeeded" => "up",
        "failed" | "interrupted" => "down",
        "partial" | "queued" | "running" => "warn",
        _ => "muted",
    }
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), |at| at.format("%Y-%m-%d %H:%M:%S").to_string())
}

fn runs_table(runs: &[RunRow]) -> Markup {
    html! {
        div.panel.table-wrap hidden[runs.is_empty()] {
            table data-live-runs {
                thead { tr {
                    th scope="col" { "Run" } th scope="col" class="text" { "Job" } th scope="col" class="text" { "Status" }
                    th scope="col" class="hide-narrow" { "Trigger" } th scope="col" { "Queued (UTC)" }
                    th scope="col" class="hide-narrow" { "Finished (UTC)" } th scope="col" class="text" { "Export" }
                } }
                tbody {
                    @for run in runs {
                        tr data-run-id=(run.id) {
                            td { a href=(format!("/jobs/runs/{}", run.id)) { "#" (run.id) } }
                            td.text { (run.job) @if let Some(subject) = &run.subject { " " span.muted { (subject) } } }
                            td class=(format!("text {}", status_class(&run.status))) data-field="status" { (run.status) }
                            td class="hide-narrow" { (run.trigger) }
                            td { (when(Some(run.queued_at))) }
                            td class="hide-narrow" data-field="finished" { (when(run.finished_at)) }
                            td.text {
                                @if let Some(id) = run.export_id { a href=(format!("/api/exports/{id}/download")) { "download" } } @else { "—" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The jobs page; `notice` explains a refused trigger (a run already active, shutting down).
pub fn jobs_page(jobs: &[JobRow], runs: &[RunRow], viewer: &Viewer, notice: Option<&str>) -> Markup {
    let active = runs.iter().any(RunRow::is_active);
    let body = html! {
        h1 { "Jobs" }
        @if let Some(notice) = notice { p.panel.warn role="alert" { (notice) } }
        div.panel.table-wrap {
            table {
                thead { tr {
                    th scope="col" class="text" { "Job" } th scope="col" class="text" { "Schedule" }
                    th scope="col" class="hide-narrow" { "Next run (UTC)" } th scope="col" class="text" { "Last run" }
                    th scope="col" { span.visually-hidden { "Trigger" } }
                } }
                tbody {
                    @for job in jobs {
                        tr {
                            td.text { strong { (job.name) } }
                            td.text { code { (job.schedule.as_deref().unwrap_or("on trigger only")) } }
                            td class="hide-narrow" { (when(job.next_run)) }
                            td.text {
                                @if let Some(run) = &job.last_run {
                                    a href=(format!("/jobs/runs/{}", run.id)) { "#" (run.id) } " "
                                    span class=(status_class(&run.status)) { (run.status) }
                                } @else { span.muted { "never" } }
                            }
                            td {
                                @if viewer.signed_in() {
                                    form method="post" action=(format!("/jobs/{}/trigger", job.name)) {
                                        (viewer.csrf_field())
                                        button type="submit" { "Trigger" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !viewer.signed_in() { p.muted { a href="/signin?next=/jobs" { "Sign in" } " to trigger a job." } }
        h2 { "Latest runs" }
        @if runs.is_empty() { p #no-runs .muted { "No runs yet." } }
        (runs_table(runs))
        script src=(LIVE_SCRIPT_PATH) defer {}
    };
    // The script keeps the table current; without it, the page reloads itself while a run is
    // active.
    let body = html! { @if active { noscript { meta http-equiv="refresh" content="3"; } } (body) };
    document("Jobs", Nav::Jobs, viewer, body)
}

/// A page that reloads itself every few seconds while something is running: live enough
/// without any script, and it stops once the runs finish.
/// A crew run started by a job run (an analysis), with its steps so far.
#[derive(Debug, Clone)]
pub struct CrewRunView {
    pub id: i64,
    pub crew: String,
    pub model: String,
    /// `running`, `completed`, `limit_reached`, `failed`, `cancelled`.
    pub status: String,
    pub steps: Vec<CrewStep>,
}

/// One step of a crew run, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrewStep {
    /// Who took the step (an agent's role, or the manager).
    pub who: String,
    pub what: String,
    /// False for a failed tool call, an error or a limit.
    pub ok: bool,
}

/// One run, its per-symbol results and, for an analysis, the crew's steps (which grow while it
/// runs: the script reloads the page when the run or its steps change; without the script the
/// page reloads itself every few seconds while the run is active).
pub fn run_page(run: &RunRow, items: &[RunItemRow], crews: &[CrewRunView], viewer: &Viewer) -> Markup {
    let body = html! {
        p { a href="/jobs" { "← Jobs" } }
        h1 { "Run #" (run.id) " · " (run.job) }
        dl.facts {
            div { dt { "Status" } dd class=(status_class(&run.status)) { (run.status) } }
            div { dt { "Trigger" } dd { (run.trigger) } }
            div { dt { "Queued (UTC)" } dd { (when(Some(run.queued_at))) } }
            div { dt { "Finished (UTC)" } dd { (when(run.finished_at)) } }
            @if let Some(id) = run.export_id {
                div { dt { "Export" } dd { a href=(format!("/api/exports/{id}/download")) { "download" } } }
            }
            @if let (Some(id), Some(subject)) = (run.note_id, &run.subject) {
                div { dt { "Research note" } dd { a href=(format!("/symbols/{}#note-{id}", subject.replace('^', "%5E"))) { "read the note" } } }
            }
        }
        @if let Some(error) = &run.error { p.panel.down role="alert" { (error) } }
        @for crew in crews {
            h2 { "Crew steps" }
            p.muted { (crew.crew) " crew · model " (crew.model) " · " span class=(crew_status_class(&crew.status)) { (crew.status.replace('_', " ")) } }
            @if crew.steps.is_empty() { p.muted { "No step yet." } } @else {
                ol.panel.steps data-crew-run=(crew.id) data-steps=(crew.steps.len()) {
                    @for step in &crew.steps {
                        li class=[(!step.ok).then_some("down")] { strong { (step.who) } " " (step.what) }
                    }
                }
            }
        }
        h2 { "Per symbol" }
        @if items.is_empty() { p.muted { "Nothing recorded per symbol." } } @else {
            div.panel.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Symbol" } th scope="col" class="text" { "Result" } th scope="col" { "Bars" }
                        th scope="col" class="text" { "Provider" } th scope="col" class="text" { "Error" }
                    } }
                    tbody {
                        @for item in items {
                            tr {
                                td { a href=(format!("/symbols/{}", item.symbol.replace('^', "%5E"))) { (item.symbol) } }
                                td class=(if item.succeeded { "text up" } else { "text down" }) { (if item.succeeded { "ok" } else { "failed" }) }
                                td { (item.bars) }
                                td.text { (item.provider.as_deref().unwrap_or("—")) }
                                td.text { (item.error.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    };
    // What the script compares to know the page changed: the run's status, its per-symbol
    // results, and each crew run's status and step count.
    let mut fingerprint = format!("{}:{}", run.status, items.len());
    for crew in crews {
        fingerprint.push_str(&format!(";{}:{}:{}", crew.id, crew.status, crew.steps.len()));
    }
    let body = html! {
        @if run.is_active() { noscript { meta http-equiv="refresh" content="3"; } }
        div data-live-run=(run.id) data-active=(run.is_active()) data-fingerprint=(fingerprint) { (body) }
        script src=(LIVE_SCRIPT_PATH) defer {}
    };
    document(&format!("Run #{}", run.id), Nav::Jobs, viewer, body)
}

fn crew_status_class(status: &str) -> &'static str {
    match status {
        "completed" => "up",
        "running" => "warn",
        _ => "down",
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn run(status: &str) -> RunRow {
        RunRow {
            id: 7,
            job: "download-tracker".to_owned(),
            status: status.to_owned(),
            trigger: "api".to_owned(),
            subject: None,
            queued_at: Utc.with_ymd_and_hms(2024, 5, 10, 12, 0, 0).unwrap(),
            finished_at: None,
            error: Some("<b>vendor</b> said no".to_owned()),
            export_id: Some(3),
            note_id: None,
        }
    }

    #[test]
    fn active_runs_refresh_the_page_and_finished_ones_stop() {
        let jobs =
            [JobRow { name: "download-tracker".to_owned(), schedule: None, next_run: None, last_run: None }];
        let viewer = Viewer { csrf_token: Some("ab".to_owned()) };
        let running = jobs_page(&jobs, &[run("running")], &viewer, None).into_string();
        assert!(running.contains(r#"<noscript><meta http-equiv="refresh" content="3"></noscript>"#));
        assert!(running.contains(r#"<tr data-run-id="7">"#) && running.contains("/ui/live.js"));
        assert!(running.contains(r#"action="/jobs/download-tracker/trigger""#));
        let done = jobs_page(&jobs, &[run("succeeded")], &viewer, None).into_string();
        assert!(!done.contains("http-equiv"));
        assert!(done.contains(r#"href="/api/exports/3/download""#));
        let detail = run_page(&run("failed"), &[], &[], &Viewer::default()).into_string();
        assert!(detail.contains("&lt;b&gt;vendor&lt;/b&gt; said no") && !detail.contains("<b>vendor"));
        assert!(!detail.contains("csrf"));
        let crew = CrewRunView {
            id: 4,
            crew: "equity-research".to_owned(),
            model: "offline".to_owned(),
            status: "running".to_owned(),
            steps: vec![
                CrewStep {
                    who: "Market Researcher".to_owned(),
                    what: "called get_quote".to_owned(),
                    ok: true,
                },
                CrewStep { who: "<i>Writer</i>".to_owned(), what: "hit a limit".to_owned(), ok: false },
            ],
        };
        let live = run_page(&run("running"), &[], &[crew], &Viewer::default()).into_string();
        assert!(live.contains(r#"data-crew-run="4" data-steps="2""#), "{live}");
        assert!(
            live.contains(r#"data-live-run="7" data-active="true" data-fingerprint="running:0;4:running:2""#)
        );
        assert!(live.contains("&lt;i&gt;Writer") && live.contains(r#"<li class="down">"#));
        assert!(live.contains(r#"<noscript><meta http-equiv="refresh" content="3"></noscript>"#));
        assert!(
            !run_page(&run("succeeded"), &[], &[], &Viewer::default()).into_string().contains("http-equiv")
        );
    }
}
