"""Detector parameters: frozen, validated, JSON round-trippable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Optional

from .errors import InvalidInput

HASH_MODES = ("fast", "datasketch")


@dataclass(frozen=True)
class NearDupParams:
    """Parameters of the near-duplicate detector.

    Args:
        num_perm: MinHash permutations (signature length), as in datasketch.
        seed: seed of the permutations (numpy RandomState, as datasketch draws them).
        ngram: words per shingle.
        threshold: Jaccard similarity at and above which a document is a near-duplicate.
        hash: "fast" (our 64-bit shingle hash) or "datasketch" (SHA-1, bit-identical
            signatures to datasketch.MinHash(num_perm, seed) fed the same shingles).
        bands, rows: LSH layout; None chooses them from threshold as datasketch does.
        min_tokens: references with fewer word tokens are left out of the near-duplicate
            index (counted as "too_short"); None means ngram, i.e. at least one full shingle.
            Without it, one-word outputs ("Yes.", "2.") match every one-word document.
        false_positive_weight, false_negative_weight: weights of that choice (datasketch's
            procedure). Every LSH candidate is verified by exact Jaccard, so a false
            positive costs only time while a false negative loses a finding: the defaults
            weight misses 19:1, which at threshold 0.5 and 128 permutations gives 26 bands
            of 3 rows and a candidate probability of 0.97 at Jaccard 0.5, 0.998 at 0.6
            (datasketch's equal weights: 25 x 5, 0.55 and 0.87).
    """

    num_perm: int = 128
    seed: int = 1
    ngram: int = 5
    threshold: float = 0.5
    hash: str = "fast"
    bands: Optional[int] = None
    rows: Optional[int] = None
    min_tokens: Optional[int] = None
    false_positive_weight: float = 0.05
    false_negative_weight: float = 0.95

    def __post_init__(self):
        if not isinstance(self.num_perm, int) or not 2 <= self.num_perm <= 4096:
            raise InvalidInput(f"num_perm={self.num_perm!r}: use an integer from 2 to 4096 (default 128)")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise InvalidInput(f"seed={self.seed!r}: use an integer from 0 to 2**32-1")
        if not isinstance(self.ngram, int) or not 1 <= self.ngram <= 64:
            raise InvalidInput(f"ngram={self.ngram!r}: use an integer from 1 to 64 (default 5)")
        if not 0.0 < float(self.threshold) <= 1.0:
            raise InvalidInput(f"threshold={self.threshold!r}: use a Jaccard similarity in (0, 1]")
        if self.hash not in HASH_MODES:
            raise InvalidInput(f"hash={self.hash!r}: use one of {', '.join(HASH_MODES)}")
        if (self.bands is None) != (self.rows is None):
            raise InvalidInput("give both bands and rows, or neither (they are then chosen from threshold)")
        if self.bands is not None and (self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm):
            raise InvalidInput(f"bands={self.bands} rows={self.rows}: bands*rows must be between 1 and "
                               f"num_perm={self.num_perm}")
        if self.min_tokens is not None and (not isinstance(self.min_tokens, int) or self.min_tokens < 1):
            raise InvalidInput(f"min_tokens={self.min_tokens!r}: use a positive number of word tokens")
        w = self.false_positive_weight + self.false_negative_weight
        if self.false_positive_weight < 0 or self.false_negative_weight < 0 or abs(w - 1.0) > 1e-9:
            raise InvalidInput("false_positive_weight and false_negative_weight must be >= 0 and sum to 1")

    @property
    def effective_min_tokens(self) -> int:
        return self.ngram if self.min_tokens is None else self.min_tokens

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NearDupParams:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InvalidInput(f"unknown near-duplicate parameters: {sorted(unknown)}")
        return cls(**d)


@dataclass(frozen=True)
class SpanParams:
    """Index-time parameters of the copied-span detector.

    Args:
        window: bytes per k-gram of the prefilter. Scans can look for spans of any
            --min-span >= window characters; they probe one window every
            (min_span - window + 1) bytes, so a window well below the usual min_span
            (default 32 for 50) keeps probes few.
        filter_bits: bits of k-gram filter per reference k-gram (16: about 1 in 400
            probes of an absent k-gram passes and costs a suffix-array search).
    """

    window: int = 32
    filter_bits: int = 16

    def __post_init__(self):
        if not isinstance(self.window, int) or not 1 <= self.window <= 4096:
            raise InvalidInput(f"span window={self.window!r}: use 1..4096 bytes (default 32); it bounds the "
                               f"smallest --min-span a scan can use")
        if not isinstance(self.filter_bits, int) or not 1 <= self.filter_bits <= 64:
            raise InvalidInput(f"filter_bits={self.filter_bits!r}: use 1..64 bits per k-gram (default 16)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SpanParams:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InvalidInput(f"unknown copied-span parameters: {sorted(unknown)}")
        return cls(**d)
