"""Fuzz harness (atheris) for the native core: normalization and tokenizing, MinHash signatures, suffix-array
build and span matching, the pattern automaton and self-ID confirmation, and the index loader.

Each input drives one target (its first byte chooses which); every target also checks an invariant
against a plain-Python twin where one is cheap, so a wrong answer fails as well as a crash. Run under the
ASan + UBSan build for memory errors:

    pip install atheris
    python tests/fuzz/fuzz_core.py -runs=20000 tests/fuzz/corpus      # .ci/run does a short run
    python tests/fuzz/fuzz_core.py -max_total_time=600 tests/fuzz/corpus

Inputs that once failed are kept in tests/fuzz/corpus/ and replayed by tests/test_fuzz_regressions.py.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from scanner import _core
from scanner.arrow_bridge import as_text_array, text_buffers

_PATTERNS = [b"as an ai", b"ai language model", b"i am", b"\xe6\x88\x91\xe6\x98\xaf", b"a", b"aa", b"openai"]
_RULES = None
_INDEX_DIR = None


def _column(data: bytes, pieces: int = 4) -> pa.Array:
    step = max(1, len(data) // pieces)
    rows = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
    return as_text_array(pa.array(rows + [None], type=pa.binary()))


def _normalize(data: bytes) -> None:
    norm, src = _core.normalize(data)
    assert len(src) == len(norm)
    assert all(0 <= s < max(1, len(data)) for s in src.tolist())
    assert norm == _core.normalize(norm)[0]  # idempotent
    toks = _core.tokens(data)
    assert b"".join(toks) == b"".join(_core.tokens(norm))


def _minhash(data: bytes) -> None:
    from scanner.minhash import MinHasher
    col = _column(data)
    for mode in ("fast", "datasketch"):
        sigs, status = MinHasher(num_perm=16, hash=mode).signatures(col)
        assert sigs.shape == (len(col), 16) and len(status) == len(col)


def _spans(data: bytes) -> None:
    from scanner.spans import SpanMatcher
    half = len(data) // 2
    refs = _column(data[:half], 3)
    m = SpanMatcher.build(refs, window=4)
    res = m.scan(_column(data[half:] + data[:half // 2], 3), min_chars=4)
    assert len(res["row_offsets"]) == len(_column(data[half:] + data[:half // 2], 3)) + 1
    sa = _core.suffix_array(data)
    assert sorted(sa.tolist()) == list(range(len(data)))
    for i in range(1, min(len(sa), 64)):
        assert data[sa[i - 1]:] < data[sa[i]:]


def _patterns(data: bytes) -> None:
    global _RULES
    pats = [p for p in data[:40].split(b"|") if p][:8] or [b"x"]
    ps = _core.PatternSet(pats)
    text = data[40:]
    off, ids, ends = ps.find(text_buffers(_column(text, 1)), False, 1)
    got = sorted(zip(ends[off[0]:off[1]].tolist(), ids[off[0]:off[1]].tolist()))
    want = sorted((i + len(p), k) for k, p in enumerate(pats) for i in range(len(text)) if text.startswith(p, i))
    assert got == want
    if _RULES is None:
        from scanner.self_id import Catalogue
        _RULES = Catalogue.load().compile()
    col = _column(data)
    res = _RULES.scan(col, "low", 1)
    assert len(res["start"]) == len(res["rule"])
    assert np.all(res["start"] <= res["end"])
    walk = _RULES.scan(col, "low", 1, prefilter=False)  # the anchor prefilter must find what the walk finds
    for k, v in walk.items():
        assert np.array_equal(res[k], v) if isinstance(v, np.ndarray) else res[k] == v, k


def _index(data: bytes) -> None:
    """A damaged index file must fail with IndexFormatError, never crash."""
    global _INDEX_DIR
    from scanner.errors import IndexFormatError, InvalidInput
    from scanner.index import ReferenceIndex
    if _INDEX_DIR is None:
        _INDEX_DIR = Path(tempfile.mkdtemp()) / "idx"
        ReferenceIndex.build([_write_refs(_INDEX_DIR.parent)], _INDEX_DIR)
    files = sorted(p for p in _INDEX_DIR.iterdir() if p.is_file())
    target = files[data[0] % len(files)]
    original = target.read_bytes()
    try:
        damaged = bytearray(original)
        for j in range(1, len(data) - 1, 2):
            if damaged:
                damaged[data[j] * 257 % len(damaged)] ^= data[j + 1] or 1
        if data[-1] % 3 == 0:
            damaged = damaged[: data[-1] * 31 % max(1, len(damaged))]
        target.write_bytes(bytes(damaged))
        try:
            idx = ReferenceIndex.load(_INDEX_DIR, verify=data[-1] % 2 == 0)
            idx.near_dup.scan(text_buffers(_column(b"some text to look up in the index", 1)), 0.5, 0.3, 10, 5, 1)
            idx.spans.scan(_column(b"some text to look up in the index", 1), 32)
        except (IndexFormatError, InvalidInput):
            pass
    finally:
        target.write_bytes(original)


def _write_refs(d: Path) -> Path:
    import pyarrow.parquet as pq
    p = d / "refs.parquet"
    pq.write_table(pa.table({"text": [f"reference output number {i} says something about topic {i % 7} here"
                                      for i in range(40)]}), p)
    return p


TARGETS = [_normalize, _minhash, _spans, _patterns, _index]


def one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    TARGETS[data[0] % len(TARGETS)](data[1:])


def main() -> None:
    import atheris
    atheris.instrument_all()
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
