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

import json
import math
import os
import warnings
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np
import pyarrow as pa

from . import _core
from ._io import json_bytes
from ._io import progress as progress_bar
from ._version import __version__
from .arrow_bridge import text_buffers
from .errors import InvalidInput, OutputConflict
from .findings import DOCUMENT_SCHEMA, SCHEMA, document_table, near_dup_table, self_id_table, sort_findings, span_table
from .index import STATUS_NAMES, ReferenceIndex
from .reader import expand_inputs, file_kind, iter_batches, sha256_file
from .self_id import PRECISIONS
from .storage import Store, file_size, parquet_file

MANIFEST_FORMAT = "scanner-scan"
MANIFEST_VERSION = 2
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


RUN_FILE = "run.json"
DONE_DIR = "_done"
OUTPUT_DIRS = ("findings", "documents", "skipped", "units", DONE_DIR)
DEFAULT_UNIT_ROWS = 262_144


def _as_store(out) -> Store:
    return out if isinstance(out, Store) else Store(out)


def _write_table(table: pa.Table, out, rel: str) -> str:
    """Publishes a Parquet file in one step (local: unique temporary name, fsync, rename; remote: one
    upload), so a reader or a second task writing the same unit never sees part of it; returns its SHA-256."""
    return _as_store(out).write_parquet(rel, table, compression="zstd", row_group_size=65536)


def _write_json(out, rel: str, obj) -> None:
    _as_store(out).write_bytes(rel, json_bytes(obj))


@dataclass(frozen=True)
class Unit:
    """One task: row groups [g0, g1) of input file `file` (JSONL: the whole file, g0 = g1 = 0)."""

    file: int
    unit: int
    path: str
    sha256: str
    g0: int
    g1: int
    row0: int
    rows: int

    @property
    def name(self) -> str:
        return f"{self.file:05d}-{self.unit:05d}"


def plan_units(paths: list, digests: list, unit_rows: int) -> list:
    """The units of work: each Parquet file cut at row-group boundaries into runs of about unit_rows
    rows (at least one row group each), each JSONL file whole."""
    units = []
    for i, (path, digest) in enumerate(zip(paths, digests)):
        if file_kind(path) != "parquet":
            units.append(Unit(i, 0, path, digest, 0, 0, 0, -1))
            continue
        try:
            md = parquet_file(path).metadata
        except (pa.ArrowInvalid, OSError) as e:
            raise InvalidInput(f"{path}: not a readable Parquet file ({e})") from e
        g, row, u = 0, 0, 0
        n_groups = md.num_row_groups
        if n_groups == 0:
            units.append(Unit(i, 0, path, digest, 0, 0, 0, 0))
            continue
        while g < n_groups:
            g0, r0 = g, row
            while g < n_groups and (g == g0 or row - r0 + md.row_group(g).num_rows <= unit_rows):
                row += md.row_group(g).num_rows
                g += 1
            units.append(Unit(i, u, path, digest, g0, g, r0, row - r0))
            u += 1
    return units


class ScanContext:
    """Everything a unit needs, prepared once per process: index, control index, self-ID automaton."""

    def __init__(self, idx: ReferenceIndex, opts: ScanOptions, control: Optional[ReferenceIndex] = None):
        self.idx = idx
        self.opts = opts
        self.control = control
        self.threshold = opts.threshold if opts.threshold is not None else idx.params.threshold
        self.prefilter = prefilter_for(self.threshold, idx.params.num_perm)
        self.spans_on = "copied_span" in opts.detectors
        min_span = opts.min_span
        if min_span is None:
            min_span = 50 if opts.min_span_words is None else idx.span_params.window
        self.min_span = min_span
        if self.spans_on and min_span < idx.span_params.window:
            raise InvalidInput(f"--min-span {min_span} is below the index's span window of "
                               f"{idx.span_params.window}; use --min-span >= {idx.span_params.window} or rebuild "
                               f"the index with --span-window <= {min_span}")
        self.catalogue = None
        self._matcher = None
        if "self_id" in opts.detectors:
            from .self_id import Catalogue
            self.catalogue = Catalogue.load(opts.patterns, builtin=opts.builtin_patterns)  # validated here

    @property
    def matcher(self):
        """The compiled self-ID automaton, built on first use (a Dask client never needs it)."""
        if self._matcher is None and self.catalogue is not None:
            self._matcher = self.catalogue.compile()
        return self._matcher

    def scan_batch(self, texts: pa.Array) -> tuple:
        """All detectors over one batch in one native pass (each document normalized once):
        (near-duplicate result, span result or None, self-ID result or None), each the dict of that
        detector's own scan(). The near-duplicate result always comes, for its per-row status and counts."""
        o, idx = self.opts, self.idx
        return _core.one_pass(
            text_buffers(texts), idx.near_dup, self.threshold, self.prefilter, o.max_verify, o.max_matches,
            "near_duplicate" in o.detectors, idx.spans._core if self.spans_on else None, self.min_span,
            o.min_span_words or 0, self.control.spans._core if self.spans_on and self.control else None,
            self.matcher._core if self.catalogue is not None else None, PRECISIONS.index(o.self_id_precision),
            o.threads)

    def options_record(self) -> dict:
        o = self.opts
        # threads and batch_rows change how the work is cut, never the result, so they stay out:
        # the manifest is byte-identical whatever they are (unit_rows does change the shard layout).
        return {k: v for k, v in asdict(o).items() if k not in ("threads", "batch_rows")} | {
            "threshold": self.threshold, "prefilter": self.prefilter, "detectors": list(o.detectors),
            "min_span": self.min_span, "patterns": list(o.patterns)}


def _unit_batches(unit: Unit, opts: ScanOptions):
    """(batch, sampling unit of each row or None), and after exhaustion the sampled file (or None)."""
    id_col, id_req = opts.id_column or "id", opts.id_column is not None
    if opts.sample is not None:
        from .sample import SampledFile
        sf = SampledFile(unit.path, unit.sha256, float(opts.sample), opts.seed)
        groups = None if unit.rows < 0 else (unit.g0, unit.g1)
        return sf.batches(opts.text_column, id_col, opts.batch_rows, id_required=id_req, groups=groups), sf
    groups = None if unit.rows < 0 else list(range(unit.g0, unit.g1))
    gen = iter_batches(unit.path, opts.text_column, id_col, opts.batch_rows, id_required=id_req,
                       row_groups=groups, first_row=unit.row0)
    return ((b, None) for b in gen), None


def _prefetched(items, depth: int = 2):
    """Iterates items with the next ones produced by a background thread: Parquet decoding (which releases
    the GIL) overlaps the detectors. Exceptions reach the consumer in order; stopping early stops the thread."""
    import queue
    import threading
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for x in items:
                while not stop.is_set():
                    try:
                        q.put((x, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as e:  # handed to the consumer, raised there
            q.put((None, e))

    t = threading.Thread(target=produce, name="scanner-prefetch", daemon=True)
    t.start()
    try:
        while True:
            x, err = q.get()
            if err is not None:
                raise err
            if x is done:
                return
            yield x
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(timeout=0.05)


class _UnitFeed:
    """The batches of a run of units, read by one background thread unit after unit: the next unit's
    first batches are decoded while this one's findings are sorted and written, instead of the scan
    waiting for them at every unit's start. Units must be asked for in the order given."""

    _END = object()

    def __init__(self, units: list, opts: ScanOptions):
        def items():
            for u in units:
                source, sampled = _unit_batches(u, opts)
                yield u.name, sampled
                for b in source:
                    yield u.name, b
                yield u.name, self._END
        self._items = _prefetched(items())

    def batches(self, unit: Unit):
        """(the unit's (batch, sampling units) iterator, its sampled file or None), as _unit_batches."""
        name, sampled = next(self._items)
        if name != unit.name:
            raise RuntimeError(f"unit feed out of order: {name} came for {unit.name}")

        def source():
            for _, b in self._items:
                if b is self._END:
                    return
                yield b
        return source(), sampled

    def close(self):
        self._items.close()


def scan_unit(ctx: ScanContext, unit: Unit, out, progress=None, feed: Optional[_UnitFeed] = None) -> dict:
    """Scans one unit, publishes its shards, then its completion record (written last); returns the record.

    out: the output directory (a path, a URL or a scanner.storage.Store). feed: where the unit's batches
    come from when the caller reads several units ahead (scan() does), else they are read here."""
    out = _as_store(out)
    opts, idx, path = ctx.opts, ctx.idx, unit.path
    rows_read = scanned = characters = tokens = copied_chars = characters_sq = 0
    skipped: dict[str, int] = {}
    tables, doc_tables = [], []
    stats = {k: 0 for k in ("candidates", "prefilter_passed", "verified", "verify_truncated", "matches_truncated")}
    span_stats = {k: 0 for k in ("windows", "filter_hits", "searches", "matches", "documents_truncated")}
    sid_stats = {k: 0 for k in ("pattern_hits", "anchor_hits", "confirmed", "below_precision", "documents_truncated")}
    if feed is not None:
        batches, sampled = feed.batches(unit)
    else:
        source, sampled = _unit_batches(unit, opts)
        batches = _prefetched(source)
    unit_rows, unit_chars, unit_copied, skipped_rows = [], [], [], []
    for batch, units in batches:
        n = len(batch.texts)
        rows = (np.asarray(batch.rows, dtype=np.int64) if batch.rows is not None
                else np.arange(batch.row_start, batch.row_start + n, dtype=np.int64))
        res, sp, sid = ctx.scan_batch(batch.texts)
        status = res["status"]
        bad = np.flatnonzero(status != 0)
        if len(bad):
            skipped_rows.append((rows[bad], status[bad], None if batch.ids is None else batch.ids.take(pa.array(bad))))
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
        if ctx.spans_on:
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
            if ctx.spans_on:
                unit_copied.append(sp["copied_chars"])
        if ctx.catalogue is not None:
            for k in ("pattern_hits", "anchor_hits", "confirmed", "below_precision"):
                sid_stats[k] += int(sid[k])
            sid_stats["documents_truncated"] += int(np.count_nonzero(sid["truncated"]))
            tables.append(self_id_table(path, rows, batch.texts, batch.ids, sid, ctx.catalogue))
        if progress is not None:
            progress(n)
    table = sort_findings(pa.concat_tables(tables) if tables else SCHEMA.empty_table())
    docs = pa.concat_tables(doc_tables) if doc_tables else DOCUMENT_SCHEMA.empty_table()
    shard = {"unit": unit.unit, "row_groups": [unit.g0, unit.g1]}
    name = unit.name
    shard["findings"] = f"findings/part-{name}.parquet"
    shard["findings_sha256"] = _write_table(table, out, shard["findings"])
    shard["documents"] = f"documents/part-{name}.parquet"
    shard["documents_sha256"] = _write_table(docs.sort_by([("row", "ascending")]) if docs.num_rows else docs,
                                             out, shard["documents"])
    shard["skipped"] = f"skipped/part-{name}.parquet"
    shard["skipped_sha256"] = _write_table(_skipped_table(path, skipped_rows), out, shard["skipped"])
    flagged, counts = {}, {}
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
        shard["sample"] = sampled.design()
        shard["units"] = f"units/part-{name}.parquet"
        shard["units_sha256"] = _write_table(
            _units_table(path, unit_rows, unit_chars, unit_copied, table, opts.detectors), out, shard["units"])
    if rows_read != scanned + sum(skipped.values()):  # the core classifies every row; this is a bug guard
        raise AssertionError(f"{path}: row accounting broken: {rows_read} read, {scanned} scanned, {skipped}")
    rec = {"file": unit.file, "path": path, "sha256": unit.sha256, "shard": shard,
           "counts": {"rows_read": rows_read, "rows_scanned": scanned, "rows_skipped": skipped,
                      "characters": characters, "characters_squared": characters_sq, "tokens": tokens,
                      "copied_characters": copied_chars, "findings": counts, "documents_flagged": flagged},
           "stats": {"near_duplicate": stats, "copied_span": span_stats, "self_id": sid_stats}}
    _write_json(out, f"{DONE_DIR}/{name}.json", rec)
    return rec


def completed(out, unit: Unit) -> Optional[dict]:
    """The completion record of a unit if it and every shard it names are intact, else None."""
    out = _as_store(out)
    rel = f"{DONE_DIR}/{unit.name}.json"
    if not out.is_file(rel):
        return None
    try:
        rec = json.loads(out.read_bytes(rel))
    except ValueError:
        return None
    if not isinstance(rec, dict) or rec.get("sha256") != unit.sha256 or rec.get("path") != unit.path:
        return None
    shard = rec.get("shard", {})
    for key in ("findings", "documents", "skipped", "units"):
        f = shard.get(key)
        if f is None:
            continue
        if not out.is_file(f) or out.sha256(f) != shard.get(f"{key}_sha256"):
            return None
    return rec


def _fingerprint(ctx: ScanContext, inputs: list, unit_rows: int) -> dict:
    idx, control = ctx.idx, ctx.control
    return {"tool_version": __version__, "options": ctx.options_record(), "unit_rows": unit_rows,
            "index_checksum_sha256": idx.checksum,
            "control_checksum_sha256": None if control is None else control.checksum,
            "self_id": None if ctx.catalogue is None else ctx.catalogue.sources,
            "inputs": [[r["path"], r["bytes"], r["sha256"]] for r in inputs]}


def _prepare_output(out: Store, fingerprint: dict, force: bool) -> None:
    """Creates the output directory, or checks that its run is this one (then completed units are kept)."""
    if not out.remote and os.path.exists(out.root) and not os.path.isdir(out.root):
        raise OutputConflict(f"{out} exists and is not a directory")
    if out.listdir():
        same = False
        if out.is_file(RUN_FILE):
            try:
                same = json.loads(out.read_bytes(RUN_FILE)).get("fingerprint") == fingerprint
            except ValueError:
                same = False
        if force:
            for name in OUTPUT_DIRS + ("manifest.json", RUN_FILE):
                out.remove(name)
        elif not same:
            what = "another run (other parameters, index or inputs)" if out.is_file(RUN_FILE) else "other files"
            raise OutputConflict(f"{out} holds {what}; use a new output directory, or pass --force to start it "
                                 f"afresh (re-running the same command resumes it)")
    out.makedirs()
    for name in OUTPUT_DIRS:
        out.makedirs(name)
    out.remove_stale_temps(OUTPUT_DIRS)  # left by a killed run; never published
    if not out.is_file(RUN_FILE):
        _write_json(out, RUN_FILE, {"format": "scanner-run", "fingerprint": fingerprint})


def scan(corpus, index, out_dir, options: Optional[ScanOptions] = None, force: bool = False,
         verify_index: bool = True, progress: bool = False, executor=None,
         unit_rows: int = DEFAULT_UNIT_ROWS) -> dict:
    """Scans corpus files (paths, directories, globs) against an index; returns the manifest it writes.

    The work is cut into units (row-group runs of about unit_rows rows, scanner.scan.plan_units); each
    publishes its shards and then a completion record, and manifest.json is written last from those
    records. Re-running the same scan into the same directory redoes only the units without an intact
    record (a killed run resumes); a different scan into it is refused unless force.

    Args:
        corpus: Parquet/JSONL files, directories or globs.
        index: a ReferenceIndex or the path of one.
        out_dir: output directory.
        verify_index: re-hash the index files before scanning (detects damaged files).
        executor: None to run the units here, or a callable(units, out_dir) -> list of records that
            runs them elsewhere (scanner.distributed.dask_executor).
    """
    opts = options or ScanOptions()
    if not isinstance(unit_rows, int) or unit_rows < 1:
        raise InvalidInput(f"unit_rows={unit_rows!r}: use a positive number of rows")
    paths = expand_inputs(corpus, what="corpus")
    idx = index if isinstance(index, ReferenceIndex) else ReferenceIndex.load(index, verify=verify_index)
    control = None
    if "copied_span" in opts.detectors and opts.control is not None:
        control = ReferenceIndex.load(opts.control, verify=verify_index)
    ctx = ScanContext(idx, opts, control)
    if ctx.threshold < idx.params.threshold:
        warnings.warn(f"threshold {ctx.threshold} is below the index's {idx.params.threshold}: its LSH bands were "
                      f"chosen for {idx.params.threshold}, so pairs in between are found with lower recall; "
                      f"rebuild the index with --threshold {ctx.threshold} for full recall", stacklevel=2)
    inputs = [{"path": p, "bytes": file_size(p), "sha256": sha256_file(p)} for p in paths]
    units = plan_units(paths, [r["sha256"] for r in inputs], unit_rows)
    out = Store(out_dir)
    _prepare_output(out, _fingerprint(ctx, inputs, unit_rows), force)
    records: dict = {}
    todo = []
    for u in units:
        rec = completed(out, u)
        if rec is None:
            todo.append(u)
        else:
            records[u.name] = rec
    if todo:
        if executor is None:
            bar = progress_bar(sorted({u.path for u in todo}), progress, "scan")
            feed = _UnitFeed(todo, opts)
            try:
                for u in todo:
                    records[u.name] = scan_unit(ctx, u, out, None if bar is None else bar.update, feed)
            finally:
                feed.close()
            if bar is not None:
                bar.close()
        else:
            for u, rec in zip(todo, executor(todo, out.root)):  # the executor returns records in unit order
                records[u.name] = rec
    manifest = _assemble(ctx, inputs, units, records, opts)
    _write_json(out, "manifest.json", manifest)
    return manifest


def _assemble(ctx: ScanContext, inputs: list, units: list, records: dict, opts: ScanOptions) -> dict:
    idx, control = ctx.idx, ctx.control
    totals_stats = {"near_duplicate": {}, "copied_span": {}, "self_id": {}}
    per_file = {i: [] for i in range(len(inputs))}
    for u in units:
        rec = records[u.name]
        per_file[u.file].append(rec)
        for det, st in rec["stats"].items():
            for k, v in st.items():
                totals_stats[det][k] = totals_stats[det].get(k, 0) + v
    out_inputs = []
    for i, base in enumerate(inputs):
        rec = dict(base) | _sum_counts([r["counts"] for r in per_file[i]])
        rec["shards"] = [r["shard"] for r in per_file[i]]
        out_inputs.append(rec)
    return {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "tool": "scanner",
        "tool_version": __version__,
        "index": {"path": idx.location, "checksum_sha256": idx.checksum, "n_refs": idx.n_refs,
                  "params": idx.manifest["params"], "lsh": idx.manifest["lsh"],
                  "references": idx.references},
        "options": ctx.options_record(),
        "control": None if control is None else {"path": control.location,
                                                 "checksum_sha256": control.checksum,
                                                 "n_refs": control.n_refs, "references": control.references},
        "detectors": list(opts.detectors),
        "self_id": None if ctx.catalogue is None else {
            "catalogue": ctx.catalogue.sources, "rules": len(ctx.catalogue), "min_precision": opts.self_id_precision},
        "inputs": out_inputs,
        "totals": _totals(out_inputs),
        "stats": totals_stats,
        "sample": None if opts.sample is None else {"fraction": float(opts.sample), "seed": opts.seed,
                                                    "design": "row groups, then rows (scanner.sample)"},
    }


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


def _sum_counts(parts: list) -> dict:
    """Row, character and finding counts summed over units (into a file) or files (into totals)."""
    t = {"rows_read": 0, "rows_scanned": 0, "rows_skipped": {}, "characters": 0, "characters_squared": 0,
         "tokens": 0, "copied_characters": 0, "findings": {}, "documents_flagged": {}}
    for rec in parts:
        for k in ("rows_read", "rows_scanned", "characters", "characters_squared", "tokens", "copied_characters"):
            t[k] += rec[k]
        for group in ("rows_skipped", "findings", "documents_flagged"):
            for k, v in rec[group].items():
                t[group][k] = t[group].get(k, 0) + v
    return t


def _totals(inputs: list) -> dict:
    return {"files": len(inputs)} | _sum_counts(inputs)
