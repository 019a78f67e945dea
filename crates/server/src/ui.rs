//! The web UI's routes: HTML pages at `/` over the same storage the API reads, drawn by the
//! `web` crate's views and the `charts` crate's SVG.
//!
//! Design decisions, and why:
//! - **Outside the API and its spec.** Pages are for people: errors are HTML pages (marked as
//!   rendered so the error normaliser leaves them alone), and they are not OpenAPI operations.
//! - **Sign-in by API token, a session cookie after** (`session.rs`). Reading is open unless
//!   `server.auth.protect_reads` is set, in which case every page first sends the browser to the
//!   sign-in form and, after it, back where it was. Changing anything (the watchlist) needs a
//!   session and the form's CSRF token; a form without it gets 403.
//! - **Locked-down headers on every page.** A CSP that allows only this origin's stylesheet and
//!   its one script file (no inline script, so nothing from data can run), no framing, no MIME
//!   sniffing, no referrer leaking a symbol to another site.

use std::collections::HashMap;

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{Duration, Utc};
use domain::{Interval, Symbol};
use serde::Deserialize;
use storage::{BarQuery, Storage, StorageError};
use web::{ChartRange, DashboardRow, FieldError, SymbolView, Viewer};

use crate::AppState;
use crate::auth::{AuthState, TokenSource, authenticate, is_password};
use crate::error::RenderedError;
use crate::session::{Principal, Session, clear_cookie, safe_return_path};

/// Daily bars read for a dashboard row's sparkline and change.
const SPARKLINE_SESSIONS: usize = 30;
/// Rows of the symbol page's table.
const RECENT_SESSIONS: usize = 30;
/// Calendar days read before a chart's window: a little over 200 sessions, for SMA 200.
const INDICATOR_WARMUP_DAYS: i64 = 300;
/// Headlines on the symbol page.
const NEWS_SHOWN: u64 = 10;
/// Reddit posts on the symbol page.
const POSTS_SHOWN: u64 = 8;
/// Research notes on the symbol page.
const NOTES_SHOWN: u32 = 3;

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The UI's routes, for [`crate::router`] to merge beside the API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/symbols/{symbol}", get(symbol_page))
        .route("/symbols/{symbol}/analyze", post(analyze_symbol))
        .route("/signin", get(signin_form).post(signin))
        .route("/signout", post(signout))
        .route("/trending", get(trending_page))
        .route("/providers", get(providers_page))
        .route("/settings", get(settings_page))
        .route("/settings/tokens", post(create_token))
        .route("/settings/tokens/revoke", post(revoke_token))
        .route("/jobs", get(jobs_page))
        .route("/jobs/runs/{id}", get(run_page))
        .route("/jobs/{name}/trigger", post(trigger_job))
        .route("/exports", get(exports_page).post(create_export))
        .route("/exports/{id}/delete", post(delete_export))
        .route("/alerts", get(alerts_page))
        .route("/alerts/rules", post(create_rule))
        .route("/alerts/rules/{id}", post(update_rule))
        .route("/alerts/rules/{id}/edit", get(edit_rule_form))
        .route("/alerts/rules/{id}/{action}", post(change_rule))
        .route("/alerts/{id}/ack", post(acknowledge_alert))
        .route("/watchlist", post(add_to_watchlist))
        .route("/watchlist/{symbol}/remove", post(remove_from_watchlist))
        .route(web::STYLESHEET_PATH, get(stylesheet))
        .route(web::ICON_PATH, get(icon))
        .route(web::LIVE_SCRIPT_PATH, get(live_script))
}

/// A page with the UI's headers.
fn page(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status.is_client_error() || status.is_server_error() {
        response.extensions_mut().insert(RenderedError);
    }
    response
}

/// What a page handler can fail with, shown as a page.
enum PageError {
    /// Reads are protected and there is no session: sign in, then come back to this path.
    SignIn(String),
    /// A state-changing form without a session or with a wrong CSRF token.
    Forbidden,
    Storage(StorageError),
}

impl From<StorageError> for PageError {
    fn from(error: StorageError) -> Self {
        Self::Storage(error)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn(back) => {
                let target = format!("/signin?next={}", percent_encode(&back));
                Redirect::to(&target).into_response()
            }
            Self::Forbidden => page(
                StatusCode::FORBIDDEN,
                web::error_page(
                    "Not allowed",
                    "This form needs a signed-in session and its own form token. Reload the page \
                     and try again; sign in if your session has ended.",
                ),
            ),
            Self::Storage(error) => {
                tracing::error!(%error, "A page could not be read from the database.");
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    web::error_page(
                        "Something went wrong",
                        "The database could not be read; the log says why.",
                    ),
                )
            }
        }
    }
}

/// Query-string encoding for a return path (RFC 3986 unreserved characters and `/` kept).
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The request's valid session, if any (see [`crate::session::valid_session`]).
async fn session(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, PageError> {
    Ok(crate::session::valid_session(&state.storage, &state.config, &state.sessions, headers).await?)
}

/// Who is reading; sends them to sign in first when reads are protected.
async fn reader(state: &AppState, headers: &HeaderMap, uri: &OriginalUri) -> Result<Viewer, PageError> {
    match session(state, headers).await? {
        Some(session) => Ok(Viewer { csrf_token: Some(state.sessions.csrf_token(&session)) }),
        None if state.config.auth.protect_reads => {
            let back = uri.0.path_and_query().map_or("/", |p| p.as_str());
            Err(PageError::SignIn(back.to_owned()))
        }
        None => Ok(Viewer::default()),
    }
}

/// The page a form was posted from (its `Referer`, when on this site), to come back to.
fn posted_from(headers: &HeaderMap) -> String {
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok()).unwrap_or("/");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let path = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))
        .and_then(|rest| rest.strip_prefix(host))
        .filter(|path| !host.is_empty() && path.starts_with('/'));
    safe_return_path(path)
}

/// The session of a state-changing form whose CSRF token is right. Without a session (never
/// signed in, or it expired) the browser goes to sign in and then back to the page it was on.
async fn writer(state: &AppState, headers: &HeaderMap, csrf: &str) -> Result<Viewer, PageError> {
    let session = session(state, headers).await?.ok_or_else(|| PageError::SignIn(posted_from(headers)))?;
    if !state.sessions.check_csrf(&session, csrf) {
        tracing::info!("A web form was refused: wrong or missing CSRF token.");
        return Err(PageError::Forbidden);
    }
    Ok(Viewer { csrf_token: Some(state.sessions.csrf_token(&session)) })
}

/// A file compiled into the binary, with its type and how long browsers may keep it.
fn asset(body: &'static str, content_type: &'static str, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

async fn stylesheet() -> Response {
    asset(web::STYLESHEET, "text/css; charset=utf-8", "public, max-age=3600")
}

async fn live_script() -> Response {
    asset(web::LIVE_SCRIPT, "text/javascript; charset=utf-8", "public, max-age=3600")
}

async fn icon() -> Response {
    asset(web::ICON, "image/svg+xml", "public, max-age=86400")
}

async fn dashboard(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Result<Response, PageError> {
    let viewer = reader(&state, &headers, &uri).await?;
    render_dashboard(&state, &viewer, None).await
}

async fn render_dashboard(
    state: &AppState,
    viewer: &Viewer,
    add_error: Option<FieldError>,
) -> Result<Response, PageError> {
    let storage = &state.storage;
    let now = Utc::now();
    let watchlist = storage.watchlist().await?;
    let symbols: Vec<Symbol> = watchlist.into_iter().map(|entry| entry.symbol).collect();
    let trending: HashMap<Symbol, _> = storage
        .trending(now - Duration::hours(24), now, None)
        .await?
        .into_iter()
        .map(|row| (row.symbol.clone(), row))
        .collect();
    let ratings: HashMap<Symbol, String> = storage
        .latest_research_notes(&symbols)
        .await?
        .into_iter()
        .map(|note| (note.symbol.clone(), note.rating.to_string()))
        .collect();
    let rules = storage.alert_rules().await?;
    let mut rows = Vec::with_capacity(symbols.len());
    for symbol in &symbols {
        let mut row = dashboard_row(storage, symbol).await?;
        if let Some(trend) = trending.get(symbol) {
            row.mentions_24h = Some(trend.mentions);
            row.sentiment = Some(trend.mean_sentiment);
        }
        row.rating = ratings.get(symbol).cloned();
        row.active_alerts = rules
            .iter()
            .filter(|rule| !rule.rule.paused && rule.symbol.as_ref().is_none_or(|s| s == symbol))
            .count();
        rows.push(row);
    }
    let status = if add_error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(page(status, web::dashboard(&rows, now, viewer, add_error.as_ref())))
}

/// A row's prices: the latest quote when there is one, else the latest close.
async fn dashboard_row(storage: &Storage, symbol: &Symbol) -> Result<DashboardRow, StorageError> {
    let last = storage.last_bar_ts(symbol, Interval::Day1).await?;
    let query = BarQuery {
        symbol: symbol.clone(),
        interval: Interval::Day1,
        // Enough calendar days for 30 sessions across holidays, back from the latest stored.
        from: Some(last.unwrap_or_else(Utc::now) - Duration::days(50)),
        to: None,
        provider: None,
        limit: None,
    };
    let mut bars = storage.bars(&query).await?;
    bars.dedup_by_key(|bar| bar.ts);
    let closes: Vec<f64> = bars.iter().filter_map(|bar| bar.close).collect();
    let closes = closes[closes.len().saturating_sub(SPARKLINE_SESSIONS)..].to_vec();
    let quote = storage.latest_quote(symbol).await?;
    let name = storage.profile(symbol).await?.and_then(|profile| profile.name);
    let last_bar = bars.last();
    let mut row = DashboardRow {
        symbol: symbol.to_string(),
        name,
        closes,
        partial: last_bar.is_some_and(|bar| bar.partial),
        ..DashboardRow::default()
    };
    match (&quote, last_bar) {
        (Some(quote), bar) if bar.is_none_or(|bar| quote.ts >= bar.ts) => {
            row.last = Some(quote.price);
            row.change_percent = quote.change_percent.or_else(|| {
                quote.previous_close.filter(|p| *p != 0.0).map(|p| (quote.price / p - 1.0) * 100.0)
            });
            row.as_of = Some(quote.ts);
            row.provider = Some(quote.provider.to_string());
            row.partial = false;
        }
        (_, Some(bar)) => {
            let previous = bars.iter().rev().nth(1).and_then(|b| b.close);
            row.last = bar.close;
            row.change_percent =
                bar.close.zip(previous.filter(|p| *p != 0.0)).map(|(close, p)| (close / p - 1.0) * 100.0);
            row.as_of = Some(bar.ts);
            row.provider = Some(bar.provider.to_string());
        }
        _ => {}
    }
    Ok(row)
}

#[derive(Debug, Deserialize)]
struct SymbolPageQuery {
    range: Option<String>,
}

async fn symbol_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(raw): Path<String>,
    Query(query): Query<SymbolPageQuery>,
) -> Result<Response, PageError> {
    let viewer = reader(&state, &headers, &uri).await?;
    let storage = &state.storage;
    let Ok(symbol) = Symbol::parse(&raw) else {
        let message =
            format!("“{raw}” is not a ticker symbol (letters, digits and . - = ^, e.g. AAPL or BRK-B).");
        return Ok(page(StatusCode::NOT_FOUND, web::not_found_page(&message)));
    };
    let range = match query.range.as_deref().map(ChartRange::parse) {
        None => ChartRange::default(),
        Some(Some(range)) => range,
        Some(None) => {
            let valid: Vec<&str> = ChartRange::ALL.iter().map(|r| r.as_str()).collect();
            let message = format!("The chart range must be one of {}.", valid.join(", "));
            return Ok(page(StatusCode::BAD_REQUEST, web::error_page("Unknown range", &message)));
        }
    };
    let Some(last) = storage.last_bar_ts(&symbol, Interval::Day1).await? else {
        let message = format!(
            "No prices are stored for {symbol}. Add it to the watchlist (tickerwatch watchlist add \
             {symbol}) and run the download-tracker job."
        );
        return Ok(page(StatusCode::NOT_FOUND, web::not_found_page(&message)));
    };
    let from = range.days().map(|days| last - Duration::days(days));
    let query = BarQuery {
        symbol: symbol.clone(),
        interval: Interval::Day1,
        // The sessions before the window warm the indicators up (SMA 200 needs 200 closes).
        from: from.map(|from| from - Duration::days(INDICATOR_WARMUP_DAYS)),
        to: None,
        provider: None,
        limit: None,
    };
    let mut bars = storage.bars(&query).await?;
    bars.dedup_by_key(|bar| bar.ts);
    let in_view = from.map_or(0, |from| bars.partition_point(|bar| bar.ts < from));
    let history = bars[..in_view].to_vec();
    bars.drain(..in_view);
    let drawn = charts::Charts::with_history(&history, &bars);
    let plan = drawn.plan();
    let price_svg = drawn.price_svg(&symbol).unwrap_or_else(|error| chart_failed(&error));
    let rsi_svg = drawn.rsi_svg().unwrap_or_else(|error| chart_failed(&error));
    let macd_svg = drawn.macd_svg().unwrap_or_else(|error| chart_failed(&error));
    let grouping = match plan.resolution {
        charts::Resolution::AsStored => "One candle per session".to_owned(),
        resolution => format!("{} candles", capitalised(resolution.adjective())),
    };
    let chart_caption = format!(
        "{grouping}: {} sessions from {} to {}. SMA 20 (amber), SMA 50 (blue), SMA 200 (black), \
         Bollinger bands 20/2 (grey); volume; RSI 14; MACD 12/26/9 (blue) with its signal (amber).",
        plan.chartable_bars,
        bars.first().map_or_else(String::new, |b| b.ts.format("%Y-%m-%d").to_string()),
        bars.last().map_or_else(String::new, |b| b.ts.format("%Y-%m-%d").to_string()),
    );
    let disagreements = storage.count_disagreements(&symbol, Interval::Day1, from, None).await?;
    let profile = storage.profile(&symbol).await?;
    let recent: Vec<_> = bars.iter().rev().take(RECENT_SESSIONS).cloned().collect();
    let view = SymbolView {
        symbol: symbol.to_string(),
        name: profile.as_ref().and_then(|profile| profile.name.clone()),
        range,
        price_svg,
        rsi_svg,
        macd_svg,
        chart_caption,
        recent,
        quote: storage.latest_quote(&symbol).await?,
        disagreements,
        profile,
        news: storage.news(&symbol, NEWS_SHOWN).await?,
        mentions: storage
            .mention_buckets(&symbol, storage::MentionBucketSize::Day, Utc::now() - Duration::days(30))
            .await?
            .into_iter()
            .map(|bucket| (bucket.start.date_naive(), bucket.mentions, bucket.mean_sentiment))
            .collect(),
        posts: storage
            .posts_mentioning(&symbol, Utc::now() - Duration::days(30), POSTS_SHOWN)
            .await?
            .into_iter()
            .map(|post| web::PostRow {
                created_at: post.created_at,
                subreddit: post.subreddit,
                author: post.author,
                title: post.title,
                permalink: post.permalink,
                sentiment: post.sentiment,
            })
            .collect(),
        rules: storage
            .alert_rules()
            .await?
            .into_iter()
            .filter(|rule| rule.symbol.as_ref().is_none_or(|s| *s == symbol))
            .map(|rule| {
                let words = rule.rule.condition.describe();
                let described = match &rule.symbol {
                    Some(_) => words,
                    None => format!("{words} (every watched symbol)"),
                };
                (rule.id, described, rule.rule.paused)
            })
            .collect(),
        alerts: storage
            .alerts(None, Some(&symbol), 10)
            .await?
            .into_iter()
            .map(|alert| (alert.fired_at, alert.rule.clone(), alert.observed))
            .collect(),
        notes: storage
            .research_notes(Some(&symbol), NOTES_SHOWN)
            .await?
            .into_iter()
            .map(|note| web::NoteView {
                id: note.id,
                created_at: note.created_at,
                rating: note.rating.to_string(),
                confidence: note.confidence,
                horizon: note.horizon.clone(),
                thesis: note.thesis.clone(),
                risks: note.risks.clone(),
                model: note.model.clone(),
                crew: note.crew.clone(),
            })
            .collect(),
    };
    Ok(page(StatusCode::OK, web::symbol_page(&view, &viewer)))
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn chart_failed(error: &str) -> String {
    tracing::warn!(error, "A chart could not be drawn.");
    "<p class=\"muted\">The chart could not be drawn.</p>".to_owned()
}

#[derive(Debug, Deserialize)]
struct SignInQuery {
    next: Option<String>,
}

async fn signin_form(State(state): State<AppState>, Query(query): Query<SignInQuery>) -> Response {
    let form = web::SignInForm {
        next: &safe_return_path(query.next.as_deref()),
        password_enabled: password_enabled(&state),
    };
    page(StatusCode::OK, web::signin_page(&form, None))
}

fn password_enabled(state: &AppState) -> bool {
    state.config.auth.password.is_some()
}

/// Missing fields are empty: the handler says which are needed.
#[derive(Default, Deserialize)]
#[serde(default)]
struct SignInForm {
    token: String,
    next: Option<String>,
}

/// Checks the password, then the token as the API would; on success sets the session cookie and
/// goes back. Attempts are throttled process-wide, so a password cannot be guessed at speed.
async fn signin(State(state): State<AppState>, Form(form): Form<SignInForm>) -> Result<Response, PageError> {
    let next = safe_return_path(form.next.as_deref());
    let view = web::SignInForm { next: &next, password_enabled: password_enabled(&state) };
    if !state.sessions.allow_signin_attempt() {
        tracing::warn!("Web sign-in throttled: too many attempts in the last minute.");
        let message = "Too many sign-in attempts; wait a minute and try again.";
        return Ok(page(StatusCode::TOO_MANY_REQUESTS, web::signin_page(&view, Some(message))));
    }
    let given = form.token.trim();
    let principal = if is_password(&state.config, given) {
        Ok(Principal::Password(state.sessions.fingerprint(given)))
    } else {
        authenticate(&AuthState::new(&state), given).await.map(|source| match source {
            TokenSource::Stored(id) => Principal::StoredToken(id),
            TokenSource::Config(_) => Principal::ConfigToken(state.sessions.fingerprint(given)),
        })
    };
    match principal {
        Ok(principal) => {
            let (cookie, _) = state.sessions.issue(Utc::now(), principal);
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, state.sessions.set_cookie(&cookie));
            Ok(response)
        }
        Err(error @ (crate::ApiError::Unauthorized | crate::ApiError::Forbidden)) => {
            tracing::info!(%error, "Web sign-in refused.");
            let message = if view.password_enabled {
                "That password or token is not valid (a token may have been revoked)."
            } else {
                "That token is not valid, or it has been revoked."
            };
            Ok(page(StatusCode::UNAUTHORIZED, web::signin_page(&view, Some(message))))
        }
        Err(error) => {
            tracing::error!(%error, "Web sign-in failed.");
            let message = "The sign-in could not be checked (the log says why); try again.";
            Ok(page(StatusCode::INTERNAL_SERVER_ERROR, web::signin_page(&view, Some(message))))
        }
    }
}

/// Missing fields are empty: the handler says which are needed.
#[derive(Default, Deserialize)]
#[serde(default)]
struct CsrfForm {
    csrf: String,
}

async fn signout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    writer(&state, &headers, &form.csrf).await?;
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(header::SET_COOKIE, clear_cookie());
    Ok(response)
}

/// Missing fields are empty: the handler says which are needed.
#[derive(Default, Deserialize)]
#[serde(default)]
struct AddSymbolForm {
    csrf: String,
    symbol: String,
}

/// Adds a symbol; a bad one shows the dashboard again with the field's error and the value.
async fn add_to_watchlist(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<AddSymbolForm>,
) -> Result<Response, PageError> {
    let viewer = writer(&state, &headers, &form.csrf).await?;
    match Symbol::parse(form.symbol.trim()) {
        Ok(symbol) => {
            state.storage.add_to_watchlist(&symbol).await?;
            Ok(Redirect::to("/").into_response())
        }
        Err(error) => {
            let add_error =
                FieldError { value: form.symbol.clone(), message: format!("Not a ticker symbol: {error}.") };
            render_dashboard(&state, &viewer, Some(add_error)).await
        }
    }
}

async fn remove_from_watchlist(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    writer(&state, &headers, &form.csrf).await?;
    if let Ok(symbol) = Symbol::parse(&raw) {
        state.storage.remove_from_watchlist(&symbol).await?;
    }
    Ok(Redirect::to("/").into_response())
}

/// Runs listed on the jobs page.
const RUNS_SHOWN: u64 = 50;

fn run_row(run: storage::RunRecord, outputs: &[domain::RunOutput]) -> web::RunRow {
    web::RunRow {
        id: run.id,
        job: run.job,
        status: run.status.as_str().to_owned(),
        trigger: run.trigger.to_string(),
        subject: run.subject.map(|s| s.to_string()),
        queued_at: run.queued_at,
        finished_at: run.finished_at,
        error: run.error,
        export_id: outputs.iter().find(|o| o.kind == domain::OutputKind::Export).map(|o| o.id),
        note_id: outputs.iter().find(|o| o.kind == domain::OutputKind::ResearchNote).map(|o| o.id),
    }
}

async fn render_jobs(
    state: &AppState,
    viewer: &Viewer,
    notice: Option<&str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let storage = &state.storage;
    let jobs = state.jobs.jobs().await?;
    let mut job_rows = Vec::with_capacity(jobs.len());
    for job in jobs {
        let last_run = match job.last_run {
            Some(run) => {
                let outputs = storage.run_outputs(run.id).await?;
                Some(run_row(run, &outputs))
            }
            None => None,
        };
        job_rows.push(web::JobRow {
            name: job.name.to_owned(),
            schedule: job.schedule,
            next_run: job.next_run,
            last_run,
        });
    }
    let runs = storage.runs(None, RUNS_SHOWN).await?;
    let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
    let outputs = storage.outputs_of_runs(&ids).await?;
    let run_rows: Vec<web::RunRow> = runs
        .into_iter()
        .map(|run| {
            let mine: Vec<domain::RunOutput> =
                outputs.iter().filter(|(id, _)| *id == run.id).map(|(_, o)| *o).collect();
            run_row(run, &mine)
        })
        .collect();
    Ok(page(status, web::jobs_page(&job_rows, &run_rows, viewer, notice)))
}

async fn jobs_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Result<Response, PageError> {
    let viewer = reader(&state, &headers, &uri).await?;
    render_jobs(&state, &viewer, None, StatusCode::OK).await
}

async fn run_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    let viewer = reader(&state, &headers, &uri).await?;
    let run = match raw.parse::<i64>() {
        Ok(id) if id > 0 => state.storage.run(id).await?,
        _ => None,
    };
    let Some(run) = run else {
        return Ok(page(StatusCode::NOT_FOUND, web::not_found_page(&format!("There is no run “{raw}”."))));
    };
    let outputs = state.storage.run_outputs(run.id).await?;
    let items: Vec<web::RunItemRow> = state
        .storage
        .run_items(run.id)
        .await?
        .into_iter()
        .map(|item| web::RunItemRow {
            symbol: item.symbol,
            succeeded: item.succeeded,
            bars: item.bars,
            provider: item.provider,
            error: item.error,
        })
        .collect();
    let crews: Vec<web::CrewRunView> = state
        .storage
        .crew_runs_of_job_run(run.id)
        .await?
        .into_iter()
        .map(|crew_run| web::CrewRunView {
            id: crew_run.id,
            crew: crew_run.crew,
            model: crew_run.model,
            status: crew_run.status.as_str().to_owned(),
            steps: serde_json::from_str::<Vec<serde_json::Value>>(&crew_run.trace)
                .unwrap_or_default()
                .iter()
                .filter_map(crew_step)
                .collect(),
        })
        .collect();
    Ok(page(StatusCode::OK, web::run_page(&run_row(run, &outputs), &items, &crews, &viewer)))
}

/// Characters of a tool's result shown per step; the API's trace has the stored text.
const STEP_RESULT_CHARS: usize = 160;

/// A stored trace step (see `agents::TraceStep`) in words; memory bookkeeping is left out.
fn crew_step(step: &serde_json::Value) -> Option<web::CrewStep> {
    let text = |key: &str| step.get(key).and_then(serde_json::Value::as_str).unwrap_or("").to_owned();
    let number = |key: &str| step.get(key).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    let agent = text("agent");
    let (who, what, ok) = match step.get("step")?.as_str()? {
        "task_started" => (agent, format!("started “{}”", text("task")), true),
        "llm_call" => {
            let tokens = number("prompt_tokens") + number("completion_tokens");
            let tools: Vec<String> = step
                .get("tool_calls")
                .and_then(serde_json::Value::as_array)
                .map(|calls| calls.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let asked =
                if tools.is_empty() { String::new() } else { format!(", asks for {}", tools.join(", ")) };
            match step.get("error").and_then(serde_json::Value::as_str) {
                Some(error) => (agent, format!("asked {}: {error}", text("model")), false),
                None => (
                    agent,
                    format!(
                        "asked {} ({tokens:.0} tokens, {:.0} ms{asked})",
                        text("model"),
                        number("latency_ms")
                    ),
                    true,
                ),
            }
        }
        "tool_call" => {
            let ok = step.get("ok").and_then(serde_json::Value::as_bool).unwrap_or(false);
            let outcome = if ok { "" } else { " — failed" };
            let result = notify::template::truncate_chars(&text("result"), STEP_RESULT_CHARS);
            (agent, format!("used {}({}){outcome}: {result}", text("tool"), text("arguments")), ok)
        }
        "delegation" => {
            (text("manager"), format!("delegated to {}: {}", text("coworker"), text("request")), true)
        }
        "invalid_output" => (agent, format!("gave an answer that was not valid: {}", text("reason")), false),
        "task_finished" => {
            (agent, format!("finished “{}” ({:.0} bytes)", text("task"), number("output_bytes")), true)
        }
        "limit_reached" => {
            ("Crew".to_owned(), format!("stopped at {}: {}", text("limit"), text("detail")), false)
        }
        "truncated" => ("Crew".to_owned(), format!("{:.0} more steps not kept", number("dropped")), true),
        _ => return None,
    };
    Some(web::CrewStep { who, what, ok })
}

/// Queues a run and shows it; a refused trigger shows the jobs page with the reason.
async fn trigger_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    let viewer = writer(&state, &headers, &form.csrf).await?;
    match state.jobs.trigger(&name, domain::RunTrigger::Api).await {
        Ok(triggered) => {
            tracing::info!(job = %triggered.run.job, run_id = triggered.run.id, "Job triggered from the web UI.");
            Ok(Redirect::to(&format!("/jobs/runs/{}", triggered.run.id)).into_response())
        }
        Err(jobs::TriggerError::Storage(error)) => Err(PageError::Storage(error)),
        Err(error) => {
            let status = match error {
                jobs::TriggerError::UnknownJob(_) => StatusCode::NOT_FOUND,
                jobs::TriggerError::AlreadyActive { .. } => StatusCode::CONFLICT,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            render_jobs(&state, &viewer, Some(&error.to_string()), status).await
        }
    }
}

/// Exports listed on the exports page.
const EXPORTS_SHOWN: u64 = 100;

async fn render_exports(
    state: &AppState,
    viewer: &Viewer,
    form: &web::ExportForm,
) -> Result<Response, PageError> {
    let rows: Vec<web::ExportRow> = state
        .storage
        .exports(EXPORTS_SHOWN)
        .await?
        .into_iter()
        .map(|record| web::ExportRow {
            id: record.id,
            created_at: record.created_at,
            kind: record.kind,
            format: record.format,
            status: record.status.as_str().to_owned(),
            file_name: record.file_name,
            rows: record.rows,
            bytes: record.bytes,
            sha256: record.sha256,
            run_id: record.run_id,
            error: record.error,
        })
        .collect();
    let status = if form.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(page(status, web::exports_page(&rows, viewer, form)))
}

async fn exports_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Result<Response, PageError> {
    let viewer = reader(&state, &headers, &uri).await?;
    let form = web::ExportForm { format: "csv".to_owned(), ..web::ExportForm::default() };
    render_exports(&state, &viewer, &form).await
}

/// Missing fields are empty: the handler says which are needed.
#[derive(Default, Deserialize)]
#[serde(default)]
struct NewExportForm {
    csrf: String,
    symbols: String,
    from: String,
    to: String,
    format: String,
}

/// The request a filled-in form stands for, or the form with every field's error.
async fn export_request(
    storage: &Storage,
    form: &NewExportForm,
) -> Result<Result<export::ExportRequest, web::ExportForm>, StorageError> {
    let mut errors = Vec::new();
    let mut refuse = |field: &'static str, value: &str, message: String| {
        errors.push((field, FieldError { value: value.to_owned(), message }));
    };
    let mut symbols = Vec::new();
    for text in form.symbols.split([',', ' ', ';']).map(str::trim).filter(|t| !t.is_empty()) {
        match Symbol::parse(text) {
            Ok(symbol) if !symbols.contains(&symbol) => symbols.push(symbol),
            Ok(_) => {}
            Err(error) => refuse("symbols", &form.symbols, format!("{error}.")),
        }
    }
    if symbols.is_empty() && form.symbols.trim().is_empty() {
        symbols = storage.watchlist().await?.into_iter().map(|entry| entry.symbol).collect();
        if symbols.is_empty() {
            refuse("symbols", "", "Name at least one symbol: the watchlist is empty.".to_owned());
        }
    }
    let date = |field: &'static str, text: &str, refuse: &mut dyn FnMut(&'static str, &str, String)| {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let parsed = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d");
        if parsed.is_err() {
            refuse(field, text, "A date like 2024-01-31.".to_owned());
        }
        parsed.ok()
    };
    let from = date("from", &form.from, &mut refuse);
    let to = date("to", &form.to, &mut refuse);
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        refuse("to", &form.to, format!("Must not be before {from}."));
    }
    let format = form.format.parse::<export::ExportFormat>();
    if let Err(error) = &format {
        refuse("format", &form.format, error.to_string());
    }
    if !errors.is_empty() {
        return Ok(Err(web::ExportForm {
            symbols: form.symbols.clone(),
            from: form.from.clone(),
            to: form.to.clone(),
            format: form.format.clone(),
            errors,
        }));
    }
    Ok(Ok(export::ExportRequest {
        symbols,
        interval: Interval::Day1,
        from,
        to,
        format: format.expect("checked above"),
        notes: Vec::new(),
    }))
}

/// Writes an export now (bounded by the request timeout) and lists it.
async fn create_export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<NewExportForm>,
) -> Result<Response, PageError> {
    let viewer = writer(&state, &headers, &form.csrf).await?;
    let request = match export_request(&state.storage, &form).await? {
        Ok(request) => request,
        Err(refused) => return render_exports(&state, &viewer, &refused).await,
    };
    match state.exports.create(&request, None).await {
        Ok(record) => tracing::info!(export_id = record.id, "Export written from the web UI."),
        // A failed export is recorded as `failed` with its reason, which the list shows.
        Err(jobs::ExportServiceError::Storage(error)) => return Err(PageError::Storage(error)),
        Err(error) => tracing::warn!(%error, "An export from the web UI failed."),
    }
    Ok(Redirect::to("/exports").into_response())
}

async fn delete_export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    writer(&state, &headers, &form.csrf).await?;
    let Ok(id) = raw.parse::<i64>() else {
        return Ok(page(StatusCode::NOT_FOUND, web::not_found_page(&format!("There is no export “{raw}”."))));
    };
    match state.exports.delete(id).await {
        Ok(_) => Ok(Redirect::to("/exports").into_response()),
        Err(jobs::ExportServiceError::NotFound(_)) => {
            Ok(page(StatusCode::NOT_FOUND, web::not_found_page(&format!("There is no export #{id}."))))
        }
        Err(jobs::ExportServiceError::NotReady(_)) => Ok(page(
            StatusCode::CONFLICT,
            web::error_page(
                "Still being written",
                "That export is still being written; delete it once it is ready.",
            ),
        )),
        Err(jobs::ExportServiceError::Storage(error)) => Err(PageError::Storage(error)),
        Err(error) => {
            tracing::error!(%error, "An export could not be deleted.");
            Ok(page(
                StatusCode::INTERNAL_SERVER_ERROR,
                web::error_page("Not deleted", "The export could not be deleted; the log says why."),
            ))
        }
    }
}

/// Alerts listed in the history.
const ALERTS_SHOWN: u64 = 100;

async fn render_alerts(
    state: &AppState,
    viewer: &Viewer,
    form: &web::RuleForm,
) -> Result<Response, PageError> {
    let rules: Vec<web::RuleRow> = state
        .storage
        .alert_rules()
        .await?
        .into_iter()
        .map(|rule| web::RuleRow {
            id: rule.id,
            name: rule.name.clone(),
            symbol: rule.symbol.as_ref().map(ToString::to_string),
            condition: rule.rule.condition.describe(),
            frequency: rule.rule.frequency.describe(),
            paused: rule.rule.paused,
            expires_at: rule.rule.expires_at,
            targets: rule.targets.len(),
        })
        .collect();
    let alerts: Vec<web::AlertRow> = state
        .storage
        .alerts(None, None, ALERTS_SHOWN)
        .await?
        .into_iter()
        .map(|alert| web::AlertRow {
            id: alert.id,
            symbol: alert.symbol.to_string(),
            rule: alert.rule.clone(),
            fired_at: alert.fired_at,
            observed: alert.observed,
            threshold: alert.threshold,
            previous: alert.previous,
            provider: alert.provider.clone(),
            acknowledged: alert.acknowledged_at.is_some(),
        })
        .collect();
    let status = if form.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(page(status, web::alerts_page(&rules, &alerts, viewer, form)))
}

async fn alerts_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Result<Response, PageError> {
    let viewer = reader(&state, &headers, &uri).await?;
    render_alerts(&state, &viewer, &web::RuleForm::default()).await
}

/// Missing fields are empty: the handler says which are needed.
#[derive(Default, Deserialize)]
#[serde(default)]
struct RuleFormFields {
    csrf: String,
    name: String,
    symbol: String,
    kind: String,
    direction: String,
    level: String,
    window: String,
    frequency: String,
    cooldown_minutes: String,
}

impl RuleFormFields {
    /// The form shown again, as typed, with `errors`.
    fn refused(&self, editing: Option<i64>, errors: Vec<(&'static str, FieldError)>) -> web::RuleForm {
        web::RuleForm {
            editing,
            name: self.name.clone(),
            symbol: self.symbol.clone(),
            kind: self.kind.clone(),
            direction: self.direction.clone(),
            level: self.level.clone(),
            window: self.window.clone(),
            frequency: self.frequency.clone(),
            cooldown_minutes: self.cooldown_minutes.clone(),
            errors,
        }
    }
}

/// A stored rule as the form shows it for editing.
fn rule_form_of(id: i64, rule: &storage::AlertRule) -> web::RuleForm {
    use monitor::Condition as C;
    let direction_of = |direction: monitor::Direction| direction.to_string();
    let number = |value: f64| value.to_string();
    let (kind, direction, level, window) = match rule.rule.condition {
        C::Price { direction, level } => ("price", direction_of(direction), number(level), String::new()),
        C::ChangePercent { direction, percent, days } => {
            ("change_percent", direction_of(direction), number(percent), days.to_string())
        }
        C::Gap { direction, percent } => ("gap", direction_of(direction), number(percent), String::new()),
        C::VolumeSpike { multiple, days } => {
            ("volume_spike", String::new(), number(multiple), days.to_string())
        }
        C::Rsi { direction, level, period } => {
            ("rsi", direction_of(direction), number(level), period.to_string())
        }
        C::Cross { direction, .. } => ("cross", direction_of(direction), String::new(), String::new()),
        C::NewExtreme { direction } => ("new_extreme", direction_of(direction), String::new(), String::new()),
        C::MentionSpike { score } => ("mention_spike", String::new(), number(score), String::new()),
        C::SentimentShift { direction, delta } => {
            ("sentiment_shift", direction_of(direction), number(delta), String::new())
        }
        C::RatingChange => ("rating_change", String::new(), String::new(), String::new()),
    };
    let (frequency, cooldown_minutes) = match rule.rule.frequency {
        monitor::Frequency::Once => ("once", String::new()),
        monitor::Frequency::OncePerDay => ("once_per_day", String::new()),
        monitor::Frequency::Every { cooldown_secs } => ("every", (cooldown_secs / 60).to_string()),
    };
    web::RuleForm {
        editing: Some(id),
        name: rule.name.clone().unwrap_or_default(),
        symbol: rule.symbol.as_ref().map(ToString::to_string).unwrap_or_default(),
        kind: kind.to_owned(),
        direction,
        level,
        window,
        frequency: frequency.to_owned(),
        cooldown_minutes,
        errors: Vec::new(),
    }
}

/// What a filled-in rule form asks for, or each refused field with its reason.
struct ParsedRule {
    symbol: Option<Symbol>,
    name: Option<String>,
    condition: monitor::Condition,
    frequency: monitor::Frequency,
}

async fn parse_rule_form(
    storage: &Storage,
    form: &RuleFormFields,
) -> Result<Result<ParsedRule, Vec<(&'static str, FieldError)>>, StorageError> {
    use monitor::Condition as C;
    let mut errors: Vec<(&'static str, FieldError)> = Vec::new();
    let symbol = match form.symbol.trim() {
        "" => None,
        text => match Symbol::parse(text) {
            Ok(symbol) if storage.is_known_symbol(&symbol).await? => Some(symbol),
            Ok(symbol) => {
                errors.push(field_error(
                    "symbol",
                    text,
                    format!("{symbol} has no stored prices and is not watched; add it first."),
                ));
                None
            }
            Err(error) => {
                errors.push(field_error("symbol", text, format!("{error}.")));
                None
            }
        },
    };
    let direction =
        if form.direction == "below" { monitor::Direction::Below } else { monitor::Direction::Above };
    let mut threshold = |what: &str, example: &str| match form.level.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => value,
        _ => {
            errors.push(field_error("level", &form.level, format!("{what} above zero, like {example}.")));
            1.0
        }
    };
    let window_text = form.window.trim();
    let window = |default: u16| -> Result<u16, ()> {
        if window_text.is_empty() {
            return Ok(default);
        }
        window_text.parse::<u16>().map_err(|_| ())
    };
    let kind = if form.kind.is_empty() { "price" } else { form.kind.as_str() };
    let (condition, window_error) = match kind {
        "price" => (C::Price { direction, level: threshold("A price", "250 or 12.5") }, Ok(())),
        "change_percent" => {
            let percent = threshold("A percent", "5");
            let days = window(0);
            (C::ChangePercent { direction, percent, days: days.unwrap_or(0) }, days.map(|_| ()))
        }
        "gap" => (C::Gap { direction, percent: threshold("A percent", "3") }, Ok(())),
        "volume_spike" => {
            let multiple = threshold("A multiple", "2.5");
            let days = window(20);
            (C::VolumeSpike { multiple, days: days.unwrap_or(20) }, days.map(|_| ()))
        }
        "rsi" => {
            let level = threshold("An RSI level", "70");
            let period = window(14);
            (C::Rsi { direction, level, period: period.unwrap_or(14) }, period.map(|_| ()))
        }
        "cross" => {
            let average = |period| monitor::Line::Average { kind: monitor::AverageKind::Sma, period };
            (C::Cross { fast: average(50), slow: average(200), direction }, Ok(()))
        }
        "new_extreme" => (C::NewExtreme { direction }, Ok(())),
        "mention_spike" => (C::MentionSpike { score: threshold("A spike score", "3") }, Ok(())),
        "sentiment_shift" => {
            (C::SentimentShift { direction, delta: threshold("A change of the score", "0.3") }, Ok(()))
        }
        "rating_change" => (C::RatingChange, Ok(())),
        other => {
            let known: Vec<&str> = web::RULE_KINDS.iter().map(|(value, ..)| *value).collect();
            errors.push(field_error("kind", other, format!("Choose one of {}.", known.join(", "))));
            (C::RatingChange, Ok(()))
        }
    };
    if window_error.is_err() {
        errors.push(field_error("window", window_text, "Whole days, like 14.".to_owned()));
    }
    if errors.is_empty()
        && let Err(invalid) = condition.validate()
    {
        let field = match invalid.field {
            "days" | "period" => "window",
            _ => "level",
        };
        let value = if field == "window" { window_text } else { form.level.trim() };
        errors.push(field_error(field, value, format!("{}.", invalid.message)));
    }
    let frequency = match form.frequency.as_str() {
        "once" => monitor::Frequency::Once,
        "once_per_day" => monitor::Frequency::OncePerDay,
        _ => {
            let text = form.cooldown_minutes.trim();
            let minutes = if text.is_empty() { Ok(0) } else { text.parse::<u64>() };
            match minutes {
                Ok(minutes) if minutes <= 525_600 => {
                    monitor::Frequency::Every { cooldown_secs: minutes * 60 }
                }
                _ => {
                    errors.push(field_error(
                        "cooldown_minutes",
                        text,
                        "Whole minutes, from 0 to 525600 (a year).".to_owned(),
                    ));
                    monitor::Frequency::Every { cooldown_secs: 0 }
                }
            }
        }
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let name = Some(form.name.trim()).filter(|name| !name.is_empty()).map(str::to_owned);
    Ok(Ok(ParsedRule { symbol, name, condition, frequency }))
}

/// Adds a rule; every refused field comes back with its value and reason.
async fn create_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<RuleFormFields>,
) -> Result<Response, PageError> {
    let viewer = writer(&state, &headers, &form.csrf).await?;
    let errors = match parse_rule_form(&state.storage, &form).await? {
        Err(errors) => errors,
        Ok(parsed) => {
            let rule = storage::AlertRule {
                symbol: parsed.symbol,
                name: parsed.name,
                rule: monitor::Rule {
                    condition: parsed.condition,
                    frequency: parsed.frequency,
                    hysteresis: 0.0,
                    expires_at: None,
                    paused: false,
                },
                targets: Vec::new(),
            };
            match state.storage.create_alert_rule(&rule).await {
                Ok(stored) => {
                    tracing::info!(rule_id = stored.id, "Alert rule added from the web UI.");
                    return Ok(Redirect::to("/alerts").into_response());
                }
                Err(StorageError::DuplicateAlertRule { existing }) => {
                    vec![field_error("level", &form.level, format!("Rule #{existing} already watches this."))]
                }
                Err(error) => return Err(PageError::Storage(error)),
            }
        }
    };
    render_alerts(&state, &viewer, &form.refused(None, errors)).await
}

/// The alerts page with a stored rule's values in the form, to edit it.
async fn edit_rule_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    let viewer = signed_in_reader(&state, &headers, &uri).await?;
    let stored = match stored_rule(&state.storage, &raw).await? {
        Ok(stored) => stored,
        Err(not_found) => return Ok(not_found),
    };
    render_alerts(&state, &viewer, &rule_form_of(stored.id, &stored.value)).await
}

/// The stored rule a path names, or the 404 page that says there is none.
async fn stored_rule(
    storage: &Storage,
    raw: &str,
) -> Result<Result<storage::Stored<storage::AlertRule>, Response>, PageError> {
    let stored = match raw.parse::<i64>() {
        Ok(id) => storage.alert_rule(id).await?,
        Err(_) => None,
    };
    Ok(stored.ok_or_else(|| {
        page(StatusCode::NOT_FOUND, web::not_found_page(&format!("There is no alert rule “{raw}”.")))
    }))
}

/// Saves an edited rule; its targets, hysteresis, expiry and pause state stay as they were.
async fn update_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(form): Form<RuleFormFields>,
) -> Result<Response, PageError> {
    let viewer = writer(&state, &headers, &form.csrf).await?;
    let stored = match stored_rule(&state.storage, &raw).await? {
        Ok(stored) => stored,
        Err(not_found) => return Ok(not_found),
    };
    let errors = match parse_rule_form(&state.storage, &form).await? {
        Err(errors) => errors,
        Ok(parsed) => {
            let mut rule = stored.value.clone();
            rule.symbol = parsed.symbol;
            rule.name = parsed.name;
            rule.rule.condition = parsed.condition;
            rule.rule.frequency = parsed.frequency;
            match state.storage.update_alert_rule(stored.id, &rule).await {
                Ok(_) => {
                    tracing::info!(rule_id = stored.id, "Alert rule edited from the web UI.");
                    return Ok(Redirect::to("/alerts").into_response());
                }
                Err(StorageError::DuplicateAlertRule { existing }) => {
                    vec![field_error("level", &form.level, format!("Rule #{existing} already watches this."))]
                }
                Err(error) => return Err(PageError::Storage(error)),
            }
        }
    };
    render_alerts(&state, &viewer, &form.refused(Some(stored.id), errors)).await
}

fn field_error(field: &'static str, value: &str, message: String) -> (&'static str, FieldError) {
    (field, FieldError { value: value.to_owned(), message })
}

/// Pause, resume or delete a rule.
async fn change_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((raw, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    writer(&state, &headers, &form.csrf).await?;
    let missing =
        || page(StatusCode::NOT_FOUND, web::not_found_page(&format!("There is no alert rule “{raw}”.")));
    let Ok(id) = raw.parse::<i64>() else { return Ok(missing()) };
    let Some(stored) = state.storage.alert_rule(id).await? else { return Ok(missing()) };
    match action.as_str() {
        "pause" | "resume" => {
            let mut rule = stored.value.clone();
            rule.rule.paused = action == "pause";
            state.storage.update_alert_rule(id, &rule).await?;
        }
        "delete" => {
            state.storage.delete_alert_rule(id).await?;
        }
        _ => return Ok(page(StatusCode::NOT_FOUND, web::not_found_page("No such action on a rule."))),
    }
    Ok(Redirect::to("/alerts").into_response())
}

async fn acknowledge_alert(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    writer(&state, &headers, &form.csrf).await?;
    if let Ok(id) = raw.parse::<i64>() {
        state.storage.acknowledge_alert(id).await?;
    }
    Ok(Redirect::to("/alerts").into_response())
}

#[derive(Debug, Deserialize)]
struct TrendingQuery {
    window: Option<String>,
    /// A text to score (the page's "Score a text" form).
    text: Option<String>,
}

async fn trending_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
    Query(query): Query<TrendingQuery>,
) -> Result<Response, PageError> {
    let viewer = reader(&state, &headers, &uri).await?;
    let window = query.window.unwrap_or_else(|| "24h".to_owned());
    let hours = match window.as_str() {
        "24h" => 24,
        "7d" => 24 * 7,
        "30d" => 24 * 30,
        _ => {
            let valid: Vec<&str> = web::TRENDING_WINDOWS.iter().map(|(value, _)| *value).collect();
            let message = format!("The window must be one of {}.", valid.join(", "));
            return Ok(page(StatusCode::BAD_REQUEST, web::error_page("Unknown window", &message)));
        }
    };
    let now = Utc::now();
    let rows: Vec<web::TrendingEntry> = state
        .storage
        .trending(now - Duration::hours(hours), now, Some(100))
        .await?
        .into_iter()
        .map(|row| web::TrendingEntry {
            symbol: row.symbol.to_string(),
            mentions: row.mentions,
            unique_authors: row.unique_authors,
            mean_sentiment: row.mean_sentiment,
            bullish: row.bullish,
            bearish: row.bearish,
            spike_score: row.spike_score,
        })
        .collect();
    let scan = state.storage.latest_social_scan().await?.map(|scan| web::ScanSummary {
        finished_at: scan.finished_at,
        source: scan.source.to_string(),
        subreddits: scan.subreddits.clone(),
        posts_read: scan.posts_read,
        status: scan.status.to_string(),
    });
    let score = match query.text.as_deref().map(str::trim) {
        None | Some("") => web::ScoreForm::Empty,
        Some(text) if text.chars().count() > web::SCORE_MAX_CHARS => web::ScoreForm::Refused {
            text: text.chars().take(web::SCORE_MAX_CHARS).collect(),
            message: format!(
                "At most {} characters here; POST /api/social/analyze takes longer texts.",
                web::SCORE_MAX_CHARS
            ),
        },
        Some(text) => {
            let universe = state.universe.get(&state.storage).await;
            let analysis = social::analyze_text(&universe, text);
            let p = analysis.probabilities;
            web::ScoreForm::Scored(web::ScoredText {
                text: text.to_owned(),
                sentiment: analysis.sentiment.to_owned(),
                score: analysis.score,
                probabilities: [p.bullish, p.bearish, p.neutral],
                mentions: analysis
                    .mentions
                    .into_iter()
                    .map(|m| (m.symbol, m.kind.as_str().to_owned(), m.name))
                    .collect(),
            })
        }
    };
    let status = if matches!(score, web::ScoreForm::Refused { .. }) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(page(status, web::trending_page(&rows, &window, scan.as_ref(), &score, &viewer)))
}

async fn providers_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Result<Response, PageError> {
    let viewer = reader(&state, &headers, &uri).await?;
    let rows: Vec<web::ProviderRow> =
        crate::routes::providers::provider_health(&state.providers, &state.storage)
            .await
            .into_iter()
            .map(|health| web::ProviderRow {
                provider: health.provider,
                status: health.status.to_owned(),
                in_chain: health.in_chain,
                last_success: health.last_success,
                last_error: health.last_error.map(|failure| (failure.at, failure.message)),
                requests_today: health.requests_today,
                per_day: health.budget.per_day,
                day_left: health.budget.day_left,
                per_minute: health.budget.per_minute,
                minute_left: health.budget.minute_left,
                backing_off_until: health.backing_off_until,
            })
            .collect();
    Ok(page(StatusCode::OK, web::providers_page(&rows, &viewer)))
}

/// Queues the analysis crew for one symbol and shows its run; if one is already running for it,
/// shows that one.
async fn analyze_symbol(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    writer(&state, &headers, &form.csrf).await?;
    let Ok(symbol) = Symbol::parse(&raw) else {
        return Ok(page(
            StatusCode::NOT_FOUND,
            web::not_found_page(&format!("“{raw}” is not a ticker symbol.")),
        ));
    };
    match state.jobs.trigger_for(jobs::AnalysisJob::NAME, &symbol, domain::RunTrigger::Api).await {
        Ok(triggered) => Ok(Redirect::to(&format!("/jobs/runs/{}", triggered.run.id)).into_response()),
        Err(jobs::TriggerError::AlreadyActive { active, .. }) => {
            Ok(Redirect::to(&format!("/jobs/runs/{}", active.id)).into_response())
        }
        Err(jobs::TriggerError::Storage(error)) => Err(PageError::Storage(error)),
        Err(error) => {
            Ok(page(StatusCode::SERVICE_UNAVAILABLE, web::error_page("Not started", &error.to_string())))
        }
    }
}

/// Only a signed-in person manages tokens, whatever `protect_reads` says.
async fn signed_in_reader(
    state: &AppState,
    headers: &HeaderMap,
    uri: &OriginalUri,
) -> Result<Viewer, PageError> {
    let viewer = reader(state, headers, uri).await?;
    if viewer.signed_in() {
        return Ok(viewer);
    }
    Err(PageError::SignIn(uri.0.path_and_query().map_or("/settings", |p| p.as_str()).to_owned()))
}

async fn render_settings(
    state: &AppState,
    viewer: &Viewer,
    created: Option<(&str, &str)>,
    error: Option<FieldError>,
) -> Result<Response, PageError> {
    let tokens: Vec<web::TokenRow> = state
        .storage
        .tokens()
        .await?
        .into_iter()
        .map(|token| web::TokenRow {
            name: token.name,
            created_at: token.created_at,
            revoked_at: token.revoked_at,
        })
        .collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(page(status, web::settings_page(&tokens, viewer, created, error.as_ref())))
}

async fn settings_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Result<Response, PageError> {
    let viewer = signed_in_reader(&state, &headers, &uri).await?;
    render_settings(&state, &viewer, None, None).await
}

/// Form fields naming a token.
#[derive(Default, Deserialize)]
#[serde(default)]
struct TokenForm {
    csrf: String,
    name: String,
}

/// Makes a token and shows it once; a bad or taken name shows the form again.
async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let viewer = writer(&state, &headers, &form.csrf).await?;
    let name = form.name.trim();
    let refused = |message: &str| Some(FieldError { value: form.name.clone(), message: message.to_owned() });
    let error = if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        refused("A name of 1 to 64 characters, like laptop or ci.")
    } else if state
        .storage
        .tokens()
        .await?
        .iter()
        .any(|token| token.name == name && token.revoked_at.is_none())
    {
        refused("An active token already has that name.")
    } else {
        None
    };
    if error.is_some() {
        return render_settings(&state, &viewer, None, error).await;
    }
    let token = crate::generate_token();
    state.storage.create_token(name, &crate::hash_token(&token)).await?;
    tracing::info!(token_name = name, "API token made from the web UI.");
    render_settings(&state, &viewer, Some((name, &token)), None).await
}

async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    writer(&state, &headers, &form.csrf).await?;
    if state.storage.revoke_token(form.name.trim()).await? {
        tracing::info!(token_name = form.name.trim(), "API token revoked from the web UI.");
    }
    Ok(Redirect::to("/settings").into_response())
}
