"""Scan orchestration: corpus files -> batches -> native detectors -> findings on disk + manifest.

One output file per corpus file (``findings/part-NNNNN.parquet``, numbered in
sorted input order), each written to a temporary name, fsynced and renamed,
so a reader never sees half a file. manifest.json is written last and holds
everything needed to defend or reproduce the numbers: tool version,
parameters, index checksum, every input with size and SHA-256, and per-file
row accounting (rows read == rows scanned + rows skipped, by reason).
Everything in the output is a function of the inputs and parameters: no
timestamps, no thread-count dependence.
"""

from __future__ import annotations

import math
import os
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ._io import fsync_write, json_bytes
from ._io import progress as progress_bar
from ._version import __version__
from .arrow_bridge import text_buffers
from .errors import InvalidInput, OutputConflict
from .findings import DOCUMENT_SCHEMA, SCHEMA, document_table, near_dup_table, self_id_table, sort_findings, span_table
from .index import STATUS_NAMES, ReferenceIndex
from .reader import expand_inputs, iter_batches, sha256_file

MANIFEST_FORMAT = "scanner-scan"
MANIFEST_VERSION = 1
DETECTORS = ("near_duplicate", "copied_span", "self_id")


@dataclass(frozen=True)
class ScanOptions:
    """Options of a scan.

    Args:
        text_column: column (Parquet) or field (JSONL) holding the document text.
        id_column: column of document ids; None uses "id" when present.
        batch_rows: rows per native call (memory ~ batch_rows * mean document size).
        threads: native threads per call; 0 means all cores.
        threshold: near-duplicate Jaccard threshold; None uses the index's.
        max_matches: near-duplicate findings kept per document, best first (0: all).
        max_verify: candidates verified exactly per document, best estimate first (0: all).
        detectors: which detectors run.
        min_span: shortest copied span reported, in normalized characters (>= the index's span window);
            None: 50, or the index's span window when min_span_words is given.
        min_span_words: also require at least this many word tokens in a copied span (None: no such
            condition), for thresholds stated in words such as the 13-gram rule.
        control: path of an index of human-written text; copied spans that also occur in it are marked
            common_phrase and not counted as copied characters.
        patterns: rule files (JSON Lines, see scanner.self_id) added to the self-identification catalogue.
        builtin_patterns: whether the built-in catalogue is used (False: only `patterns`).
        self_id_precision: lowest precision level of self-identification findings written
            ("high", "medium" or "low"; matches inside quotations are "low").
        sample: scan a reproducible random sample of this fraction of the rows (scanner.sample);
            rows left out are counted as skipped "not_sampled", and reports estimate the whole corpus.
        seed: seed of the sample.
    """

    text_column: str = "text"
    id_column: Optional[str] = None
    batch_rows: int = 8192
    threads: int = 0
    threshold: Optional[float] = None
    max_matches: int = 20
    max_verify: int = 1000
    detectors: tuple = DETECTORS
    min_span: Optional[int] = None
    min_span_words: Optional[int] = None
    control: Optional[str] = None
    patterns: tuple = ()
    builtin_patterns: bool = True
    self_id_precision: str = "medium"
    sample: Optional[float] = None
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "patterns", tuple(str(p) for p in self.patterns))
        object.__setattr__(self, "detectors", tuple(sorted(set(self.detectors), key=DETECTORS.index))
                           if set(self.detectors) <= set(DETECTORS) else self.detectors)
        unknown = [d for d in self.detectors if d not in DETECTORS]
        if unknown or not self.detectors:
            raise InvalidInput(f"detectors {list(self.detectors)}: choose one or more of {', '.join(DETECTORS)}")
        if self.min_span is not None and (not isinstance(self.min_span, int) or self.min_span < 1):
            raise InvalidInput(f"min_span={self.min_span!r}: use a positive number of characters (default 50)")
        if self.min_span_words is not None and (not isinstance(self.min_span_words, int) or self.min_span_words < 1):
            raise InvalidInput(f"min_span_words={self.min_span_words!r}: use a positive number of words")
        if self.batch_rows < 1:
            raise InvalidInput(f"batch_rows={self.batch_rows}: use a positive number of rows")
        if self.threads < 0:
            raise InvalidInput(f"threads={self.threads}: use 0 (all cores) or a positive count")
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise InvalidInput(f"threshold={self.threshold}: use a Jaccard similarity in (0, 1]")
        if self.sample is not None:
            from .sample import check_fraction
            check_fraction(self.sample)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidInput(f"seed={self.seed!r}: use a non-negative integer")
        if self.self_id_precision not in ("low", "medium", "high"):
            raise InvalidInput(f"self_id_precision={self.self_id_precision!r}: use high, medium or low")
        if self.max_matches < 0 or self.max_verify < 0:
            raise InvalidInput("max_matches and max_verify must be >= 0 (0 means no limit)")


def prefilter_for(threshold: float, num_perm: int) -> float:
    """Estimated-Jaccard floor for exact verification: three standard deviations of the
    MinHash estimator below the threshold, so a true match is almost never dropped before
    its exact Jaccard is computed."""
    sd = math.sqrt(threshold * (1.0 - threshold) / num_perm)
    return max(0.0, threshold - 3.0 * sd - 1.0 / num_perm)


def _prepare_output(out: Path, force: bool) -> None:
    if out.exists():
        if not out.is_dir():
            raise OutputConflict(f"{out} exists and is not a directory")
        if any(out.iterdir()):
            if not force:
                raise OutputConflict(f"{out} is not empty; choose a new output directory or pass --force to "
                                     f"replace its findings")
            for name in ("findings", "documents", "units", "skipped", "manifest.json"):
                p = out / name
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
    (out / "findings").mkdir(parents=True, exist_ok=True)
    (out / "documents").mkdir(parents=True, exist_ok=True)
    (out / "skipped").mkdir(parents=True, exist_ok=True)


def _write_table(table: pa.Table, path: Path) -> str:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd", row_group_size=65536)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return sha256_file(str(path))


def scan(corpus, index, out_dir, options: Optional[ScanOptions] = None, force: bool = False,
         verify_index: bool = True, progress: bool = False) -> dict:
    """Scans corpus files (paths, directories, globs) against an index; returns the manifest it writes.

    Args:
        corpus: Parquet/JSONL files, directories or globs.
        index: a ReferenceIndex or the path of one.
        out_dir: output directory (created; must be empty unless force).
        verify_index: re-hash the index files before scanning (detects damaged files).
    """
    opts = options or ScanOptions()
    paths = expand_inputs(corpus, what="corpus")
    idx = index if isinstance(index, ReferenceIndex) else ReferenceIndex.load(index, verify=verify_index)
    threshold = opts.threshold if opts.threshold is not None else idx.params.threshold
    prefilter = prefilter_for(threshold, idx.params.num_perm)
    spans_on = "copied_span" in opts.detectors
    control = None
    min_span = opts.min_span
    if min_span is None:
        min_span = 50 if opts.min_span_words is None else idx.span_params.window
    if spans_on:
        if min_span < idx.span_params.window:
            raise InvalidInput(f"--min-span {min_span} is below the index's span window of "
                               f"{idx.span_params.window}; use --min-span >= {idx.span_params.window} or rebuild "
                               f"the index with --span-window <= {min_span}")
        if opts.control is not None:
            control = ReferenceIndex.load(opts.control, verify=verify_index)
    catalogue = matcher = None
    if "self_id" in opts.detectors:
        from .self_id import Catalogue
        catalogue = Catalogue.load(opts.patterns, builtin=opts.builtin_patterns)
        matcher = catalogue.compile()
    out = Path(out_dir)
    _prepare_output(out, force)
    if threshold < idx.params.threshold:
        warnings.warn(f"threshold {threshold} is below the index's {idx.params.threshold}: its LSH bands were "
                      f"chosen for {idx.params.threshold}, so pairs in between are found with lower recall; "
                      f"rebuild the index with --threshold {threshold} for full recall", stacklevel=2)
    bar = progress_bar(paths, progress, "scan")
    stats = {k: 0 for k in ("candidates", "prefilter_passed", "verified", "verify_truncated", "matches_truncated")}
    span_stats = {k: 0 for k in ("windows", "filter_hits", "searches", "matches", "documents_truncated")}
    sid_stats = {k: 0 for k in ("pattern_hits", "anchor_hits", "confirmed", "below_precision", "documents_truncated")}
    inputs = []
    for i, path in enumerate(paths):
        rec = {"path": path, "bytes": os.path.getsize(path), "sha256": sha256_file(path)}
        rows_read = scanned = characters = tokens = copied_chars = characters_sq = 0
        skipped: dict[str, int] = {}
        tables, doc_tables = [], []
        sampled = None
        if opts.sample is not None:
            from .sample import SampledFile
            sampled = SampledFile(path, rec["sha256"], float(opts.sample), opts.seed)
            source = sampled.batches(opts.text_column, opts.id_column or "id", opts.batch_rows,
                                     id_required=opts.id_column is not None)
        else:
            source = ((b, None) for b in iter_batches(path, opts.text_column, opts.id_column or "id",
                                                      opts.batch_rows, id_required=opts.id_column is not None))
        unit_rows, unit_chars, unit_copied, skipped_rows = [], [], [], []
        for batch, units in source:
            n = len(batch.texts)
            rows = (np.asarray(batch.rows, dtype=np.int64) if batch.rows is not None
                    else np.arange(batch.row_start, batch.row_start + n, dtype=np.int64))
            res = idx.near_dup.scan(text_buffers(batch.texts), threshold, prefilter, opts.max_verify,
                                    opts.max_matches, opts.threads)
            status = res["status"]
            bad = np.flatnonzero(status != 0)
            if len(bad):
                skipped_rows.append((rows[bad], status[bad],
                                     None if batch.ids is None else batch.ids.take(pa.array(bad))))
            rows_read += n
            scanned += int(np.count_nonzero(status == 0))
            for code, name in STATUS_NAMES.items():
                c = int(np.count_nonzero(status == code))
                if c:
                    skipped[name] = skipped.get(name, 0) + c
            characters += int(res["n_codepoints"].sum())
            characters_sq += int(np.square(res["n_codepoints"].astype(np.float64)).sum())
            tokens += int(res["n_tokens"].sum())
            for k in stats:
                stats[k] += int(res[k])
            if "near_duplicate" in opts.detectors:
                tables.append(near_dup_table(path, rows, batch.texts, batch.ids, res, idx))
            if spans_on:
                sp = idx.spans.scan(batch.texts, min_span, control=control.spans if control else None,
                                    threads=opts.threads, min_words=opts.min_span_words or 0)
                for k in ("windows", "filter_hits", "searches", "matches"):
                    span_stats[k] += int(sp[k])
                span_stats["documents_truncated"] += int(np.count_nonzero(sp["truncated"]))
                copied_chars += int(sp["copied_chars"].sum())
                tables.append(span_table(path, rows, batch.texts, batch.ids, sp, idx))
                doc_tables.append(document_table(path, rows, batch.ids, res["n_codepoints"], sp["copied_chars"],
                                                 sp["truncated"]))
            if units is not None:
                unit_rows.append((rows, units, status == 0))
                unit_chars.append(res["n_codepoints"])
                if spans_on:
                    unit_copied.append(sp["copied_chars"])
            if matcher is not None:
                sid = matcher.scan(batch.texts, opts.self_id_precision, opts.threads)
                for k in ("pattern_hits", "anchor_hits", "confirmed", "below_precision"):
                    sid_stats[k] += int(sid[k])
                sid_stats["documents_truncated"] += int(np.count_nonzero(sid["truncated"]))
                tables.append(self_id_table(path, rows, batch.texts, batch.ids, sid, catalogue))
            if bar is not None:
                bar.update(n)
        table = sort_findings(pa.concat_tables(tables) if tables else SCHEMA.empty_table())
        part = f"findings/part-{i:05d}.parquet"
        digest = _write_table(table, out / part)
        docs = pa.concat_tables(doc_tables) if doc_tables else DOCUMENT_SCHEMA.empty_table()
        docs_part = f"documents/part-{i:05d}.parquet"
        docs_digest = _write_table(docs.sort_by([("row", "ascending")]) if docs.num_rows else docs, out / docs_part)
        skipped_part = f"skipped/part-{i:05d}.parquet"
        skipped_digest = _write_table(_skipped_table(path, skipped_rows), out / skipped_part)
        flagged = {}
        counts = {}
        if table.num_rows:
            det = table.column("detector").to_numpy(zero_copy_only=False)
            row = table.column("row").to_numpy()
            for d in sorted(set(det)):
                counts[d] = int(np.count_nonzero(det == d))
                flagged[d] = int(len(np.unique(row[det == d])))
            flagged["any"] = int(len(np.unique(row)))
        if sampled is not None:
            not_sampled = sampled.rows_total - rows_read
            if not_sampled:
                skipped["not_sampled"] = not_sampled
            rows_read = sampled.rows_total
            units_part = f"units/part-{i:05d}.parquet"
            (out / "units").mkdir(exist_ok=True)
            units_table = _units_table(path, unit_rows, unit_chars, unit_copied, table, opts.detectors)
            rec.update({"sample": sampled.design(), "units": units_part,
                        "units_sha256": _write_table(units_table, out / units_part)})
        rec.update({"rows_read": rows_read, "rows_scanned": scanned, "rows_skipped": skipped,
                    "characters": characters, "characters_squared": characters_sq, "tokens": tokens,
                    "copied_characters": copied_chars,
                    "findings": counts, "documents_flagged": flagged,
                    "output": part, "output_sha256": digest, "documents": docs_part,
                    "documents_sha256": docs_digest, "skipped": skipped_part, "skipped_sha256": skipped_digest})
        if rows_read != scanned + sum(skipped.values()):  # the core classifies every row; this is a bug guard
            raise AssertionError(f"{path}: row accounting broken: {rows_read} read, {scanned} scanned, {skipped}")
        inputs.append(rec)
    if bar is not None:
        bar.close()
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "tool": "scanner",
        "tool_version": __version__,
        "index": {"path": str(idx.path), "checksum_sha256": idx.checksum, "n_refs": idx.n_refs,
                  "params": idx.manifest["params"], "lsh": idx.manifest["lsh"],
                  "references": idx.references},
        # threads and batch_rows change how the work is cut, never the result, so they stay out:
        # the manifest is byte-identical whatever they are.
        "options": {k: v for k, v in asdict(opts).items() if k not in ("threads", "batch_rows")}
        | {"threshold": threshold, "prefilter": prefilter, "detectors": list(opts.detectors), "min_span": min_span,
           "patterns": list(opts.patterns)},
        "control": None if control is None else {"path": str(control.path), "checksum_sha256": control.checksum,
                                                 "n_refs": control.n_refs, "references": control.references},
        "detectors": list(opts.detectors),
        "self_id": None if catalogue is None else {
            "catalogue": catalogue.sources, "rules": len(catalogue), "literals": matcher.n_literals,
            "min_precision": opts.self_id_precision},
        "inputs": inputs,
        "totals": _totals(inputs),
        "stats": {"near_duplicate": stats, "copied_span": span_stats, "self_id": sid_stats},
        "sample": None if opts.sample is None else {"fraction": float(opts.sample), "seed": opts.seed,
                                                    "design": "row groups, then rows (scanner.sample)"},
    }
    fsync_write(out / "manifest.json", json_bytes(manifest))
    return manifest


SKIPPED_SCHEMA = pa.schema([pa.field("source", pa.string(), nullable=False),
                            pa.field("row", pa.int64(), nullable=False), pa.field("doc_id", pa.string()),
                            pa.field("reason", pa.string(), nullable=False)])


def _skipped_table(path: str, parts: list) -> pa.Table:
    """Every row of one file that was read but not scanned, with the reason (null_text, no_tokens, too_large)."""
    if not parts:
        return SKIPPED_SCHEMA.empty_table()
    rows = np.concatenate([r for r, _, _ in parts])
    codes = np.concatenate([c for _, c, _ in parts])
    ids = [None] * len(rows) if all(i is None for _, _, i in parts) else \
        [v for r, _, i in parts for v in (i.to_pylist() if i is not None else [None] * len(r))]
    return pa.table({"source": pa.array([path] * len(rows), type=pa.string()), "row": pa.array(rows, type=pa.int64()),
                     "doc_id": pa.array(ids, type=pa.string()),
                     "reason": pa.array([STATUS_NAMES[int(c)] for c in codes], type=pa.string())},
                    schema=SKIPPED_SCHEMA)


def _units_table(path: str, unit_rows: list, unit_chars: list, unit_copied: list, findings: pa.Table,
                 detectors) -> pa.Table:
    """Per sampling unit (row group) of one file: rows scanned, characters, copied characters and documents
    flagged per detector and in any; the clusters of the report's variance estimates."""
    if unit_rows:
        rows = np.concatenate([r for r, _, _ in unit_rows])
        units = np.concatenate([u for _, u, _ in unit_rows]).astype(np.int64)
        ok = np.concatenate([k for _, _, k in unit_rows])
        chars = np.concatenate(unit_chars).astype(np.int64)
        copied = np.concatenate(unit_copied).astype(np.int64) if unit_copied else np.zeros(len(rows), np.int64)
    else:
        rows = units = chars = copied = np.zeros(0, np.int64)
        ok = np.zeros(0, bool)
    ids, inv = np.unique(units, return_inverse=True)
    cols = {"source": pa.array([path] * len(ids), type=pa.string()), "unit": pa.array(ids, type=pa.int64()),
            "rows_scanned": pa.array(np.bincount(inv, weights=ok, minlength=len(ids)).astype(np.int64)),
            "characters": pa.array(np.bincount(inv, weights=chars, minlength=len(ids)).astype(np.int64)),
            "copied_characters": pa.array(np.bincount(inv, weights=copied, minlength=len(ids)).astype(np.int64))}
    pos = {int(r): int(j) for r, j in zip(rows.tolist(), inv.tolist())}
    det = findings.column("detector").to_pylist() if findings.num_rows else []
    frow = findings.column("row").to_pylist() if findings.num_rows else []
    for d in list(detectors) + ["any"]:
        hit = {(r) for r, x in zip(frow, det) if d == "any" or x == d}
        counts = np.zeros(len(ids), np.int64)
        for r in hit:
            counts[pos[r]] += 1
        cols[f"flagged_{d}"] = pa.array(counts)
    return pa.table(cols)


def _totals(inputs: list) -> dict:
    t = {"files": len(inputs), "rows_read": 0, "rows_scanned": 0, "rows_skipped": {}, "characters": 0,
         "characters_squared": 0, "tokens": 0, "copied_characters": 0, "findings": {}, "documents_flagged": {}}
    for rec in inputs:
        for k in ("rows_read", "rows_scanned", "characters", "characters_squared", "tokens", "copied_characters"):
            t[k] += rec[k]
        for group in ("rows_skipped", "findings", "documents_flagged"):
            for k, v in rec[group].items():
                t[group][k] = t[group].get(k, 0) + v
    return t
