#!/usr/bin/env python3
"""Checks dev.jsonl / heldout.jsonl / train.jsonl: JSON per line, allowed
labels, symbol format, no duplicate or near-duplicate text within or across
files. For train.jsonl it also checks that every line is picked
`random-train` and that no train text (exact normalised text or 80-character
key) is in dev.jsonl or heldout.jsonl. heldout.jsonl is only read
mechanically here, for the overlap check."""
import json, re, sys, os

HERE = os.path.dirname(os.path.abspath(__file__))
SYM = re.compile(r'^[A-Z]{1,5}(-[A-Z])?$')
SENT = {'bullish', 'bearish', 'neutral'}
KEYS = {'text', 'symbols', 'sentiment', 'source', 'id', 'kind', 'pick', 'cut', 'note'}


def norm(t):
    return re.sub(r'[^a-z0-9]+', '', t.lower())


def main():
    errors = 0
    seen = {}
    full = {}  # normalised full text -> where, for dev and heldout
    for name in ('dev.jsonl', 'heldout.jsonl', 'train.jsonl'):
        path = os.path.join(HERE, name)
        if not os.path.exists(path):
            print(f'{name}: missing')
            continue
        for i, line in enumerate(open(path, encoding='utf-8'), 1):
            where = f'{name}:{i}'
            try:
                o = json.loads(line)
            except json.JSONDecodeError as e:
                print(f'{where}: bad JSON: {e}'); errors += 1; continue
            if set(o) - KEYS:
                print(f'{where}: unknown keys {set(o) - KEYS}'); errors += 1
            if not isinstance(o.get('text'), str) or not o['text'].strip():
                print(f'{where}: empty text'); errors += 1; continue
            if o.get('sentiment') not in SENT:
                print(f'{where}: bad sentiment {o.get("sentiment")!r}'); errors += 1
            syms = o.get('symbols')
            if not isinstance(syms, list) or len(set(syms)) != len(syms):
                print(f'{where}: symbols must be a list without repeats'); errors += 1
            else:
                for s in syms:
                    if not isinstance(s, str) or not SYM.match(s):
                        print(f'{where}: bad symbol {s!r}'); errors += 1
            if not o.get('source'):
                print(f'{where}: no source'); errors += 1
            if name == 'train.jsonl':
                if o.get('pick') != 'random-train':
                    print(f'{where}: pick must be random-train'); errors += 1
                if norm(o['text']) in full:
                    print(f'{where}: text also in {full[norm(o["text"])]}'); errors += 1
            else:
                full.setdefault(norm(o['text']), where)
            key = norm(o['text'])[:80]
            if key in seen:
                print(f'{where}: duplicate/near-duplicate of {seen[key]}'); errors += 1
            else:
                seen[key] = where
    print('errors:', errors)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
