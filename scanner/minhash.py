"""MinHash signatures computed by the native core, datasketch-compatible."""

from __future__ import annotations

import numpy as np

from . import _core
from .arrow_bridge import as_text_array, text_buffers
from .config import NearDupParams

_MODE = {"fast": 0, "datasketch": 1}


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of datasketch's "affine32" scheme, drawn exactly as datasketch >= 2.0 draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


class MinHasher:
    """Computes MinHash signatures of whole text columns in one native call.

    Text is normalized and cut into word `ngram`-shingles (see
    csrc/normalize.hpp); each shingle is hashed (hash="fast": our 64-bit hash;
    hash="datasketch": SHA-1 as datasketch.hashfunc.sha1_hash32) and fed to
    datasketch's affine32 permutations. In "datasketch" mode a row's signature
    equals ``datasketch.MinHash(num_perm, seed)`` updated with
    ``MinHasher.shingles(text)``.

    Example:
        >>> mh = MinHasher(num_perm=128, seed=1, ngram=5)
        >>> sigs, status = mh.signatures(["some text", None])
    """

    def __init__(self, num_perm: int = 128, seed: int = 1, ngram: int = 5, hash: str = "fast", threads: int = 0):
        self.params = NearDupParams(num_perm=num_perm, seed=seed, ngram=ngram, hash=hash)
        self.threads = int(threads)
        self._a, self._b = permutations(num_perm, seed)

    @property
    def num_perm(self) -> int:
        return self.params.num_perm

    @property
    def mode(self) -> int:
        return _MODE[self.params.hash]

    @property
    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        return self._a, self._b

    def signatures(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """(signatures uint32[rows, num_perm], status uint8[rows]) for a text column.

        status: 0 signed, 1 null, 2 no tokens (empty signature), 3 too large.
        """
        sigs, status, _ = self.signatures_and_tokens(texts)
        return sigs, status

    def signatures_and_tokens(self, texts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As signatures(), plus the word-token count of every row (int64)."""
        arr = as_text_array(texts)
        return _core.signatures(text_buffers(arr), self.params.ngram, self.mode, self._a, self._b, self.threads)

    def shingles(self, text: str) -> list[bytes]:
        """The shingles of one text as the bytes datasketch would be fed (tokens joined by a space)."""
        toks = _core.tokens(text.encode("utf-8"))
        k = min(self.params.ngram, len(toks))
        return [b" ".join(toks[i:i + k]) for i in range(len(toks) - k + 1)] if toks else []
