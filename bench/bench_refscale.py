"""Reference scale: indexes of 10k, 100k and 1M reference outputs, their build time, memory, size, and the
scan rate against each.

Real reference outputs (`../shared/data/reference`, about 70k answers) are too few for a million, so the
references here are recombined from them: each is 2 to 8 consecutive sentences of one real answer, the
answer and starting sentence drawn at random (seeded). They read like model answers and share sentences
with one another as real sets do (a sentence lands in several references), which is the hard case for a
suffix array. The smaller sets are prefixes of the larger ones, so the same corpus has the same planted
passages in every set: human paragraphs, one in 20 with a 60-120 word passage of one of the first 10k
references pasted in, one in 50 replaced by a whole reference.

Each build and each scan runs in its own process (peak RSS read from /proc/self/status VmHWM).
Printed per set: build seconds, build peak RSS, index bytes per reference and per reference character
(suffix array + k-gram filter apart from texts and per-reference arrays), open time, and the scan rate of
one thread over the same corpus with its findings count: first with the index freshly mapped (every page
the search touches faults in from the page cache), then again in the same process ("MB/s"), and the
best of five such warm scans ("steady": what a long scan, or a worker scanning shard after shard, sees
once the pages it needs are mapped; on a 32 MB corpus the second scan still maps new ones at 1M). The
larger sets find more (the recombined references are near-duplicates of one another), so part of their
extra time is verification and reporting, not search; "human" is the steady rate on a corpus of the
same size of human paragraphs alone, with what little it finds: the cost of a query that matches
nothing.

Usage: python bench/bench_refscale.py [--sizes 10000,100000,1000000] [--corpus-mb 32] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _corpus import human_paragraphs, mixed_corpus, texts

SENT = re.compile(r"(?<=[.!?])\s+")

BUILD = """
import json, sys, time
from scanner.index import ReferenceIndex
t = time.perf_counter()
ReferenceIndex.build([sys.argv[1]], sys.argv[2], overwrite=True)
build_s = time.perf_counter() - t
hwm = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"build_s": build_s, "build_rss_mb": hwm}))
"""

SCAN = """
import json, sys, time
t = time.perf_counter()
from scanner.index import ReferenceIndex
from scanner.scan import scan, ScanOptions
t0 = time.perf_counter()
idx = ReferenceIndex.load(sys.argv[2])
open_ms = (time.perf_counter() - t0) * 1e3
times = []
for i in range(6):  # cold, then warm; the best of the warm ones is the steady rate
    t1 = time.perf_counter()
    man = scan([sys.argv[1]], idx, sys.argv[3] + ("-cold" if i == 0 else "-warm"), ScanOptions(threads=1),
               force=True)
    times.append(time.perf_counter() - t1)
status = open("/proc/self/status").read()
hwm = int(status.split("VmHWM:")[1].split()[0]) / 1024
anon = int(status.split("RssAnon:")[1].split()[0]) / 1024
print(json.dumps({"open_ms": open_ms, "cold_scan_s": times[0], "scan_s": times[1], "steady_scan_s": min(times[1:]),
                  "scan_rss_mb": hwm,
                  "scan_anon_rss_mb": anon, "findings": man["totals"]["findings"]}))
"""


def references(n: int, seed: int = 5) -> list[str]:
    """n references recombined from real answers (see the module docstring); deterministic."""
    answers = []
    for rel in ("reference/chatgpt_sharegpt_sample.parquet", "reference/openai_alpacaeval.parquet",
                "reference/davinci003_alpaca.parquet", "reference/gpt4_gpteacher.parquet"):
        answers += [s for s in (SENT.split(t) for t in texts(rel)) if len(s) >= 2]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        sents = answers[int(rng.integers(len(answers)))]
        k = int(rng.integers(2, 9))
        a = int(rng.integers(0, max(1, len(sents) - k + 1)))
        out.append(" ".join(sents[a:a + k]))
    return out


def human_corpus(path: Path, mb: float, seed: int) -> float:
    """About mb MB of human paragraphs only, nothing planted: what the scan costs per MB when the
    documents match nothing (the query cost alone). Returns the MB written."""
    human = human_paragraphs()
    rng = np.random.default_rng(seed)
    docs, size = [], 0
    while size < mb * 1e6:
        docs.append(human[int(rng.integers(len(human)))])
        size += len(docs[-1].encode())
    pq.write_table(pa.table({"id": [f"h{j}" for j in range(len(docs))], "text": docs}), path, row_group_size=4000)
    return size / 1e6


def run(script: str, *args) -> dict:
    # run from /tmp: `python -c` puts the working directory first on sys.path, and the source tree has no _core
    r = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, cwd="/tmp")
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--corpus-mb", type=float, default=32)
    ap.add_argument("--work", default="/tmp/scanner-bench-refscale")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t = time.perf_counter()
    refs = references(sizes[-1])
    print(f"{len(refs)} references, {sum(len(r.encode()) for r in refs) / 1e6:.0f} MB, made in "
          f"{time.perf_counter() - t:.0f} s", file=sys.stderr)
    corpus_mb = mixed_corpus(work / "corpus.parquet", refs[:sizes[0]], args.corpus_mb, seed=3, whole_every=50)[0]
    human_mb = human_corpus(work / "human.parquet", args.corpus_mb, seed=4)
    rows = []
    for n in sizes:
        src = work / f"refs-{n}.parquet"
        pq.write_table(pa.table({"id": [f"r{i}" for i in range(n)], "text": refs[:n]}), src, row_group_size=65536)
        b = run(BUILD, src, work / f"index-{n}")
        man = json.loads((work / f"index-{n}" / "manifest.json").read_text())
        arr = {k: v["bytes"] for k, v in man["arrays"].items()}
        chars = man["spans"]["text_bytes"]
        total = sum(arr.values())
        sa_filter = arr["span_sa"] + arr["span_filter"] + arr["span_samples"]
        texts_b = arr["span_text"] + arr["ref_text_data"]
        per_ref = total - sa_filter - texts_b - arr["span_bucket"]
        s = run(SCAN, work / "corpus.parquet", work / f"index-{n}", work / f"out-{n}")
        h = run(SCAN, work / "human.parquet", work / f"index-{n}", work / f"out-{n}")
        row = {"refs": n, "ref_mb": chars / 1e6, **b, "index_mb": total / 1e6,
               "sa_filter_b_per_char": sa_filter / chars, "texts_b_per_char": texts_b / chars,
               "other_b_per_ref": per_ref / n, **s, "cold_scan_mb_s": corpus_mb / s["cold_scan_s"],
               "scan_mb_s": corpus_mb / s["scan_s"], "steady_mb_s": corpus_mb / s["steady_scan_s"],
               "human_steady_mb_s": human_mb / h["steady_scan_s"], "human_findings": h["findings"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
        for part in ("cold", "warm"):
            shutil.rmtree(work / f"out-{n}-{part}", ignore_errors=True)
    print(f"\n{'refs':>9}{'ref MB':>8}{'build s':>9}{'build RSS':>10}{'index MB':>10}{'SA+filter':>10}"
          f"{'texts':>7}{'per ref':>8}{'open ms':>8}{'cold MB/s':>10}{'MB/s':>7}{'steady':>7}{'findings':>9}"
          f"{'human':>7}{'found':>6}")
    for r in rows:
        print(f"{r['refs']:>9}{r['ref_mb']:8.0f}{r['build_s']:9.0f}{r['build_rss_mb']:9.0f}M{r['index_mb']:10.0f}"
              f"{r['sa_filter_b_per_char']:9.2f}B{r['texts_b_per_char']:6.2f}B{r['other_b_per_ref']:7.0f}B"
              f"{r['open_ms']:8.1f}{r['cold_scan_mb_s']:10.1f}{r['scan_mb_s']:7.1f}{r['steady_mb_s']:7.1f}"
              f"{sum(r['findings'].values()):9}{r['human_steady_mb_s']:7.1f}{sum(r['human_findings'].values()):6}")
    base = rows[0]
    for r in rows[1:]:
        print(f"{r['refs']} references: {base['steady_mb_s'] / r['steady_mb_s']:.2f}x the steady time per MB of "
              f"{base['refs']} ({r['refs'] // base['refs']}x the references, {sum(r['findings'].values())} findings "
              f"against {sum(base['findings'].values())}); on human text alone "
              f"{base['human_steady_mb_s'] / r['human_steady_mb_s']:.2f}x")
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)  # bench/results/ is not in git: a fresh clone has none
    with open(results / "refscale.jsonl", "a") as f:
        for r in rows:
            f.write(json.dumps({"date": time.strftime("%Y-%m-%d"), **r}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
