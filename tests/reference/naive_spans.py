"""Slow, obviously correct twin of csrc/span_match.hpp (quadratic and worse; tiny inputs only).

Works on the normalized texts as Python strings, by brute force:
  end(i)    = i + the longest l such that doc[i:i+l] is a substring of some reference;
  matches   = [i, end(i)) for every i whose end exceeds end(i-1) and with end(i) > i;
  each match is stripped of a leading/trailing space, kept if it has >= min_chars
  characters and ends past the last kept match;
  attributed to its first occurrence (lowest reference number, then offset), with the
  number of references containing it;
  matches of one reference that overlap or touch are merged.
Offsets are then mapped to code points of the original texts through the
normalized-byte -> original-byte map that scanner._core.normalize returns.
"""

from __future__ import annotations

from scanner import _core


def _normalize(text: str):
    nb, src = _core.normalize(text.encode("utf-8", "surrogatepass"))
    norm = nb.decode("utf-8")
    # byte offset of each normalized character
    char_bytes = []
    b = 0
    for ch in norm:
        char_bytes.append(b)
        b += len(ch.encode("utf-8"))
    return norm, list(src), char_bytes


def _orig_cp(text: str, src, char_bytes, a: int, b: int):
    """Original code-point range of normalized characters [a, b)."""
    raw = text.encode("utf-8", "surrogatepass")
    oa = src[char_bytes[a]]
    last = src[char_bytes[b - 1]]
    # length of the original character at byte `last`
    ln = 1
    c = raw[last]
    if c >= 0xF0:
        ln = 4
    elif c >= 0xE0:
        ln = 3
    elif c >= 0xC0:
        ln = 2
    ob = last + ln
    return len(raw[:oa].decode("utf-8", "surrogatepass")), len(raw[:ob].decode("utf-8", "surrogatepass"))


def naive_spans(doc: str, refs: list[str], min_chars: int, control: list[str] | None = None, min_words: int = 0):
    """List of (start, end, ref, ref_start, ref_end, ref_count, common) in code points, document order."""
    nd, dsrc, dcb = _normalize(doc)
    nrefs = [_normalize(r) for r in refs]
    rtexts = [x[0] for x in nrefs]
    ctexts = [_normalize(c)[0] for c in (control or [])]

    def occurs(s: str) -> bool:
        return any(s in r for r in rtexts)

    n = len(nd)
    ends = []
    for i in range(n):
        length = max(0, ends[-1] - i) if ends else 0
        while i + length < n and occurs(nd[i:i + length + 1]):
            length += 1
        ends.append(i + length)
    kept = []
    last_b = 0
    for i in range(n):
        e = ends[i]
        if e <= i or (i > 0 and e <= ends[i - 1]):
            continue
        a, b = i, e
        while a < b and nd[a] == " ":
            a += 1
        while b > a and nd[b - 1] == " ":
            b -= 1
        if b - a < min_chars or b <= last_b:
            continue
        if min_words and len(_core.tokens(nd[a:b].encode())) < min_words:
            continue
        last_b = b
        s = nd[a:b]
        holders = [(r, t.find(s)) for r, t in enumerate(rtexts) if s in t]
        ref, pos = holders[0]
        kept.append([a, b, ref, pos, pos + len(s), len(holders)])
    kept.sort(key=lambda x: (x[2], x[0]))
    merged = []
    for sp in kept:
        if merged and merged[-1][2] == sp[2] and sp[0] <= merged[-1][1]:
            m = merged[-1]
            m[1] = max(m[1], sp[1])
            m[3] = min(m[3], sp[3])
            m[4] = max(m[4], sp[4])
            m[5] = max(m[5], sp[5])
        else:
            merged.append(list(sp))
    merged.sort(key=lambda x: (x[0], x[1], x[2]))
    out = []
    for a, b, ref, ra, rb, count in merged:
        start, end = _orig_cp(doc, dsrc, dcb, a, b)
        rtext = refs[ref]
        _, rsrc, rcb = nrefs[ref]
        rstart, rend = _orig_cp(rtext, rsrc, rcb, ra, rb)
        common = any(nd[a:b] in c for c in ctexts)
        out.append((start, end, ref, rstart, rend, count, common))
    return out
