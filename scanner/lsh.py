"""Choice of LSH (bands, rows) from a Jaccard threshold, as datasketch's MinHashLSH makes it."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _gauss_legendre() -> tuple:
    """Gauss-Legendre nodes and weights on [-1, 1]; the integrands are polynomials of degree <= num_perm,
    so 200 nodes integrate them to rounding error for num_perm up to 399, and far better than the
    tolerance of datasketch's adaptive quadrature above that. Computed when an index is built, not at
    import: the eigen-solver wakes OpenBLAS's thread pool, whose threads then spin for a while on the
    cores a scan wants."""
    return np.polynomial.legendre.leggauss(200)


def _integrate(f, lo: float, hi: float) -> float:
    if hi <= lo:
        return 0.0
    nodes, weights = _gauss_legendre()
    x = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
    return float(0.5 * (hi - lo) * np.dot(weights, f(x)))


def false_positive_probability(threshold: float, b: int, r: int) -> float:
    return _integrate(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)


def false_negative_probability(threshold: float, b: int, r: int) -> float:
    return _integrate(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)


@lru_cache(maxsize=256)
def optimal_param(threshold: float, num_perm: int, false_positive_weight: float = 0.5,
                  false_negative_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive + false negative probability mass."""
    min_error = float("inf")
    opt = (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = false_positive_probability(threshold, b, r)
            fn = false_negative_probability(threshold, b, r)
            error = fp * false_positive_weight + fn * false_negative_weight
            if error < min_error:
                min_error = error
                opt = (b, r)
    return opt
