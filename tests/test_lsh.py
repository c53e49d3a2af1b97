"""LSH parameters as datasketch chooses them; the banded tables find what they should."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from datasketch.lsh import _optimal_param

from scanner import IndexFormatError, _core
from scanner.arrow_bridge import text_buffers
from scanner.lsh import optimal_param


@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
def test_bands_rows_equal_datasketch(num_perm):
    for t in (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95):
        assert optimal_param(t, num_perm) == _optimal_param(t, num_perm, 0.5, 0.5), (t, num_perm)
    assert optimal_param(0.6, num_perm, 0.3, 0.7) == _optimal_param(0.6, num_perm, 0.3, 0.7)


def _entries(table, bands):
    """Per band: each slot's (fingerprint, id), each bucket's count and overflow flag (csrc/lsh.hpp)."""
    t = np.asarray(table).reshape(bands, -1, 8)
    fp, ids = t[:, :, :7] & np.uint64(0xFFFFFFFF), t[:, :, :7] >> np.uint64(32)
    return fp, ids, t[:, :, 7] & np.uint64(0xFF), t[:, :, 7] >> np.uint64(63)


def _brute_force_candidates(sigs, query, bands, rows):
    """References sharing a whole band of signature values with the query: the LSH definition itself."""
    out = []
    for q in query:
        hit = np.zeros(len(sigs), dtype=bool)
        for b in range(bands):
            band = slice(b * rows, (b + 1) * rows)
            hit |= np.all(sigs[:, band] == q[band], axis=1)
        out.append(np.flatnonzero(hit).tolist())
    return out


def _near_dup_index(sigs, table, bands, rows):
    texts = pa.array(["x"] * len(sigs), type=pa.large_string())
    a = np.ones(sigs.shape[1], dtype=np.uint32)
    return _core.NearDupIndex(sigs, table, bands, rows, text_buffers(texts), 5, 0, a, a)


def test_table_holds_every_reference_once_per_band():
    rng = np.random.default_rng(1)
    sigs = rng.integers(0, 2**32, size=(500, 64), dtype=np.uint32)
    table = _core.lsh_build(sigs, 8, 8, 2)
    buckets = _core.lsh_bucket_count(500)
    assert table.shape == (8 * buckets, 8) and table.dtype == np.uint64
    keys, ids, count, overflow = _entries(table, 8)
    assert np.all(count <= _core.LSH_SLOTS)
    for b in range(8):
        got = sorted(int(i) for k in range(buckets) for i in ids[b, k, :int(count[b, k])])
        assert got == list(range(500))
        # kOverflow only on full buckets, and the scan of every band ends somewhere
        assert np.all(count[b][overflow[b] == 1] == _core.LSH_SLOTS) and not np.all(overflow[b] == 1)


def test_one_thread_equals_many():
    rng = np.random.default_rng(2)
    sigs = rng.integers(0, 2**32, size=(300, 128), dtype=np.uint32)
    one = _core.lsh_build(sigs, 16, 8, 1)
    many = _core.lsh_build(sigs, 16, 8, 4)
    assert np.array_equal(one, many)


@pytest.mark.parametrize("n", [1, 7, 300, 2000])
def test_candidates_equal_brute_force_band_equality(n):
    # Signatures with few distinct values per position, so that many references share bands: long runs
    # of equal keys, full buckets and overflow chains, including ones that wrap around the table's end.
    rng = np.random.default_rng(n)
    bands, rows = 16, 4
    sigs = rng.integers(0, 3, size=(n, 64), dtype=np.uint32)
    sigs[: n // 2, :32] = rng.integers(0, 2**32, size=(n // 2, 32), dtype=np.uint32)
    table = _core.lsh_build(sigs, bands, rows, 2)
    _, _, count, overflow = _entries(table, bands)
    if n >= 300:
        assert overflow.sum() > 0  # the chains this test is about
    query = np.concatenate([sigs[rng.integers(0, n, size=40)], rng.integers(0, 3, size=(40, 64), dtype=np.uint32)])
    offsets, ids = _near_dup_index(sigs, table, bands, rows).candidates(query, 2)
    got = [ids[offsets[i]:offsets[i + 1]].tolist() for i in range(len(query))]
    assert got == _brute_force_candidates(sigs, query, bands, rows)


def test_damaged_table_is_refused():
    rng = np.random.default_rng(3)
    sigs = rng.integers(0, 2**32, size=(100, 64), dtype=np.uint32)
    good = _core.lsh_build(sigs, 8, 8, 1)
    bad_count, bad_id, all_overflow = good.copy(), good.copy(), good.copy()
    bad_count[0, 7] = np.uint64(8)
    _, _, count, _ = _entries(good, 8)
    used = int(np.flatnonzero(count[0] > 0)[0])
    bad_id[used, 0] = (bad_id[used, 0] & np.uint64(0xFFFFFFFF)) | (np.uint64(100) << np.uint64(32))
    all_overflow[:, 7] |= np.uint64(1) << np.uint64(63)
    for bad, match in ((bad_count, "damaged bucket"), (bad_id, "id out of range"),
                       (all_overflow, "every reference once"), (good[:-1], "size does not match")):
        with pytest.raises(IndexFormatError, match=match):
            _near_dup_index(sigs, bad, 8, 8)


def test_fingerprint_collision_is_not_a_candidate():
    # Buckets hold 32 bits of each band key; a reference is a candidate only if its band values equal the
    # query's. Two one-value bands whose keys agree in those 32 bits (found by a birthday search) share
    # the single bucket of a two-reference table: only the reference with the query's value may come.
    seen = {}
    for v in range(1, 400_000):
        key = _core.hash_bytes(np.uint32(v).tobytes(), 0xB4D5EED)  # band 0's key (csrc/lsh.hpp band_key)
        lo = key & 0xFFFFFFFF
        if lo in seen:
            a, b = seen[lo], v
            break
        seen[lo] = v
    else:
        pytest.fail("no 32-bit collision found")
    sigs = np.array([[a, 7], [b + 1, 7]], dtype=np.uint32)
    idx = _near_dup_index(sigs, _core.lsh_build(sigs, 1, 1, 1), 1, 1)
    offsets, ids = idx.candidates(np.array([[b, 0], [a, 0]], dtype=np.uint32), 1)
    assert ids[offsets[0]:offsets[1]].tolist() == []  # b collides with reference 0's a, shares nothing
    assert ids[offsets[1]:offsets[2]].tolist() == [0]
