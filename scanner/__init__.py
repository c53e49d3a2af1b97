"""scanner: find reference-model outputs in training corpora.

Three detectors share one pass over the corpus: near-duplicates of reference
outputs (MinHash + LSH, verified by exact shingle Jaccard), copied spans and
self-identification strings. The native core lives in scanner._core.
"""

from ._version import __version__
from .errors import IndexFormatError, InputNotFound, InvalidInput, OutputConflict, ScannerError

__all__ = [
    "__version__",
    "ScannerError",
    "InvalidInput",
    "InputNotFound",
    "IndexFormatError",
    "OutputConflict",
]
