"""Export the same SQLite bars table with pandas and with polars, timing each end to end
(read from SQLite + write the file) and reporting peak RSS, for comparison with
`tickerwatch bench export`. Run through run-export-compare.sh, which prepares the database."""

import json
import resource
import subprocess
import sys
import time

QUERY = (
    "SELECT symbol, interval, ts, open, high, low, close, adj_close, volume, provider, flag "
    "FROM bars ORDER BY symbol, interval, ts, provider"
)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_pandas(db, fmt, out):
    import sqlite3

    import pandas as pd

    started = time.perf_counter()
    with sqlite3.connect(db) as conn:
        frame = pd.read_sql_query(QUERY, conn)
    frame["ts"] = pd.to_datetime(frame["ts"], unit="s", utc=True)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    elif fmt == "ndjson":
        frame.to_json(out, orient="records", lines=True, date_format="iso")
    elif fmt == "parquet":
        frame.to_parquet(out, index=False)
    elif fmt == "xlsx":
        frame["ts"] = frame["ts"].dt.tz_localize(None)
        frame.to_excel(out, index=False, engine="xlsxwriter")
    return len(frame), time.perf_counter() - started


def run_polars(db, fmt, out):
    import polars as pl

    started = time.perf_counter()
    frame = pl.read_database_uri(QUERY, f"sqlite://{db}", engine="connectorx")
    frame = frame.with_columns(pl.from_epoch("ts", time_unit="s").dt.replace_time_zone("UTC"))
    if fmt == "csv":
        frame.write_csv(out)
    elif fmt == "ndjson":
        frame.write_ndjson(out)
    elif fmt == "parquet":
        frame.write_parquet(out)
    elif fmt == "xlsx":
        # Excel has no time zones; xlsxwriter refuses aware datetimes.
        frame.with_columns(pl.col("ts").dt.replace_time_zone(None)).write_excel(out)
    return frame.height, time.perf_counter() - started


def main():
    tool, db, fmt, out = sys.argv[1:5]
    rows, seconds = {"pandas": run_pandas, "polars": run_polars}[tool](db, fmt, out)
    print(json.dumps({"tool": tool, "format": fmt, "rows": rows, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
