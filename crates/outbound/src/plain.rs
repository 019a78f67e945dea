//! A client with no vendor specifics, for endpoints we do not interpret (the monitor's webhooks):
//! any 2xx is success, 429 and 5xx are retried, everything else is a [`Error::Status`].

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use serde::Serialize;

use crate::client::{BuildError, Client};
use crate::config::ClientConfig;
use crate::response::{BodySummary, Response};
use crate::vendor::{Failure, Retryable, Vendor};

/// The result of a call and the number of attempts it made (0 when nothing was sent).
#[derive(Debug)]
pub struct Counted<T> {
    pub result: Result<T, Error>,
    pub attempts: u32,
}

/// The [`Vendor`] of a plain client.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

/// A failed plain call. Messages are redacted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// 429, or a client-side limit or server window longer than `max_retry_wait`.
    #[error("{what}: rate limited: {message}")]
    RateLimited { what: String, message: String, retry_after: Option<Duration> },
    /// Any other non-2xx answer.
    #[error("{what}: HTTP {status}: {message}")]
    Status { what: String, status: u16, message: String },
    #[error("{what}: {failure}")]
    Failed { what: String, failure: Failure },
    /// The body could not be encoded.
    #[error("{what}: cannot encode the body: {message}")]
    Encode { what: String, message: String },
}

impl Retryable for Error {
    /// 429, 408, 5xx, timeouts and transport failures.
    fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 408,
            Self::Failed { failure, .. } => {
                matches!(
                    failure,
                    Failure::Timeout { .. } | Failure::Transport { .. } | Failure::RateLimited { .. }
                )
            }
            Self::Encode { .. } => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            Self::Failed { failure: Failure::RateLimited { wait, .. }, .. } => Some(*wait),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } | Self::Failed { failure: Failure::RateLimited { .. }, .. } => {
                "rate_limited"
            }
            Self::Status { .. } => "status",
            Self::Failed { failure: Failure::Timeout { .. }, .. } => "timeout",
            Self::Failed { failure: Failure::TooLarge { .. }, .. } => "too_large",
            Self::Failed { .. } => "transport",
            Self::Encode { .. } => "encode",
        }
    }
}

impl Vendor for Plain {
    type Error = Error;

    fn failure(&self, what: &str, failure: Failure) -> Error {
        Error::Failed { what: what.to_owned(), failure }
    }
}

impl Client<Plain> {
    /// A client with no vendor specifics.
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn plain(config: ClientConfig) -> Result<Self, BuildError> {
        Client::new(config, Plain)
    }

    /// POSTs `body` as JSON to `url`, with the client's retries and bounds.
    ///
    /// # Errors
    /// [`Error`]: a non-2xx answer once retries are spent, a timeout, a transport failure.
    pub async fn post_json(&self, what: &str, url: &str, body: &impl Serialize) -> Result<Response, Error> {
        self.post_json_counted(what, url, body).await.result
    }

    /// [`post_json`](Self::post_json), also saying how many attempts were made: what a delivery
    /// log records next to the outcome (a webhook that answered on the second try is worth
    /// knowing about even when it succeeded).
    pub async fn post_json_counted(&self, what: &str, url: &str, body: &impl Serialize) -> Counted<Response> {
        let body = match serde_json::to_vec(body) {
            Ok(body) => Bytes::from(body),
            Err(e) => {
                let result = Err(Error::Encode { what: what.to_owned(), message: e.to_string() });
                return Counted { result, attempts: 0 };
            }
        };
        let attempts = AtomicU32::new(0);
        let (body, attempts_ref) = (&body, &attempts);
        let result = self
            .call(what, |exchange| async move {
                attempts_ref.store(exchange.number(), Ordering::Relaxed);
                let request =
                    exchange.http().post(url).header(CONTENT_TYPE, "application/json").body(body.clone());
                let response = exchange.send(request).await?;
                let response = exchange.read(response).await?;
                self.plain_answer(what, &response)
            })
            .await;
        Counted { result, attempts: attempts.load(Ordering::Relaxed) }
    }

    /// GETs `url`, with the client's retries and bounds.
    ///
    /// # Errors
    /// As [`post_json`](Self::post_json).
    pub async fn get(&self, what: &str, url: &str) -> Result<Response, Error> {
        self.execute(what, |client| client.get(url), |response| self.plain_answer(what, response)).await
    }

    fn plain_answer(&self, what: &str, response: &Response) -> Result<Response, Error> {
        let status = response.status.as_u16();
        if response.status.is_success() {
            return Ok(response.clone());
        }
        let message = self.redactor().redact(&match response.summary(200) {
            BodySummary::Empty => "empty body".to_owned(),
            BodySummary::Html { title } => format!("HTML page: {}", title.as_deref().unwrap_or("untitled")),
            BodySummary::Text(text) => text,
        });
        let what = what.to_owned();
        Err(if status == 429 {
            Error::RateLimited { what, message, retry_after: response.wait_hint() }
        } else {
            Error::Status { what, status, message }
        })
    }
}
