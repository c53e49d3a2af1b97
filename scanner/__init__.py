"""scanner: find reference-model outputs in training corpora.

Three detectors share one pass over the corpus: near-duplicates of reference
outputs (MinHash + LSH, verified by exact shingle Jaccard), copied spans and
self-identification strings. The native core lives in scanner._core.
"""

from ._version import __version__

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
