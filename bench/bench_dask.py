"""Dask: scan throughput with 1 and 2 worker processes (one native thread each) on the same corpus, one run.

Corpus: human paragraphs with pasted reference passages and self-identification snippets (as in
bench_sample.py), Parquet in row groups of 2,000 rows, cut into units of 10,000 rows. Reported: MB/s of
text end to end (cluster start excluded, index opening and all tasks included) and the 2-worker speed-up;
also the single-process scan with 1 and 2 native threads for comparison. Every run's findings are
checked to be byte-identical.

Usage: python bench/bench_dask.py [--mb 128] [--work /tmp/scanner-bench-dask]
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

from scanner.distributed import connect, dask_executor
from scanner.index import ReferenceIndex
from scanner.scan import ScanOptions, scan


def build(work: Path, mb: float):
    refs = texts("reference/openai_alpacaeval.parquet")
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(refs))], "text": refs}), work / "refs.parquet")
    real_mb, _ = mixed_corpus(work / "corpus.parquet", refs, mb, 3, paste_from_start=True, row_group_size=2000)
    return ReferenceIndex.build([work / "refs.parquet"], work / "index"), real_mb


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=128)
    ap.add_argument("--work", default="/tmp/scanner-bench-dask")
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    idx, mb = build(work, args.mb)
    corpus = [work / "corpus.parquet"]
    rows = {}
    for threads in (1, 2):
        t = time.perf_counter()
        scan(corpus, idx, work / f"local{threads}", ScanOptions(threads=threads), unit_rows=10_000)
        rows[f"one process, {threads} native thread(s)"] = time.perf_counter() - t
    for workers in (1, 2):
        client, close = connect(workers=workers)
        try:
            opts = ScanOptions(threads=1)
            t = time.perf_counter()
            scan(corpus, str(idx.path), work / f"dask{workers}", opts,
                 executor=dask_executor(client, str(idx.path), opts), unit_rows=10_000)
            rows[f"dask, {workers} worker(s) x 1 thread"] = time.perf_counter() - t
        finally:
            close()
    ref = pq.read_table(work / "local1" / "findings")
    for d in ("local2", "dask1", "dask2"):
        assert pq.read_table(work / d / "findings").equals(ref), d
    print(f"corpus {mb:.0f} MB")
    for k, v in rows.items():
        print(f"{k:<36}{v:8.2f} s{mb / v:8.1f} MB/s")
    s1, s2 = rows["dask, 1 worker(s) x 1 thread"], rows["dask, 2 worker(s) x 1 thread"]
    print(f"2 workers / 1 worker: {s1 / s2:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
