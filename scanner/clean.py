"""Apply a scan's findings to its corpus: drop flagged documents or redact the flagged text, losing nothing.

`clean(corpus, findings_dir, out_dir, mode=...)` writes, for every corpus file, one cleaned file at
the same path relative to the inputs' common directory: Parquet with the input's schema, column order
and row-group size; JSONL with kept lines copied byte for byte (redacted lines re-serialized). It puts
everything it removes into Parquet quarantine files beside it:

  drop    every document with a finding of the chosen detectors is left out of the output and
          written whole to ``quarantine/rows/...`` with the reasons (``_scanner_row``,
          ``_scanner_detectors``, ``_scanner_rules``, ``_scanner_findings``).
  redact  copied spans and self-identification sentences are cut out of the text (or replaced by
          ``replacement``) and each removed piece goes to ``quarantine/spans/...`` with its
          detector, rule or reference, offsets and text; a near-duplicate is a copy of the whole
          document, so those documents are dropped as in drop mode. Copied spans marked
          ``common_phrase`` are not copying and stay.

So rows in == rows out + rows quarantined, for every file, recorded in ``clean_manifest.json``
with the SHA-256 of every input and output. Findings whose scan read other files (by path and
SHA-256) are refused: cleaning with them would remove the wrong text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._io import json_bytes
from ._version import __version__
from .errors import InvalidInput, OutputConflict
from .reader import expand_inputs, file_kind, sha256_file
from .report import load_manifest
from .storage import Store, is_url, open_binary, parquet_file

MODES = ("drop", "redact")
CLEAN_DETECTORS = ("near_duplicate", "copied_span", "self_id")
SPAN_SCHEMA = pa.schema([
    pa.field("source", pa.string(), nullable=False),
    pa.field("row", pa.int64(), nullable=False),
    pa.field("doc_id", pa.string()),
    pa.field("detector", pa.string(), nullable=False),
    pa.field("rule", pa.string()),
    pa.field("ref_id", pa.string()),
    pa.field("start", pa.int64(), nullable=False),
    pa.field("end", pa.int64(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
])
REASON_FIELDS = [pa.field("_scanner_row", pa.int64(), nullable=False),
                 pa.field("_scanner_detectors", pa.string(), nullable=False),
                 pa.field("_scanner_rules", pa.string()),
                 pa.field("_scanner_findings", pa.int64(), nullable=False)]


@dataclass(frozen=True)
class CleanOptions:
    """Args:
        mode: "drop" or "redact".
        detectors: findings of which detectors to act on.
        replacement: text put where a redacted piece was ("" cuts it out).
        text_column: the column the scan read (redact rewrites it).
        min_precision: self-identification findings below this level are ignored ("low" acts on all).
    """

    mode: str = "drop"
    detectors: tuple = CLEAN_DETECTORS
    replacement: str = ""
    text_column: str = "text"
    min_precision: str = "medium"

    def __post_init__(self):
        if self.mode not in MODES:
            raise InvalidInput(f"mode={self.mode!r}: use drop or redact")
        bad = [d for d in self.detectors if d not in CLEAN_DETECTORS]
        if bad or not self.detectors:
            raise InvalidInput(f"detectors {list(self.detectors)}: choose from {', '.join(CLEAN_DETECTORS)}")
        if self.min_precision not in ("low", "medium", "high"):
            raise InvalidInput(f"min_precision={self.min_precision!r}: use high, medium or low")


def _relative_names(paths: list[str]) -> list[str]:
    """Output names: each input's path relative to the inputs' common directory ('/'-separated)."""
    absolute = [p if is_url(p) else os.path.abspath(p) for p in paths]
    dirs = [p.rsplit("/", 1)[0] for p in absolute]
    base = dirs[0]
    for d in dirs[1:]:
        while not (d == base or d.startswith(base + "/")):
            base = base.rsplit("/", 1)[0] if "/" in base else ""
    names = [p[len(base):].lstrip("/") for p in absolute]
    if len(set(names)) != len(names):  # pragma: no cover - abspath makes them distinct
        raise InvalidInput("two inputs map to the same output name")
    return names


def _match_inputs(paths: list[str], manifest: dict, findings_dir: Path) -> list[dict]:
    def key(p):
        return p if is_url(p) else os.path.abspath(p)
    by_path = {key(rec["path"]): rec for rec in manifest["inputs"]}
    recs = []
    for p in paths:
        rec = by_path.get(key(p))
        if rec is None:
            raise InvalidInput(f"{p}: not an input of the scan in {findings_dir}; clean only the files that scan "
                               f"read (its manifest lists {len(by_path)})")
        digest = sha256_file(p)
        if digest != rec["sha256"]:
            raise InvalidInput(f"{p}: SHA-256 {digest[:16]}... differs from the {rec['sha256'][:16]}... the scan "
                               f"read; the findings belong to another version of this file: scan it again")
        recs.append(rec)
    return recs


def _findings_of(fdir: Store, rec: dict) -> pa.Table:
    """The findings of one input file, from its shards."""
    from .findings import SCHEMA
    parts = [fdir.read_table(sh["findings"]) for sh in rec.get("shards", [])]
    return pa.concat_tables(parts) if parts else SCHEMA.empty_table()


def _selected(findings: pa.Table, opts: CleanOptions) -> pa.Table:
    if findings.num_rows == 0:
        return findings
    det = findings.column("detector")
    mask = pc.is_in(det, value_set=pa.array(list(opts.detectors)))
    if "self_id" in opts.detectors and opts.min_precision != "low":
        keep = ["high"] if opts.min_precision == "high" else ["high", "medium"]
        mask = pc.and_(mask, pc.or_(pc.not_equal(det, "self_id"),
                                    pc.is_in(findings.column("precision"), value_set=pa.array(keep))))
    return findings.filter(mask)


class _Sink:
    """A Parquet file written under a temporary name, in row groups of about target rows, published
    (fsync + rename) by close()."""

    def __init__(self, store: Store, rel: str, schema: pa.Schema, target_rows: int):
        self.store, self.rel = store, rel
        if "/" in rel:
            store.makedirs(rel.rsplit("/", 1)[0])
        self.tmp = store.temp_for(rel)
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        self.target = max(1, target_rows)
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def write(self, table: pa.Table):
        if table.num_rows == 0:
            return
        self.pending.append(table)
        self.pending_rows += table.num_rows
        while self.pending_rows >= self.target:
            self._flush(self.target)

    def _flush(self, n: int):
        t = pa.concat_tables(self.pending)
        head, rest = t.slice(0, n), t.slice(n)
        self.writer.write_table(head, row_group_size=n)
        self.pending = [rest] if rest.num_rows else []
        self.pending_rows = rest.num_rows

    def close(self) -> str:
        if self.pending_rows:
            self._flush(self.pending_rows)
        self.writer.close()
        digest = sha256_file(str(self.tmp))
        self.store.publish(self.tmp, self.rel)
        return digest


def _cut(value, pieces: list[tuple[int, int]], replacement: str):
    """value with the code-point ranges in pieces (merged) replaced; returns (new value, removed texts)."""
    is_bytes = isinstance(value, bytes)
    s = value.decode("utf-8", "surrogateescape") if is_bytes else value
    out, removed, pos = [], [], 0
    for a, b in pieces:
        out.append(s[pos:a])
        # quarantine text is a string column: an invalid byte of a binary text column shows as U+FFFD
        removed.append(s[a:b].encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        out.append(replacement)
        pos = b
    out.append(s[pos:])
    new = "".join(out)
    return (new.encode("utf-8", "surrogateescape") if is_bytes else new), removed


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def clean(corpus, findings_dir, out_dir, options: Optional[CleanOptions] = None, force: bool = False,
          batch_rows: int = 65536) -> dict:
    """Writes the cleaned corpus and its quarantine to out_dir; returns the clean manifest."""
    opts = options or CleanOptions()
    fdir = Store(findings_dir)
    manifest = load_manifest(fdir)
    paths = expand_inputs(corpus, what="corpus")
    recs = _match_inputs(paths, manifest, fdir)
    missing = [d for d in opts.detectors if d not in manifest["detectors"]]
    if missing:
        raise InvalidInput(f"the scan in {fdir} did not run {', '.join(missing)}; choose --detectors from "
                           f"{', '.join(manifest['detectors'])}")
    out = Store(out_dir)
    if out.listdir():
        if not force:
            raise OutputConflict(f"{out} is not empty; choose a new directory or pass --force to replace it")
        for name in out.listdir():
            out.remove(name)
    out.makedirs()
    names = _relative_names(paths)
    files = []
    for path, name, rec in zip(paths, names, recs):
        if file_kind(path) == "parquet":
            files.append(_clean_file(path, name, rec, fdir, out, opts, batch_rows))
        else:
            files.append(_clean_jsonl(path, name, rec, fdir, out, opts))
    totals = {k: sum(f[k] for f in files) for k in ("rows_in", "rows_out", "rows_quarantined", "rows_redacted",
                                                    "spans_removed", "characters_removed")}
    cm = {"format": "scanner-clean", "format_version": 1, "tool_version": __version__,
          "findings": {"path": str(fdir), "manifest_sha256": fdir.sha256("manifest.json")},
          "options": {"mode": opts.mode, "detectors": list(opts.detectors), "replacement": opts.replacement,
                      "text_column": opts.text_column, "min_precision": opts.min_precision},
          "files": files, "totals": totals}
    out.write_bytes("clean_manifest.json", json_bytes(cm))
    return cm


def _plan(findings: pa.Table, opts: CleanOptions):
    """(findings as columns, row -> finding indices to drop it for, row -> finding indices to redact)."""
    fd = findings.to_pydict() if findings.num_rows else {c: [] for c in findings.column_names}
    drop_reasons: dict[int, list] = {}
    pieces: dict[int, list] = {}
    for i, row in enumerate(fd["row"]):
        det = fd["detector"][i]
        if opts.mode == "drop" or det == "near_duplicate":
            drop_reasons.setdefault(row, []).append(i)
        elif det == "copied_span":
            if not fd["common_phrase"][i]:
                pieces.setdefault(row, []).append(i)
        else:  # self_id: the sentence
            pieces.setdefault(row, []).append(i)
    for row in drop_reasons:
        pieces.pop(row, None)
    return fd, drop_reasons, pieces


def _reasons(fd: dict, idx: list) -> tuple[str, Optional[str], int]:
    return (",".join(sorted({fd["detector"][i] for i in idx})),
            ",".join(sorted({fd["rule"][i] or fd["ref_id"][i] or "" for i in idx})) or None, len(idx))


def _ranges(fd: dict, idx: list) -> list[tuple[int, int]]:
    ranges = []
    for i in idx:
        if fd["detector"][i] == "self_id" and fd["context_start"][i] is not None:
            ranges.append((fd["context_start"][i], fd["context_end"][i]))
        else:
            ranges.append((fd["start"][i], fd["end"][i]))
    return _merge(ranges)


def _span_records(fd: dict, idx: list, source: str, row: int, merged: list, removed: list, sink: dict) -> None:
    for (a, b), text in zip(merged, removed):
        owners = [i for i in idx if not (fd["end"][i] <= a or fd["start"][i] >= b)] or idx
        i = owners[0]
        for k, v in (("source", source), ("row", row), ("doc_id", fd["doc_id"][i]),
                     ("detector", ",".join(sorted({fd["detector"][j] for j in owners}))), ("rule", fd["rule"][i]),
                     ("ref_id", fd["ref_id"][i]), ("start", a), ("end", b), ("text", text)):
            sink[k].append(v)


JSONL_QUARANTINE = pa.schema([pa.field("line", pa.string(), nullable=False)] + REASON_FIELDS)


def _clean_jsonl(path: str, name: str, rec: dict, fdir: Store, out: Store, opts: CleanOptions) -> dict:
    """JSONL: kept lines are copied byte for byte, redacted lines re-serialized with the text field changed;
    dropped lines go to a Parquet quarantine (column `line`) with the reasons."""
    import json

    from .reader import _jsonl_records
    fd, drop_reasons, pieces = _plan(_selected(_findings_of(fdir, rec), opts), opts)
    if "/" in name:
        out.makedirs(name.rsplit("/", 1)[0])
    tmp = out.temp_for(name)
    q_rows = _Sink(out, f"quarantine/rows/{name}.parquet", JSONL_QUARANTINE, 65536)
    q_spans = _Sink(out, f"quarantine/spans/{name}.parquet", SPAN_SCHEMA, 65536) \
        if opts.mode == "redact" else None
    spans = {k: [] for k in SPAN_SCHEMA.names}
    dropped = {k: [] for k in JSONL_QUARANTINE.names}
    rows_in = rows_out = redacted = chars_removed = 0
    records = _jsonl_records(path)
    with open_binary(path) as src, open(tmp, "wb") as dst:
        row = 0
        for raw in src:
            if not raw.strip():
                dst.write(raw)
                continue
            next(records)  # the reader's own validation and numbering, line for line
            rows_in += 1
            if row in drop_reasons:
                det, rules, n = _reasons(fd, drop_reasons[row])
                for k, v in (("line", raw.decode("utf-8", "replace").rstrip("\r\n")), ("_scanner_row", row),
                             ("_scanner_detectors", det), ("_scanner_rules", rules), ("_scanner_findings", n)):
                    dropped[k].append(v)
            elif row in pieces and q_spans is not None:
                obj = json.loads(raw)
                value = obj.get(opts.text_column)
                if isinstance(value, str):
                    merged = _ranges(fd, pieces[row])
                    obj[opts.text_column], removed = _cut(value, merged, opts.replacement)
                    _span_records(fd, pieces[row], rec["path"], row, merged, removed, spans)
                    chars_removed += sum(b - a for a, b in merged)
                    redacted += 1
                    raw = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
                dst.write(raw)
                rows_out += 1
            else:
                dst.write(raw)
                rows_out += 1
            row += 1
        dst.flush()
        os.fsync(dst.fileno())
    digest = sha256_file(str(tmp))
    out.publish(tmp, name)
    q_rows.write(pa.table(dropped, schema=JSONL_QUARANTINE))
    res = {"path": path, "sha256": rec["sha256"], "rows_in": rows_in, "rows_out": rows_out,
           "rows_quarantined": len(dropped["line"]), "rows_redacted": redacted, "spans_removed": len(spans["row"]),
           "characters_removed": chars_removed, "output": name, "output_sha256": digest,
           "quarantine_rows": f"quarantine/rows/{name}.parquet", "quarantine_rows_sha256": q_rows.close()}
    if q_spans is not None:
        q_spans.write(pa.table(spans, schema=SPAN_SCHEMA))
        res["quarantine_spans"] = f"quarantine/spans/{name}.parquet"
        res["quarantine_spans_sha256"] = q_spans.close()
    if rows_in != rows_out + res["rows_quarantined"]:  # a bug guard
        raise AssertionError(f"{path}: {rows_in} rows in, {rows_out} out, {res['rows_quarantined']} quarantined")
    return res


def _clean_file(path: str, name: str, rec: dict, fdir: Store, out: Store, opts: CleanOptions, batch_rows: int) -> dict:
    pf = parquet_file(path)
    schema = pf.schema_arrow
    if opts.mode == "redact" and opts.text_column not in schema.names:
        raise InvalidInput(f"{path}: no column {opts.text_column!r} to redact; name it with --text-column")
    md = pf.metadata
    target = md.row_group(0).num_rows if md.num_row_groups else 65536
    fd, drop_reasons, pieces = _plan(_selected(_findings_of(fdir, rec), opts), opts)

    kept = _Sink(out, name, schema, target)
    q_schema = pa.schema(list(schema) + REASON_FIELDS)
    q_rows = _Sink(out, f"quarantine/rows/{name}", q_schema, target)
    q_spans = _Sink(out, f"quarantine/spans/{name}", SPAN_SCHEMA, target) if opts.mode == "redact" else None
    rows_in = rows_out = quarantined = redacted = spans_removed = chars_removed = 0
    row0 = 0
    for rb in pf.iter_batches(batch_size=batch_rows, use_threads=False):
        n = rb.num_rows
        idx = np.arange(row0, row0 + n)
        table = pa.Table.from_batches([rb], schema=schema)
        drop = np.fromiter((int(r) in drop_reasons for r in idx), dtype=bool, count=n)
        if drop.any():
            d_rows = idx[drop].tolist()
            qt = table.filter(pa.array(drop))
            reasons = [_reasons(fd, drop_reasons[r]) for r in d_rows]
            extra = {
                "_scanner_row": pa.array(d_rows, type=pa.int64()),
                "_scanner_detectors": pa.array([r[0] for r in reasons], type=pa.string()),
                "_scanner_rules": pa.array([r[1] for r in reasons], type=pa.string()),
                "_scanner_findings": pa.array([r[2] for r in reasons], type=pa.int64()),
            }
            for f in REASON_FIELDS:
                qt = qt.append_column(f, extra[f.name])
            q_rows.write(qt)
            quarantined += len(d_rows)
        keep_t = table.filter(pa.array(~drop))
        keep_idx = idx[~drop]
        if q_spans is not None and any(int(r) in pieces for r in keep_idx):
            keep_t, stats = _redact(keep_t, keep_idx, pieces, fd, opts, rec["path"], q_spans)
            redacted += stats[0]
            spans_removed += stats[1]
            chars_removed += stats[2]
        kept.write(keep_t)
        rows_in += n
        rows_out += keep_t.num_rows
        row0 += n
    res = {"path": path, "sha256": rec["sha256"], "rows_in": rows_in, "rows_out": rows_out,
           "rows_quarantined": quarantined, "rows_redacted": redacted, "spans_removed": spans_removed,
           "characters_removed": chars_removed, "output": name, "output_sha256": kept.close(),
           "quarantine_rows": f"quarantine/rows/{name}", "quarantine_rows_sha256": q_rows.close()}
    if q_spans is not None:
        res["quarantine_spans"] = f"quarantine/spans/{name}"
        res["quarantine_spans_sha256"] = q_spans.close()
    if rows_in != rows_out + quarantined:  # every row goes to exactly one place; a bug guard
        raise AssertionError(f"{path}: {rows_in} rows in, {rows_out} out, {quarantined} quarantined")
    return res


def _redact(table: pa.Table, rows: np.ndarray, pieces: dict, fd: dict, opts: CleanOptions, source: str,
            q_spans: _Sink):
    col_i = table.schema.get_field_index(opts.text_column)
    col = table.column(col_i)
    values = col.to_pylist()
    span_rows = {k: [] for k in SPAN_SCHEMA.names}
    n_docs = n_spans = n_chars = 0
    for j, r in enumerate(rows.tolist()):
        if r not in pieces or values[j] is None:
            continue
        merged = _ranges(fd, pieces[r])
        values[j], removed = _cut(values[j], merged, opts.replacement)
        n_docs += 1
        _span_records(fd, pieces[r], source, r, merged, removed, span_rows)
        n_spans += len(merged)
        n_chars += sum(b - a for a, b in merged)
    q_spans.write(pa.table(span_rows, schema=SPAN_SCHEMA))
    try:
        new_col = pa.array(values, type=col.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        new_col = pa.array(values).cast(col.type)  # dictionary-encoded or view columns
    return table.set_column(col_i, table.schema.field(col_i), new_col), (n_docs, n_spans, n_chars)
