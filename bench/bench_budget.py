"""Issue 7's budget of 100 MB/s of text per core, spent: what a scan costs that reads and does nothing
else, with each detector alone, and with all three, on the same file in one run.

Configurations, each in a fresh process:
  read            pyarrow reading the corpus's text and id columns in the scan's batches (8,192 rows,
                  no Arrow threads): Parquet decoding alone, the floor no scanner of Parquet can go under
  read+sha256     the same plus the SHA-256 of the file, which every scan records for its manifest
  self_id         scanner.scan.scan with one detector (self-identification), one native thread
  near_duplicate  the same with the near-duplicate detector alone
  copied_span     the same with the copied-span detector alone
  all             the same with all three detectors (the default scan)
Each process does one warm-up and then --repeat passes over the corpus, and keeps the least CPU time
(time.process_time: all the process's threads, Parquet decoding included). The configurations take
turns round after round (--rounds), so a slow spell of a shared machine falls on all of them; printed
are each one's least and median over the rounds, its MB per CPU-second, and the share of the budget:
100 MB/s per core allows MB / 100 CPU-seconds for this corpus.

The corpus and index are bench_scan's (human paragraphs with pasted reference passages, whole answers
and self-ID snippets; 16,095 AlpacaEval references), made in --work unless they are already there.

Usage: python bench/bench_budget.py [--mb 128] [--rounds 3] [--repeat 3] [--work /tmp/scanner-bench-budget]
"""

from __future__ import annotations  # noqa: I001 (scanner first, as in the CLI)

import scanner  # noqa: F401 -- imported before pyarrow so that its allocator setting applies
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from _corpus import texts

from scanner.index import ReferenceIndex

CHILD = """
import scanner, json, sys, time
import pyarrow.parquet as pq
from scanner.index import ReferenceIndex
from scanner.reader import sha256_file
from scanner.scan import ScanOptions, scan
cfg, work, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
corpus = work + "/corpus.parquet"
if cfg.startswith("read"):
    rows = ScanOptions().batch_rows
    def one():
        for _ in pq.ParquetFile(corpus).iter_batches(batch_size=rows, columns=["text", "id"], use_threads=False):
            pass
        if cfg == "read+sha256":
            sha256_file(corpus)
        return None
else:
    idx = ReferenceIndex.load(work + "/index")
    dets = ScanOptions().detectors if cfg == "all" else (cfg,)  # all: the default scan's
    opts = ScanOptions(threads=1, detectors=dets)
    def one():
        return scan([corpus], idx, work + "/out-" + cfg, opts, force=True)
one()
best = float("inf")
for _ in range(repeat):
    c = time.process_time()
    m = one()
    best = min(best, time.process_time() - c)
print(json.dumps({"cpu": best, "findings": m["totals"]["findings"] if m else None}))
"""

CONFIGS = ("read", "read+sha256", "self_id", "near_duplicate", "copied_span", "all")


def prepare(work: Path, mb: float) -> float:
    """bench_scan's corpus and index in work (made once); returns the corpus's MB of text."""
    from bench_scan import make_corpus
    work.mkdir(parents=True, exist_ok=True)
    corpus, meta = work / "corpus.parquet", work / "corpus.json"
    made = corpus.is_file() and meta.is_file() and (work / "index" / "manifest.json").is_file()
    if not (made and json.loads(meta.read_text()).get("asked_mb") == mb):
        refs = texts("reference/openai_alpacaeval.parquet")
        pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(refs))], "text": refs}), work / "refs.parquet")
        ReferenceIndex.build([work / "refs.parquet"], work / "index", overwrite=True)
        got = make_corpus(corpus, refs, mb)
        meta.write_text(json.dumps({"asked_mb": mb, "mb": got}))
    return json.loads(meta.read_text())["mb"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3, help="passes per process after the warm-up; the least is kept")
    ap.add_argument("--work", default="/tmp/scanner-bench-budget")
    args = ap.parse_args()
    work = Path(args.work)
    t = time.perf_counter()
    mb = prepare(work, args.mb)
    print(f"corpus of {mb:.1f} MB of text and its index ready in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    cpu: dict[str, list[float]] = {c: [] for c in CONFIGS}
    findings = {}
    for r in range(args.rounds):
        for c in CONFIGS:
            p = subprocess.run([sys.executable, "-c", CHILD, c, str(work), str(args.repeat)], capture_output=True,
                               text=True, cwd=work)
            if p.returncode != 0:
                print(p.stderr, file=sys.stderr)
                return 1
            res = json.loads(p.stdout.strip().splitlines()[-1])
            cpu[c].append(res["cpu"])
            findings[c] = res["findings"]
            print(f"round {r + 1}: {c:15s} {res['cpu']:.3f} CPU-s", file=sys.stderr)
    budget = mb / 100.0
    print(f"100 MB/s per core allows {budget:.2f} CPU-seconds for these {mb:.1f} MB")
    print(f"{'':16}{'least s':>9}{'median s':>10}{'MB/CPU-s':>10}{'budget':>8}  findings")
    for c in CONFIGS:
        lo, med = min(cpu[c]), statistics.median(cpu[c])
        f = "" if findings[c] is None else ", ".join(f"{k} {v}" for k, v in sorted(findings[c].items()))
        print(f"{c:16}{lo:9.3f}{med:10.3f}{mb / lo:10.1f}{lo / budget:7.0%}  {f}")
    row = {"date": time.strftime("%Y-%m-%d"), "mb": mb, "cpu_s": cpu, "findings": findings}
    print(json.dumps(row))
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)  # bench/results/ is not in git: a fresh clone has none
    with open(results / "budget.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
