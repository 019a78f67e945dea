//! A small client of our own HTTP API, for `jobs trigger --url` and `soak`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A run as the API reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct RunView {
    pub id: i64,
    pub job: String,
    pub status: String,
    pub export_id: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub items: Vec<RunItemView>,
}

/// One symbol of a run.
#[derive(Debug, Clone, Deserialize)]
pub struct RunItemView {
    pub symbol: String,
    pub status: String,
    pub bars: u64,
    pub provider: Option<String>,
    pub error: Option<String>,
}

impl RunView {
    /// True once the run can no longer change.
    pub fn is_finished(&self) -> bool {
        !matches!(self.status.as_str(), "queued" | "running")
    }
}

/// The outcome of a trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerOutcome {
    Queued(i64),
    /// 409: this run was already active.
    AlreadyActive(i64),
}

/// Talks to one tickerwatch server.
pub struct ApiClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl ApiClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Self> {
        // No keep-alive: each request has its own connection, closed when it is done, so the
        // server's open-fd count (what a soak measures) never includes sockets this client holds.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(0)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), token, http })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/jobs/{job}/trigger`.
    ///
    /// # Errors
    /// Any status other than 202 and 409, or a transport failure.
    pub async fn trigger(&self, job: &str) -> anyhow::Result<TriggerOutcome> {
        let (status, body) = self.post_json(&format!("/api/jobs/{job}/trigger")).await?;
        match (status, run_id_of(&body)) {
            (202, Some(id)) => Ok(TriggerOutcome::Queued(id)),
            (409, Some(id)) => Ok(TriggerOutcome::AlreadyActive(id)),
            _ => bail!("trigger of {job} failed with HTTP {status}: {body}"),
        }
    }

    /// `POST path` (a trigger such as `/api/analysis/AAPL`): the HTTP status and the run id the
    /// answer names (the queued run, or the active one on 409), if any.
    ///
    /// # Errors
    /// A transport failure, or an answer that is not JSON.
    pub async fn post_trigger(&self, path: &str) -> anyhow::Result<(u16, Option<i64>)> {
        let (status, body) = self.post_json(path).await?;
        Ok((status, run_id_of(&body)))
    }

    /// `POST path` with the token, if any: the status and the JSON answer.
    async fn post_json(&self, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut request = self.http.post(self.url(path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.context("cannot reach the server")?;
        let status = response.status().as_u16();
        let body = response.json().await.context("the server sent no JSON")?;
        Ok((status, body))
    }

    /// `GET /api/jobs/runs/{id}`.
    ///
    /// # Errors
    /// A non-200 answer or a transport failure.
    pub async fn run(&self, id: i64) -> anyhow::Result<RunView> {
        let response = self.http.get(self.url(&format!("/api/jobs/runs/{id}"))).send().await?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "GET run {id} failed with HTTP {status}");
        Ok(response.json().await?)
    }

    /// Polls a run until it is finished or `timeout` passes.
    ///
    /// # Errors
    /// On timeout or a failed request.
    pub async fn wait_for_run(&self, id: i64, timeout: Duration) -> anyhow::Result<RunView> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(10);
        loop {
            let run = self.run(id).await?;
            if run.is_finished() {
                return Ok(run);
            }
            anyhow::ensure!(Instant::now() < deadline, "run {id} still {} after {timeout:?}", run.status);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// `GET /metrics`, reduced to the value of one unlabelled metric.
    ///
    /// # Errors
    /// A failed request or a missing metric.
    pub async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = self.http.get(self.url("/metrics")).send().await?.error_for_status()?.text().await?;
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                let (key, value) = line.rsplit_once(' ')?;
                (key == name).then(|| value.parse::<f64>().ok()).flatten()
            })
            .with_context(|| format!("metric {name} not found at {}/metrics", self.base))
    }

    /// Downloads an export and checks its SHA-256 against the listing; returns its size.
    ///
    /// # Errors
    /// A failed download or a hash mismatch.
    pub async fn download_export(&self, id: i64) -> anyhow::Result<u64> {
        let record: serde_json::Value = self
            .http
            .get(self.url(&format!("/api/exports/{id}")))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let expected = record
            .get("sha256")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("export {id} has no sha256 (not ready?)"))?;
        let mut response = self.http.get(self.url(&format!("/api/exports/{id}/download"))).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "download of export {id}: HTTP {}",
            response.status()
        );
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = response.chunk().await? {
            bytes += chunk.len() as u64;
            hasher.update(&chunk);
        }
        let actual = hex::encode(hasher.finalize());
        anyhow::ensure!(actual == expected, "export {id}: sha256 {actual} does not match listed {expected}");
        Ok(bytes)
    }
}

/// The `run_id` a trigger's answer names (202: the queued run; 409: the active one).
fn run_id_of(body: &serde_json::Value) -> Option<i64> {
    body.get("run_id").and_then(serde_json::Value::as_i64)
}
