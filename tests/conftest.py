from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
TINY = REPO / "examples" / "tiny"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def shared_texts(rel: str, n: int, min_words: int = 5, column: str = "text") -> list[str]:
    """The first n texts with at least min_words words of a file in ../shared/data (read-only real text)."""
    path = SHARED / rel
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need ../shared/data beside the repository")
    out = []
    for t in pq.read_table(path, columns=[column]).column(column).to_pylist():
        if t is not None and len(t.split()) >= min_words:
            out.append(t)
            if len(out) == n:
                break
    return out


@pytest.fixture(scope="session")
def tiny():
    """Paths of the bundled example (examples/tiny, made by examples/make_example.py)."""
    return {"reference": TINY / "reference.parquet", "corpus": TINY / "corpus.parquet",
            "answer_key": TINY / "answer_key.parquet"}


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory, tiny):
    from scanner.index import ReferenceIndex
    return ReferenceIndex.build([tiny["reference"]], tmp_path_factory.mktemp("idx") / "index")
