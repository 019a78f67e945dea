//! The web UI's pages, rendered on the server: each view takes plain data (already read by the
//! server's handlers) and returns HTML. No IO here, so every page can be tested as a function.
//!
//! Design decisions, and why:
//! - **maud, not a template directory.** Markup is Rust: a misspelt field is a compile error, and
//!   every interpolated string is escaped by default, so vendor text (news, Reddit posts, company
//!   names) cannot inject markup. `PreEscaped` appears only around SVG our own `charts` crate drew.
//! - **Readable without JavaScript.** Range switches are links, tables come with every chart,
//!   forms post. The one script (`live.js`) only adds live rows where a page has them. The page loads nothing from another host: one stylesheet served by us, charts
//!   inline.
//! - **Colours follow the browser.** The stylesheet's variables switch with
//!   `prefers-color-scheme`; charts keep their own palette, which reads on both.

mod alerts;
mod exports;
mod format;
mod jobs;
mod layout;
mod pages;
mod providers;
mod settings;
mod social;
mod sparkline;

pub use alerts::{AlertRow, RULE_KINDS, RuleForm, RuleRow, alerts_page};
pub use exports::{EXPORT_FORMATS, ExportForm, ExportRow, exports_page};
pub use format::{change_class, money, percent};
pub use jobs::{CrewRunView, CrewStep, JobRow, RunItemRow, RunRow, jobs_page, run_page};
pub use layout::{
    ICON, ICON_PATH, LIVE_SCRIPT, LIVE_SCRIPT_PATH, Nav, STYLESHEET, STYLESHEET_PATH, Viewer, document,
};
pub use pages::{
    ChartRange, DashboardRow, FieldError, NoteView, PostRow, SignInForm, SymbolView, dashboard, error_page,
    not_found_page, signin_page, symbol_page,
};
pub use providers::{ProviderRow, providers_page};
pub use settings::{TokenRow, settings_page};
pub use social::{
    SCORE_MAX_CHARS, ScanSummary, ScoreForm, ScoredText, TRENDING_WINDOWS, TrendingEntry, trending_page,
};
pub use sparkline::sparkline_svg;
