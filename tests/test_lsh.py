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


GROUP = 1 << 31  # an entry's value is a group (csrc/lsh.hpp kLshGroup)


def _entries(built, bands):
    """Per band: each slot's fingerprint and value, each bucket's count and overflow flag (csrc/lsh.hpp)."""
    t = np.asarray(built[0]).reshape(bands, -1, 8)
    fp, val = t[:, :, :7] & np.uint64(0xFFFFFFFF), t[:, :, :7] >> np.uint64(32)
    return fp, val, t[:, :, 7] & np.uint64(0xFF), t[:, :, 7] >> np.uint64(63)


def _band_entries(built, bands, b):
    """Band b's entries as lists of reference ids: one id, or a group's members."""
    _, val, count, _ = _entries(built, bands)
    groups, offsets = built[1], built[2]
    out = []
    for k in range(val.shape[1]):
        for v in val[b, k, :int(count[b, k])]:
            v = int(v)
            if v & GROUP:
                at = int(offsets[b]) + (v & ~GROUP)
                out.append(groups[at + 1:at + 1 + int(groups[at])].tolist())
            else:
                out.append([v])
    return out



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


def _near_dup_index(sigs, built, bands, rows):
    texts = pa.array(["x"] * len(sigs), type=pa.large_string())
    a = np.ones(sigs.shape[1], dtype=np.uint32)
    return _core.NearDupIndex(sigs, *built, bands, rows, text_buffers(texts), 5, 0, a, a)


def _shared_bands(n, seed):
    """Signatures with few distinct values per position in their second half, so that many references
    share bands there (groups), and unique values in their first half (one entry per reference)."""
    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 3, size=(n, 64), dtype=np.uint32)
    sigs[: n // 2, :32] = rng.integers(0, 2**32, size=(n // 2, 32), dtype=np.uint32)
    return sigs


def test_table_holds_every_reference_once_per_band():
    sigs = _shared_bands(500, 1)
    built = _core.lsh_build(sigs, 8, 8, 2)
    table, groups, offsets = built
    assert table.dtype == np.uint64 and groups.dtype == np.uint32 and offsets.dtype == np.uint64
    assert offsets.shape == (9,) and offsets[0] == 0 and offsets[-1] == len(groups)
    _, _, count, overflow = _entries(built, 8)
    assert np.all(count <= _core.LSH_SLOTS)
    most = 0
    for b in range(8):
        entries = _band_entries(built, 8, b)
        most = max(most, len(entries))
        assert sorted(i for e in entries for i in e) == list(range(500))
        band = sigs[:, b * 8:(b + 1) * 8]
        distinct = {tuple(r) for r in band.tolist()}
        assert len(entries) == len(distinct)  # one entry per distinct band ...
        for e in entries:  # ... holding the references with those values, ascending
            assert e == sorted(e) and all(np.array_equal(band[i], band[e[0]]) for i in e)
        # kOverflow only on full buckets, and the scan of every band ends somewhere
        assert np.all(count[b][overflow[b] == 1] == _core.LSH_SLOTS) and not np.all(overflow[b] == 1)
    assert len(table) == 8 * _core.lsh_bucket_count(most)  # sized by the fullest band, not by 500
    assert len(groups) > 0


def test_one_thread_equals_many():
    sigs = _shared_bands(300, 2)
    one = _core.lsh_build(sigs, 16, 4, 1)
    many = _core.lsh_build(sigs, 16, 4, 4)
    assert all(np.array_equal(x, y) for x, y in zip(one, many))


@pytest.mark.parametrize("n", [1, 7, 300, 2000])
def test_candidates_equal_brute_force_band_equality(n):
    # Many references share bands: groups, full buckets and overflow chains, including ones that wrap
    # around the table's end.
    rng = np.random.default_rng(n)
    bands, rows = 16, 4
    sigs = _shared_bands(n, n)
    built = _core.lsh_build(sigs, bands, rows, 2)
    _, _, count, overflow = _entries(built, bands)
    if n >= 300:
        assert overflow.sum() > 0 and len(built[1]) > 0  # the chains and groups this test is about
    query = np.concatenate([sigs[rng.integers(0, n, size=40)], rng.integers(0, 3, size=(40, 64), dtype=np.uint32)])
    offsets, ids = _near_dup_index(sigs, built, bands, rows).candidates(query, 2)
    got = [ids[offsets[i]:offsets[i + 1]].tolist() for i in range(len(query))]
    assert got == _brute_force_candidates(sigs, query, bands, rows)


def test_damaged_table_is_refused():
    sigs = _shared_bands(100, 3)
    good = _core.lsh_build(sigs, 8, 4, 1)
    table, groups, offsets = good
    _, val, count, _ = _entries(good, 8)
    single = next((k, j) for k in range(val.shape[1]) for j in range(int(count[0, k])) if not int(val[0, k, j]) & GROUP)
    group_at = 0  # band 0's first group: the first of the group words
    cases = []

    def case(match, t=table, g=groups, o=offsets):
        cases.append((match, (t, g, o)))

    bad = table.copy()
    bad[0, 7] = np.uint64(8)
    case("damaged bucket", t=bad)
    bad = table.copy()
    k, j = single
    bad[k, j] = (bad[k, j] & np.uint64(0xFFFFFFFF)) | (np.uint64(100) << np.uint64(32))
    case("id out of range", t=bad)
    bad = table.copy()
    bad[:, 7] |= np.uint64(1) << np.uint64(63)
    case("every reference once", t=bad)
    case("size does not match", t=table[:-1])
    assert int(offsets[1]) > 0  # band 0 has groups (half the references have few values there)
    for value, match in ((1, "damaged group"), (int(offsets[1]), "damaged group")):
        bad = groups.copy()
        bad[group_at] = np.uint32(value)  # a group of one, or one reaching past its band
        case(match, g=bad)
    bad = groups.copy()
    bad[group_at + 1] = np.uint32(100)
    case("id out of range", g=bad)
    bad = offsets.copy()
    bad[-1] += np.uint64(1)
    case("group offsets", o=bad)
    case("group offsets", o=offsets[:-1])
    bad = offsets.copy()
    bad[1], bad[2] = bad[2], bad[1]
    case("group offsets", o=bad)
    for match, built in cases:
        with pytest.raises(IndexFormatError, match=match):
            _near_dup_index(sigs, built, 8, 4)


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
