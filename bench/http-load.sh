#!/usr/bin/env bash
# Load-test GET /api/symbols/AAPL/bars (one year of daily bars) with wrk from a second process,
# loopback only, 32 connections, 10 seconds; print req/s, latency percentiles and server RSS.
# Usage: bench/http-load.sh [duration]   (needs wrk; installs it with apt-get when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10s}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p tickerwatch
bin="$(realpath "${CARGO_TARGET_DIR:-target}")/release/tickerwatch"
work="$(mktemp -d)"
export TICKERWATCH_DATABASE__URL="sqlite://$work/http.db"
export TICKERWATCH_EXPORTS__DIR="$work/exports"
"$bin" fetch AAPL --range 1y >/dev/null
port=18080
"$bin" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/api/symbols/AAPL/bars?from=2012-03-01&to=2013-03-01"
echo "bars in one response: $(curl -fs "$url" | grep -o '"ts"' | wc -l)"
wrk -t2 -c32 -d"$duration" --latency "$url"
echo "server RSS: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$server/status), peak $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$server/status)"
