"""Instructions the native one-pass scan executes per MB of text, counted by callgrind.

Time on this project's VM drifts by up to 1.5x within minutes, more than most changes to the code, so an
A/B in wall-clock seconds often cannot tell two builds apart. Instruction counts do not move with the
machine's load: run this once per build and compare. They do not count cache misses, so the parts that
wait on memory (suffix-array searches, LSH lookups, the k-gram filter at a million references) weigh
more in time than here; use it beside the timed benchmarks, not instead of them.

What is counted: `ScanContext.scan_batch` over the corpus's batches, one native thread, after the index
is open, the batches decoded and the self-ID automaton compiled (each variant is run twice under
callgrind, with and without the scan calls, and the difference is reported). Variants: each detector
alone and all three; each includes the base every scan pays (normalization, tokens, shingle hashes).
Counts are repeatable with OPENBLAS_NUM_THREADS=1 and PYTHONHASHSEED=0, which this script sets.

For another build: PYTHONPATH=<its install dir> python bench/bench_instructions.py. Install that build
with `pip install --target`; a copied package (cp -r) has stale .pyc files that Python recompiles on
every run, adding about 90 M instructions of noise outside the scan (they cancel in the difference, but
slow the run).

Needs valgrind (`apt-get install valgrind`). Usage: python bench/bench_instructions.py [--mb 8]
[--work /tmp/scanner-bench-instr]
"""

from __future__ import annotations  # noqa: I001 (scanner first, as in the CLI)

import scanner  # noqa: F401 -- imported before pyarrow so that its allocator setting applies
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from _corpus import texts
from bench_scan import make_corpus

from scanner.index import ReferenceIndex

VARIANTS = {
    "near_duplicate": ("near_duplicate",),
    "copied_span": ("copied_span",),
    "self_id": ("self_id",),
    "all three": ("near_duplicate", "copied_span", "self_id"),
}

HARNESS = """
import sys
import pyarrow.parquet as pq
from scanner.index import ReferenceIndex
from scanner.scan import ScanContext, ScanOptions
idx = ReferenceIndex.load(sys.argv[1])
batches = [b.column("text") for b in pq.ParquetFile(sys.argv[2]).iter_batches(batch_size=8192, columns=["text"])]
ctx = ScanContext(idx, ScanOptions(threads=1, detectors=tuple(sys.argv[4].split(","))))
ctx.matcher  # compiled outside the difference
if sys.argv[3] == "scan":
    for b in batches:
        ctx.scan_batch(b)
"""


def instructions(index: Path, corpus: Path, detectors: tuple, scan: bool) -> int:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c",
                        HARNESS, str(index), str(corpus), "scan" if scan else "setup", ",".join(detectors)],
                       capture_output=True, text=True, env=env, cwd=index.parent)
    # (cwd: `python -c` puts the working directory first on sys.path, and the source tree has no _core)
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if r.returncode != 0 or m is None:
        raise RuntimeError(f"callgrind run failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=8)
    ap.add_argument("--work", default="/tmp/scanner-bench-instr")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    index, corpus = work / "index", work / f"corpus-{args.mb:g}.parquet"
    if not (index / "manifest.json").exists():
        refs = texts("reference/openai_alpacaeval.parquet")
        pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(refs))], "text": refs}), work / "refs.parquet")
        ReferenceIndex.build([work / "refs.parquet"], index, overwrite=True)
    if not corpus.exists():
        make_corpus(corpus, texts("reference/openai_alpacaeval.parquet"), args.mb)
    col = pq.read_table(corpus, columns=["text"]).column("text")
    mb = pc.sum(pc.binary_length(col)).as_py() / 1e6
    print(f"corpus {mb:.1f} MB, {len(col)} documents; scanner {scanner.__file__}")
    print(f"{'detectors':16}{'M instructions':>16}{'per byte':>10}")
    out = {"mb": mb, "scanner": scanner.__file__}
    for name, dets in VARIANTS.items():
        n = instructions(index, corpus, dets, True) - instructions(index, corpus, dets, False)
        out[name] = n
        print(f"{name:16}{n / 1e6:16.1f}{n / (mb * 1e6):10.1f}", flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
