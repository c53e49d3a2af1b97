"""The reference index: a directory of flat little-endian arrays plus manifest.json.

Layout (format version 5):
  manifest.json        format name and version, byte order, tool and Unicode
                       versions, detector parameters, every array's file, dtype,
                       shape, byte size and SHA-256, and every reference input
                       file with its size, SHA-256 and row accounting.
  ref_text_*.bin       reference texts as Arrow large_string buffers (offsets, data)
  ref_id_*.bin         reference ids, likewise
  ref_source.bin       uint32 index into manifest["references"] of each reference
  ref_row.bin          int64 row of each reference in its file
  ref_codepoints.bin   int64 length of each reference text in code points
  signatures.bin       uint32 [n, num_perm] MinHash signatures
  lsh_table.bin        uint64 [bands * buckets, 8] banded LSH table, one cache line per bucket
                       (csrc/lsh.hpp), an entry per distinct band
  lsh_groups.bin       uint32 the references sharing a band, per band: (count, ids...) per group
  lsh_group_offsets.bin uint64 [bands + 1] where each band's groups start in lsh_groups
  span_text.bin        the normalized references end to end, each followed by 0xFF
  span_doc_starts.bin  uint64 [n + 1] start of each reference in span_text
  span_sa.bin          suffix array of span_text, `width` bytes per entry + 8 bytes of slack
  span_bucket.bin      uint64 [65537] suffix-array rank of every 2-byte prefix
  span_samples.bin     uint64 first 8 bytes (big-endian) of every 128th suffix in rank order
  span_filter.bin      uint64 blocked Bloom filter of every reference k-gram (csrc/span_match.hpp)

Arrays are memory-mapped on load, so opening costs milliseconds whatever the
size. load() always checks the manifest and every file's size; verify=True
also re-hashes every file. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa

from . import _core
from ._io import fsync_write, json_bytes
from ._io import progress as progress_bar
from ._version import __version__
from .arrow_bridge import text_buffers
from .config import NearDupParams, SpanParams
from .errors import IndexFormatError, OutputConflict
from .lsh import optimal_param
from .minhash import MinHasher, permutations
from .reader import expand_inputs, iter_batches, sha256_file
from .spans import SAMPLE_STEP, SpanMatcher
from .storage import file_size, is_url, local_index

FORMAT = "scanner-index"
FORMAT_VERSION = 5  # 3: span_samples; 4: LSH buckets of one cache line; 5: LSH groups
STATUS_NAMES = {1: "null_text", 2: "no_tokens", 3: "too_large"}
TOO_SHORT = "too_short"

_ARRAYS = {
    "ref_text_offsets": "<i8",
    "ref_text_data": "|u1",
    "ref_id_offsets": "<i8",
    "ref_id_data": "|u1",
    "ref_source": "<u4",
    "ref_row": "<i8",
    "ref_codepoints": "<i8",
    "signatures": "<u4",
    "lsh_table": "<u8",
    "lsh_groups": "<u4",
    "lsh_group_offsets": "<u8",
    "span_text": "|u1",
    "span_doc_starts": "<u8",
    "span_sa": "|u1",
    "span_bucket": "<u8",
    "span_samples": "<u8",
    "span_filter": "<u8",
}


def _large_string_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 offsets starting at 0, uint8 data) of a string array, nulls as empty strings."""
    arr = arr.cast(pa.large_string()) if not pa.types.is_large_string(arr.type) else arr
    if arr.null_count:
        arr = arr.fill_null("")
    _, offsets, data = arr.buffers()
    off = np.frombuffer(offsets, dtype="<i8")[arr.offset:arr.offset + len(arr) + 1] if offsets is not None \
        else np.zeros(1, dtype="<i8")
    base = int(off[0]) if len(off) else 0
    end = int(off[-1]) if len(off) else 0
    dat = np.frombuffer(data, dtype=np.uint8)[base:end] if data is not None else np.zeros(0, np.uint8)
    return (off - base).astype("<i8"), dat


class ReferenceIndex:
    """The reference outputs and their detector tables, built once, memory-mapped after.

    Build with ``ReferenceIndex.build(paths, out_dir)``; open with ``ReferenceIndex.load(out_dir)``.
    """

    def __init__(self, path: Path, manifest: dict, arrays: dict, checksum: str):
        self.path = path
        self.location = str(path)  # where it was opened from: this path, or the URL whose local copy it is
        self.manifest = manifest
        self._arrays = arrays
        self.checksum = checksum
        self.params = NearDupParams.from_dict(manifest["params"]["near_duplicate"])
        self.span_params = SpanParams.from_dict(manifest["params"]["copied_span"])
        self.span_width = int(manifest["spans"]["width"])
        lsh = manifest["lsh"]
        self.bands, self.rows = int(lsh["bands"]), int(lsh["rows"])
        self.n_refs = int(manifest["n_refs"])
        self.references = manifest["references"]
        self.ref_texts = pa.LargeStringArray.from_buffers(
            self.n_refs, pa.py_buffer(arrays["ref_text_offsets"]), pa.py_buffer(arrays["ref_text_data"]))
        self.ref_ids = pa.LargeStringArray.from_buffers(
            self.n_refs, pa.py_buffer(arrays["ref_id_offsets"]), pa.py_buffer(arrays["ref_id_data"]))
        self.ref_source = arrays["ref_source"]
        self.ref_row = arrays["ref_row"]
        self.ref_codepoints = arrays["ref_codepoints"]
        self._near_dup = None
        self._spans = None

    # ---- building -----------------------------------------------------------------------------------------

    @classmethod
    def build(cls, references, out_dir, params: Optional[NearDupParams] = None, text_column: str = "text",
              id_column: Optional[str] = "id", threads: int = 0, batch_rows: int = 8192, progress: bool = False,
              overwrite: bool = False, span_params: Optional[SpanParams] = None) -> ReferenceIndex:
        """Builds an index of the reference outputs in `references` (Parquet/JSONL files, directories, globs).

        Rows with a null text, no word token, or fewer than params.effective_min_tokens tokens are
        left out and counted per file in the manifest.
        The directory appears complete or not at all: it is written beside `out_dir` and renamed.
        """
        if is_url(out_dir):  # build here, then upload: the manifest goes up last, so a partial upload is no index
            import tempfile
            with tempfile.TemporaryDirectory() as local:
                built = cls.build(references, Path(local) / "index", params, text_column, id_column, threads,
                                  batch_rows, progress, True, span_params)
                _upload_index(built.path, str(out_dir), overwrite)
            return cls.load(str(out_dir))
        params = params or NearDupParams()
        span_params = span_params or SpanParams()
        out = Path(out_dir)
        if out.exists() and not overwrite:
            if not out.is_dir() or any(out.iterdir()):
                raise OutputConflict(f"{out} exists and is not empty; choose another path or pass overwrite "
                                     f"(--force)")
        paths = expand_inputs(references, what="reference")
        hasher = MinHasher(params.num_perm, params.seed, params.ngram, params.hash, threads)
        texts, ids, sigs, sources, rows = [], [], [], [], []
        ref_files = []
        bar = progress_bar(paths, progress, "index")
        for si, path in enumerate(paths):
            skipped: dict[str, int] = {}
            n_used = 0
            for batch in iter_batches(path, text_column, id_column, batch_rows, chat=True):
                s, status, n_tok = hasher.signatures_and_tokens(batch.texts)
                short = (status == 0) & (n_tok < params.effective_min_tokens)
                keep = (status == 0) & ~short
                for code, name in STATUS_NAMES.items():
                    c = int(np.count_nonzero(status == code))
                    if c:
                        skipped[name] = skipped.get(name, 0) + c
                if short.any():
                    skipped[TOO_SHORT] = skipped.get(TOO_SHORT, 0) + int(short.sum())
                batch_rows_idx = (np.asarray(batch.rows) if batch.rows is not None
                                  else np.arange(batch.row_start, batch.row_start + len(batch.texts)))
                mask = pa.array(keep)
                texts.append(batch.texts.filter(mask).cast(pa.large_string()))
                if batch.ids is not None:
                    ids.append(batch.ids.filter(mask).cast(pa.large_string()))
                else:
                    ids.append(pa.array([str(r) for r in batch_rows_idx[keep]], type=pa.large_string()))
                sigs.append(s[keep])
                sources.append(np.full(int(keep.sum()), si, dtype="<u4"))
                rows.append(batch_rows_idx[keep].astype("<i8"))
                n_used += int(keep.sum())
                if bar is not None:
                    bar.update(len(batch.texts))
            ref_files.append({"path": path, "bytes": file_size(path), "sha256": sha256_file(path),
                              "items": n_used + sum(skipped.values()), "indexed": n_used, "skipped": skipped})
        if bar is not None:
            bar.close()
        all_texts = pa.concat_arrays(texts) if texts else pa.array([], type=pa.large_string())
        all_ids = pa.concat_arrays(ids) if ids else pa.array([], type=pa.large_string())
        n = len(all_texts)
        sig = np.concatenate(sigs) if sigs else np.zeros((0, params.num_perm), dtype=np.uint32)
        sig = np.ascontiguousarray(sig, dtype="<u4")
        if params.bands is not None:
            bands, rws = params.bands, params.rows
        else:
            bands, rws = optimal_param(params.threshold, params.num_perm, params.false_positive_weight,
                                       params.false_negative_weight)
        lsh_table, lsh_groups, lsh_group_offsets = _core.lsh_build(sig, bands, rws, threads)
        if progress:
            print(f"index: suffix array over {len(all_texts)} references ...", file=sys.stderr, flush=True)
        spans = SpanMatcher.build(all_texts, window=span_params.window, filter_bits=span_params.filter_bits,
                                  threads=threads)
        text_off, text_data = _large_string_parts(all_texts)
        id_off, id_data = _large_string_parts(all_ids)
        arrays = {
            "ref_text_offsets": text_off,
            "ref_text_data": text_data,
            "ref_id_offsets": id_off,
            "ref_id_data": id_data,
            "ref_source": np.concatenate(sources) if sources else np.zeros(0, "<u4"),
            "ref_row": np.concatenate(rows) if rows else np.zeros(0, "<i8"),
            "ref_codepoints": np.asarray(_core.codepoint_counts(text_buffers(all_texts)), dtype="<i8"),
            "signatures": sig,
            "lsh_table": lsh_table,
            "lsh_groups": lsh_groups,
            "lsh_group_offsets": lsh_group_offsets,
            **spans.arrays,
        }
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        files = {}
        for name, dtype in _ARRAYS.items():
            a = np.ascontiguousarray(arrays[name], dtype=dtype)
            digest = fsync_write(tmp / f"{name}.bin", a)
            files[name] = {"file": f"{name}.bin", "dtype": dtype, "shape": list(a.shape), "bytes": int(a.nbytes),
                           "sha256": digest}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "byteorder": "little",
            "tool_version": __version__,
            "unicode_version": _core.UNICODE_VERSION,
            "params": {"near_duplicate": params.to_dict(), "copied_span": span_params.to_dict(),
                       "text_column": text_column, "id_column": id_column},
            "lsh": {"bands": bands, "rows": rws, "buckets": len(lsh_table) // bands,
                    "group_words": len(lsh_groups)},
            "spans": {"width": spans.width, "text_bytes": int(len(spans.arrays["span_text"])),
                      "sample_step": SAMPLE_STEP},
            "n_refs": n,
            "references": ref_files,
            "arrays": files,
        }
        fsync_write(tmp / "manifest.json", json_bytes(manifest))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        return cls.load(out)

    # ---- loading ------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path, verify: bool = False) -> ReferenceIndex:
        """Opens an index directory, memory-mapping its arrays.

        Checks format, version, byte order and every array's size; with verify=True also every SHA-256.
        Raises IndexFormatError naming what does not match.
        """
        location = str(path)
        if is_url(location):
            try:
                path = local_index(location)
            except FileNotFoundError as e:
                raise IndexFormatError(f"{location}: not a scanner index (no manifest.json); build one with "
                                       f"`scanner index REFERENCE... -o {location}`") from e
        path = Path(path)
        mpath = path / "manifest.json"
        if not mpath.is_file():
            raise IndexFormatError(f"{path}: not a scanner index (no manifest.json); build one with "
                                   f"`scanner index REFERENCE... -o {path}`")
        raw = mpath.read_bytes()
        try:
            manifest = json.loads(raw)
        except ValueError as e:
            raise IndexFormatError(f"{mpath}: damaged manifest ({e}); rebuild the index") from e
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise IndexFormatError(f"{mpath}: not a scanner index manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(f"{path}: index format version {manifest.get('format_version')!r}, this scanner "
                                   f"{__version__} reads version {FORMAT_VERSION}; rebuild the index")
        if manifest.get("byteorder") != "little" or sys.byteorder != "little":
            raise IndexFormatError(f"{path}: index byte order {manifest.get('byteorder')!r} on a {sys.byteorder}-"
                                   f"endian machine; only little-endian is supported")
        if manifest.get("unicode_version") != _core.UNICODE_VERSION:
            raise IndexFormatError(f"{path}: built with Unicode {manifest.get('unicode_version')} tables, this "
                                   f"build has {_core.UNICODE_VERSION}; rebuild the index")
        try:
            files = manifest["arrays"]
            n = int(manifest["n_refs"])
            NearDupParams.from_dict(manifest["params"]["near_duplicate"])
            SpanParams.from_dict(manifest["params"]["copied_span"])
            _ = [int(manifest["lsh"][k]) for k in ("bands", "rows", "buckets", "group_words")]
            _ = [int(manifest["spans"][k]) for k in ("width", "text_bytes")]
        except (KeyError, TypeError, ValueError) as e:
            raise IndexFormatError(f"{mpath}: incomplete or invalid manifest ({e!r}); rebuild the index") from e
        try:
            arrays = {}
            for name, dtype in _ARRAYS.items():
                meta = files.get(name)
                if not isinstance(meta, dict) or meta.get("dtype") != dtype:
                    raise IndexFormatError(f"{path}: array {name!r} missing from the manifest or of another type")
                fpath = path / meta["file"]
                if Path(meta["file"]).name != meta["file"]:
                    raise IndexFormatError(f"{path}: array file name {meta['file']!r} is not a plain file name")
                shape = tuple(int(x) for x in meta["shape"])
                expect = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
                if not fpath.is_file():
                    raise IndexFormatError(f"{fpath}: missing; the index is incomplete, rebuild it")
                size = fpath.stat().st_size
                if size != expect or size != meta.get("bytes"):
                    raise IndexFormatError(f"{fpath}: {size} bytes, the manifest says {expect}; the file is truncated "
                                           f"or replaced, rebuild the index")
                if verify and sha256_file(str(fpath)) != meta.get("sha256"):
                    raise IndexFormatError(f"{fpath}: SHA-256 differs from the manifest; the file is damaged, rebuild "
                                           f"the index")
                arrays[name] = (np.memmap(fpath, dtype=dtype, mode="r", shape=shape) if expect
                                else np.zeros(shape, dtype=dtype))
            _check_shapes(path, manifest, arrays, n)
            idx = cls(path, manifest, arrays, hashlib.sha256(raw).hexdigest())
            idx.location = location
            return idx
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise IndexFormatError(f"{mpath}: invalid manifest or arrays ({e!r}); rebuild the index") from e

    def verify(self) -> None:
        """Re-hashes every array file against the manifest (raises IndexFormatError)."""
        ReferenceIndex.load(self.path, verify=True)

    # ---- detectors ----------------------------------------------------------------------------------------

    @property
    def near_dup(self):
        """The native near-duplicate detector over this index (built lazily, shares the mapped arrays)."""
        if self._near_dup is None:
            p = self.params
            a, b = permutations(p.num_perm, p.seed)
            ar = self._arrays
            self._near_dup = _core.NearDupIndex(
                ar["signatures"], ar["lsh_table"], ar["lsh_groups"], ar["lsh_group_offsets"], self.bands, self.rows,
                text_buffers(self.ref_texts), p.ngram, 0 if p.hash == "fast" else 1, a, b,
                spans=self.spans._core)
        return self._near_dup

    @property
    def spans(self) -> SpanMatcher:
        """The native copied-span detector over this index (suffix array memory-mapped)."""
        if self._spans is None:
            self._spans = SpanMatcher({k: self._arrays[k] for k in ("span_text", "span_doc_starts", "span_sa",
                                                                   "span_bucket", "span_samples",
                                                                   "span_filter")},
                                      self.span_width, self.span_params.window, self.ref_texts)
        return self._spans

    def ref_text(self, i: int) -> str:
        return self.ref_texts[i].as_py()


def _upload_index(local: Path, url: str, overwrite: bool) -> None:
    from .storage import Store
    store = Store(url)
    if store.exists() and store.listdir() and not overwrite:
        raise OutputConflict(f"{url} exists and is not empty; choose another path or pass overwrite (--force)")
    if store.exists():
        store.remove("manifest.json")
    store.makedirs()
    for f in sorted(local.iterdir()):
        if f.name != "manifest.json":
            store.write_bytes(f.name, f.read_bytes())
    store.write_bytes("manifest.json", (local / "manifest.json").read_bytes())


def _check_shapes(path: Path, manifest: dict, arrays: dict, n: int) -> None:
    p = manifest["params"]["near_duplicate"]
    lsh = manifest["lsh"]
    bands, buckets = int(lsh["bands"]), int(lsh["buckets"])
    if not 1 <= buckets <= _core.lsh_bucket_count(n):
        raise IndexFormatError(f"{path}: {buckets} LSH buckets for {n} references, expected 1 to "
                               f"{_core.lsh_bucket_count(n)}; the manifest is damaged, rebuild the index")
    tb, width = int(manifest["spans"]["text_bytes"]), int(manifest["spans"]["width"])
    if not 1 <= width <= 8:
        raise IndexFormatError(f"{path}: suffix array width {width} is not 1..8 bytes")
    if manifest["spans"].get("sample_step") != SAMPLE_STEP:
        raise IndexFormatError(f"{path}: suffix array sample step {manifest['spans'].get('sample_step')!r}, this "
                               f"scanner reads {SAMPLE_STEP}; rebuild the index")
    expected = {
        "span_text": (tb,), "span_doc_starts": (n + 1,), "span_sa": (tb * width + 8,), "span_bucket": (65537,),
        "span_samples": (-(-tb // SAMPLE_STEP),),
        "ref_text_offsets": (n + 1,), "ref_id_offsets": (n + 1,), "ref_source": (n,), "ref_row": (n,),
        "ref_codepoints": (n,), "signatures": (n, int(p["num_perm"])),
        "lsh_table": (bands * buckets, 8), "lsh_groups": (int(lsh["group_words"]),),
        "lsh_group_offsets": (bands + 1,),
    }
    for name, shape in expected.items():
        if tuple(arrays[name].shape) != shape:
            raise IndexFormatError(f"{path}: array {name!r} has shape {tuple(arrays[name].shape)}, expected {shape}")
    for name, data in (("ref_text", "ref_text_data"), ("ref_id", "ref_id_data")):
        off = arrays[f"{name}_offsets"]
        if off[0] != 0 or off[-1] != arrays[data].shape[0] or np.any(np.diff(off) < 0):
            raise IndexFormatError(f"{path}: {name} offsets are damaged; rebuild the index")
    if n and int(arrays["ref_source"].max()) >= len(manifest["references"]):
        raise IndexFormatError(f"{path}: ref_source points past the reference file list")

