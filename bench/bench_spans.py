"""Copied spans: suffix-array build vs pydivsufsort, and span checking vs a Python 13-gram overlap check.

Side by side in one run, on the same data:
  - build: scanner's SA-IS (csrc/suffix_array.hpp) vs pydivsufsort (libdivsufsort) on the same
    normalized reference bytes, MB/s; then index bytes per reference byte: scanner's whole span index
    (normalized text + packed suffix array + k-gram filter + prefix table) vs the suffix array
    pydivsufsort returns (int32/int64 per byte, no text).
  - check: scanner's span detector (normalization, k-gram filter, suffix-array search, offsets in the
    original texts, on one thread) vs the lm-eval-harness style decontamination check in pure Python
    (lower-case \\w+ words, a set of the references' 13-grams, every 13-gram of each document looked up),
    MB/s of corpus text per core. The two do different amounts of work (scanner reports exact maximal
    spans with offsets; the 13-gram check says which 13-grams overlap), which is the comparison a user
    choosing between them faces.

Usage: python bench/bench_spans.py [--ref-mb 8] [--corpus-mb 8] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scanner import _core
from scanner.spans import SpanMatcher

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
WORD = re.compile(r"\w+")


def load_texts(files, limit_bytes):
    out, size = [], 0
    for f in files:
        for t in pq.read_table(SHARED / f, columns=["text"]).column("text").to_pylist():
            if t:
                out.append(t)
                size += len(t.encode("utf-8"))
                if size >= limit_bytes:
                    return out
    return out


def make_corpus(human, refs, target_bytes, rng):
    """Human paragraphs, one in 20 with a 60-120 word passage of a reference pasted in."""
    docs, size, i = [], 0, 0
    while size < target_bytes:
        d = human[i % len(human)]
        if i % 20 == 0:
            w = refs[int(rng.integers(len(refs)))].split(" ")
            a = int(rng.integers(0, max(1, len(w) - 60)))
            d = d + " " + " ".join(w[a:a + int(rng.integers(60, 120))]) + " " + human[(i * 7 + 3) % len(human)]
        docs.append(d)
        size += len(d.encode("utf-8"))
        i += 1
    return docs


def ngram13_set(texts):
    s = set()
    for t in texts:
        w = WORD.findall(t.lower())
        for i in range(len(w) - 12):
            s.add(tuple(w[i:i + 13]))
    return s


def ngram13_check(docs, grams):
    flagged = overlapping = 0
    for d in docs:
        w = WORD.findall(d.lower())
        hits = sum(1 for i in range(len(w) - 12) if tuple(w[i:i + 13]) in grams)
        flagged += hits > 0
        overlapping += hits
    return flagged, overlapping


def best_of(f, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref-mb", type=float, default=8.0, help="MB of reference text")
    ap.add_argument("--corpus-mb", type=float, default=8.0, help="MB of corpus text")
    ap.add_argument("--min-span", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = ap.parse_args()
    rng = np.random.default_rng(20261123)
    refs = load_texts(["reference/openai_alpacaeval.parquet", "reference/chatgpt_sharegpt_sample.parquet"],
                      a.ref_mb * 1e6)
    human = load_texts(["human/brown.parquet", "human/webtext.parquet", "human/inaugural.parquet"], 4e6)
    docs = make_corpus(human, refs, a.corpus_mb * 1e6, rng)
    ref_bytes = sum(len(t.encode()) for t in refs)
    corpus_bytes = sum(len(t.encode()) for t in docs)
    res = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
           "cpus": os.cpu_count(), "python": sys.version.split()[0], "references": len(refs),
           "reference_mb": ref_bytes / 1e6, "corpus_docs": len(docs), "corpus_mb": corpus_bytes / 1e6}

    # ---- build ----
    norm = b"\xff".join(_core.normalize(t.encode())[0] for t in refs) + b"\xff"
    res["normalized_mb"] = len(norm) / 1e6
    t_ours, _ = best_of(lambda: _core.suffix_array(norm), 1)
    t_full, sm = best_of(lambda: SpanMatcher.build(refs, threads=1), 1)
    res["build_sa_mb_s"] = len(norm) / 1e6 / t_ours
    res["build_index_mb_s"] = ref_bytes / 1e6 / t_full
    res["index_bytes_per_ref_byte"] = sm.nbytes / len(norm)
    res["index_breakdown_bytes_per_byte"] = {k: int(np.asarray(v).nbytes) / len(norm) for k, v in sm.arrays.items()}
    try:
        import pydivsufsort
        buf = np.frombuffer(norm, dtype=np.uint8).copy()
        t_dss, sa = best_of(lambda: pydivsufsort.divsufsort(buf), 1)
        res["pydivsufsort_mb_s"] = len(norm) / 1e6 / t_dss
        res["pydivsufsort_bytes_per_byte"] = sa.nbytes / len(norm)
        res["build_ratio_vs_pydivsufsort"] = res["build_sa_mb_s"] / res["pydivsufsort_mb_s"]
        res["same_suffix_array"] = bool(np.array_equal(sa.astype(np.int64), _core.suffix_array(norm)))
    except ImportError:
        res["pydivsufsort"] = "not installed (pip install pydivsufsort)"

    # ---- check ----
    col = pa.array(docs, type=pa.large_string())
    t_scan, r = best_of(lambda: sm.scan(col, a.min_span, threads=1), a.repeat)
    res["scanner_mb_s"] = corpus_bytes / 1e6 / t_scan
    res["scanner_docs_with_spans"] = int(np.count_nonzero(np.diff(r["row_offsets"])))
    res["scanner_spans"] = int(r["row_offsets"][-1])
    res["scanner_stats"] = {k: int(r[k]) for k in ("windows", "filter_hits", "searches", "matches")}
    if (os.cpu_count() or 1) > 1:
        t_all, _ = best_of(lambda: sm.scan(col, a.min_span, threads=0), a.repeat)
        res["scanner_all_cores_mb_s"] = corpus_bytes / 1e6 / t_all
    t_g, grams = best_of(lambda: ngram13_set(refs), 1)
    res["ngram13_build_mb_s"] = ref_bytes / 1e6 / t_g
    t_py, (flagged, overlapping) = best_of(lambda: ngram13_check(docs, grams), 1)
    res["ngram13_mb_s"] = corpus_bytes / 1e6 / t_py
    res["ngram13_docs_flagged"] = flagged
    res["check_ratio_vs_ngram13"] = res["scanner_mb_s"] / res["ngram13_mb_s"]

    print(json.dumps(res, indent=2))
    Path(a.out).mkdir(parents=True, exist_ok=True)
    with open(Path(a.out) / "spans.jsonl", "a") as f:
        f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
