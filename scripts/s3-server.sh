#!/usr/bin/env bash
# An S3-compatible server on loopback for the object-storage export tests: moto's standalone
# server (PyPI `moto[server]`, pinned) in a virtualenv under the target dir, like
# scripts/schemathesis.sh does for schemathesis; only the first run pays for `pip install`.
#
# Usage: scripts/s3-server.sh start|stop|status
#   start   starts `moto_server` on 127.0.0.1:$S3_SERVER_PORT (default 5055) unless one of ours
#           already answers there, waits until it answers, writes its pid to
#           target/s3-server.pid and prints the endpoint (export it as TEST_S3_ENDPOINT)
#   stop    stops the server started by `start` (by the pid in the pid file only)
#   status  exits 0 when the server answers
# Log: target/s3-server.log. Any access key and secret are accepted; buckets live in memory and
# vanish with the server.
set -euo pipefail
cd "$(dirname "$0")/.."

moto_version=5.2.6
port="${S3_SERVER_PORT:-5055}"
endpoint="http://127.0.0.1:$port"
mkdir -p "${CARGO_TARGET_DIR:-target}"
target_dir="$(realpath "${CARGO_TARGET_DIR:-target}")"
venv="$target_dir/moto-venv-$moto_version"
pid_file="$target_dir/s3-server.pid"
log_file="$target_dir/s3-server.log"

answers() {
    # moto answers GET / with its bucket listing.
    curl -fsS -o /dev/null --max-time 2 "$endpoint/" 2>/dev/null
}

case "${1:-}" in
start)
    if [ ! -x "$venv/bin/moto_server" ]; then
        echo "== moto $moto_version (virtualenv $venv)" >&2
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
    fi
    if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null && answers; then
        echo "$endpoint"
        exit 0
    fi
    if answers; then
        echo "something else already answers on $endpoint; set S3_SERVER_PORT" >&2
        exit 1
    fi
    # setsid: the server outlives this script and is not hit by the caller's Ctrl-C.
    setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 </dev/null &
    echo $! >"$pid_file"
    for _ in $(seq 1 100); do
        if answers; then
            echo "$endpoint"
            exit 0
        fi
        if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "moto_server did not start on $endpoint; log:" >&2
    cat "$log_file" >&2
    exit 1
    ;;
stop)
    if [ -f "$pid_file" ]; then
        pid="$(cat "$pid_file")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        rm -f "$pid_file"
    fi
    ;;
status)
    answers
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
