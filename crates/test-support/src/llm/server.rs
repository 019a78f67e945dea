//! [`MockChatServer`]: a [`ScriptedChat`] served over HTTP/1.1 on `127.0.0.1` (hyper).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::CHAT_COMPLETIONS_PATH;
use super::payloads::{MockReply, bad_request, openai_error_body, rate_limit_body};
use super::script::ScriptedChat;

/// Options for [`MockChatServer`].
#[derive(Debug, Clone)]
pub struct MockChatServerBuilder {
    port: u16,
    fail_first: u64,
    failure_status: u16,
    failure_body: String,
    log_requests: bool,
    react_answers: bool,
    answer_delay: Duration,
}

impl MockChatServerBuilder {
    /// Waits this long before answering each request, like a model that takes its time (to
    /// watch a run while it is under way).
    #[must_use]
    pub fn answer_delay(mut self, delay: Duration) -> Self {
        self.answer_delay = delay;
        self
    }

    /// Listens on this port of `127.0.0.1` (default: any free port).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The first `n` requests get `status` with `body` (e.g. 429 and [`rate_limit_body`]).
    #[must_use]
    pub fn fail_first(mut self, n: u64, status: u16, body: impl Into<String>) -> Self {
        self.fail_first = n;
        self.failure_status = status;
        self.failure_body = body.into();
        self
    }

    /// Prints each request body and reply to stderr (for finding out what a client sends).
    #[must_use]
    pub fn log_requests(mut self, log: bool) -> Self {
        self.log_requests = log;
        self
    }

    /// Answers like a server that ignores `response_format`, in ReAct style (see
    /// [`ScriptedChat::react_answers`]).
    #[must_use]
    pub fn react_answers(mut self, react: bool) -> Self {
        self.react_answers = react;
        self
    }

    /// Starts the server. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(self) -> io::Result<MockChatServer> {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await?;
        let address = listener.local_addr()?;
        let chat = ScriptedChat::with_options(
            self.fail_first,
            self.failure_status,
            self.failure_body,
            self.log_requests,
            self.react_answers,
        );
        let accept_task = tokio::spawn(accept_loop(listener, chat.clone(), self.answer_delay));
        Ok(MockChatServer { address, chat, accept_task })
    }
}

/// A [`ScriptedChat`] served over HTTP/1.1 (keep-alive) on `127.0.0.1`. It keeps no per-request
/// state. Dropping it aborts its tasks and closes its sockets.
#[derive(Debug)]
pub struct MockChatServer {
    address: SocketAddr,
    chat: ScriptedChat,
    accept_task: JoinHandle<()>,
}

impl MockChatServer {
    /// Options: port, failure injection, request logging, ReAct-style answers.
    pub fn builder() -> MockChatServerBuilder {
        MockChatServerBuilder {
            port: 0,
            fail_first: 0,
            failure_status: 429,
            failure_body: rate_limit_body(),
            log_requests: false,
            react_answers: false,
            answer_delay: Duration::ZERO,
        }
    }

    /// Starts a server on a free port that answers every request.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// Starts a server whose first `n` requests get `status` with `body` before it answers.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start_failing_first(n: u64, status: u16, body: impl Into<String>) -> io::Result<Self> {
        Self::builder().fail_first(n, status, body).start().await
    }

    /// The base URL including `/v1`: `http://127.0.0.1:PORT/v1`.
    pub fn uri(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// The listening address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Chat requests answered so far, injected failures included.
    pub fn requests_served(&self) -> u64 {
        self.chat.requests_served()
    }
}

impl Drop for MockChatServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

async fn accept_loop(listener: TcpListener, chat: ScriptedChat, delay: Duration) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let _ = socket.set_nodelay(true);
                    let chat = chat.clone();
                    let service = service_fn(move |request| handle(chat.clone(), request, delay));
                    connections.spawn(async move {
                        let _ = http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(
    chat: ScriptedChat,
    request: Request<Incoming>,
    delay: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let is_chat = request.method() == Method::POST && request.uri().path() == CHAT_COMPLETIONS_PATH;
    let reply = if is_chat {
        match request.into_body().collect().await {
            Ok(body) => chat.reply(&body.to_bytes()),
            Err(error) => bad_request(&format!("could not read the request body: {error}")),
        }
    } else {
        let message = format!("Invalid URL ({} {})", request.method(), request.uri().path());
        MockReply {
            status: 404,
            content_type: "application/json",
            body: openai_error_body(&message, "invalid_request_error", "unknown_url"),
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(reply.content_type));
    headers.insert("x-request-id", hyper::header::HeaderValue::from_static("req_mock"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;
    use crate::llm::ScriptedChat;

    fn quote_tool() -> Value {
        json!({"type": "function", "function": {
            "name": "get_quote",
            "description": "Latest quote",
            "parameters": {"type": "object", "properties": {"symbol": {"type": "string"},
                "days": {"type": "integer"}}, "required": ["symbol", "days"]},
        }})
    }

    /// One HTTP/1.1 request over a raw socket; returns (status line, headers+body text).
    async fn post(server: &MockChatServer, path: &str, body: &Value) -> (String, String) {
        let body = body.to_string();
        let mut socket = TcpStream::connect(server.address()).await.unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
             authorization: Bearer mock\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).await.unwrap();
        let (status, rest) = response.split_once("\r\n").unwrap();
        (status.to_owned(), rest.to_owned())
    }

    fn body_of(response: &str) -> &str {
        response.split_once("\r\n\r\n").unwrap().1
    }

    #[tokio::test]
    async fn streams_a_tool_call_and_ends_with_done() {
        let server = MockChatServer::start().await.unwrap();
        let request = json!({
            "model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "Price of NVDA?"}], "tools": [quote_tool()],
        });
        let (status, response) = post(&server, CHAT_COMPLETIONS_PATH, &request).await;
        assert!(status.ends_with("200 OK"), "{status}");
        assert!(response.to_ascii_lowercase().contains("content-type: text/event-stream"), "{response}");
        let body = body_of(&response);
        assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
        let chunks: Vec<Value> = body
            .split("\n\n")
            .filter_map(|event| event.strip_prefix("data: "))
            .filter(|data| *data != "[DONE]")
            .map(|data| serde_json::from_str(data).unwrap())
            .collect();
        assert_eq!(chunks[0]["object"], "chat.completion.chunk");
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[0]["choices"][0]["delta"]["tool_calls"][0]["id"], "call_1");
        let arguments: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
            .collect();
        assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap(), json!({"symbol": "NVDA", "days": 1}));
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        let usage = chunks.last().unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert!(usage["usage"]["total_tokens"].as_u64().unwrap() > 0);
        assert_eq!(server.requests_served(), 1);
    }

    #[tokio::test]
    async fn streams_content_in_fragments() {
        let server = MockChatServer::start().await.unwrap();
        let request = json!({"model": "m", "stream": true,
            "messages": [{"role": "user", "content": "Summarise the week for AAPL and MSFT please"}]});
        let (_, response) = post(&server, CHAT_COMPLETIONS_PATH, &request).await;
        let body = body_of(&response);
        assert!(body.ends_with("data: [DONE]\n\n"));
        let chunks: Vec<Value> = body
            .split("\n\n")
            .filter_map(|event| event.strip_prefix("data: "))
            .filter(|data| *data != "[DONE]")
            .map(|data| serde_json::from_str(data).unwrap())
            .collect();
        let text: String =
            chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(text, "Final Answer: done: Summarise the week for AAPL and MSFT please");
        assert!(chunks.len() > 4);
        assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    }

    #[tokio::test]
    async fn injected_failures_come_first() {
        let server = MockChatServer::start_failing_first(2, 429, rate_limit_body()).await.unwrap();
        let request = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        for _ in 0..2 {
            let (status, response) = post(&server, CHAT_COMPLETIONS_PATH, &request).await;
            assert!(status.contains(" 429 "), "{status}");
            let error: Value = serde_json::from_str(body_of(&response)).unwrap();
            assert_eq!(error["error"]["code"], "rate_limit_exceeded");
        }
        let (status, _) = post(&server, CHAT_COMPLETIONS_PATH, &request).await;
        assert!(status.ends_with("200 OK"), "{status}");
        let (status, _) = post(&server, "/v1/other", &request).await;
        assert!(status.contains(" 404 "), "{status}");
        assert_eq!(server.requests_served(), 3);
    }

    #[tokio::test]
    async fn mounts_on_wiremock() {
        let server = wiremock::MockServer::builder().disable_request_recording().start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path(CHAT_COMPLETIONS_PATH))
            .respond_with(ScriptedChat::new())
            .mount(&server)
            .await;
        let mut socket = TcpStream::connect(server.address()).await.unwrap();
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string();
        let request = format!(
            "POST {CHAT_COMPLETIONS_PATH} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("Final Answer: done: hi"), "{response}");
    }
}
