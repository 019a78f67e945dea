#!/usr/bin/env bash
# Several instances on one PostgreSQL database (127.0.0.1:5432, trust auth), on sample data:
# one `serve --role api` and N `serve --role worker` (N = 1, then 3), each from a fresh
# database, measured by `tickerwatch bench cluster` over HTTP: trigger latency p50/p99 under a
# burst of 200 concurrent triggers, and analysis runs finished per second. Prints each
# process's peak RSS (VmHWM) too. Export upload throughput to object storage is measured by
# the export crate's S3 test (see README, Benchmarks).
# Usage: bench/instances.sh [seconds per throughput phase, default 15]
# TW_BENCH_BIN=PATH uses that binary (default: a release build, built here).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
database=tw_bench_instances
token="bench-instances-token-0123456789"
if [ -z "${TW_BENCH_BIN:-}" ]; then
    cargo build --release -q -p tickerwatch
    TW_BENCH_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/release/tickerwatch"
fi
work="$(mktemp -d)"
pids=()
stop_all() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

export TICKERWATCH_DATABASE__URL="postgres://postgres@127.0.0.1:5432/${database}"
export TICKERWATCH_EXPORTS__DIR="$work/exports"
export TICKERWATCH_SERVER__AUTH__TOKENS="[\"$token\"]"
export TICKERWATCH_JOBS__HEARTBEAT_INTERVAL_MS=1000
export RUST_LOG=error

ready() {
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$1/readyz" >/dev/null && return 0
        sleep 0.2
    done
    echo "instance on port $1 did not start:" >&2; tail -n 5 "$work"/*.log >&2
    return 1
}

peak_rss() {
    awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' "/proc/$1/status"
}

for workers in 1 3; do
    psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS ${database}" -c "CREATE DATABASE ${database}"
    # Bars of S0000…S0199 (the burst's symbols: a trigger of an unknown symbol is a 404).
    "$TW_BENCH_BIN" bench seed --url "$TICKERWATCH_DATABASE__URL" --symbols 200 --days 300 >/dev/null
    TICKERWATCH_SERVER__LISTEN=127.0.0.1:18180 "$TW_BENCH_BIN" serve --role api 2>"$work/api.log" &
    api=$!
    pids+=("$api")
    ready 18180
    worker_pids=()
    for i in $(seq 1 "$workers"); do
        TICKERWATCH_SERVER__LISTEN="127.0.0.1:$((18180 + i))" "$TW_BENCH_BIN" serve --role worker 2>"$work/worker-$i.log" &
        worker_pids+=("$!")
        pids+=("$!")
        ready $((18180 + i))
    done
    echo "== 1 API instance + ${workers} worker(s)"
    "$TW_BENCH_BIN" bench cluster --url http://127.0.0.1:18180 --token "$token" --seconds "$seconds"
    echo "peak RSS: api $(peak_rss "$api"); workers $(for pid in "${worker_pids[@]}"; do printf '%s ' "$(peak_rss "$pid")"; done)"
    stop_all
done
psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS ${database}"
