//! The OpenAI-compatible client against a mock server replaying the real wire formats of
//! OpenAI, Ollama and vLLM (see `provider-apis.md` §6).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use llm::{
    ApiKey, ChatModel, ChatRequest, FinishReason, LlmConfig, LlmError, LlmProvider, Message, OpenAiClient,
    ResponseFormat, StreamEvent, ToolCall, ToolSpec, Usage,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-proj-TestKey0123456789abcdef";
const CHAT_PATH: &str = "/v1/chat/completions";

fn config(server: &MockServer) -> LlmConfig {
    LlmConfig {
        provider: LlmProvider::Openai,
        base_url: format!("{}/v1", server.uri()),
        api_key: Some(ApiKey::new(KEY)),
        timeout_secs: 5,
        max_retries: 2,
        backoff_base_ms: 10,
        backoff_max_ms: 20,
        ..LlmConfig::default()
    }
}

fn client(server: &MockServer) -> OpenAiClient {
    OpenAiClient::new(&config(server)).unwrap()
}

fn streaming_client(server: &MockServer) -> OpenAiClient {
    OpenAiClient::new(&LlmConfig { stream: true, ..config(server) }).unwrap()
}

fn quote_tool() -> ToolSpec {
    ToolSpec {
        name: "get_quote".into(),
        description: "Latest quote of a symbol".into(),
        parameters: json!({"type":"object","properties":{"symbol":{"type":"string"}},"required":["symbol"]}),
    }
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest { messages: vec![Message::user(text)], tools: vec![quote_tool()], ..Default::default() }
}

fn json_response(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_owned(), "application/json")
}

fn sse_response(lines: &[&str]) -> ResponseTemplate {
    let body: String = lines.iter().map(|line| format!("data: {line}\n\n")).collect();
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

async fn mount(server: &MockServer, response: ResponseTemplate, expected: u64) {
    Mock::given(method("POST"))
        .and(path(CHAT_PATH))
        .respond_with(response)
        .expect(expected)
        .mount(server)
        .await;
}

/// Mounts `first` for one request only, then `then` for the rest.
async fn mount_sequence(server: &MockServer, first: ResponseTemplate, then: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(CHAT_PATH))
        .respond_with(first)
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST")).and(path(CHAT_PATH)).respond_with(then).expect(1).mount(server).await;
}

async fn request_bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

const PLAIN: &str = r#"{"id":"chatcmpl-9abd","object":"chat.completion","created":1714760000,"model":"gpt-4o-mini-2024-07-18",
 "choices":[{"index":0,"message":{"role":"assistant","content":"NVDA trades at 912.40.","refusal":null},"logprobs":null,"finish_reason":"stop"}],
 "usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19},"service_tier":"default","system_fingerprint":"fp_44709d6fcb"}"#;

const TOOL_CALL: &str = r#"{"id":"chatcmpl-9abc","object":"chat.completion","created":1714760000,"model":"gpt-4o-mini-2024-07-18",
 "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_Ab12","type":"function","function":{"name":"get_quote","arguments":"{\"symbol\":\"NVDA\"}"}}]},"finish_reason":"tool_calls"}],
 "usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99}}"#;

#[tokio::test]
async fn plain_answer() {
    let server = MockServer::start().await;
    mount(&server, json_response(200, PLAIN), 1).await;
    let model = client(&server);
    assert_eq!(model.label(), "openai:gpt-4o-mini");
    let response = model
        .chat(&ChatRequest { messages: vec![Message::user("Price of NVDA?")], ..Default::default() })
        .await
        .unwrap();
    assert_eq!(response.content.as_deref(), Some("NVDA trades at 912.40."));
    assert!(response.tool_calls.is_empty());
    assert_eq!(response.finish_reason, FinishReason::Stop);
    assert_eq!(response.usage, Usage { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 });
    assert_eq!(response.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(response.reasoning, None);
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.headers.get("authorization").unwrap().to_str().unwrap(), format!("Bearer {KEY}"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Price of NVDA?"}],"temperature":0.0,"stream":false})
    );
}

#[tokio::test]
async fn tool_call_then_follow_up_echoes_the_call_and_the_result() {
    let server = MockServer::start().await;
    mount_sequence(&server, json_response(200, TOOL_CALL), json_response(200, PLAIN)).await;
    let model = client(&server);
    let mut request = ask("Price of NVDA?");
    let first = model.chat(&request).await.unwrap();
    let call = ToolCall {
        id: "call_Ab12".into(),
        name: "get_quote".into(),
        arguments: r#"{"symbol":"NVDA"}"#.into(),
    };
    assert_eq!(first.tool_calls, vec![call.clone()]);
    assert_eq!(first.content, None);
    assert_eq!(first.finish_reason, FinishReason::ToolCalls);
    assert_eq!(first.usage.total_tokens, 99);

    request
        .messages
        .push(Message::Assistant { content: first.content.clone(), tool_calls: first.tool_calls.clone() });
    request.messages.push(Message::tool("call_Ab12", r#"{"price":912.4}"#));
    let second = model.chat(&request).await.unwrap();
    assert_eq!(second.content.as_deref(), Some("NVDA trades at 912.40."));

    let bodies = request_bodies(&server).await;
    let tools = json!([{"type":"function","function":{"name":"get_quote","description":"Latest quote of a symbol",
        "parameters":{"type":"object","properties":{"symbol":{"type":"string"}},"required":["symbol"]}}}]);
    assert_eq!(bodies[0]["tools"], tools);
    assert_eq!(bodies[0]["tool_choice"], "auto");
    assert_eq!(
        bodies[1]["messages"],
        json!([
            {"role":"user","content":"Price of NVDA?"},
            {"role":"assistant","tool_calls":[{"type":"function","id":"call_Ab12","function":{"name":"get_quote","arguments":"{\"symbol\":\"NVDA\"}"}}]},
            {"role":"tool","content":"{\"price\":912.4}","tool_call_id":"call_Ab12"}
        ])
    );
}

#[tokio::test]
async fn invalid_arguments_are_passed_through_unchanged() {
    let server = MockServer::start().await;
    let body = TOOL_CALL.replace(r#""{\"symbol\":\"NVDA\"}""#, r#""{\"symbol\": NVDA""#);
    mount(&server, json_response(200, &body), 1).await;
    let response = client(&server).chat(&ask("x")).await.unwrap();
    assert_eq!(response.tool_calls[0].arguments, r#"{"symbol": NVDA"#);
}

#[tokio::test]
async fn rate_limit_is_retried() {
    let server = MockServer::start().await;
    let limited = json_response(
        429,
        r#"{"error":{"message":"Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
    )
    .insert_header("x-ratelimit-remaining-requests", "0")
    .insert_header("x-ratelimit-reset-requests", "12ms");
    mount_sequence(&server, limited, json_response(200, PLAIN)).await;
    let response = client(&server).chat(&ask("x")).await.unwrap();
    assert_eq!(response.content.as_deref(), Some("NVDA trades at 912.40."));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn rate_limit_with_a_long_wait_fails_at_once() {
    let server = MockServer::start().await;
    let limited = json_response(
        429,
        r#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
    )
    .insert_header("retry-after", "120");
    mount(&server, limited, 1).await;
    match client(&server).chat(&ask("x")).await.unwrap_err() {
        LlmError::RateLimited { retry_after, attempts, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(120)));
            assert_eq!(attempts, 1);
        }
        other => panic!("{other:?}"),
    }
}

/// `Retry-After: 1e20` (or a reset of a billion hours) once panicked in `Duration::from_secs_f64`.
/// Now it is the longest wait a server can ask for, far beyond `max_retry_wait_secs`: the call
/// fails at once as rate limited, with that bounded wait.
#[tokio::test]
async fn an_absurd_server_wait_is_a_bounded_rate_limit_not_a_panic() {
    let limited =
        r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
    for (name, value) in
        [("retry-after", "1e20"), ("retry-after-ms", "1e20"), ("x-ratelimit-reset-requests", "999999999h")]
    {
        let server = MockServer::start().await;
        mount(&server, json_response(429, limited).insert_header(name, value), 1).await;
        let started = Instant::now();
        let error = client(&server).chat(&ask("hi")).await.expect_err("rate limited");
        match error {
            LlmError::RateLimited { retry_after, attempts, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(24 * 60 * 60)), "{name}");
                assert_eq!(attempts, 1, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(1), "{name}: slept {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn insufficient_quota_is_not_retried() {
    let server = MockServer::start().await;
    let body = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
    mount(&server, json_response(429, body), 1).await;
    let error = client(&server).chat(&ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::QuotaExceeded { message } if message.contains("current quota")),
        "{error:?}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_never_shows_the_key() {
    let server = MockServer::start().await;
    let body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: sk-proj-********************cdef. You can find your API key at https://platform.openai.com/account/api-keys. (sent {KEY})","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}}}"#
    );
    mount(&server, json_response(401, &body), 1).await;
    let error = client(&server).chat(&ask("x")).await.unwrap_err();
    let LlmError::Unauthorized { message } = &error else { panic!("{error:?}") };
    assert!(message.starts_with("Incorrect API key provided: ***."), "{message}");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(KEY) && !shown.contains("cdef"), "{shown}");
}

#[tokio::test]
async fn server_error_is_retried() {
    let server = MockServer::start().await;
    let failed = json_response(
        500,
        r#"{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"#,
    );
    mount_sequence(&server, failed, json_response(200, PLAIN)).await;
    assert!(client(&server).chat(&ask("x")).await.is_ok());
}

#[tokio::test]
async fn server_errors_exhaust_retries() {
    let server = MockServer::start().await;
    mount(&server, ResponseTemplate::new(503).set_body_string("upstream connect error"), 3).await;
    match client(&server).chat(&ask("x")).await.unwrap_err() {
        LlmError::Server { status: 503, attempts: 3, message } => {
            assert_eq!(message, "upstream connect error")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn slow_server_times_out() {
    let server = MockServer::start().await;
    mount(&server, json_response(200, PLAIN).set_delay(Duration::from_secs(3)), 1).await;
    let config = LlmConfig { timeout_secs: 1, max_retries: 0, ..config(&server) };
    let error = OpenAiClient::new(&config).unwrap().chat(&ask("x")).await.unwrap_err();
    assert!(matches!(error, LlmError::Timeout { after } if after == Duration::from_secs(1)), "{error:?}");
}

#[tokio::test]
async fn malformed_json_is_reported() {
    let server = MockServer::start().await;
    mount(&server, json_response(200, r#"{"id":"chatcmpl-1","choices":[{"index":0,"#), 1).await;
    let error = client(&server).chat(&ask("x")).await.unwrap_err();
    assert!(matches!(&error, LlmError::Malformed { message } if message.contains("truncated")), "{error:?}");
}

#[tokio::test]
async fn missing_choices_is_malformed() {
    let server = MockServer::start().await;
    mount(
        &server,
        json_response(200, r#"{"id":"x","object":"chat.completion","model":"m","choices":[]}"#),
        1,
    )
    .await;
    let error = client(&server).chat(&ask("x")).await.unwrap_err();
    assert!(matches!(&error, LlmError::Malformed { message } if message == "no choices"), "{error:?}");
}

#[tokio::test]
async fn html_body_is_malformed() {
    let server = MockServer::start().await;
    let page = "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>…</body></html>";
    mount(&server, ResponseTemplate::new(200).set_body_raw(page, "text/html"), 1).await;
    let error = client(&server).chat(&ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Malformed { message } if message.contains("Welcome to nginx!")),
        "{error:?}"
    );
}

#[tokio::test]
async fn vllm_error_with_integer_code() {
    let server = MockServer::start().await;
    let body = r#"{"error":{"message":"\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set","type":"BadRequestError","param":null,"code":400}}"#;
    mount(&server, json_response(400, body), 1).await;
    match client(&server).chat(&ask("x")).await.unwrap_err() {
        LlmError::InvalidRequest { status: 400, message } => {
            assert!(
                message.starts_with("\"auto\" tool choice requires --enable-auto-tool-choice"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn old_vllm_flat_error() {
    let server = MockServer::start().await;
    let body = r#"{"object":"error","message":"The model `gpt-4o-mini` does not exist.","type":"NotFoundError","param":null,"code":404}"#;
    mount(&server, json_response(404, body), 1).await;
    match client(&server).chat(&ask("x")).await.unwrap_err() {
        LlmError::InvalidRequest { status: 404, message } => {
            assert_eq!(message, "The model `gpt-4o-mini` does not exist.")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ollama_unknown_model() {
    let server = MockServer::start().await;
    let body = r#"{"error":{"message":"model \"qwen3:8b\" not found, try pulling it first","type":"not_found_error","param":null,"code":null}}"#;
    mount(&server, json_response(404, body), 1).await;
    let error = client(&server).chat(&ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::InvalidRequest { status: 404, message } if message.contains("try pulling")),
        "{error:?}"
    );
}

#[tokio::test]
async fn ollama_answer_with_reasoning_and_empty_content() {
    let server = MockServer::start().await;
    let body = r#"{"id":"chatcmpl-417","object":"chat.completion","created":1714760000,"model":"qwen3:8b","system_fingerprint":"fp_ollama",
     "choices":[{"index":0,"message":{"role":"assistant","content":"","reasoning":"The user wants a quote; call the tool.",
       "tool_calls":[{"id":"call_x1y2z3","index":0,"type":"function","function":{"name":"get_quote","arguments":"{\"symbol\":\"NVDA\"}"}}]},
       "finish_reason":"tool_calls"}],
     "usage":{"prompt_tokens":140,"completion_tokens":30,"total_tokens":170}}"#;
    mount(&server, json_response(200, body), 1).await;
    let response = client(&server).chat(&ask("x")).await.unwrap();
    assert_eq!(response.content, None);
    assert_eq!(response.reasoning.as_deref(), Some("The user wants a quote; call the tool."));
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(response.tool_calls[0].id, "call_x1y2z3");
    assert_eq!(response.model, "qwen3:8b");
}

#[tokio::test]
async fn vllm_reasoning_content_and_unknown_finish_reason() {
    let server = MockServer::start().await;
    let body = r#"{"id":"chatcmpl-v","object":"chat.completion","created":1714760000,"model":"Qwen/Qwen3-8B",
     "choices":[{"index":0,"message":{"role":"assistant","reasoning_content":"Think.","content":"Done.","tool_calls":[]},"logprobs":null,"finish_reason":"abort","stop_reason":null}],
     "usage":{"prompt_tokens":5,"total_tokens":8,"completion_tokens":3,"prompt_tokens_details":null},"prompt_logprobs":null}"#;
    mount(&server, json_response(200, body), 1).await;
    let response = client(&server).chat(&ask("x")).await.unwrap();
    assert_eq!(response.reasoning.as_deref(), Some("Think."));
    assert_eq!(response.content.as_deref(), Some("Done."));
    assert_eq!(response.finish_reason, FinishReason::Other);
}

#[tokio::test]
async fn context_length_exceeded() {
    let server = MockServer::start().await;
    let body = r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
    mount(&server, json_response(400, body), 1).await;
    let error = client(&server).chat(&ask("x")).await.unwrap_err();
    assert!(matches!(&error, LlmError::ContextLength { message } if message.contains("128000")), "{error:?}");
}

#[tokio::test]
async fn json_schema_format_is_sent_only_in_json_mode() {
    let server = MockServer::start().await;
    mount(&server, json_response(200, PLAIN), 2).await;
    let schema = json!({"type":"object","properties":{"verdict":{"type":"string"}},"required":["verdict"]});
    let request = ChatRequest {
        messages: vec![Message::system("Answer in JSON."), Message::user("Verdict on NVDA?")],
        response_format: ResponseFormat::JsonSchema { name: "verdict".into(), schema: schema.clone() },
        temperature: Some(0.3),
        max_tokens: Some(200),
        ..Default::default()
    };
    client(&server).chat(&request).await.unwrap();
    OpenAiClient::new(&LlmConfig { json_mode: false, ..config(&server) })
        .unwrap()
        .chat(&request)
        .await
        .unwrap();
    let bodies = request_bodies(&server).await;
    assert_eq!(
        bodies[0]["response_format"],
        json!({"type":"json_schema","json_schema":{"name":"verdict","schema":schema,"strict":false}})
    );
    assert_eq!(bodies[0]["max_tokens"], 200);
    assert!((bodies[0]["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6);
    assert!(bodies[0].get("tools").is_none() && bodies[0].get("tool_choice").is_none());
    assert!(bodies[1].get("response_format").is_none());
}

#[tokio::test]
async fn no_bearer_header_without_a_key() {
    let server = MockServer::start().await;
    mount(&server, json_response(200, PLAIN), 1).await;
    let config = LlmConfig { api_key: None, ..config(&server) };
    OpenAiClient::new(&config).unwrap().chat(&ask("x")).await.unwrap();
    assert!(server.received_requests().await.unwrap()[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn invalid_config_is_refused() {
    let error = OpenAiClient::new(&LlmConfig { base_url: "localhost:11434".into(), ..LlmConfig::default() })
        .unwrap_err();
    assert!(matches!(error, LlmError::NotConfigured { .. }), "{error:?}");
}

/// Collects what a streaming call reports.
#[derive(Default)]
struct Events(Mutex<Vec<StreamEvent>>);

impl Events {
    fn push(&self, event: StreamEvent) {
        self.0.lock().unwrap().push(event);
    }

    fn take(&self) -> Vec<StreamEvent> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

#[tokio::test]
async fn streaming_assembles_openai_fragments() {
    let server = MockServer::start().await;
    mount(
        &server,
        sse_response(&[
            r#"{"id":"chatcmpl-9abc","object":"chat.completion.chunk","created":1714760000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"Checking ","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-9abc","object":"chat.completion.chunk","created":1714760000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"NVDA."},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-9abc","object":"chat.completion.chunk","created":1714760000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_Ab12","type":"function","function":{"name":"get_quote","arguments":""}}]},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-9abc","object":"chat.completion.chunk","created":1714760000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"sym"}}]},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-9abc","object":"chat.completion.chunk","created":1714760000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"bol\":\"NVDA\"}"}}]},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-9abc","object":"chat.completion.chunk","created":1714760000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_Cd34","type":"function","function":{"name":"get_quote","arguments":"{\"symbol\":\"AMD\"}"}}]},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-9abc","object":"chat.completion.chunk","created":1714760000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":null}"#,
            r#"{"id":"chatcmpl-9abc","object":"chat.completion.chunk","created":1714760000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99}}"#,
            "[DONE]",
        ]),
        1,
    )
    .await;
    let events = Events::default();
    let sink = |event| events.push(event);
    let response = streaming_client(&server).chat_streaming(&ask("x"), &sink).await.unwrap();
    assert_eq!(
        events.take(),
        vec![
            StreamEvent::Content("Checking ".into()),
            StreamEvent::Content("NVDA.".into()),
            StreamEvent::ToolCall { index: 0, name: "get_quote".into() },
            StreamEvent::ToolCall { index: 1, name: "get_quote".into() },
        ]
    );
    assert_eq!(response.content.as_deref(), Some("Checking NVDA."));
    assert_eq!(
        response.tool_calls,
        vec![
            ToolCall {
                id: "call_Ab12".into(),
                name: "get_quote".into(),
                arguments: r#"{"symbol":"NVDA"}"#.into()
            },
            ToolCall {
                id: "call_Cd34".into(),
                name: "get_quote".into(),
                arguments: r#"{"symbol":"AMD"}"#.into()
            },
        ]
    );
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(response.usage, Usage { prompt_tokens: 82, completion_tokens: 17, total_tokens: 99 });
    assert_eq!(response.model, "gpt-4o-mini-2024-07-18");
    let body = &request_bodies(&server).await[0];
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage":true}));
}

#[tokio::test]
async fn streaming_ollama_whole_tool_call_and_reasoning() {
    let server = MockServer::start().await;
    mount(
        &server,
        sse_response(&[
            r#"{"id":"chatcmpl-88","object":"chat.completion.chunk","created":1714760000,"model":"qwen3:8b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":"Need the quote."},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-88","object":"chat.completion.chunk","created":1714760000,"model":"qwen3:8b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"id":"call_k9","index":0,"type":"function","function":{"name":"get_quote","arguments":"{\"symbol\":\"NVDA\"}"}}]},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-88","object":"chat.completion.chunk","created":1714760000,"model":"qwen3:8b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"tool_calls"}]}"#,
            r#"{"id":"chatcmpl-88","object":"chat.completion.chunk","created":1714760000,"model":"qwen3:8b","system_fingerprint":"fp_ollama","choices":[],"usage":{"prompt_tokens":140,"completion_tokens":30,"total_tokens":170}}"#,
            "[DONE]",
        ]),
        1,
    )
    .await;
    let events = Events::default();
    let sink = |event| events.push(event);
    let response = streaming_client(&server).chat_streaming(&ask("x"), &sink).await.unwrap();
    assert_eq!(
        events.take(),
        vec![
            StreamEvent::Reasoning("Need the quote.".into()),
            StreamEvent::ToolCall { index: 0, name: "get_quote".into() }
        ]
    );
    assert_eq!(response.content, None);
    assert_eq!(response.reasoning.as_deref(), Some("Need the quote."));
    assert_eq!(response.tool_calls[0].arguments, r#"{"symbol":"NVDA"}"#);
    assert_eq!(response.usage.total_tokens, 170);
}

#[tokio::test]
async fn streaming_error_mid_stream() {
    let server = MockServer::start().await;
    mount(
        &server,
        sse_response(&[
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
            r#"{"error":{"message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}}"#,
        ]),
        1,
    )
    .await;
    let events = Events::default();
    let sink = |event| events.push(event);
    let error = streaming_client(&server).chat_streaming(&ask("x"), &sink).await.unwrap_err();
    assert!(matches!(&error, LlmError::ContextLength { .. }), "{error:?}");
    assert_eq!(events.take(), vec![StreamEvent::Content("Hel".into())]);
}

#[tokio::test]
async fn streaming_server_error_mid_stream_is_not_retried() {
    let server = MockServer::start().await;
    mount(
        &server,
        sse_response(&[
            r#"{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}"#,
        ]),
        1,
    )
    .await;
    let sink = |_| {};
    let error = streaming_client(&server).chat_streaming(&ask("x"), &sink).await.unwrap_err();
    assert!(matches!(&error, LlmError::Server { status: 500, .. }), "{error:?}");
}

#[tokio::test]
async fn streaming_without_done_is_malformed() {
    let server = MockServer::start().await;
    mount(
        &server,
        sse_response(&[r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#]),
        1,
    )
    .await;
    let sink = |_| {};
    let error = streaming_client(&server).chat_streaming(&ask("x"), &sink).await.unwrap_err();
    assert!(matches!(&error, LlmError::Malformed { message } if message.contains("[DONE]")), "{error:?}");
}

#[tokio::test]
async fn streaming_is_retried_before_the_body_starts() {
    let server = MockServer::start().await;
    let ok = sse_response(&[
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ]);
    mount_sequence(&server, ResponseTemplate::new(502).set_body_string("bad gateway"), ok).await;
    let events = Events::default();
    let sink = |event| events.push(event);
    let response = streaming_client(&server).chat_streaming(&ask("x"), &sink).await.unwrap();
    assert_eq!(response.content.as_deref(), Some("Hi"));
    assert_eq!(response.usage, Usage::default());
    assert_eq!(events.take(), vec![StreamEvent::Content("Hi".into())]);
}

#[tokio::test]
async fn chat_streaming_without_stream_config_makes_one_plain_call() {
    let server = MockServer::start().await;
    mount(&server, json_response(200, TOOL_CALL), 1).await;
    let events = Events::default();
    let sink = |event| events.push(event);
    let response = client(&server).chat_streaming(&ask("x"), &sink).await.unwrap();
    assert_eq!(response.tool_calls.len(), 1);
    assert_eq!(events.take(), vec![StreamEvent::ToolCall { index: 0, name: "get_quote".into() }]);
    assert_eq!(request_bodies(&server).await[0]["stream"], false);
}

#[tokio::test]
async fn unreachable_server_is_a_connection_error_after_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = LlmConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        api_key: Some(ApiKey::new(KEY)),
        max_retries: 1,
        backoff_base_ms: 10,
        backoff_max_ms: 20,
        ..LlmConfig::default()
    };
    let error = OpenAiClient::new(&config).unwrap().chat(&ask("x")).await.unwrap_err();
    assert!(matches!(&error, LlmError::Connection { message } if !message.contains(KEY)), "{error:?}");
}

#[tokio::test]
async fn oversized_answers_are_refused() {
    let server = MockServer::start().await;
    mount(&server, json_response(200, PLAIN), 1).await;
    let config = LlmConfig { max_body_bytes: 64, ..config(&server) };
    let error = OpenAiClient::new(&config).unwrap().chat(&ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Malformed { message } if message.contains("larger than 64 bytes")),
        "{error:?}"
    );
}
