"""Slow, obviously-correct twin of csrc/pattern_set.hpp: every occurrence of every pattern, by str.find."""

from __future__ import annotations


def find_all(patterns: list[bytes], text: bytes) -> list[tuple[int, int]]:
    """Sorted (end, pattern id) of every occurrence of every pattern in text (overlaps included)."""
    out = []
    for pid, p in enumerate(patterns):
        i = text.find(p)
        while i >= 0:
            out.append((i + len(p), pid))
            i = text.find(p, i + 1)
    return sorted(out)
