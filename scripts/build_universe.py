#!/usr/bin/env python3
"""Builds crates/social/data/universe.csv from the Nasdaq Trader symbol directory snapshots.

Inputs (CSV files of the public, PDDL-licensed Data Packages, see crates/social/data/README.md):
  --nasdaq  data/nasdaq-listed-symbols.csv of github.com/datasets/nasdaq-listings
  --other   data/other-listed.csv of github.com/datasets/nyse-other-listings
  --renames crates/social/data/renames.tsv (curated former tickers and delisted symbols)
Output: universe.csv with columns symbol,name,exchange,type,former_symbols.

Kept: common stocks (any class), ADRs, shares of beneficial interest, LP units and ETFs.
Dropped: test issues, warrants, units, rights, preferreds, notes/debentures, when-issued lines.
Symbol classes are spelled with `-` (BRK.B -> BRK-B) as in the rest of tickerwatch.

Only the standard library is used, so `tickerwatch universe update` (or a person) can rerun it
against fresher snapshots: python3 scripts/build_universe.py --nasdaq A --other B \
    --renames crates/social/data/renames.tsv --out crates/social/data/universe.csv
"""

import argparse
import csv
import re
import sys

OTHER_EXCHANGES = {
    "N": "NYSE",
    "A": "NYSE American",
    "P": "NYSE Arca",
    "Z": "Cboe BZX",
    "V": "IEX",
}

# Security-name words that mark a line we do not keep.
DROP_NAME = re.compile(
    r"\b(warrants?|rights?|units?|preferred|preference|notes?|debentures?|subordinated|"
    r"depositary shares,? each representing a 1/|when[- ]issued|contingent value|bonds?|"
    r"certificates?|strats|trust securities|capital securities|\d+(\.\d+)? ?%)\b",
    re.IGNORECASE,
)
# MLP lines are "Common Units Representing Limited Partner Interests": common equity, keep them.
KEEP_UNITS = re.compile(r"\bcommon units?\b|\blimited partner", re.IGNORECASE)
# Trailing share-class words removed from the company name.
NAME_TAIL = re.compile(
    r"\s*[-,]?\s*\b((new|series [a-z]|class [a-z]|registered|sponsored)\s+)*"
    r"(american depositary shares?|american depository shares?|ads|adr|ordinary shares?|common stock|"
    r"common shares?|capital stock|shares of beneficial interest|common units?)\b.*$",
    re.IGNORECASE,
)
SYMBOL = re.compile(r"^[A-Z]{1,5}(-[A-Z]{1,2})?$")


def clean_name(security_name):
    name = security_name.strip()
    if " - " in name:
        name = name.split(" - ")[0]
    previous = None
    while previous != name:
        previous = name
        name = NAME_TAIL.sub("", name).strip().rstrip(",").strip()
        # "Coca-Cola Company (The)", "Ashland Inc. (DE)": the parenthesis adds nothing here.
        name = re.sub(r"\s*\([^)]*\)?$", "", name).strip()
    return re.sub(r"\s+", " ", name) or security_name.strip()


def keep(security_name):
    if DROP_NAME.search(security_name) and not KEEP_UNITS.search(security_name):
        return False
    return True


def nasdaq_rows(path):
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            symbol = (row.get("Symbol") or "").strip()
            if not symbol or symbol.startswith("File Creation Time"):
                continue
            if row.get("Test Issue", "N").strip() == "Y":
                continue
            security = row.get("Security Name", "")
            is_etf = row.get("ETF", "N").strip() == "Y"
            if not is_etf and not keep(security):
                continue
            yield symbol, clean_name(security), "NASDAQ", "etf" if is_etf else "stock"


def other_rows(path):
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            symbol = (row.get("ACT Symbol") or "").strip()
            if not symbol or symbol.startswith("File Creation Time"):
                continue
            if row.get("Test Issue", "N").strip() == "Y":
                continue
            # ACT symbols: `$` marks a preferred, `.W`/`.WS` warrants, `.U` units, `.R` rights,
            # `.V` when-issued; `.A`/`.B` are share classes (BRK.B).
            if "$" in symbol or re.search(r"\.(W|WS|WI|U|R|V)$", symbol):
                continue
            security = row.get("Security Name", "")
            is_etf = row.get("ETF", "N").strip() == "Y"
            if not is_etf and not keep(security):
                continue
            exchange = OTHER_EXCHANGES.get(row.get("Exchange", "").strip(), "other")
            yield symbol.replace(".", "-"), clean_name(security), exchange, "etf" if is_etf else "stock"


def read_renames(path):
    renamed, delisted = [], []
    with open(path, encoding="utf-8") as file:
        for line in file:
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3:
                sys.exit(f"bad renames row: {line!r}")
            symbol, kind, value = fields[0].strip(), fields[1].strip(), fields[2].strip()
            if kind == "renamed":
                renamed.append((symbol, value))
            elif kind == "delisted":
                delisted.append((symbol, value))
            else:
                sys.exit(f"unknown kind {kind!r} in renames row: {line!r}")
    return renamed, delisted


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nasdaq", required=True)
    parser.add_argument("--other", required=True)
    parser.add_argument("--renames", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    rows = {}
    for symbol, name, exchange, kind in list(nasdaq_rows(args.nasdaq)) + list(other_rows(args.other)):
        if not SYMBOL.match(symbol):
            continue
        rows.setdefault(symbol, [name, exchange, kind, []])

    renamed, delisted = read_renames(args.renames)
    for symbol, name in delisted:
        if symbol in rows:
            print(f"note: delisted {symbol} is listed again as {rows[symbol][0]!r}; keeping the listing")
            continue
        rows[symbol] = [name, "delisted", "stock", []]
    for former, current in renamed:
        if current not in rows:
            sys.exit(f"rename {former} -> {current}: {current} is not in the snapshot")
        if former in rows:
            # The former ticker now belongs to another listing; on Reddit it still means the
            # renamed company, so the old line loses it.
            print(f"note: {former} ({rows[former][0]!r}) dropped: Reddit's {former} is {current}")
            del rows[former]
        rows[current][3].append(former)

    with open(args.out, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["symbol", "name", "exchange", "type", "former_symbols"])
        for symbol in sorted(rows):
            name, exchange, kind, former = rows[symbol]
            writer.writerow([symbol, name, exchange, kind, ";".join(former)])
    n_etf = sum(1 for row in rows.values() if row[2] == "etf")
    print(f"wrote {len(rows)} symbols ({n_etf} ETFs) to {args.out}")


if __name__ == "__main__":
    main()
