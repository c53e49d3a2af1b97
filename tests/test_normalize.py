"""The C++ normalizer and tokenizer against the Python oracle, on generated and real text."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from conftest import shared_texts
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import naive_normalize as naive

from scanner import _core

TRICKY = ["\u200b", "\u200d", "\ufeff", "\u00ad", "\u202e", "\u2066", "\u00a0", "\u3000", "\u2028", "\t", "\n",
          "\r\n", "Ａ", "ｚ", "１", "ﬁ", "ß", "İ", "ς", "é", "e\u0301", "“", "”", "’", "—", "…", "①", "㈱", "가",
          "我", "是", "カ", "ｶ", "ไทย", "😀", "👩\u200d💻", "\ufe0f", "ǅ", "Ω", "\U0001d400", " ", "a", "Z", "9", "-",
          "'", ".", "\x00", "\x1f", "\x7f"]

text_st = st.lists(st.one_of(st.sampled_from(TRICKY), st.characters(codec="utf-8"),
                             st.text(alphabet="abcXYZ .,'", max_size=8)), max_size=40).map("".join)
bytes_st = st.one_of(text_st.map(lambda s: s.encode("utf-8")),
                     st.lists(st.one_of(text_st.map(lambda s: s.encode("utf-8")), st.binary(max_size=6)),
                              max_size=8).map(b"".join))


# Mostly printable ASCII, long enough to cross many 16-byte blocks: the fast path for such blocks must
# agree with the code-point path at every block edge (space runs, controls, case, a stray non-ASCII byte).
ascii_st = st.lists(st.one_of(st.text(alphabet="abcxyzABCXYZ0189 .,'-_", min_size=1, max_size=24),
                              st.sampled_from([" ", "  ", "\n", "\t", "\r\n", "\x00", "\x7f", "\x1f", "é", "Ω", "我",
                                               "\u200b", "Ｈ"])),
                    max_size=60).map("".join)


@settings(max_examples=400, deadline=None)
@given(ascii_st)
def test_ascii_blocks_match_oracle(text):
    data = text.encode("utf-8")
    got, src = _core.normalize(data)
    want, want_src = naive.normalize(data)
    assert got == want
    assert src.tolist() == want_src
    assert _core.tokens(data) == naive.tokens(data)
    assert _core.tokens_of_normalized(data) == naive.tokens(data)


def test_tables_match_this_python():
    # The oracle reads Python's unicodedata; the generated tables were made from the same version.
    assert _core.UNICODE_VERSION == unicodedata.unidata_version


@settings(max_examples=400, deadline=None)
@given(bytes_st)
def test_normalize_matches_oracle(data):
    got, src = _core.normalize(data)
    want, want_src = naive.normalize(data)
    assert got == want
    assert src.tolist() == want_src


@settings(max_examples=400, deadline=None)
@given(bytes_st)
def test_tokens_match_oracle(data):
    want = naive.tokens(data)
    assert _core.tokens(data) == want
    assert _core.tokens_of_normalized(data) == want  # the one-pass scan's tokens, read off normalize()


def test_every_code_point_folds_like_the_oracle():
    # One document holding every assigned code point in order, separated by 'x'.
    chars = [chr(c) for c in range(0x20, 0x110000)
             if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) != "Cn"]
    data = "x".join(chars).encode("utf-8")
    got, src = _core.normalize(data)
    want, want_src = naive.normalize(data)
    assert got == want
    assert np.array_equal(src, np.asarray(want_src, dtype=np.uint32))
    spaced = " ".join(chars).encode("utf-8")  # every character's kind decides the tokens on its own
    assert _core.tokens_of_normalized(spaced) == _core.tokens(spaced)
    assert _core.tokens_of_normalized(data) == _core.tokens(data)


@pytest.mark.parametrize("rel", ["reference/openai_alpacaeval.parquet", "human/brown.parquet",
                                 "human/sharegpt_user_turns.parquet", "selfid/selfid_snippets.parquet"])
def test_real_text_matches_oracle(rel):
    for t in shared_texts(rel, 300, min_words=1):
        data = t.encode("utf-8")
        assert _core.normalize(data)[0] == naive.normalize(data)[0]
        assert _core.tokens(data) == naive.tokens(data)
        assert _core.tokens_of_normalized(data) == naive.tokens(data)


@pytest.mark.parametrize("a,b", [
    ("Ｈｅｌｌｏ ＷＯＲＬＤ", "hello world"),
    ("Chat\u200bGPT is\u00a0here", "chatgpt is here"),
    ("“Quoted” — it’s", "\"quoted\" - it's"),
    ("café", "cafe\u0301"),
    ("ﬁnal   STRASSE", "final strasse"),
    ("  leading\n\n\ttrailing  ", "leading trailing"),
])
def test_surface_variants_fold_together(a, b):
    assert _core.normalize(a.encode())[0] == _core.normalize(b.encode())[0]


def test_cjk_characters_are_tokens_and_offsets_point_into_the_original():
    text = "我是由OpenAI开发的 model"
    toks = [t.decode() for t in _core.tokens(text.encode())]
    assert toks == ["我", "是", "由", "openai", "开", "发", "的", "model"]
    norm, src = _core.normalize(text.encode())
    i = norm.index(b"openai")
    assert text.encode()[src[i]:].startswith(b"OpenAI")


def test_invalid_utf8_becomes_replacement_characters_one_per_byte():
    norm, src = _core.normalize(b"ab\xff\xfe c\xe2\x82")
    assert norm == "ab\ufffd\ufffd c\ufffd\ufffd".encode()
    assert src.tolist()[:2] == [0, 1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(ascii_st.map(lambda s: s.encode("utf-8")), bytes_st), max_size=6))
def test_code_point_counts_match_oracle(chunks):
    # count_codepoints skips all-ASCII 16-byte blocks; an invalid byte counts as one code point, as the
    # normalizer reads it.
    import pyarrow as pa

    from scanner.arrow_bridge import text_buffers
    rows = chunks + [b"".join(chunks), b"x" * 40 + b"".join(chunks)]
    arr = pa.array(rows, type=pa.binary()).view(pa.string())
    got = _core.codepoint_counts(text_buffers(arr)).tolist()
    assert got == [sum(1 for _ in naive._chars_with_offsets(r)) for r in rows]
