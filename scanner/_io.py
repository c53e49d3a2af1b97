"""Small I/O helpers shared by the index and the scan: durable writes, canonical JSON, progress bars."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np


def json_bytes(obj) -> bytes:
    """Canonical JSON (sorted keys, fixed indent), so equal content gives equal bytes."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def fsync_write(path: Path, data) -> str:
    """Writes bytes or a numpy array to path, fsyncs it, and returns its SHA-256."""
    buf = (memoryview(np.ascontiguousarray(data).reshape(-1).view(np.uint8)) if isinstance(data, np.ndarray)
           else memoryview(data))
    with open(path, "wb") as f:
        f.write(buf)
        f.flush()
        os.fsync(f.fileno())
    return hashlib.sha256(buf).hexdigest()


def progress(paths, enabled: bool, desc: str):
    """A tqdm bar on stderr counting rows (total known for Parquet), or None."""
    if not enabled:
        return None
    from tqdm import tqdm

    from .reader import count_rows
    counts = [count_rows(p) for p in paths]
    total = None if any(c is None for c in counts) else sum(counts)
    return tqdm(total=total, desc=desc, unit="row", unit_scale=True, file=sys.stderr, dynamic_ncols=True)
