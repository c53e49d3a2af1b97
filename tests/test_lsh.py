"""LSH parameters as datasketch chooses them; the banded tables find what they should."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch.lsh import _optimal_param

from scanner import _core
from scanner.lsh import optimal_param


@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
def test_bands_rows_equal_datasketch(num_perm):
    for t in (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95):
        assert optimal_param(t, num_perm) == _optimal_param(t, num_perm, 0.5, 0.5), (t, num_perm)
    assert optimal_param(0.6, num_perm, 0.3, 0.7) == _optimal_param(0.6, num_perm, 0.3, 0.7)


def test_tables_are_sorted_and_complete():
    rng = np.random.default_rng(1)
    sigs = rng.integers(0, 2**32, size=(500, 64), dtype=np.uint32)
    keys, ids, d = _core.lsh_build(sigs, 8, 8, _core.lsh_dir_bits(500), 2)
    assert keys.shape == (8, 500) and ids.shape == (8, 500)
    for b in range(8):
        assert np.all(np.diff(keys[b].astype(np.float64)) >= 0)
        assert sorted(ids[b].tolist()) == list(range(500))
        assert d[b, 0] == 0 and d[b, -1] == 500 and np.all(np.diff(d[b].astype(np.int64)) >= 0)


def test_one_thread_equals_many():
    rng = np.random.default_rng(2)
    sigs = rng.integers(0, 2**32, size=(300, 128), dtype=np.uint32)
    one = _core.lsh_build(sigs, 16, 8, 9, 1)
    many = _core.lsh_build(sigs, 16, 8, 9, 4)
    for x, y in zip(one, many):
        assert np.array_equal(x, y)
