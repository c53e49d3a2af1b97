"""MinHash signatures: bit-identical to datasketch in compatible mode, accurate in fast mode,
and the same whatever the batching, threading or Arrow layout."""

from __future__ import annotations

import datasketch
import numpy as np
import pyarrow as pa
import pytest
from conftest import shared_texts
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import naive_normalize as naive

from scanner import _core
from scanner.minhash import MinHasher, permutations


@pytest.fixture(scope="module")
def texts():
    return (shared_texts("reference/openai_alpacaeval.parquet", 150)
            + shared_texts("human/brown.parquet", 100, min_words=1)
            + shared_texts("human/sharegpt_user_turns.parquet", 50, min_words=1)
            + ["short", "two words", "ｆｕｌｌｗｉｄｔｈ  ＴＥＸＴ here", "我是由OpenAI开发的人工智能助手", "..."])


def test_permutations_are_datasketchs():
    m = datasketch.MinHash(num_perm=64, seed=7)
    a, b = permutations(64, 7)
    assert np.array_equal(m.permutations[0], a) and np.array_equal(m.permutations[1], b)


@pytest.mark.parametrize("num_perm,seed,ngram", [(128, 1, 5), (64, 42, 3), (256, 3, 1)])
def test_datasketch_mode_is_bit_identical(texts, num_perm, seed, ngram):
    mh = MinHasher(num_perm=num_perm, seed=seed, ngram=ngram, hash="datasketch")
    sigs, status = mh.signatures(texts)
    for i, t in enumerate(texts):
        sh = naive.shingles(t.encode("utf-8"), ngram)
        assert mh.shingles(t) == sh
        ref = datasketch.MinHash(num_perm=num_perm, seed=seed)
        for s in sh:
            ref.update(s)
        assert status[i] == (0 if sh else 2)
        assert np.array_equal(sigs[i], ref.hashvalues), f"row {i}: {t[:60]!r}"


def test_fast_mode_estimates_jaccard_without_bias(texts):
    # Pairs with a wide range of overlap: a text and a cut/merged variant of it.
    rng = np.random.default_rng(0)
    refs = texts[:150]
    variants = []
    for t in refs:
        w = t.split()
        cut = int(rng.integers(1, len(w) + 1))
        variants.append(" ".join(w[:cut] + w[: max(1, len(w) - cut)]))
    mh = MinHasher(num_perm=256, seed=1, ngram=5)
    sa, _ = mh.signatures(refs)
    sb, _ = mh.signatures(variants)
    est = (sa == sb).mean(axis=1)
    exact = np.array([naive.jaccard(a.encode(), b.encode(), 5) for a, b in zip(refs, variants)])
    err = est - exact
    assert exact.std() > 0.15, "the pairs should span a range of similarities"
    assert abs(err.mean()) < 0.015
    # the estimator's standard deviation is at most sqrt(0.25/256) = 0.031
    assert np.sqrt((err ** 2).mean()) < 0.04


def test_batch_equals_row_by_row_and_threads_agree(texts):
    mh1 = MinHasher(threads=1)
    mh4 = MinHasher(threads=4)
    whole, st1 = mh1.signatures(texts)
    whole4, st4 = mh4.signatures(texts)
    assert np.array_equal(whole, whole4) and np.array_equal(st1, st4)
    for i in range(0, len(texts), 37):
        one, _ = mh1.signatures([texts[i]])
        assert np.array_equal(one[0], whole[i])


def test_arrow_layouts_agree(texts):
    mh = MinHasher()
    plain = pa.array(texts + [None, ""], type=pa.string())
    want, want_status = mh.signatures(plain)
    assert want_status[-2] == 1 and want_status[-1] == 2
    variants = [
        plain.cast(pa.large_string()),
        pa.chunked_array([plain.slice(0, 100), plain.slice(100)]),
        plain.dictionary_encode(),
        plain.cast(pa.binary()),
    ]
    for v in variants:
        got, status = mh.signatures(v)
        assert np.array_equal(got, want) and np.array_equal(status, want_status), type(v)
    # a slice sees its own rows only, with the array offset honoured
    sl = plain.slice(17, 40)
    got, _ = mh.signatures(sl)
    assert np.array_equal(got, want[17:57])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=60)), max_size=20), st.integers(0, 5))
def test_nulls_and_slices_hypothesis(values, start):
    arr = pa.array(values, type=pa.string())
    start = min(start, len(values))
    mh = MinHasher(num_perm=16, ngram=2)
    full, _ = mh.signatures(arr)
    part, _ = mh.signatures(arr.slice(start))
    assert np.array_equal(part, full[start:])


def test_malformed_buffers_are_rejected_not_read():
    from scanner.errors import InvalidInput
    a, b = permutations(8, 1)
    offsets = pa.py_buffer(np.array([0, 5, 3], dtype=np.int32).tobytes())
    with pytest.raises(InvalidInput, match="offsets decrease"):
        _core.signatures((offsets, pa.py_buffer(b"hello"), None, 0, 2, False), 5, 0, a, b, 1)
    offsets = pa.py_buffer(np.array([0, 50], dtype=np.int32).tobytes())
    with pytest.raises(InvalidInput, match="past the data buffer"):
        _core.signatures((offsets, pa.py_buffer(b"hello"), None, 0, 1, False), 5, 0, a, b, 1)
    with pytest.raises(InvalidInput, match="offsets buffer"):
        _core.signatures((offsets, pa.py_buffer(b"hello"), None, 0, 5, False), 5, 0, a, b, 1)


def test_gil_is_released_during_a_batch(texts):
    import threading
    import time
    big = pa.array(texts * 60, type=pa.large_string())
    mh = MinHasher(num_perm=256, threads=1)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    th = threading.Thread(target=ticker)
    th.start()
    t0 = time.perf_counter()
    mh.signatures(big)
    t1 = time.perf_counter()
    stop.set()
    th.join()
    during = [t for t in ticks if t0 < t < t1]
    # A thread holding the GIL for the whole call would allow at most a tick or two.
    assert t1 - t0 < 0.05 or len(during) >= 5, (t1 - t0, len(during))


M64 = (1 << 64) - 1


def _fmix64(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & M64
    return k ^ (k >> 33)


def _hash_bytes(data: bytes, seed: int) -> int:
    """csrc/hash.hpp's hash_bytes as it was written when indexes of format 3 were first built: 8-byte
    little-endian words, then the last bytes gathered one at a time."""
    mul = 0x9FB21C651E98DF25
    h = (seed ^ (len(data) * 0x9E3779B97F4A7C15)) & M64
    i = 0
    while len(data) - i >= 8:
        v = (int.from_bytes(data[i:i + 8], "little") * mul) & M64
        v ^= v >> 29
        h = ((h ^ v) * mul) & M64
        h ^= h >> 32
        i += 8
    if i < len(data):
        v = (int.from_bytes(data[i:], "little") * mul) & M64
        v ^= v >> 29
        h = ((h ^ v) * mul) & M64
    return _fmix64(h)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=70), st.sampled_from([0, 0x5CA77E5D, 0xB4D5EED + 7, 0x5EED5A5EED5A0003, M64]))
def test_hash_bytes_is_the_function_indexes_were_built_with(data, seed):
    # Tokens, shingles and the LSH band keys stored in an index all go through hash_bytes: if its values
    # changed, an existing index would silently stop finding its near-duplicates. Every tail length
    # (0-7 bytes past the last whole word) is drawn.
    assert _core.hash_bytes(data, seed) == _hash_bytes(data, seed)


def test_hash_bytes_golden_values():
    # Pinned outputs, so the Python transcription above cannot drift along with the C++.
    assert _core.hash_bytes(b"", 0) == _hash_bytes(b"", 0) == 0
    assert _core.hash_bytes(b"a", 1) == 0x67651cb62594826e
    assert _core.hash_bytes(b"openai", 0x5CA77E5D) == 0xc549d7cb0f67615d
    assert _core.hash_bytes(bytes(range(20)), 0xB4D5EED) == 0x2c87c17a7e8de6d6  # a 5-row band: 2 words + 4 bytes
