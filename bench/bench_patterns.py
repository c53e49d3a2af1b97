"""Self-identification matching: scanner vs pyahocorasick and hyperscan, same text, same patterns, one run.

Text: human paragraphs from ../shared/data/human (Brown, webtext, Gutenberg, inaugural, movie
reviews), one in 50 with a real self-identification snippet (../shared/data/selfid) pasted in.
Patterns: every literal of scanner's compiled built-in catalogue (anchors and context phrases of all
rules, about 51,000 normalized byte strings).

Measured, MB/s of original text on one thread unless said:
  - scanner detector: the whole self_id detector (normalization walk feeding the automaton, rule
    confirmation, sentence and offset mapping on documents with a hit), on the raw text column;
  - scanner automaton: PatternSet.find over the raw bytes of the text lower-cased in advance, i.e. the
    bare multi-literal search the peers do;
  - pyahocorasick: Automaton.iter over each document lower-cased in advance (str);
  - hyperscan: the same literals compiled with HS_FLAG_CASELESS (pure-literal compiler), Database.scan
    over each document's UTF-8 bytes (per-document calls, as a scanner must make to attribute
    matches to rows), and over one concatenated buffer (its best case).
The peers get pre-lowered text and no normalization (fullwidth, zero-width, curly quotes are not
handled by them); scanner's detector does all of that. All counts of raw matches are printed so the
runs can be compared.

Usage: python bench/bench_patterns.py [--mb 16] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from _corpus import human_paragraphs, selfid_snippets

from scanner import _core
from scanner.arrow_bridge import text_buffers
from scanner.self_id import ROLES, Catalogue, compile_phrases


def make_text(target_bytes: int, seed: int = 5) -> list[str]:
    rng = np.random.default_rng(seed)
    human = human_paragraphs()
    snippets = selfid_snippets()
    order = rng.permutation(len(human))
    docs, size = [], 0
    for i, j in enumerate(order.tolist() * 4):
        d = human[j]
        if i % 50 == 0:
            d = d + " " + snippets[int(rng.integers(len(snippets)))]
        docs.append(d)
        size += len(d.encode("utf-8"))
        if size >= target_bytes:
            break
    return docs


def literals(cat: Catalogue) -> list[bytes]:
    out: dict[bytes, None] = {}
    for r in cat.rules:
        for key in ROLES:
            for lit in compile_phrases(getattr(r, key), r.id):
                out.setdefault(lit, None)
    return list(out)


def timed(fn, repeat=3):
    best = float("inf")
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=16)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    docs = make_text(int(args.mb * 1e6))
    mb = sum(len(d.encode("utf-8")) for d in docs) / 1e6
    col = pa.array(docs, type=pa.large_string())
    lowered = [d.lower() for d in docs]
    low_col = pa.array(lowered, type=pa.large_string())
    cat = Catalogue.load()
    t_compile, matcher = timed(cat.compile, 1)
    lits = literals(cat)
    print(f"text: {len(docs)} documents, {mb:.1f} MB; catalogue: {len(cat)} rules, {len(lits)} distinct literals, "
          f"{matcher.n_literals} (rule, literal) pairs; compile {t_compile:.2f} s, automaton "
          f"{matcher.memory_bytes / 1e6:.1f} MB", file=sys.stderr)
    rows = []

    def record(name, seconds, matches, threads=1, note=""):
        rows.append({"name": name, "threads": threads, "seconds": seconds, "mb_per_s": mb / seconds,
                     "matches": int(matches), "note": note})

    for threads in (1, 2):
        s, r = timed(lambda t=threads: matcher.scan(col, "medium", t), args.repeat)
        record("scanner self_id detector", s, len(r["rule"]), threads, "findings (confirmed)")
    ps = _core.PatternSet(lits)
    buf = text_buffers(low_col)
    s, r = timed(lambda: ps.find(buf, False, 1), args.repeat)
    record("scanner PatternSet (raw bytes)", s, len(r[1]), 1, "raw occurrences")
    s, r = timed(lambda: ps.find(text_buffers(col), True, 1), args.repeat)
    record("scanner PatternSet (normalizing)", s, len(r[1]), 1, "raw occurrences")

    try:
        import ahocorasick
        auto = ahocorasick.Automaton()
        for i, lit in enumerate(lits):
            auto.add_word(lit.decode("utf-8"), i)
        auto.make_automaton()

        def run_ac():
            n = 0
            for d in lowered:
                for _ in auto.iter(d):
                    n += 1
            return n
        s, n = timed(run_ac, args.repeat)
        record("pyahocorasick", s, n, 1, "raw occurrences")
    except ImportError:
        print("pyahocorasick not installed: pip install pyahocorasick", file=sys.stderr)

    try:
        import hyperscan
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        t0 = time.perf_counter()
        db.compile(expressions=lits, ids=list(range(len(lits))), elements=len(lits),
                   flags=[hyperscan.HS_FLAG_CASELESS] * len(lits), literal=True)
        print(f"hyperscan compile {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        enc = [d.encode("utf-8") for d in docs]
        counter = [0]

        def on_match(pid, start, end, flags, ctx):
            counter[0] += 1

        def run_hs():
            counter[0] = 0
            for d in enc:
                db.scan(d, match_event_handler=on_match)
            return counter[0]
        s, n = timed(run_hs, args.repeat)
        record("hyperscan (per document)", s, n, 1, "raw occurrences, ASCII caseless")
        whole = b"\n".join(enc)

        def run_hs_whole():
            counter[0] = 0
            db.scan(whole, match_event_handler=on_match)
            return counter[0]
        s, n = timed(run_hs_whole, args.repeat)
        record("hyperscan (one buffer)", s, n, 1, "raw occurrences, ASCII caseless")
    except ImportError:
        print("hyperscan not installed: pip install hyperscan", file=sys.stderr)

    base = next((r for r in rows if r["name"] == "pyahocorasick"), None)
    print(f"{'':34}{'threads':>8}{'MB/s':>10}{'x pyahocorasick':>17}{'matches':>10}")
    for r in rows:
        ratio = r["mb_per_s"] / base["mb_per_s"] if base else float("nan")
        print(f"{r['name']:34}{r['threads']:>8}{r['mb_per_s']:>10.1f}{ratio:>17.1f}{r['matches']:>10}")
    os.makedirs(args.out, exist_ok=True)
    with open(Path(args.out) / "bench_patterns.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": platform.processor() or
                            platform.machine(), "mb": mb, "literals": len(lits), "rows": rows}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
