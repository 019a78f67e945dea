#!/usr/bin/env bash
# Export 1,000,000 bars (500 symbols x 2,000 days) from one SQLite file with tickerwatch (release
# build) and with pandas and polars (installed into bench/.venv from PyPI), and print the figures
# side by side. Usage: bench/run-export-compare.sh [formats...]   (default: csv ndjson parquet xlsx)
# The xlsx comparison with pandas is slow (about 2,000 rows/s); set SKIP_PANDAS_XLSX=1 to skip it.
set -euo pipefail
cd "$(dirname "$0")/.."
formats=("${@:-csv ndjson parquet xlsx}")
read -r -a formats <<< "${formats[*]}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
db="bench/export-bench.db"

cargo build --release -q -p tickerwatch
bin="${CARGO_TARGET_DIR:-target}/release/tickerwatch"
if [ ! -f bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q pandas polars pyarrow connectorx xlsxwriter
fi

printf '%-8s %-10s %12s %10s %12s\n' format tool rows/s seconds "peak RSS MB"
for fmt in "${formats[@]}"; do
    # Ours (fills the database on first use; the figures exclude that).
    line=$("$bin" bench export --db "$db" --format "$fmt" -o "$work/ours.$fmt" | tr '\n' ' ')
    rows=$(sed -E 's/.*-> ([0-9]+) rows.*/\1/' <<< "$line")
    secs=$(sed -E 's/.* rows in ([0-9.]+) s.*/\1/' <<< "$line")
    rss=$(sed -E 's/.*peak RSS during export: ([0-9.]+) MB.*/\1/' <<< "$line")
    awk -v f="$fmt" -v r="$rows" -v s="$secs" -v m="$rss" 'BEGIN { printf "%-8s %-10s %12.0f %10.2f %12.1f\n", f, "tickerwatch", r/s, s, m }'
    for tool in polars pandas; do
        if [ "$tool" = pandas ] && [ "$fmt" = xlsx ] && [ "${SKIP_PANDAS_XLSX:-0}" = 1 ]; then continue; fi
        bench/.venv/bin/python bench/export_compare.py "$tool" "$db" "$fmt" "$work/$tool.$fmt" \
            | bench/.venv/bin/python -c 'import json,sys; d=json.load(sys.stdin); print("%-8s %-10s %12.0f %10.2f %12.1f" % (d["format"], d["tool"], d["rows"]/d["seconds"], d["seconds"], d["peak_rss_mb"]))'
    done
done
