"""Reproducible random samples of a corpus, for estimates of a large corpus in a fraction of the time.

Design: two-stage cluster sampling with equal inclusion probability. A Parquet file with at least
MIN_GROUPS row groups has each row group chosen with probability p_group = sqrt(fraction) and, in a
chosen group, each row with p_row = fraction / p_group; row groups that are not chosen are never
read, which is where the time goes. A file with fewer row groups (and every JSONL file) keeps all
its groups (p_group = 1) and samples rows with p_row = fraction. Every row is in the sample with
probability `fraction`, so sample proportions estimate corpus proportions without weights; the
units of variance are the row groups (JSONL: blocks of JSONL_UNIT_ROWS rows), and reports give
ratio-estimator intervals over them (scanner.report).

Reproducible: whether a row is chosen depends only on the seed, the file's SHA-256 (its content,
not its path), the row group and the row number, through a fixed hash (BLAKE2b for groups,
splitmix64 for rows). The same seed and files give the same sample on any machine and in any order.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np
import pyarrow as pa

from .arrow_bridge import as_text_array
from .errors import InvalidInput
from .reader import TextBatch, _jsonl_batches, file_kind, id_array, open_parquet_text
from .storage import parquet_file

MIN_GROUPS = 10
JSONL_UNIT_ROWS = 8192


def check_fraction(fraction) -> None:
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0.0 < float(fraction) <= 1.0:
        raise InvalidInput(f"sample={fraction!r}: use a fraction of rows in (0, 1], e.g. 0.01 for 1%")


def _group_uniform(seed: int, key: str, group: int) -> tuple[float, int]:
    """(uniform in [0, 1) for the group, 64-bit base for its rows)."""
    h = hashlib.blake2b(f"{seed}:{key}:{group}".encode(), digest_size=16).digest()
    return int.from_bytes(h[:8], "little") / 2.0**64, int.from_bytes(h[8:], "little")


def row_uniforms(base: int, rows: np.ndarray) -> np.ndarray:
    """splitmix64(base + row * golden) / 2**64 for every row."""
    with np.errstate(over="ignore"):
        z = np.uint64(base) + rows.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def probabilities(fraction: float, n_groups: int) -> tuple[float, float]:
    if n_groups >= MIN_GROUPS:
        p_group = math.sqrt(fraction)
        return p_group, fraction / p_group
    return 1.0, fraction


def chosen_rows(seed: int, key: str, fraction: float, group_sizes: list) -> list:
    """Per group (row group, or JSONL block): (group, first row, chosen rows or None when the group is
    not chosen). group_sizes are the rows of each group in file order."""
    p_group, p_row = probabilities(fraction, len(group_sizes))
    out, start = [], 0
    for g, n in enumerate(group_sizes):
        u, base = _group_uniform(seed, key, g)
        if u < p_group and n:
            rows = np.arange(start, start + n, dtype=np.int64)
            out.append((g, start, rows[row_uniforms(base, rows) < p_row]))
        else:
            out.append((g, start, None))
        start += n
    return out


def sampled_row_numbers(path: str, key: str, fraction: float, seed: int, rows_total: int) -> np.ndarray:
    """The rows of a file that a scan with this sample read, from metadata alone (no text is read)."""
    if file_kind(path) == "parquet":
        md = parquet_file(path).metadata
        sizes = [md.row_group(g).num_rows for g in range(md.num_row_groups)]
        picked = [r for _, _, r in chosen_rows(seed, key, fraction, sizes) if r is not None]
    else:
        rows = np.arange(rows_total, dtype=np.int64)
        picked = [rows[_jsonl_chosen(seed, key, fraction, rows)]]
    return np.concatenate(picked) if picked else np.zeros(0, np.int64)


def _jsonl_chosen(seed: int, key: str, fraction: float, rows: np.ndarray) -> np.ndarray:
    """Which of these JSONL rows the sample holds (units of JSONL_UNIT_ROWS rows, every row with p = fraction)."""
    units = rows // JSONL_UNIT_ROWS
    keep = np.zeros(len(rows), dtype=bool)
    for u in np.unique(units).tolist():
        m = units == u
        keep[m] = row_uniforms(_group_uniform(seed, key, int(u))[1], rows[m]) < fraction
    return keep


@dataclass
class SampledFile:
    """Sampled batches of one file: iterate `batches()`; then rows_total, design and units are set."""

    path: str
    key: str
    fraction: float
    seed: int
    rows_total: int = 0
    groups_sampled: int = 0
    p_group: float = 1.0
    p_row: float = 1.0

    def design(self) -> dict:
        return {"row_groups_sampled": self.groups_sampled, "p_group": self.p_group,
                "p_row": self.p_row, "unit": "row_group" if file_kind(self.path) == "parquet" else
                f"{JSONL_UNIT_ROWS}_rows"}

    def batches(self, text_column: str, id_column: Optional[str], batch_rows: int,
                id_required: bool, groups: Optional[tuple] = None) -> Iterator[tuple[TextBatch, np.ndarray]]:
        """(batch of sampled rows with their row numbers, unit of each row); Parquet: only the row groups
        [g0, g1) if groups is given (rows_total then counts those groups' rows). The design (which groups
        and rows are chosen) is that of the whole file either way."""
        if file_kind(self.path) == "parquet":
            yield from self._parquet(text_column, id_column, batch_rows, id_required, groups)
        else:
            yield from self._jsonl(text_column, id_column, batch_rows)

    def _parquet(self, text_column, id_column, batch_rows, id_required, groups):
        pf, cols, use_id = open_parquet_text(self.path, text_column, id_column, id_required)
        md = pf.metadata
        sizes = [md.row_group(g).num_rows for g in range(md.num_row_groups)]
        self.p_group, self.p_row = probabilities(self.fraction, len(sizes))
        g0, g1 = (0, len(sizes)) if groups is None else groups
        self.rows_total = sum(sizes[g0:g1])
        for g, start, chosen in chosen_rows(self.seed, self.key, self.fraction, sizes):
            if not g0 <= g < g1 or chosen is None:
                continue
            self.groups_sampled += 1
            if not len(chosen):
                continue
            try:
                t = pf.read_row_group(g, columns=cols, use_threads=False)
            except (pa.ArrowException, OSError) as e:
                raise InvalidInput(f"{self.path}: row group {g} (rows {start}-{start + sizes[g] - 1}) is unreadable "
                                   f"({e}); the file is damaged, replace it or leave it out") from e
            t = t.take(pa.array(chosen - start))
            for off in range(0, len(chosen), batch_rows):
                part = t.slice(off, batch_rows)
                texts = as_text_array(part.column(text_column), where=f"{self.path}: column {text_column!r}")
                ids = id_array(part.column(id_column)) if use_id else None
                r = chosen[off:off + batch_rows]
                yield TextBatch(int(r[0]), texts, ids, pa.array(r, type=pa.int64())), np.full(len(r), g)

    def _jsonl(self, text_column, id_column, batch_rows):
        self.p_group, self.p_row = 1.0, self.fraction
        units_seen = set()
        for b in _jsonl_batches(self.path, text_column, id_column, batch_rows, chat=False):
            rows = b.rows.to_numpy()
            self.rows_total = int(rows[-1]) + 1
            units = rows // JSONL_UNIT_ROWS
            keep = _jsonl_chosen(self.seed, self.key, self.p_row, rows)
            units_seen.update(np.unique(units).tolist())
            self.groups_sampled = len(units_seen)
            if keep.any():
                idx = pa.array(np.flatnonzero(keep))
                yield (TextBatch(int(rows[keep][0]), b.texts.take(idx), None if b.ids is None else b.ids.take(idx),
                                 pa.array(rows[keep], type=pa.int64())), units[keep])
