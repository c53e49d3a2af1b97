"""scan --sample: time and estimate of a 1% (and 10%) sample against the full scan of the same corpus, one run.

Corpus: human paragraphs (Brown, webtext, Gutenberg, inaugural, movie reviews) with one in 20 carrying a
60-120 word passage of a reference output and one in 100 a self-identification snippet, written as
Parquet in row groups of 2,000 rows. Index: 20,000 AlpacaEval outputs. Prints seconds and, per
detector, the full scan's rate against the sample's estimate and 95% interval.

Usage: python bench/bench_sample.py [--mb 256] [--work /tmp/scanner-bench-sample]
"""

from __future__ import annotations  # noqa: I001 (scanner first, as in the CLI)

import scanner  # noqa: F401 -- imported before pyarrow so that its allocator setting applies
import argparse
import shutil
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from _corpus import mixed_corpus, texts

from scanner.index import ReferenceIndex
from scanner.report import summarize
from scanner.scan import ScanOptions, scan


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=256)
    ap.add_argument("--work", default="/tmp/scanner-bench-sample")
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    refs = texts("reference/openai_alpacaeval.parquet")[:20000]
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(refs))], "text": refs}), work / "refs.parquet")
    mb, n_docs = mixed_corpus(work / "corpus.parquet", refs, args.mb, 11, selfid_every=100, row_group_size=2000)
    size = mb * 1e6
    idx = ReferenceIndex.build([work / "refs.parquet"], work / "index")
    groups = pq.ParquetFile(work / "corpus.parquet").metadata.num_row_groups
    print(f"corpus {mb:.0f} MB, {n_docs} documents, {groups} row groups; {len(refs)} references",
          file=sys.stderr)
    t = time.perf_counter()
    scan([work / "corpus.parquet"], idx, work / "full")
    full_s = time.perf_counter() - t
    truth = summarize(work / "full")
    print(f"full scan: {full_s:.1f} s ({size / 1e6 / full_s:.0f} MB/s, 2 threads)")
    for frac in (0.01, 0.1):
        t = time.perf_counter()
        scan([work / "corpus.parquet"], idx, work / f"s{frac}", ScanOptions(sample=frac, seed=1))
        s_s = time.perf_counter() - t
        s = summarize(work / f"s{frac}")
        print(f"sample {frac:g}: {s_s:.2f} s ({full_s / s_s:.1f}x faster), {s['rows_scanned']} rows scanned, "
              f"{s['sample']['units']} row groups")
        for det in ("near_duplicate", "copied_span", "self_id", "any"):
            d = s["detectors"][det]
            lo, hi = d["rate_ci95"]
            tr = truth["detectors"][det]["rate"]
            print(f"  {det:<15} full {100 * tr:6.2f}%   sample {100 * d['rate']:6.2f}% "
                  f"[{100 * lo:6.2f}, {100 * hi:6.2f}]  {'covers' if lo <= tr <= hi else 'MISSES'}")
        cs = s["copied_span"]
        lo, hi = cs["copied_share_ci95"]
        tr = truth["copied_span"]["copied_share"]
        print(f"  {'copied share':<15} full {100 * tr:6.2f}%   sample {100 * cs['copied_share']:6.2f}% "
              f"[{100 * lo:6.2f}, {100 * hi:6.2f}]  {'covers' if lo <= tr <= hi else 'MISSES'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
