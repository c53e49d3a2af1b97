"""Copied spans: the suffix array and the span finder against naive twins, on generated and real text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from conftest import shared_texts
from hypothesis import given, settings
from hypothesis import strategies as st
from reference.naive_spans import naive_spans

from scanner import _core
from scanner.errors import IndexFormatError, InvalidInput
from scanner.spans import SpanMatcher


def naive_sa(t: bytes) -> list[int]:
    return sorted(range(len(t)), key=lambda i: t[i:])


@pytest.mark.parametrize("text", [b"", b"a", b"banana", b"mississippi", b"aaaaaaa", b"abab\xffab\xff", b"\xff\xff\x00"])
def test_suffix_array_small(text):
    assert _core.suffix_array(text).tolist() == naive_sa(text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(alphabet="ab", max_size=200).map(str.encode),
                 st.text(max_size=80).map(lambda s: s.encode("utf-8", "surrogatepass"))))
def test_suffix_array_equals_sorted_suffixes(text):
    assert _core.suffix_array(text).tolist() == naive_sa(text)


def test_suffix_array_of_real_text():
    text = "\xff".join(shared_texts("reference/openai_alpacaeval.parquet", 20)).encode()[:6000]
    assert _core.suffix_array(text).tolist() == naive_sa(text)


def spans_of(res: dict, i: int) -> list[tuple]:
    lo, hi = res["row_offsets"][i], res["row_offsets"][i + 1]
    return [(int(res["start"][j]), int(res["end"][j]), int(res["ref"][j]), int(res["ref_start"][j]),
             int(res["ref_end"][j]), int(res["ref_count"][j]), bool(res["common"][j])) for j in range(lo, hi)]


def check_against_oracle(refs, docs, min_chars, window, control=None, threads=1, min_words=0):
    sm = SpanMatcher.build(refs, window=window)
    cm = SpanMatcher.build(control, window=window) if control else None
    res = sm.scan(docs, min_chars, control=cm, threads=threads, min_words=min_words)
    for i, d in enumerate(docs):
        assert spans_of(res, i) == naive_spans(d, refs, min_chars, control, min_words), (refs, d)
    return res


# Small alphabets make repeats, overlaps and long matches common; the extra letters exercise
# folding (ß -> ss, the fi ligature, fullwidth A), dropped zero-width space and whitespace runs.
ALPHABET = ["a", "b", " ", "c", "é", "ß", "\ufb01", "\uff21", "\u200b", "\n", "x", "A"]
small_text = st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(refs=st.lists(small_text, min_size=1, max_size=4), docs=st.lists(small_text, min_size=1, max_size=3),
       window=st.sampled_from([1, 2, 3, 4, 5, 8, 16, 24]), extra=st.integers(0, 6),
       words=st.sampled_from([0, 0, 1, 2, 3]), data=st.data())
def test_spans_equal_naive_oracle(refs, docs, window, extra, words, data):
    # Plant a piece of a reference so long matches are common.
    r = refs[0]
    a = data.draw(st.integers(0, len(r)))
    b = data.draw(st.integers(a, len(r)))
    docs[0] = docs[0][:3] + r[a:b] + docs[0][3:]
    control = data.draw(st.lists(small_text, max_size=2))
    check_against_oracle(refs, docs, window + extra, window, control or None, min_words=words)


@settings(max_examples=150, deadline=None)
@given(unit=st.text(alphabet="ab c", min_size=1, max_size=6), reps=st.integers(0, 30),
       tail=st.text(alphabet="ab c", max_size=10), window=st.integers(1, 4), extra=st.integers(0, 8))
def test_periodic_text_equals_naive_oracle(unit, reps, tail, window, extra):
    refs = [unit * reps + tail, tail + unit * (reps // 2)]
    docs = [unit * (reps + 3), tail + unit * reps + "x" + unit * 4]
    check_against_oracle(refs, docs, window + extra, window)


@pytest.fixture(scope="module")
def real():
    refs = shared_texts("reference/openai_alpacaeval.parquet", 300, min_words=60)
    human = shared_texts("human/brown.parquet", 200, min_words=20)
    return refs, human


def test_planted_passages_in_real_text_survive_surface_changes(real):
    refs, human = real
    sm = SpanMatcher.build(refs)
    rng = np.random.default_rng(7)
    fullwidth = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
    variants = {
        "plain": lambda s: s,
        "upper": str.upper,
        "whitespace": lambda s: "  \n ".join(s.split(" ")),
        "fullwidth": lambda s: s.translate(fullwidth),
        "zero_width": lambda s: s.replace(" ", " \u200b", 5),
        "curly": lambda s: s.replace("'", "\u2019").replace('"', "\u201c"),
    }
    docs, expect = [], []
    for i, (name, f) in enumerate(variants.items()):
        for j in range(5):
            ri = int(rng.integers(len(refs)))
            words = refs[ri].split(" ")
            a = int(rng.integers(0, max(1, len(words) - 40)))
            passage = " ".join(words[a:a + 30])
            shown = f(passage)
            before, after = human[5 * i + j], human[5 * i + j + 100]
            doc = before + "\n\n" + shown + "\n\n" + after
            docs.append(doc)
            expect.append((ri, len(before) + 2, len(before) + 2 + len(shown), passage, name))
    res = sm.scan(docs, 50, threads=2)
    for i, (ri, start, end, passage, name) in enumerate(expect):
        found = [s for s in spans_of(res, i) if s[2] == ri]
        assert found, (name, passage)
        s = max(found, key=lambda x: x[1] - x[0])
        # The span covers the passage; it may run on by a few characters where the human text around
        # it happens to continue the reference (". The" before it, say), but only that far.
        assert start - 10 <= s[0] <= start + 1 and end - 1 <= s[1] <= end + 10, (name, s, start, end)
        norm = lambda t: _core.normalize(t.encode())[0]  # noqa: E731
        assert norm(docs[i][s[0]:s[1]]) == norm(refs[ri][s[3]:s[4]])
        assert passage.strip() in refs[ri][s[3]:s[4]]
        # Nothing else in the document is attributed to this run of text from another place.
        assert all(x[1] <= start + 1 or x[0] >= end - 1 or x[2] == ri or x[5] > 1 for x in spans_of(res, i))


def test_human_text_has_no_copied_span(real):
    refs, human = real
    sm = SpanMatcher.build(refs)
    res = sm.scan(human, 50)
    assert res["row_offsets"][-1] == 0
    assert res["copied_chars"].sum() == 0


def test_threads_and_batches_do_not_change_results(real):
    refs, human = real
    docs = [h + " " + refs[i][:400] + " " + human[-i - 1] for i, h in enumerate(human[:60])]
    sm = SpanMatcher.build(refs)
    one = sm.scan(docs, 50, threads=1)
    many = sm.scan(docs, 50, threads=4)
    for k in ("row_offsets", "start", "end", "ref", "ref_start", "ref_end", "ref_count", "copied_chars"):
        assert np.array_equal(one[k], many[k]), k
    rows = [sm.scan(docs[i:i + 1], 50) for i in range(len(docs))]
    assert [spans_of(r, 0) for r in rows] == [spans_of(one, i) for i in range(len(docs))]
    sliced = sm.scan(pa.array(docs, type=pa.string()).slice(10, 20), 50)
    assert [spans_of(sliced, i) for i in range(20)] == [spans_of(one, i) for i in range(10, 30)]


def test_min_words(real):
    refs, _ = real
    sm = SpanMatcher.build(refs)
    doc = "Intro. " + " ".join(refs[3].split(" ")[5:40]) + " Outro."
    spans = spans_of(sm.scan([doc], 32, min_words=20), 0)
    assert len(spans) == 1
    assert spans_of(sm.scan([doc], 32, min_words=200), 0) == []
    assert len(_core.tokens(doc[spans[0][0]:spans[0][1]].encode())) >= 20


def test_common_phrases_are_marked_and_not_counted():
    phrase = "in the United States of America and around the world today"
    refs = [f"Many people live {phrase}, as reported.", "An unrelated answer about cooking pasta al dente."]
    control = SpanMatcher.build([f"Our history {phrase}. More human text."])
    sm = SpanMatcher.build(refs)
    doc = f"Someone wrote that {phrase}; then: an unrelated answer about cooking pasta al dente."
    res = sm.scan([doc], 40, control=control)
    got = spans_of(res, 0)
    assert [(doc[a:b], common) for a, b, *_, common in got] == [
        (phrase, True), ("an unrelated answer about cooking pasta al dente.", False)]
    assert res["copied_chars"].tolist() == [len("an unrelated answer about cooking pasta al dente.")]


def test_repetitive_text_is_bounded():
    refs = ["a" * 100, "some ordinary reference text " * 3]
    sm = SpanMatcher.build(refs)
    res = sm.scan(["a" * 2_000_000, "b" * 1000], 50)
    # Every position starts a new maximal match here: the budget stops the search and says so.
    assert res["truncated"].tolist() == [1, 0]
    assert spans_of(res, 0)[0][:3] == (0, spans_of(res, 0)[0][1], 0)
    para = "The quick brown fox jumps over the lazy dog near the river bank. "
    sm2 = SpanMatcher.build([para * 3])
    res2 = sm2.scan([para * 5000], 50)
    assert res2["truncated"].tolist() == [0]
    assert spans_of(res2, 0) == [(0, len(para) * 5000 - 1, 0, 0, len(para) * 3 - 1, 1, False)]


def _occurs_oracle_check(sm: SpanMatcher, queries: list) -> None:
    text = sm.arrays["span_text"].tobytes()
    got = [sm._core.occurs(q) for q in queries]
    want = [q in text for q in queries]
    assert got == want, [q for q, g, w in zip(queries, got, want) if g != w][:5]


def _queries(text: bytes, rng, count: int) -> list:
    """Substrings of the text (present) and copies with one byte changed in the first 16 (mostly absent)."""
    out = []
    for _ in range(count):
        a = int(rng.integers(0, len(text) - 1))
        q = text[a:a + int(rng.integers(1, 80))].split(b"\xff")[0]
        if not q:
            continue
        out.append(q)
        i = int(rng.integers(0, min(16, len(q))))
        out.append(q[:i] + bytes([(q[i] + 1 + int(rng.integers(0, 3))) % 255]) + q[i + 1:])
        out.append(q[:-1] + b"\x00" if len(q) > 8 else q + b"zz")
    return out


def test_search_through_the_sample_table_equals_substring_search(real):
    # 300 real references: about 2,600 samples of 128 suffixes, so searches of 8 bytes or more narrow
    # their range through the sample table first; every answer must match Python's substring test.
    refs, _ = real
    sm = SpanMatcher.build(refs)
    text = sm.arrays["span_text"].tobytes()
    assert len(sm.arrays["span_samples"]) == -(-len(text) // 128) > 1000
    _occurs_oracle_check(sm, _queries(text, np.random.default_rng(3), 3000))


def test_search_with_long_runs_of_equal_sample_keys():
    # Many suffixes share their first 8 bytes: whole runs of samples hold the same key.
    rng = np.random.default_rng(5)
    refs = [" ".join("abcdefgh" + "".join(rng.choice(list("xyz"), 3)) for _ in range(60)) for _ in range(80)]
    sm = SpanMatcher.build(refs, window=8)
    keys = sm.arrays["span_samples"]
    assert (keys[1:] == keys[:-1]).sum() > 100
    text = sm.arrays["span_text"].tobytes()
    qs = _queries(text, rng, 1500) + [b"abcdefgh", b"abcdefghx", b"abcdefgh" + b"q", b"bcdefgh", b"zz abcdefgh"]
    _occurs_oracle_check(sm, qs)


def test_arguments_and_damaged_arrays_are_refused():
    sm = SpanMatcher.build(["some reference text that is long enough to matter here"], window=16)
    with pytest.raises(InvalidInput, match="span window is 16"):
        sm.scan(["x"], 10)
    with pytest.raises(InvalidInput, match="span window"):
        SpanMatcher.build(["x"], window=0)
    bad = dict(sm.arrays)
    starts = bad["span_doc_starts"].copy()
    starts[-1] += 1
    bad["span_doc_starts"] = starts
    with pytest.raises(IndexFormatError, match="document starts"):
        SpanMatcher(bad, sm.width, sm.window)
    bad = dict(sm.arrays)
    bad["span_sa"] = bad["span_sa"][:-1]
    with pytest.raises(IndexFormatError, match="suffix array"):
        SpanMatcher(bad, sm.width, sm.window)
    big = SpanMatcher.build(["some reference text that is long enough to matter here " * 8], window=16)
    bad = dict(big.arrays)
    samples = bad["span_samples"].copy()
    samples[0], samples[-1] = samples[-1], samples[0]
    bad["span_samples"] = samples
    with pytest.raises(IndexFormatError, match="sample table is damaged"):
        SpanMatcher(bad, big.width, big.window)
    bad["span_samples"] = samples[:-1]
    with pytest.raises(IndexFormatError, match="sample table has"):
        SpanMatcher(bad, big.width, big.window)
    bad = dict(sm.arrays)
    sa = bad["span_sa"].copy()
    sa[:-8] = 0xFF  # entries past the text: a search must fail cleanly, not read past the buffer
    bad["span_sa"] = sa
    damaged = SpanMatcher(bad, sm.width, sm.window)
    with pytest.raises(IndexFormatError, match="out of range"):
        damaged.scan(["some reference text that is long enough to matter here"], 16)


def _slices_oracle(rows: list, idx, start, end) -> list:
    """Each document decoded whole (an invalid byte as one code point), sliced, then one line."""
    out = []
    for i, a, b in zip(idx, start, end):
        s = rows[i].decode("utf-8", "surrogateescape")[a:b]
        out.append(" ".join(s.encode("utf-8", "surrogateescape").decode("utf-8", "replace").split()))
    return out


_SPACES = ["\x0b", "\x0c", "\r", "\x1c", "\x1f", "\x85", "\u00a0", "\u1680", "\u2000", "\u200a", "\u200b",
           "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"]
_BAD = [b"\xe2\x82", b"\xf0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe0\x80\xaf",
        b"\xf0\x9f\x98", b"\xc2", b"\xef\xbf\xbd", b"\xf4\x8f\xbf\xbf", b"\xee\x80"]
_slice_text = st.lists(st.one_of(st.text(alphabet="ab \n\t", max_size=20), st.text(max_size=6),
                                 st.binary(max_size=4), st.sampled_from(_BAD),
                                 st.sampled_from(["我是", "é", "😀"] + _SPACES)),
                       max_size=12).map(lambda ps: b"".join(p if isinstance(p, bytes) else p.encode() for p in ps))


@settings(max_examples=200, deadline=None)
@given(st.lists(_slice_text, min_size=1, max_size=5), st.data())
def test_snippet_slices_match_slicing_the_decoded_document(rows, data):
    # Snippets are cut and put on one line in the core (invalid bytes count one code point, decoded as
    # Python's "replace" does; whitespace as str.split() sees it): the same text as decoding the whole
    # document in Python and slicing it. Sliced arrays (offset > 0) too.
    from scanner.findings import _slices
    arr = pa.array([b"skip"] + rows, type=pa.binary()).view(pa.string())[1:]
    n = data.draw(st.integers(0, 12))
    idx = data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=n, max_size=n))
    start = data.draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    end = data.draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    got = _slices(arr, np.asarray(idx, dtype=np.int64), start, end).to_pylist()
    assert got == _slices_oracle(rows, idx, start, end)


def test_snippet_decoding_of_every_two_byte_string_matches_python():
    # Every ill-formed pair (and every well-formed one) is replaced as Python's "replace" handler does.
    from scanner.findings import _slices
    rows = [bytes([x, y]) for x in range(256) for y in range(256)]
    rows += [bytes([x]) + b"\xa0a\x80" for x in range(256)] + [b"\xe0\xa0", b"\xf0\x90\x80", b"\xf3\xbf\xbf"]
    arr = pa.array(rows, type=pa.binary()).view(pa.string())
    idx = np.arange(len(rows), dtype=np.int64)
    got = _slices(arr, idx, [0] * len(rows), [10] * len(rows)).to_pylist()
    assert got == _slices_oracle(rows, idx, [0] * len(rows), [10] * len(rows))
