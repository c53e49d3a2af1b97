"""The findings table: schema, construction from the native CSR results, and sorting.

Offsets (`start`, `end`, `ref_start`, `ref_end`) are code-point offsets into
the original texts, so Python's ``text[start:end]`` is the matched part; a
near-duplicate finding covers the whole document and the whole reference.

Columns by detector:
  near_duplicate  score = exact shingle Jaccard; whole document / whole reference.
  copied_span     score = span length in normalized characters; ref_count = how many
                  reference outputs contain the span; common_phrase = it also occurs in
                  the human control set (--control), so it is not counted as copying.
  self_id         score = 1.0 (a rule holds or not; see precision); rule = rule id; vendor, model,
                  family, lang from the rule catalogue; precision = the rule's level, or "low" for a
                  match inside a quotation; snippet = the sentence around the match, whose code-point
                  offsets are context_start, context_end (what `scanner clean --mode redact` removes).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import _core
from .arrow_bridge import text_buffers

DETECTORS = ("near_duplicate", "copied_span", "self_id")
SNIPPET_CHARS = 240

SCHEMA = pa.schema([
    pa.field("source", pa.string(), nullable=False),
    pa.field("row", pa.int64(), nullable=False),
    pa.field("doc_id", pa.string()),
    pa.field("detector", pa.string(), nullable=False),
    pa.field("ref_id", pa.string()),
    pa.field("ref_source", pa.string()),
    pa.field("score", pa.float64(), nullable=False),
    pa.field("start", pa.int64(), nullable=False),
    pa.field("end", pa.int64(), nullable=False),
    pa.field("ref_start", pa.int64()),
    pa.field("ref_end", pa.int64()),
    pa.field("rule", pa.string()),
    pa.field("snippet", pa.string()),
    pa.field("ref_count", pa.int64()),
    pa.field("common_phrase", pa.bool_()),
    pa.field("vendor", pa.string()),
    pa.field("model", pa.string()),
    pa.field("family", pa.string()),
    pa.field("lang", pa.string()),
    pa.field("precision", pa.string()),
    pa.field("context_start", pa.int64()),
    pa.field("context_end", pa.int64()),
])

# Per-document coverage, one row per document with a copied span (or a truncated search).
DOCUMENT_SCHEMA = pa.schema([
    pa.field("source", pa.string(), nullable=False),
    pa.field("row", pa.int64(), nullable=False),
    pa.field("doc_id", pa.string()),
    pa.field("characters", pa.int64(), nullable=False),
    pa.field("copied_characters", pa.int64(), nullable=False),
    pa.field("copied_fraction", pa.float64(), nullable=False),
    pa.field("span_search_truncated", pa.bool_(), nullable=False),
])

SORT_KEYS = [("row", "ascending"), ("detector", "ascending"), ("start", "ascending"), ("end", "ascending"),
             ("ref_source", "ascending"), ("ref_id", "ascending"), ("rule", "ascending")]


def _repeat(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, type=pa.string()), n)


def _ref_paths(sources: list, source_idx: np.ndarray) -> pa.Array:
    """The reference file path of each finding, from its reference's source number."""
    return pa.array([s["path"] for s in sources], type=pa.string()).take(pa.array(source_idx, type=pa.int64()))


def empty_table() -> pa.Table:
    return SCHEMA.empty_table()


def snippets(texts: pa.Array, idx: np.ndarray) -> pa.Array:
    """The first SNIPPET_CHARS code points of texts[idx] on one line, as the other detectors' snippets."""
    return _slices(texts, idx, np.zeros(len(idx), dtype=np.int64), np.full(len(idx), SNIPPET_CHARS, dtype=np.int64))


def near_dup_table(source: str, rows: np.ndarray, texts: pa.Array, ids, result: dict, index) -> pa.Table:
    """Findings of one batch from NearDupIndex.scan()'s CSR result.

    rows: the file row of every batch row; ids: doc id array or None; index: the ReferenceIndex.
    """
    offsets = result["row_offsets"]
    counts = np.diff(offsets)
    batch_idx = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    n = len(batch_idx)
    if n == 0:
        return empty_table()
    ref = result["ref"].astype(np.int64)
    take = pa.array(batch_idx, type=pa.int64())
    doc_ids = ids.take(take).cast(pa.string()) if ids is not None else pa.nulls(n, type=pa.string())
    sources = index.references
    ref_src = _ref_paths(sources, np.asarray(index.ref_source)[ref])
    cols = {
        "source": _repeat(source, n),
        "row": pa.array(rows[batch_idx], type=pa.int64()),
        "doc_id": doc_ids,
        "detector": _repeat("near_duplicate", n),
        "ref_id": index.ref_ids.take(pa.array(ref)).cast(pa.string()),
        "ref_source": ref_src,
        "score": pa.array(result["score"], type=pa.float64()),
        "start": pa.array(np.zeros(n, dtype=np.int64)),
        "end": pa.array(result["n_codepoints"][batch_idx], type=pa.int64()),
        "ref_start": pa.array(np.zeros(n, dtype=np.int64)),
        "ref_end": pa.array(np.asarray(index.ref_codepoints)[ref], type=pa.int64()),
        "rule": pa.nulls(n, type=pa.string()),
        "snippet": snippets(texts, batch_idx),
    }
    return _complete(cols, n)


def _complete(cols: dict, n: int) -> pa.Table:
    """The table of `cols` with every other SCHEMA column null."""
    for f in SCHEMA:
        if f.name not in cols:
            cols[f.name] = pa.nulls(n, type=f.type)
    return pa.table({f.name: cols[f.name] for f in SCHEMA}, schema=SCHEMA)


def _slices(texts: pa.Array, idx: np.ndarray, start, end) -> pa.Array:
    """texts[idx][start:end] in code points (an invalid byte counts as one, as in the core), on one line:
    ``" ".join(slice.split())``, the slice's bytes decoded with "replace". Done in the core
    (csrc/snippet.hpp), one pass per document for all its findings, so a long document with many
    findings is not decoded once per finding."""
    if len(idx) == 0:
        return pa.array([], type=pa.string())
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    offsets, data = _core.snippets(text_buffers(texts), np.asarray(idx, dtype=np.int64),
                                   np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64))
    return pa.StringArray.from_buffers(len(idx), pa.py_buffer(offsets), pa.py_buffer(data))


def span_snippets(texts: pa.Array, idx: np.ndarray, start: np.ndarray, end: np.ndarray) -> pa.Array:
    """texts[idx][start:end] (code points), cut to SNIPPET_CHARS, one line."""
    start = np.asarray(start, dtype=np.int64)
    return _slices(texts, idx, start, np.minimum(np.asarray(end, dtype=np.int64), start + SNIPPET_CHARS))


def span_table(source: str, rows: np.ndarray, texts: pa.Array, ids, result: dict, index) -> pa.Table:
    """Findings of one batch from SpanMatcher.scan()'s CSR result."""
    counts = np.diff(result["row_offsets"])
    batch_idx = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    n = len(batch_idx)
    if n == 0:
        return empty_table()
    ref = result["ref"].astype(np.int64)
    doc_ids = ids.take(pa.array(batch_idx, type=pa.int64())).cast(pa.string()) if ids is not None \
        else pa.nulls(n, type=pa.string())
    sources = index.references
    cols = {
        "source": _repeat(source, n),
        "row": pa.array(rows[batch_idx], type=pa.int64()),
        "doc_id": doc_ids,
        "detector": _repeat("copied_span", n),
        "ref_id": index.ref_ids.take(pa.array(ref)).cast(pa.string()),
        "ref_source": _ref_paths(sources, np.asarray(index.ref_source)[ref]),
        "score": pa.array(result["chars"].astype(np.float64)),
        "start": pa.array(result["start"], type=pa.int64()),
        "end": pa.array(result["end"], type=pa.int64()),
        "ref_start": pa.array(result["ref_start"], type=pa.int64()),
        "ref_end": pa.array(result["ref_end"], type=pa.int64()),
        "snippet": span_snippets(texts, batch_idx, result["start"], result["end"]),
        "ref_count": pa.array(result["ref_count"], type=pa.int64()),
        "common_phrase": pa.array(result["common"].astype(bool)),
    }
    return _complete(cols, n)


def sentence_snippets(texts: pa.Array, idx: np.ndarray, start: np.ndarray, end: np.ndarray,
                      sent_start: np.ndarray, sent_end: np.ndarray) -> pa.Array:
    """The sentence texts[idx][sent_start:sent_end] around each match, on one line; a sentence longer
    than SNIPPET_CHARS is cut to a window of that size around the match."""
    starts, ends = [], []
    for a, b, sa, sb in zip(start.tolist(), end.tolist(), sent_start.tolist(), sent_end.tolist()):
        if sb - sa > SNIPPET_CHARS:
            room = max(0, SNIPPET_CHARS - (b - a))
            sa = max(sa, a - room // 2)
            sb = min(sb, max(b, sa + SNIPPET_CHARS))
        starts.append(sa)
        ends.append(sb)
    return _slices(texts, idx, starts, ends)


def self_id_table(source: str, rows: np.ndarray, texts: pa.Array, ids, result: dict, catalogue) -> pa.Table:
    """Findings of one batch from SelfIdMatcher.scan()'s CSR result."""
    from .self_id import PRECISIONS
    counts = np.diff(result["row_offsets"])
    batch_idx = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    n = len(batch_idx)
    if n == 0:
        return empty_table()
    rules = [catalogue.rules[int(r)] for r in result["rule"]]
    doc_ids = ids.take(pa.array(batch_idx, type=pa.int64())).cast(pa.string()) if ids is not None \
        else pa.nulls(n, type=pa.string())
    cols = {
        "source": _repeat(source, n),
        "row": pa.array(rows[batch_idx], type=pa.int64()),
        "doc_id": doc_ids,
        "detector": _repeat("self_id", n),
        "score": pa.array(np.ones(n, dtype=np.float64)),
        "start": pa.array(result["start"], type=pa.int64()),
        "end": pa.array(result["end"], type=pa.int64()),
        "rule": pa.array([r.id for r in rules], type=pa.string()),
        "snippet": sentence_snippets(texts, batch_idx, result["start"], result["end"], result["sent_start"],
                                     result["sent_end"]),
        "vendor": pa.array([r.vendor for r in rules], type=pa.string()),
        "model": pa.array([r.model for r in rules], type=pa.string()),
        "family": pa.array([r.family for r in rules], type=pa.string()),
        "lang": pa.array([r.lang for r in rules], type=pa.string()),
        "precision": pa.array([PRECISIONS[int(p)] for p in result["precision"]], type=pa.string()),
        "context_start": pa.array(result["sent_start"], type=pa.int64()),
        "context_end": pa.array(result["sent_end"], type=pa.int64()),
    }
    return _complete(cols, n)


def document_table(source: str, rows: np.ndarray, ids, characters: np.ndarray, copied: np.ndarray,
                   truncated: np.ndarray) -> pa.Table:
    """Per-document coverage rows for the documents with copied characters or a truncated search."""
    sel = np.flatnonzero((copied > 0) | (truncated != 0))
    n = len(sel)
    chars = characters[sel].astype(np.int64)
    cop = copied[sel].astype(np.int64)
    frac = np.divide(cop, chars, out=np.zeros(n, dtype=np.float64), where=chars > 0)
    return pa.table({
        "source": _repeat(source, n),
        "row": pa.array(rows[sel], type=pa.int64()),
        "doc_id": ids.take(pa.array(sel, type=pa.int64())).cast(pa.string()) if ids is not None
        else pa.nulls(n, type=pa.string()),
        "characters": pa.array(chars),
        "copied_characters": pa.array(cop),
        "copied_fraction": pa.array(frac),
        "span_search_truncated": pa.array(truncated[sel].astype(bool)),
    }, schema=DOCUMENT_SCHEMA)


def sort_findings(table: pa.Table) -> pa.Table:
    """Deterministic order within one source file."""
    if table.num_rows == 0:
        return table
    return table.sort_by(SORT_KEYS)
