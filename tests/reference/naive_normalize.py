"""Slow, obviously-correct twins of csrc/normalize.hpp and csrc/minhash.hpp shingling.

They use the same per-character definitions (tools/gen_unicode_tables.py's
fold_char and char_class, straight from Python's unicodedata) but none of the
C++ machinery: Python's own UTF-8 decoder (surrogateescape marks each invalid
byte, which folds to U+FFFD), plain string building, str-level tokenizing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from gen_unicode_tables import SINGLE, WORD, char_class, fold_char  # noqa: E402


def _chars_with_offsets(data: bytes):
    off = 0
    for ch in data.decode("utf-8", "surrogateescape"):
        if 0xDC80 <= ord(ch) <= 0xDCFF:
            yield "\ufffd", off
            off += 1
        else:
            yield ch, off
            off += len(ch.encode("utf-8"))


def normalize(data: bytes) -> tuple[bytes, list[int]]:
    """(normalized UTF-8, original byte offset of every normalized byte)."""
    out = bytearray()
    src: list[int] = []
    pending = False
    for ch, off in _chars_with_offsets(data):
        folded = "\ufffd" if ch == "\ufffd" else fold_char(ch)
        if folded is None:
            continue
        for c in folded:
            if c == " ":
                pending = True
                continue
            if pending and out:
                out += b" "
                src.append(off)
            pending = False
            enc = c.encode("utf-8")
            out += enc
            src.extend([off] * len(enc))
    return bytes(out), src


def tokens(data: bytes) -> list[bytes]:
    norm = normalize(data)[0].decode("utf-8")
    toks: list[str] = []
    cur: list[str] = []
    for ch in norm:
        k = char_class(ch)
        if k == WORD:
            cur.append(ch)
            continue
        if cur:
            toks.append("".join(cur))
            cur = []
        if k == SINGLE:
            toks.append(ch)
    if cur:
        toks.append("".join(cur))
    return [t.encode("utf-8") for t in toks]


def shingles(data: bytes, k: int) -> list[bytes]:
    toks = tokens(data)
    if not toks:
        return []
    kk = min(k, len(toks))
    return [b" ".join(toks[i:i + kk]) for i in range(len(toks) - kk + 1)]


def jaccard(a: bytes, b: bytes, k: int) -> float:
    x, y = set(shingles(a, k)), set(shingles(b, k))
    if not x and not y:
        return 0.0
    return len(x & y) / len(x | y)
