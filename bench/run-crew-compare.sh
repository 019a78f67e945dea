#!/usr/bin/env bash
# The four-agent research crew (market, technical, sentiment, writer; one tool call each for the
# first three, a JSON-schema note from the writer) against the scripted mock LLM
# (crates/test-support/examples/mock_llm_server.rs), with CrewAI (installed into bench/.venv from
# PyPI) and with tickerwatch's engine (the `crew_bench` example of crates/analysis, the same crew
# through the real OpenAI-compatible client). Prints per-run time (mean, p50, p95) and RSS growth
# for both. The mock answers instantly, so this measures framework overhead only.
# Usage: bench/run-crew-compare.sh [RUNS]   (default 50)
# Env: PORT (default 18089) for the mock; MEMORY_RUN=0 skips the CrewAI run with memory=True.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-50}"
port="${PORT:-18089}"
crewai_version="1.15.30"
target_dir="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ ! -f bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
fi
if ! bench/.venv/bin/python -c "import importlib.metadata as m, sys; \
        sys.exit(m.version('crewai') != '$crewai_version')" 2>/dev/null; then
    echo "installing crewai==$crewai_version into bench/.venv (takes a few minutes the first time)"
    bench/.venv/bin/pip install -q "crewai==$crewai_version"
fi

cargo build --release -q -p test-support --example mock_llm_server
cargo build --release -q -p analysis --example crew_bench
"$target_dir/release/examples/mock_llm_server" --port "$port" > "$work/url" 2> "$work/server.log" &
server_pid=$!
for _ in $(seq 50); do
    [ -s "$work/url" ] && break
    sleep 0.1
done
url="$(head -n1 "$work/url")"
if [ -z "$url" ]; then
    echo "mock server did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
fi
echo "mock LLM at $url"

export CREWAI_DISABLE_TELEMETRY=true OTEL_SDK_DISABLED=true CREWAI_TRACING_ENABLED=false
bench/.venv/bin/python bench/crewai_crew.py "$url" --runs "$runs" | tee "$work/crewai.txt"
if [ "${MEMORY_RUN:-1}" != 0 ]; then
    bench/.venv/bin/python bench/crewai_crew.py "$url" --runs "$runs" --memory
fi

echo
echo "== tickerwatch (same mock, same crew; 'http' goes through the OpenAI-compatible client)"
"$target_dir/release/examples/crew_bench" --base-url "$url" --runs "$runs" --http-runs "$runs" | tee "$work/ours.txt"

# The ratio, from the two `summary` lines (memory off on both sides).
figure() { grep -o "$1=[0-9.+-]*" "$2" | head -n1 | cut -d= -f2; }
crewai_ms="$(figure crewai_mean_ms "$work/crewai.txt")"
http_ms="$(figure http_mean_ms "$work/ours.txt")"
engine_ms="$(figure engine_mean_ms "$work/ours.txt")"
echo
awk -v c="$crewai_ms" -v h="$http_ms" -v e="$engine_ms" -v cg="$(figure crewai_rss_growth_mb "$work/crewai.txt")" \
    -v hg="$(figure http_rss_growth_mb "$work/ours.txt")" 'BEGIN {
    printf "per run: CrewAI %.1f ms, tickerwatch %.3f ms through HTTP (%.0fx faster), %.4f ms engine only (%.0fx)\n", c, h, c / h, e, c / e
    printf "RSS growth over the runs: CrewAI %+.2f MB, tickerwatch %+.2f MB\n", cg, hg
}'

kill "$server_pid" && wait "$server_pid" || true
server_pid=""
cat "$work/server.log"
