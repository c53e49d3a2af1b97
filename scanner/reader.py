"""Finding input files, checksumming them, and reading text batches from Parquet and JSONL.

Readers yield `TextBatch`es: the text column as a pyarrow array, the id column
(or None), and the index of the batch's first row in its file, so every
finding can name its file and row.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pyarrow as pa

from .arrow_bridge import as_text_array
from .errors import InputNotFound, InvalidInput
from .storage import expand_url, is_url, open_binary, parquet_file, sha256_file  # noqa: F401 (re-exported)

PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
SUFFIXES = PARQUET_SUFFIXES + JSONL_SUFFIXES


@dataclass
class TextBatch:
    row_start: int
    texts: pa.Array              # utf8 or large_utf8
    ids: Optional[pa.Array]      # string ids or None
    rows: Optional[pa.Array] = None  # row index of each text when not consecutive (chat JSONL)


def expand_inputs(specs, what: str = "input") -> list[str]:
    """Files named by paths, directories (searched recursively for .parquet/.jsonl) or globs.

    Returns sorted, de-duplicated paths; raises InputNotFound for a spec that matches nothing.
    """
    out: set[str] = set()
    for spec in specs:
        spec = str(spec)
        if is_url(spec):
            found = expand_url(spec, SUFFIXES)
            if found is None:
                raise InputNotFound(f"{what} {spec!r} does not exist")
            if not found:
                raise InputNotFound(f"{what} {spec!r} holds or matches no .parquet or .jsonl files")
            out.update(found)
        elif os.path.isdir(spec):
            found = [str(p) for p in Path(spec).rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES)]
            if not found:
                raise InputNotFound(f"{what} directory {spec!r} holds no .parquet or .jsonl files")
            out.update(found)
        elif os.path.isfile(spec):
            out.add(spec)
        elif glob.has_magic(spec):
            found = [p for p in glob.glob(spec, recursive=True) if os.path.isfile(p)]
            if not found:
                raise InputNotFound(f"{what} glob {spec!r} matches no file")
            out.update(found)
        else:
            raise InputNotFound(f"{what} {spec!r} does not exist")
    return sorted(out)


def file_kind(path: str) -> str:
    name = path.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    raise InvalidInput(f"{path}: unknown file type; use .parquet or .jsonl files")



def count_rows(path: str) -> Optional[int]:
    """Row count from Parquet metadata (cheap); None for JSONL."""
    if file_kind(path) == "parquet":
        return parquet_file(path).metadata.num_rows
    return None


def open_parquet_text(path: str, text_column: str, id_column: Optional[str], id_required: bool):
    """(ParquetFile, columns to read, whether the id column is there), or a clear error naming the file."""
    try:
        pf = parquet_file(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidInput(f"{path}: not a readable Parquet file ({e})") from e
    names = pf.schema_arrow.names
    if text_column not in names:
        raise InvalidInput(f"{path}: no column {text_column!r} (columns: {', '.join(names)}); "
                           f"name the text column with --text-column")
    use_id = id_column is not None and id_column in names
    if id_column is not None and not use_id and id_required:
        raise InvalidInput(f"{path}: no id column {id_column!r} (columns: {', '.join(names)}); "
                           f"name it with --id-column")
    return pf, [text_column] + ([id_column] if use_id and id_column != text_column else []), use_id


def id_array(col) -> pa.Array:
    """An id column as strings."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return col if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) else col.cast(pa.string())


def _parquet_batches(path: str, text_column: str, id_column: Optional[str], batch_rows: int,
                     id_required: bool, row_groups: Optional[list] = None, first_row: int = 0) -> Iterator[TextBatch]:
    pf, cols, use_id = open_parquet_text(path, text_column, id_column, id_required)
    row = first_row
    if row_groups is not None and not row_groups:
        return
    batches = pf.iter_batches(batch_size=batch_rows, columns=cols, use_threads=False, row_groups=row_groups)
    while True:
        try:
            rb = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as e:
            raise InvalidInput(f"{path}: unreadable Parquet data after row {row} ({e}); the file is damaged, "
                               f"replace it or leave it out") from e
        texts = as_text_array(rb.column(text_column), where=f"{path}: column {text_column!r}")
        yield TextBatch(row, texts, id_array(rb.column(id_column)) if use_id else None)
        row += rb.num_rows


def _jsonl_records(path: str) -> Iterator[tuple[int, dict]]:
    with open_binary(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise InvalidInput(f"{path}:{lineno}: not valid JSON ({e}); fix or remove the line") from e
            if not isinstance(rec, dict):
                raise InvalidInput(f"{path}:{lineno}: expected a JSON object per line")
            yield lineno, rec


def _jsonl_batches(path: str, text_column: str, id_column: Optional[str], batch_rows: int,
                   chat: bool) -> Iterator[TextBatch]:
    """Rows of a JSONL file: one per line with a text field, or (chat=True, for references)
    one per assistant turn of {"messages": [{"role": ..., "content": ...}, ...]} lines."""
    texts: list = []
    ids: list = []
    rows: list = []
    have_ids = False
    row_start = 0
    row = 0
    for lineno, rec in _jsonl_records(path):
        rid = rec.get(id_column) if id_column else None
        if rid is not None:
            have_ids = True
            rid = str(rid)
        if text_column in rec:
            val = rec[text_column]
            if val is not None and not isinstance(val, str):
                raise InvalidInput(f"{path}:{lineno}: field {text_column!r} is {type(val).__name__}, not text")
            texts.append(val)
            ids.append(rid)
            rows.append(row)
        elif chat and isinstance(rec.get("messages"), list):
            turn = 0
            for msg in rec["messages"]:
                if isinstance(msg, dict) and msg.get("role") == "assistant":
                    content = msg.get("content")
                    if content is not None and not isinstance(content, str):
                        raise InvalidInput(f"{path}:{lineno}: assistant content is not text")
                    texts.append(content)
                    ids.append(f"{rid if rid is not None else lineno}#{turn}")
                    have_ids = True
                    rows.append(row)
                    turn += 1
        else:
            want = f"{text_column!r} or 'messages'" if chat else repr(text_column)
            raise InvalidInput(f"{path}:{lineno}: no field {want}; name the text field with --text-column")
        row += 1
        if len(texts) >= batch_rows:
            yield TextBatch(row_start, pa.array(texts, type=pa.large_string()),
                            pa.array(ids, type=pa.string()) if have_ids else None, pa.array(rows, type=pa.int64()))
            texts, ids, rows = [], [], []
            row_start = row
    if texts:
        yield TextBatch(row_start, pa.array(texts, type=pa.large_string()),
                        pa.array(ids, type=pa.string()) if have_ids else None, pa.array(rows, type=pa.int64()))


def iter_batches(path: str, text_column: str = "text", id_column: Optional[str] = "id", batch_rows: int = 8192,
                 id_required: bool = False, chat: bool = False, row_groups: Optional[list] = None,
                 first_row: int = 0) -> Iterator[TextBatch]:
    """Text batches of one Parquet or JSONL file, in file order (Parquet: only row_groups if given, whose
    first row is first_row)."""
    if batch_rows < 1:
        raise InvalidInput(f"batch_rows={batch_rows}: use a positive number of rows")
    if file_kind(path) == "parquet":
        yield from _parquet_batches(path, text_column, id_column, batch_rows, id_required, row_groups, first_row)
    else:
        yield from _jsonl_batches(path, text_column, id_column, batch_rows, chat)
