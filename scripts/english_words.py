#!/usr/bin/env python3
"""Writes crates/social/data/english-words.txt and proper-names.txt: the symbols (current and former) and company-name words of universe.csv
that are also English words (lower-case dictionary entries).

The extractor uses it to tell "spy puts" (SPY) from "a spy novel", and "Snap" the company from a
snap judgement: such words count only with trading context. Needs Debian's `wamerican` word list.

python3 scripts/english_words.py [--dict /usr/share/dict/american-english]
"""

import argparse
import csv
import re
import subprocess

DATA = "crates/social/data"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dict", default="/usr/share/dict/american-english")
    args = parser.parse_args()
    words = set()
    with open(args.dict, encoding="utf-8", errors="replace") as file:
        for word in file:
            word = word.strip()
            # Lower-case entries only: capitalised ones are names and acronyms ("AMD", "Dell",
            # "Tim") that are tickers or names rather than ordinary words.
            if word.isascii() and word.isalpha() and word.islower():
                words.add(word)
    with open(f"{DATA}/universe.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    symbols = {row["symbol"] for row in rows}
    symbols |= {former for row in rows for former in row["former_symbols"].split(";") if former}
    candidates = {symbol.lower() for symbol in symbols if symbol.isalpha() and 2 <= len(symbol) <= 5}
    for row in rows:
        if row["type"] != "stock":
            continue
        for word in re.split(r"[\s,]+", row["name"]):
            word = word.strip(".").lower()
            if word.isalpha() and len(word) >= 4:
                candidates.add(word)
    found = sorted(candidates & words)
    # Capitalised entries (names, places, brands): a stock's name that starts with one ("Robert
    # Half", "Charles River") gets no one-word short name.
    names = set()
    with open(args.dict, encoding="utf-8", errors="replace") as file:
        for word in file:
            word = word.strip()
            if word.isascii() and word.isalpha() and word[:1].isupper() and word[1:].islower():
                names.add(word.lower())
    first_words = set()
    for row in rows:
        parts = [part.strip(".") for part in re.split(r"[\s,]+", row["name"]) if part]
        if row["type"] == "stock" and len(parts) > 1 and parts[0].isalpha():
            first_words.add(parts[0].lower())
    proper = sorted((first_words & names) - words)
    try:
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "wamerican"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        version = "unknown"
    with open(f"{DATA}/english-words.txt", "w", encoding="utf-8") as out:
        out.write(
            "# Symbols (2-5 letters) and words of company names that are also English words (lower-case\n"
            "# entries only): the intersection of universe.csv with the SCOWL-based word list of Debian's\n"
            f"# `wamerican` package (/usr/share/dict/american-english, version {version}; SCOWL's licence\n"
            "# allows any use with its copyright notice kept, see /usr/share/doc/wamerican/copyright).\n"
            "# Regenerate with scripts/english_words.py after refreshing universe.csv.\n"
            "# SCOWL notice: Copyright 2000-2011 by Kevin Atkinson. Permission to use, copy, modify,\n"
            "# distribute and sell these word lists, the associated scripts, the output created from the\n"
            "# scripts, and its documentation for any purpose is hereby granted without fee, provided that\n"
            "# the above copyright notice appears in all copies and that both that copyright notice and this\n"
            "# permission notice appear in supporting documentation. Kevin Atkinson makes no representations\n"
            "# about the suitability of this array for any purpose. It is provided \"as is\" without express\n"
            "# or implied warranty.\n"
        )
        line = []
        for word in found:
            line.append(word)
            if len(" ".join(line)) > 90:
                out.write(" ".join(line) + "\n")
                line = []
        if line:
            out.write(" ".join(line) + "\n")
    with open(f"{DATA}/proper-names.txt", "w", encoding="utf-8") as out:
        out.write(
            "# First words of multi-word stock names in universe.csv that are capitalised entries (names,\n"
            "# places, brands) of the same SCOWL-based word list (see english-words.txt for its notice):\n"
            "# \"Robert\" of Robert Half is a person. They never become one-word short names.\n"
            "# Regenerate with scripts/english_words.py.\n"
        )
        line = []
        for word in proper:
            line.append(word)
            if len(" ".join(line)) > 90:
                out.write(" ".join(line) + "\n")
                line = []
        if line:
            out.write(" ".join(line) + "\n")
    print(f"wrote {len(found)} words and {len(proper)} proper names")


if __name__ == "__main__":
    main()
