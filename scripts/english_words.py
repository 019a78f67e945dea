#!/usr/bin/env python3
"""Writes crates/social/data/english-words.txt: the symbols and company-name words of universe.csv
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
    candidates = {row["symbol"].lower() for row in rows if row["symbol"].isalpha() and 2 <= len(row["symbol"]) <= 5}
    for row in rows:
        if row["type"] != "stock":
            continue
        for word in re.split(r"[\s,]+", row["name"]):
            word = word.strip(".").lower()
            if word.isalpha() and len(word) >= 4:
                candidates.add(word)
    found = sorted(candidates & words)
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
    print(f"wrote {len(found)} words")


if __name__ == "__main__":
    main()
