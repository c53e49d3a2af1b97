"""MinHash signatures and LSH queries: scanner vs datasketch vs rensa, side by side in one run.

Signatures, end to end from text to a signature per document, word 5-shingles, 128 permutations:
  - scanner: a pyarrow text column in, uint32 matrix out (normalization, tokenizing, shingling and
    hashing in C++), one thread (per core) and all threads;
  - datasketch: the usual pipeline, Python shingling + MinHash.update_batch per document;
  - rensa: Python shingling + RMinHash.update per document, and its bulk digest_matrix_from_token_sets.
Peers get Python shingling (lower-case, \\w+ words), close to scanner's tokenization.

LSH queries: the same reference signatures indexed by each library with the same bands x rows,
then every corpus document queried; throughput in queries per second (candidates only).

Usage: python bench/bench_minhash.py [--mb 4] [--refs 30000] [--queries 20000] [--out bench/results]
Figures are per core unless marked "all cores"; ratios are measured in this one run.
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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scanner.config import NearDupParams
from scanner.index import ReferenceIndex
from scanner.minhash import MinHasher

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
WORD = re.compile(r"\w+")
NUM_PERM, NGRAM, SEED = 128, 5, 1


def load_texts(files, limit_bytes=None, limit_rows=None):
    out, size = [], 0
    for f in files:
        for t in pq.read_table(SHARED / f, columns=["text"]).column("text").to_pylist():
            if not t:
                continue
            out.append(t)
            size += len(t.encode("utf-8"))
            if (limit_bytes and size >= limit_bytes) or (limit_rows and len(out) >= limit_rows):
                return out
    return out


def py_shingles(text):
    w = WORD.findall(text.lower())
    k = min(NGRAM, len(w))
    return [" ".join(w[i:i + k]) for i in range(len(w) - k + 1)] if w else []


def best_of(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_signatures(texts, repeat):
    import datasketch
    import rensa
    arr = pa.array(texts, type=pa.large_string())
    mb = pc.sum(pc.binary_length(arr)).as_py() / 1e6
    res = {}
    for mode in ("fast", "datasketch"):
        mh = MinHasher(NUM_PERM, SEED, NGRAM, hash=mode, threads=1)
        res[f"scanner[{mode}] 1 thread"] = mb / best_of(lambda mh=mh: mh.signatures(arr), repeat)
    cores = os.cpu_count() or 1
    mh = MinHasher(NUM_PERM, SEED, NGRAM, threads=0)
    res[f"scanner[fast] all {cores} cores (total)"] = mb / best_of(lambda: mh.signatures(arr), repeat)

    def ds():
        for t in texts:
            m = datasketch.MinHash(num_perm=NUM_PERM, seed=SEED)
            m.update_batch([s.encode("utf-8") for s in py_shingles(t)])

    def rs():
        for t in texts:
            m = rensa.RMinHash(NUM_PERM, SEED)
            m.update(py_shingles(t))
            m.digest()

    def rs_bulk():
        rensa.RMinHash.digest_matrix_from_token_sets([py_shingles(t) for t in texts], NUM_PERM, SEED)

    res["datasketch 1 thread"] = mb / best_of(ds, 1)
    res["rensa RMinHash 1 thread"] = mb / best_of(rs, repeat)
    res["rensa bulk matrix"] = mb / best_of(rs_bulk, repeat)
    return mb, res


def bench_lsh(ref_texts, query_texts, bands, rows, tmp):
    import datasketch
    import rensa
    refp = tmp / "bench_refs.parquet"
    pq.write_table(pa.table({"text": ref_texts}), refp)
    params = NearDupParams(num_perm=NUM_PERM, seed=SEED, ngram=NGRAM, hash="datasketch", bands=bands, rows=rows)
    idx = ReferenceIndex.build([str(refp)], tmp / "bench_index", params=params, overwrite=True)
    ref_sigs = np.asarray(idx._arrays["signatures"])
    mh = MinHasher(NUM_PERM, SEED, NGRAM, hash="datasketch", threads=1)
    q_sigs, _ = mh.signatures(query_texts)
    nq = len(query_texts)
    res = {}
    nd = idx.near_dup
    res["scanner 1 thread"] = nq / best_of(lambda: nd.candidates(q_sigs, 1))
    res[f"scanner all {os.cpu_count()} cores (total)"] = nq / best_of(lambda: nd.candidates(q_sigs, 0))

    lsh = datasketch.MinHashLSH(num_perm=NUM_PERM, params=(bands, rows))
    with lsh.insertion_session() as s:
        for i, sig in enumerate(ref_sigs):
            s.insert(i, datasketch.MinHash(num_perm=NUM_PERM, seed=SEED, hashvalues=sig, scheme="affine32"),
                     check_duplication=False)
    q_objs = [datasketch.MinHash(num_perm=NUM_PERM, seed=SEED, hashvalues=s, scheme="affine32") for s in q_sigs]
    res["datasketch MinHashLSH"] = nq / best_of(lambda: [lsh.query(q) for q in q_objs], 1)

    def rmh(t):
        m = rensa.RMinHash(NUM_PERM, SEED)
        m.update(py_shingles(t))
        return m

    r_refs = [rmh(t) for t in ref_texts]
    r_q = [rmh(t) for t in query_texts]
    rl = rensa.RMinHashLSH(0.5, NUM_PERM, bands)
    for i, m in enumerate(r_refs):
        rl.insert(i, m)
    res["rensa RMinHashLSH query"] = nq / best_of(lambda: [rl.query(q) for q in r_q])
    res["rensa RMinHashLSH query_all"] = nq / best_of(lambda: rl.query_all(r_q))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=4.0, help="MB of text for the signature benchmark")
    ap.add_argument("--refs", type=int, default=30000, help="reference outputs in the LSH benchmark")
    ap.add_argument("--queries", type=int, default=20000, help="queries in the LSH benchmark")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    texts = load_texts(["reference/chatgpt_sharegpt_sample.parquet"], limit_bytes=int(a.mb * 1e6))
    mb, sig = bench_signatures(texts, a.repeat)
    ds = sig["datasketch 1 thread"]
    print(f"\nMinHash signatures, {len(texts)} documents, {mb:.1f} MB, num_perm={NUM_PERM}, {NGRAM}-word shingles")
    print(f"{'':42}{'MB/s':>9}{'x datasketch':>14}")
    for k, v in sig.items():
        print(f"{k:42}{v:9.1f}{v / ds:14.1f}")

    refs = load_texts(["reference/openai_alpacaeval.parquet", "reference/gpt4_gpteacher.parquet"],
                      limit_rows=a.refs)
    queries = load_texts(["human/brown.parquet", "reference/davinci003_alpaca.parquet"], limit_rows=a.queries)
    lsh = bench_lsh(refs, queries, 32, 4, out)  # rensa needs num_perm divisible by bands
    print(f"\nLSH queries, {len(refs)} references, {len(queries)} queries, 32 bands x 4 rows")
    rensa_rate = lsh["rensa RMinHashLSH query_all"]
    print(f"{'':42}{'queries/s':>12}{'x rensa':>10}")
    for k, v in lsh.items():
        print(f"{k:42}{v:12.0f}{v / rensa_rate:10.2f}")

    record = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(), "python": sys.version.split()[0], "signature_mb": mb,
              "signatures_mb_per_s": sig, "lsh_refs": len(refs), "lsh_queries": len(queries),
              "lsh_queries_per_s": lsh}
    with open(out / "minhash.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
