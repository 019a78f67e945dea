//! The exports page: every stored export with its download, and a form for a new one.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::layout::{Nav, Viewer, document};
use crate::pages::FieldError;

/// One stored export.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    /// `bars`, `summary`, `mentions`, `notes`.
    pub kind: String,
    pub format: String,
    /// `writing`, `ready`, `failed`.
    pub status: String,
    pub file_name: String,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
    pub run_id: Option<i64>,
    pub error: Option<String>,
}

/// What the new-export form was filled with, and what was wrong with it.
#[derive(Debug, Clone, Default)]
pub struct ExportForm {
    pub symbols: String,
    pub from: String,
    pub to: String,
    pub format: String,
    pub errors: Vec<(&'static str, FieldError)>,
}

impl ExportForm {
    fn error(&self, field: &str) -> Option<&FieldError> {
        self.errors.iter().find(|(name, _)| *name == field).map(|(_, error)| error)
    }
}

/// The formats a user may pick, as `(value, label)`.
pub const EXPORT_FORMATS: [(&str, &str); 5] = [
    ("csv", "CSV"),
    ("xlsx", "Excel (XLSX)"),
    ("parquet", "Parquet"),
    ("ndjson", "NDJSON"),
    ("html", "HTML report with charts"),
];

fn size(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        Some(b) if b >= 1 << 10 => format!("{:.1} KB", b as f64 / f64::from(1 << 10)),
        Some(b) => format!("{b} B"),
        None => "—".to_owned(),
    }
}

fn field(label: &str, name: &str, kind: &str, value: &str, error: Option<&FieldError>, hint: &str) -> Markup {
    let id = format!("export-{name}");
    let error_id = format!("{id}-error");
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) type=(kind) name=(name) value=(error.map_or(value, |e| e.value.as_str()))
                placeholder=(hint) aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())];
            @if let Some(error) = error { p.field-error id=(error_id) { (error.message) } }
        }
    }
}

/// The exports page.
pub fn exports_page(exports: &[ExportRow], viewer: &Viewer, form: &ExportForm) -> Markup {
    let body = html! {
        h1 { "Exports" }
        @if viewer.signed_in() {
            form.panel.grid-form method="post" action="/exports" {
                (viewer.csrf_field())
                (field("Symbols", "symbols", "text", &form.symbols, form.error("symbols"), "AAPL, MSFT (empty: the watchlist)"))
                (field("From", "from", "date", &form.from, form.error("from"), ""))
                (field("To", "to", "date", &form.to, form.error("to"), ""))
                div.field {
                    label for="export-format" { "Format" }
                    select #export-format name="format" {
                        @for (value, label) in EXPORT_FORMATS {
                            option value=(value) selected[form.format == value] { (label) }
                        }
                    }
                    @if let Some(error) = form.error("format") { p.field-error { (error.message) } }
                }
                div.field { button type="submit" { "Export" } }
            }
        } @else {
            p.muted { a href="/signin?next=/exports" { "Sign in" } " to make or delete exports." }
        }
        @if exports.is_empty() { p.muted { "No exports yet: the download-tracker writes one per run." } } @else {
            div.panel.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Export" } th scope="col" class="text" { "What" } th scope="col" class="text" { "Status" }
                        th scope="col" class="hide-narrow" { "Rows" } th scope="col" { "Size" }
                        th scope="col" class="hide-narrow" { "Created (UTC)" } th scope="col" class="text hide-narrow" { "SHA-256" }
                        th scope="col" class="text" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for export in exports {
                            tr {
                                td { "#" (export.id) }
                                td.text {
                                    (export.kind) " · " (export.format)
                                    @if let Some(run) = export.run_id { br; a.muted href=(format!("/jobs/runs/{run}")) { "run #" (run) } }
                                }
                                td class=(match export.status.as_str() { "ready" => "text up", "failed" => "text down", _ => "text warn" }) {
                                    (export.status)
                                    @if let Some(error) = &export.error { br; span.muted { (error) } }
                                }
                                td class="hide-narrow" { (export.rows.map_or("—".to_owned(), |r| r.to_string())) }
                                td { (size(export.bytes)) }
                                td class="hide-narrow" { (export.created_at.format("%Y-%m-%d %H:%M")) }
                                td class="text hide-narrow" { code title=(export.sha256.as_deref().unwrap_or("")) { (export.sha256.as_deref().map_or("—", |h| &h[..h.len().min(12)])) } }
                                td.text.actions {
                                    @if export.status == "ready" {
                                        a href=(format!("/api/exports/{}/download", export.id)) download=(export.file_name) { "Download" }
                                    }
                                    @if viewer.signed_in() && export.status != "writing" {
                                        form method="post" action=(format!("/exports/{}/delete", export.id)) {
                                            (viewer.csrf_field())
                                            button.link type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    document("Exports", Nav::Exports, viewer, body)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn ready_exports_download_and_a_refused_form_keeps_its_values() {
        let export = ExportRow {
            id: 4,
            created_at: Utc.with_ymd_and_hms(2024, 5, 10, 12, 0, 0).unwrap(),
            kind: "bars".to_owned(),
            format: "csv".to_owned(),
            status: "ready".to_owned(),
            file_name: "bars-4.csv".to_owned(),
            rows: Some(502),
            bytes: Some(40_960),
            sha256: Some("ab".repeat(32)),
            run_id: Some(2),
            error: None,
        };
        let viewer = Viewer { csrf_token: Some("cafe".to_owned()) };
        let form = ExportForm {
            symbols: "AAPL, <x>".to_owned(),
            format: "parquet".to_owned(),
            errors: vec![(
                "symbols",
                FieldError { value: "AAPL, <x>".to_owned(), message: "<x> is not a ticker".to_owned() },
            )],
            ..ExportForm::default()
        };
        let html = exports_page(&[export], &viewer, &form).into_string();
        assert!(html.contains(r#"href="/api/exports/4/download" download="bars-4.csv""#), "{html}");
        assert!(html.contains("40.0 KB") && html.contains(r#"action="/exports/4/delete""#));
        assert!(html.contains(r#"value="AAPL, &lt;x&gt;""#) && html.contains("&lt;x&gt; is not a ticker"));
        assert!(html.contains(r#"<option value="parquet" selected>"#), "{html}");
        assert!(
            !exports_page(&[], &Viewer::default(), &ExportForm::default())
                .into_string()
                .contains("<form method=\"post\" action=\"/exports\"")
        );
    }
}
