#!/usr/bin/env bash
# Load-test GET /api/symbols/{symbol}/bars with wrk from a second process, loopback only, 2
# threads and 32 connections:
#   (a) a random symbol and a random one-year window per request (bench/bars-random.lua), with the
#       response cache off (server.bars_cache_ttl_ms = 0): every request reads the database;
#   (b) one URL repeated, with the cache at its default (one second).
# The database is a SQLite file of 500 symbols x 10 years of daily bars (2,520 weekdays each),
# filled by `tickerwatch bench seed` with the export benchmark's synthetic bars. Prints req/s,
# p50, p99 and the server's RSS (now and peak) for each, from a fresh server each.
# Usage: bench/http-load.sh [duration]   (default 10s; installs wrk with apt-get when missing)
# HTTP_BENCH_DB=PATH keeps the database there (filled once, reused by later runs).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10s}"
symbols=500
days=2520
first_day=2010-01-04
last_day=2019-08-30 # the 2,520th weekday from first_day
port=18080

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p tickerwatch
bin="$(realpath "${CARGO_TARGET_DIR:-target}")/release/tickerwatch"
work="$(mktemp -d)"
server=""
stop_server() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=""
    fi
}
trap 'stop_server; rm -rf "$work"' EXIT

db="${HTTP_BENCH_DB:-$work/http-bench.db}"
"$bin" bench seed --db "$db" --symbols "$symbols" --days "$days"
export TICKERWATCH_DATABASE__URL="sqlite://$db"
export TICKERWATCH_EXPORTS__DIR="$work/exports"
export BARS_SYMBOLS="$symbols" BARS_FIRST_DAY="$first_day" BARS_LAST_DAY="$last_day"

# $1: the response cache's TTL in ms (0: off).
start_server() {
    TICKERWATCH_SERVER__BARS_CACHE_TTL_MS="$1" "$bin" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
    server=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && return
        sleep 0.1
    done
    echo "the server did not start:" >&2
    cat "$work/serve.log" >&2
    exit 1
}

# $1: label, $2: wrk's output.
report() {
    local rps p50 p99 rss peak
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$2")
    p50=$(awk '$1 == "50%" {print $2}' "$2")
    p99=$(awk '$1 == "99%" {print $2}' "$2")
    rss=$(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$server/status")
    peak=$(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' "/proc/$server/status")
    printf '%-44s %8s req/s  p50 %-8s p99 %-8s server RSS %s (peak %s)\n' "$1" "$rps" "$p50" "$p99" "$rss" "$peak"
    if grep -q -E 'Non-2xx|Socket errors' "$2"; then grep -E 'Non-2xx|Socket errors' "$2"; fi
}

base="http://127.0.0.1:$port"
start_server 0
echo "one random window: $(curl -fs "$base/api/symbols/S0123/bars?from=2014-06-02&to=2015-06-01" | grep -o '"count":[0-9]*')"
wrk -t2 -c32 -d"$duration" --latency -s bench/bars-random.lua "$base" >"$work/random.txt"
report "(a) random symbol + one-year window, no cache" "$work/random.txt"
stop_server

start_server 1000
url="$base/api/symbols/S0042/bars?from=2015-01-01&to=2015-12-31"
wrk -t2 -c32 -d"$duration" --latency "$url" >"$work/repeated.txt"
report "(b) one URL repeated, cache 1 s (default)" "$work/repeated.txt"
stop_server
if [ -n "${VERBOSE:-}" ]; then cat "$work/random.txt" "$work/repeated.txt"; fi
