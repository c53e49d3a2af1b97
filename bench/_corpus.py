"""Text the benchmarks share, read from ../shared/data (see its README for provenance)."""

from __future__ import annotations

from pathlib import Path

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
