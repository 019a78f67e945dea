//! Runs the scripted OpenAI-compatible chat mock ([`test_support::llm::MockChatServer`]) standalone,
//! for benchmarks of other clients (e.g. `bench/run-crew-compare.sh`).
//!
//! `cargo run --release -p test-support --example mock_llm_server -- --port 18089 [--log-requests] [--react]`
//!
//! `--react` answers like a server that ignores `response_format` (`Thought: …`/`Final Answer: …`).
//!
//! Prints the base URL (`http://127.0.0.1:PORT/v1`) on one line, then serves until killed; on
//! Ctrl-C or SIGTERM it prints how many requests it answered.

use test_support::llm::MockChatServer;

fn usage() -> ! {
    eprintln!("usage: mock_llm_server [--port PORT] [--log-requests] [--react]");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut port = 0_u16;
    let mut log_requests = false;
    let mut react = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or_else(|| usage()),
            "--log-requests" => log_requests = true,
            "--react" => react = true,
            _ => usage(),
        }
    }
    let server =
        MockChatServer::builder().port(port).log_requests(log_requests).react_answers(react).start().await?;
    println!("{}", server.uri());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("mock_llm_server: {} requests served", server.requests_served());
    Ok(())
}
