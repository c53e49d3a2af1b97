"""scanner: find reference-model outputs in training corpora.

Three detectors share one pass over the corpus: near-duplicates of reference
outputs (MinHash + LSH, verified by exact shingle Jaccard), copied spans and
self-identification strings. The native core lives in scanner._core.
"""

import os as _os

# Arrow's default allocator (mimalloc) returns freed pages to the OS 10 ms after they are freed. A scan
# frees and reallocates every batch's buffers each few tens of milliseconds, so the kernel zeroed the same
# memory again for every batch: 10-15% of a scan's CPU time went to page faults (measured with perf, see
# bench/README.md). Freed memory is kept for 10 seconds instead: at 1 second a 128 MB scan still took
# 2,000-7,000 page faults in its reading thread, at 10 none, for 1-10% less CPU and 5-15 MB more peak
# memory (55 MB more than mimalloc's 10 ms). The memory still goes back 10 s after it is freed, so a
# process that stops scanning shrinks again. This only acts when pyarrow is loaded after scanner (the
# CLI, and Dask workers it starts), and never overrides a value set by the user.
_os.environ.setdefault("MIMALLOC_PURGE_DELAY", "10000")

from ._version import __version__  # noqa: E402

try:
    from . import _core  # noqa: F401
except ImportError as _e:  # pragma: no cover - only without a build
    raise ImportError(
        f"scanner's native core is not built here ({__path__[0]}). Install the package with `pip install .` and "
        "import it from outside the source tree (run tests with `pytest`, not `python -m pytest`, which puts "
        "the source tree first on sys.path)."
    ) from _e
from .errors import IndexFormatError, InputNotFound, InvalidInput, OutputConflict, ScannerError

__all__ = [
    "__version__",
    "ScannerError",
    "InvalidInput",
    "InputNotFound",
    "IndexFormatError",
    "OutputConflict",
]
