"""Text the benchmarks share, read from ../shared/data (see its README for provenance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
HUMAN = ("brown", "webtext", "gutenberg", "inaugural", "movie_reviews")


def texts(rel: str) -> list[str]:
    """The non-empty `text` values of one file under ../shared/data."""
    return [t for t in pq.read_table(SHARED / rel, columns=["text"]).column("text").to_pylist() if t]


def human_paragraphs() -> list[str]:
    """Human-written paragraphs: Brown, webtext, Gutenberg, inaugural addresses, movie reviews."""
    out: list[str] = []
    for name in HUMAN:
        out += texts(f"human/{name}.parquet")
    return out


def selfid_snippets() -> list[str]:
    """Real self-identification snippets of reference models."""
    return texts("selfid/selfid_snippets.parquet")


def mixed_corpus(path: Path, refs: list, mb: float, seed: int, *, paste_from_start: bool = False,
                 whole_every: int = 0, selfid_every: int = 0, selfid_at: int = 7, ids: bool = True,
                 row_group_size: int = 4000) -> tuple[float, int]:
    """Writes a Parquet corpus of about mb MB of human paragraphs, one in 20 with a 60-120 word passage of a
    reference pasted in (from its start, or from a random word), optionally one in whole_every replaced by
    a whole reference answer and one in selfid_every given a self-identification snippet. Returns (MB, docs).
    Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    human = human_paragraphs()
    snippets = selfid_snippets() if selfid_every else []
    docs, size, i = [], 0, 0
    while size < mb * 1e6:
        d = human[int(rng.integers(len(human)))]
        if i % 20 == 0:
            w = refs[int(rng.integers(len(refs)))].split()
            a = 0 if paste_from_start else int(rng.integers(0, max(1, len(w) - 60)))
            d = d + " " + " ".join(w[a:a + int(rng.integers(60, 120))])
        if whole_every and i % whole_every == 7:
            d = refs[int(rng.integers(len(refs)))]
        if selfid_every and i % selfid_every == selfid_at:
            d = d + " " + snippets[int(rng.integers(len(snippets)))]
        docs.append(d)
        size += len(d.encode())
        i += 1
    cols = ({"id": [f"d{j}" for j in range(len(docs))]} if ids else {}) | {"text": docs}
    pq.write_table(pa.table(cols), path, row_group_size=row_group_size)
    return size / 1e6, len(docs)
