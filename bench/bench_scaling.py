"""How the scan's cost grows: with the corpus (should be linear: flat MB/s) and with the reference set
(should be sublinear: MB/s falling much slower than the references grow). One run, one machine.

Corpus: human paragraphs with pasted reference passages (as in bench_sample.py). References: ChatGPT
answers from ../shared/data/reference/chatgpt_sharegpt_sample.parquet (67k) then AlpacaEval outputs.
Every scan uses all cores and all three detectors. Writes bench/scaling.svg (two panels) and prints the
table.

Usage: python bench/bench_scaling.py [--corpus-mb 16,64,256] [--refs 2000,8000,32000,64000] [--fixed-mb 32]
"""

from __future__ import annotations  # noqa: I001 (scanner first, as in the CLI)

import scanner  # noqa: F401 -- imported before pyarrow so that its allocator setting applies
import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _corpus import mixed_corpus, texts

from scanner.index import ReferenceIndex
from scanner.scan import scan

WORK = Path("/tmp/scanner-bench-scaling")


def corpus(path: Path, refs: list, mb: float, seed: int = 4) -> float:
    return mixed_corpus(path, refs, mb, seed, paste_from_start=True, ids=False)[0]


def timed_scan(path: Path, idx, out: Path, repeat: int) -> float:
    """Seconds of the fastest of `repeat` scans (the machine's noise only ever adds time)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        scan([path], idx, out, force=True)
        best = min(best, time.perf_counter() - t)
    return best


def svg(panels: list, path: Path) -> None:
    """Line charts, one panel per (title, x label, [(x, y)]) with log-scaled x."""
    w, h, pad = 420, 260, 48
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * len(panels)}" height="{h}" '
             f'font-family="sans-serif" font-size="11">']
    for k, (title, xlabel, pts) in enumerate(panels):
        ox = k * w
        xs, ys = [np.log10(x) for x, _ in pts], [y for _, y in pts]
        x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
        y1 = max(ys) * 1.15

        def px(x, y, ox=ox, x0=x0, x1=x1, y1=y1):
            return ox + pad + (np.log10(x) - x0) / (x1 - x0) * (w - 2 * pad), h - pad - y / y1 * (h - 2 * pad)
        parts.append(f'<text x="{ox + w / 2}" y="16" text-anchor="middle" font-size="13">{title}</text>')
        parts.append(f'<line x1="{ox + pad}" y1="{h - pad}" x2="{ox + w - pad}" y2="{h - pad}" stroke="#333"/>')
        parts.append(f'<line x1="{ox + pad}" y1="{pad}" x2="{ox + pad}" y2="{h - pad}" stroke="#333"/>')
        parts.append(f'<text x="{ox + w / 2}" y="{h - 12}" text-anchor="middle">{xlabel}</text>')
        parts.append(f'<text x="{ox + 12}" y="{h / 2}" transform="rotate(-90 {ox + 12} {h / 2})" '
                     f'text-anchor="middle">MB/s (2 threads)</text>')
        coords = [px(x, y) for x, y in pts]
        parts.append('<polyline fill="none" stroke="#4a7fb5" stroke-width="2" points="' +
                     " ".join(f"{a:.1f},{b:.1f}" for a, b in coords) + '"/>')
        for (x, y), (a, b) in zip(pts, coords):
            parts.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="#4a7fb5"/>')
            parts.append(f'<text x="{a:.1f}" y="{b - 8:.1f}" text-anchor="middle">{y:.0f}</text>')
            parts.append(f'<text x="{a:.1f}" y="{h - pad + 14}" text-anchor="middle">{x:g}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus-mb", default="16,64,256")
    ap.add_argument("--refs", default="2000,8000,32000,64000")
    ap.add_argument("--fixed-mb", type=float, default=32)
    ap.add_argument("--fixed-refs", type=int, default=16000)
    ap.add_argument("--repeat", type=int, default=3, help="scans per point; the fastest is kept")
    args = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    pool = texts("reference/chatgpt_sharegpt_sample.parquet") + texts("reference/openai_alpacaeval.parquet")

    def index_of(n: int):
        p = WORK / f"refs-{n}.parquet"
        pq.write_table(pa.table({"id": [f"r{i}" for i in range(n)], "text": pool[:n]}), p)
        t = time.perf_counter()
        idx = ReferenceIndex.build([p], WORK / f"index-{n}", overwrite=True)
        return idx, time.perf_counter() - t

    by_corpus, by_refs = [], []
    idx, _ = index_of(args.fixed_refs)
    for mb in [float(x) for x in args.corpus_mb.split(",")]:
        real = corpus(WORK / f"c-{mb:g}.parquet", pool[:args.fixed_refs], mb)
        s = timed_scan(WORK / f"c-{mb:g}.parquet", idx, WORK / "out", args.repeat)
        by_corpus.append((round(real), real / s))
        print(f"corpus {real:7.1f} MB, {args.fixed_refs} references: {real / s:6.1f} MB/s")
    fixed = corpus(WORK / "fixed.parquet", pool[:2000], args.fixed_mb)
    for n in [int(x) for x in args.refs.split(",")]:
        idx, build = index_of(n)
        s = timed_scan(WORK / "fixed.parquet", idx, WORK / "out", args.repeat)
        chars = int(np.sum(idx.ref_codepoints))
        by_refs.append((n, fixed / s))
        print(f"references {n:6d} ({chars / 1e6:6.1f} M characters, index built in {build:5.1f} s): "
              f"{fixed / s:6.1f} MB/s over {fixed:.0f} MB")
    out = Path(__file__).resolve().parent / "scaling.svg"
    svg([("scan rate vs corpus size", "corpus MB", by_corpus),
         ("scan rate vs reference set", "reference outputs", by_refs)], out)
    print(f"plot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
