"""Copied spans: exact passages of reference outputs inside corpus documents.

`SpanMatcher.build(texts)` normalizes the reference texts (the same
normalization as every detector: case and compatibility folding, zero-width
characters dropped, whitespace collapsed), lays them end to end and builds a
suffix array over them (SA-IS, csrc/suffix_array.hpp) plus a k-gram filter.
`scan(texts, min_chars)` then reports, per document, the maximal passages of
at least `min_chars` normalized characters that occur in some reference,
with code-point offsets into the original document and reference texts.
The exact definition, and how the filter keeps the search to the few places
where a match can start, is in csrc/span_match.hpp.

Memory per reference byte (normalized): 1 byte of text, 3-5 bytes of suffix
array (the fewest bytes that address the text), 1/16 byte of sample table
(8 bytes per 128 suffixes), filter_bits / 8 bytes of k-gram filter, plus a
fixed 512 KiB prefix table.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import _core
from .arrow_bridge import as_text_array, text_buffers
from .errors import InvalidInput

DEFAULT_WINDOW = 32
DEFAULT_FILTER_BITS = 16
DEFAULT_MIN_CHARS = 50

ARRAY_NAMES = ("span_text", "span_doc_starts", "span_sa", "span_bucket", "span_samples", "span_filter")
ARRAY_DTYPES = {"span_text": "|u1", "span_doc_starts": "<u8", "span_sa": "|u1", "span_bucket": "<u8",
                "span_samples": "<u8", "span_filter": "<u8"}
SAMPLE_STEP = _core.SAMPLE_STEP  # suffixes per entry of the sample table (csrc/suffix_array.hpp)


def check_window(window: int) -> None:
    if not isinstance(window, int) or not 1 <= window <= 4096:
        raise InvalidInput(f"span window={window!r}: use a whole number of bytes in 1..4096 (default "
                           f"{DEFAULT_WINDOW}); it bounds the smallest --min-span a scan can use")


class SpanMatcher:
    """Exact copied-span search over a fixed set of reference texts.

    Build with ``SpanMatcher.build(texts, window=32)``; an index on disk opens one
    with ``ReferenceIndex.spans``. ``window`` (bytes) is the k of the k-gram filter:
    scans may use any ``min_chars >= window``, and a larger gap between the two
    means fewer filter probes per document (one every ``min_chars - window + 1``
    bytes).
    """

    def __init__(self, arrays: dict, width: int, window: int, ref_texts=None):
        self.arrays = arrays
        self.width = int(width)
        self.window = int(window)
        self._ref_texts = None if ref_texts is None else as_text_array(ref_texts, where="reference texts")
        self._core = _core.SpanIndex(
            arrays["span_text"], arrays["span_doc_starts"], arrays["span_sa"], self.width, arrays["span_bucket"],
            arrays["span_samples"], arrays["span_filter"], self.window,
            None if self._ref_texts is None else text_buffers(self._ref_texts))

    @classmethod
    def build(cls, texts, window: int = DEFAULT_WINDOW, filter_bits: int = DEFAULT_FILTER_BITS,
              threads: int = 0) -> SpanMatcher:
        """Indexes `texts` (pyarrow string array, chunked array or list of str; nulls are empty)."""
        check_window(window)
        if not 1 <= filter_bits <= 64:
            raise InvalidInput(f"filter_bits={filter_bits}: use 1..64 bits per k-gram (default "
                               f"{DEFAULT_FILTER_BITS})")
        arr = as_text_array(texts, where="reference texts")
        d = _core.span_index_build(text_buffers(arr), window, filter_bits, threads)
        arrays = {"span_text": d["text"], "span_doc_starts": d["doc_starts"], "span_sa": d["sa"],
                  "span_bucket": d["bucket"], "span_samples": d["samples"], "span_filter": d["filter"]}
        return cls(arrays, d["width"], window, arr)

    @property
    def n_docs(self) -> int:
        return len(self.arrays["span_doc_starts"]) - 1

    @property
    def nbytes(self) -> int:
        """Bytes of the index arrays."""
        return int(sum(np.asarray(a).nbytes for a in self.arrays.values()))

    def occurs(self, text: str) -> bool:
        """Whether normalize(text) occurs inside one of the indexed texts."""
        return self._core.occurs(_core.normalize(text.encode("utf-8"))[0])

    def scan(self, texts, min_chars: int = DEFAULT_MIN_CHARS, control: Optional[SpanMatcher] = None,
             threads: int = 0, min_words: int = 0) -> dict:
        """Copied spans of every document of `texts`, as CSR arrays.

        A span is reported when it has at least `min_chars` normalized characters and, if
        `min_words` > 0, at least that many word tokens.

        Returns a dict: ``row_offsets`` (len(texts)+1), per span ``start``/``end`` (code points
        in the document), ``ref`` (reference number), ``ref_start``/``ref_end`` (code points in
        the reference), ``ref_count`` (distinct references containing the span), ``common``
        (1 if the span also occurs in `control`), ``chars`` (normalized characters); per
        document ``copied_chars`` (code points under spans that are not common); and counters.
        """
        if not isinstance(min_chars, (int, np.integer)) or min_chars < self.window:
            raise InvalidInput(f"min_chars={min_chars!r}: the index's span window is {self.window} bytes, so "
                               f"spans shorter than {self.window} characters cannot be searched; use "
                               f"--min-span >= {self.window} or rebuild the index with --span-window <= "
                               f"{min_chars}")
        if not isinstance(min_words, (int, np.integer)) or min_words < 0:
            raise InvalidInput(f"min_words={min_words!r}: use a number of words >= 0 (0: no word condition)")
        arr = as_text_array(texts, where="documents")
        return self._core.scan(text_buffers(arr), int(min_chars), int(min_words),
                               None if control is None else control._core, threads)
