#!/usr/bin/env bash
# API conformance: fuzzes the real `tickerwatch serve` against its own OpenAPI spec
# (/api/openapi.json) with schemathesis, and fails on any server error or any response that the
# spec does not describe (status, content type, body schema, headers), on any value outside a
# declared type, range or pattern that the server accepts, and on any value inside them that it
# refuses with a 400.
#
# The server runs on a temp SQLite database seeded offline (the `sample` provider): bars of AAPL
# and MSFT, social mentions, a research note with its crew run, and one download-tracker export
# in each format, so the ids the spec's examples name exist. The token comes from
# `tickerwatch token create`. Checks and per-operation settings: scripts/schemathesis.toml.
#
# Usage: scripts/schemathesis.sh [extra schemathesis args]
# Env: SCHEMATHESIS_MAX_EXAMPLES (default 100), SCHEMATHESIS_SEED (default 1),
#      SCHEMATHESIS_TIMEOUT (hard cap on the run in seconds, default 300).
# The virtualenv is cached under the target dir (target/schemathesis-venv-<version>), so only
# the first run pays for `pip install`.
set -euo pipefail
cd "$(dirname "$0")/.."

schemathesis_version=4.32.5
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
seed="${SCHEMATHESIS_SEED:-1}"
run_timeout="${SCHEMATHESIS_TIMEOUT:-300}"
target_dir="$(realpath "${CARGO_TARGET_DIR:-target}")"
venv="$target_dir/schemathesis-venv-$schemathesis_version"

start=$(date +%s)
echo "== schemathesis $schemathesis_version (virtualenv $venv)"
if [ ! -x "$venv/bin/schemathesis" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
"$venv/bin/schemathesis" --version

echo "== build"
cargo build --locked -q -p tickerwatch
bin="$target_dir/debug/tickerwatch"

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

export TICKERWATCH_DATABASE__URL="sqlite://$work/schemathesis.db"
export TICKERWATCH_EXPORTS__DIR="$work/exports"
# Errors only: the jobs that schemathesis triggers warn about every unknown symbol it adds.
export TICKERWATCH_LOG__FILTER="${TICKERWATCH_LOG__FILTER:-error}"

echo "== seed (offline)"
"$bin" fetch AAPL MSFT --range 1y >/dev/null
"$bin" watchlist add AAPL MSFT >/dev/null
"$bin" scan >/dev/null
"$bin" analyze AAPL --quiet >/dev/null
for format in csv ndjson xlsx parquet html; do
    TICKERWATCH_JOBS__DOWNLOAD_TRACKER__EXPORT_FORMAT="$format" \
        "$bin" jobs trigger download-tracker >/dev/null
done
token="$("$bin" token create --name schemathesis 2>/dev/null)"

echo "== serve"
"$bin" serve --listen 127.0.0.1:0 2>"$work/serve.log" &
server=$!
base_url=""
for _ in $(seq 1 100); do
    base_url="$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | head -n 1 | sed 's/listening on //' || true)"
    [ -n "$base_url" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$base_url" ]; then
    echo "the server did not start:" >&2
    cat "$work/serve.log" >&2
    exit 1
fi
echo "$base_url"

echo "== schemathesis run"
status=0
SCHEMATHESIS_TOKEN="$token" timeout "$run_timeout" "$venv/bin/schemathesis" \
    --config-file scripts/schemathesis.toml \
    run "$base_url/api/openapi.json" \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --generation-database none \
    --report junit --report-dir "$target_dir/schemathesis-report" \
    --no-color \
    "$@" || status=$?

if [ "$status" -ne 0 ]; then
    echo "schemathesis failed (exit $status); server log:" >&2
    tail -n 50 "$work/serve.log" >&2
fi
if grep -q 'Request failed' "$work/serve.log"; then
    echo "the server logged failed requests:" >&2
    grep 'Request failed' "$work/serve.log" >&2
    status=1
fi
echo "== done in $(($(date +%s) - start)) s"
exit "$status"
