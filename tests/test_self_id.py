"""The self-identification detector: the automaton against a naive find loop, the catalogue's recall on
real model snippets and on phrasings in ten languages, no findings on human text or third-person reporting,
offsets into the original text, rule files, and the detector inside a scan."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st
from reference.naive_patterns import find_all

from scanner import _core
from scanner.arrow_bridge import as_text_array, text_buffers
from scanner.errors import InputNotFound, InvalidInput
from scanner.self_id import Catalogue, compile_phrases, expand, normalize_phrase

DATA = Path(__file__).resolve().parent / "data"
LANGS = ("en", "zh", "es", "fr", "de", "pt", "ja", "ko", "ru", "it")


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load()


@pytest.fixture(scope="module")
def matcher(catalogue):
    return catalogue.compile()


def _findings(matcher, texts, min_precision="medium"):
    """Per text, the list of (rule, precision, matched text) found."""
    res = matcher.scan(texts, min_precision)
    off = res["row_offsets"]
    out = []
    for i, t in enumerate(texts):
        out.append([(matcher.catalogue.rules[res["rule"][j]], int(res["precision"][j]),
                     t[res["start"][j]:res["end"][j]]) for j in range(off[i], off[i + 1])])
    return out


# ---- the automaton ------------------------------------------------------------------------------------------------

def _hits(ps, texts, normalized):
    off, ids, ends = ps.find(text_buffers(as_text_array(pa.array(texts, type=pa.large_binary()))), normalized, 1)
    return [sorted(zip(ends[off[i]:off[i + 1]].tolist(), ids[off[i]:off[i + 1]].tolist())) for i in range(len(texts))]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=6).map(lambda b: bytes(x % 4 + 97 for x in b)) |
                st.binary(min_size=1, max_size=4), min_size=1, max_size=30),
       st.lists(st.binary(max_size=200).map(lambda b: bytes(x % 5 + 97 if x < 200 else x for x in b)), max_size=5))
def test_pattern_set_equals_naive_find(patterns, texts):
    ps = _core.PatternSet(patterns)
    got = _hits(ps, texts, normalized=False)
    assert got == [find_all(patterns, t) for t in texts]


def test_pattern_set_deep_states_and_many_patterns():
    # More than the 4096 dense states: the sparse part and its failure links carry the search.
    rng = np.random.default_rng(7)
    patterns = sorted({bytes(rng.integers(97, 101, size=int(rng.integers(3, 40))).tolist()) for _ in range(3000)})
    texts = [bytes(rng.integers(97, 101, size=2000).tolist()) for _ in range(5)]
    texts += [b"".join(patterns[:50])]
    ps = _core.PatternSet(patterns)
    assert ps.n_states > 4096
    assert _hits(ps, texts, normalized=False) == [find_all(patterns, t) for t in texts]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abAB .\u200b’'ｂ", min_size=1, max_size=5), min_size=1, max_size=10),
       st.lists(st.text(alphabet="abAB .\u200b’'ｂ\n", max_size=60), max_size=4))
def test_normalized_search_equals_find_on_normalized_text(phrases, texts):
    patterns = [p for p in dict.fromkeys(_core.normalize(x.encode())[0] for x in phrases) if p]
    if not patterns:
        return
    ps = _core.PatternSet(patterns)
    got = _hits(ps, [t.encode() for t in texts], normalized=True)
    assert got == [find_all(patterns, _core.normalize(t.encode())[0]) for t in texts]


def test_pattern_set_rejects_empty_pattern():
    with pytest.raises(InvalidInput, match="empty pattern"):
        _core.PatternSet([b"ok", b""])


# ---- phrase syntax and rule files ---------------------------------------------------------------------------------

def test_expand_alternatives_and_escapes():
    assert expand("{i am|i'm} {an ai|a model}{,|}") == [
        "i am an ai,", "i am an ai", "i am a model,", "i am a model", "i'm an ai,", "i'm an ai", "i'm a model,",
        "i'm a model"]
    assert expand(r"a \{b\|c\} \\") == ["a {b|c} \\"]
    for bad, msg in (("{a|b", "unclosed"), ("a}b", "unbalanced"), ("a|b", "outside"), ("{a{b}}", "nest"),
                     ("x\\", "backslash")):
        with pytest.raises(InvalidInput, match=msg):
            expand(bad)
    with pytest.raises(InvalidInput, match="more than 4096"):
        expand("{a|b|c|d}" * 7)


def _rule(**kw):
    r = {"id": "my.rule", "vendor": "Acme", "model": "AcmeBot", "family": "vendor_attribution", "lang": "en",
         "precision": "high", "patterns": ["i am acmebot"]}
    r.update(kw)
    return r


def _write(path, *rules):
    path.write_text("".join(json.dumps(r) + "\n" for r in rules), encoding="utf-8")
    return path


def test_user_rule_file_adds_rules(tmp_path, catalogue):
    f = _write(tmp_path / "acme.jsonl", _rule(), _rule(id="my.cutoff", vendor=None, model=None,
                                                   family="knowledge_cutoff", patterns=["acme knowledge ends"]))
    cat = Catalogue.load([f])
    assert len(cat) == len(catalogue) + 2
    assert cat.sources[-1]["path"] == str(f) and cat.sources[-1]["rules"] == 2
    only = Catalogue.load([f], builtin=False)
    got = _findings(only.compile(), ["Hello! I am AcmeBot, happy to help.", "I am acmebotanist."])
    assert [(r.id, m) for r, _, m in got[0]] == [("my.rule", "I am AcmeBot")]
    assert got[1] == []  # word boundary


def test_compiled_rules_are_reused_only_for_the_same_rules(tmp_path, catalogue):
    # A process keeps the automata it compiled: the same rules (loaded again) give the same matcher,
    # changed rules a new one that finds what they say.
    assert Catalogue.load().compile() is Catalogue.load().compile()
    f = _write(tmp_path / "acme.jsonl", _rule())
    first = Catalogue.load([f], builtin=False).compile()
    assert Catalogue.load([f], builtin=False).compile() is first
    _write(f, _rule(patterns=["I am RoadRunner"]))
    second = Catalogue.load([f], builtin=False).compile()
    assert second is not first
    texts = ["Hello! I am AcmeBot.", "Beep, I am RoadRunner."]
    assert [len(x) for x in _findings(first, texts)] == [1, 0]
    assert [len(x) for x in _findings(second, texts)] == [0, 1]
    # Rules built by hand with lists in them cannot be keys: compiled each time, still right.
    from scanner.self_id import Rule
    by_hand = Catalogue([Rule(id="x.y", vendor="Acme", model="AcmeBot", family="vendor_attribution", lang="en",
                              precision="high", patterns=["I am AcmeBot"])], [])
    assert [len(x) for x in _findings(by_hand.compile(), texts)] == [1, 0]


@pytest.mark.parametrize("rec, msg", [
    (_rule(regex="I am (a+)+$"), "regular expressions are not supported"),
    (_rule(colour="red"), "unknown keys"),
    (_rule(precision="certain"), "'precision' must be one of"),
    (_rule(patterns=[]), "at least one phrase"),
    (_rule(patterns="i am acmebot"), "must be a list"),
    (_rule(id="bad id!"), "'id' must be"),
    (_rule(lang="english"), "'lang' must be"),
    (_rule(patterns=["\u200b "]), "empty after normalization"),
    (_rule(within=-3), "'within'"),
])
def test_bad_rule_files_fail_naming_file_and_line(tmp_path, rec, msg):
    f = _write(tmp_path / "bad.jsonl", _rule(id="ok.first"), rec)
    with pytest.raises(InvalidInput, match=msg) as e:
        Catalogue.load([f], builtin=False).compile()
    assert f"{f}:2" in str(e.value)


def test_rule_file_errors(tmp_path, catalogue):
    with pytest.raises(InputNotFound):
        Catalogue.load([tmp_path / "missing.jsonl"])
    (tmp_path / "x.jsonl").write_text('{"id": "a"\n')
    with pytest.raises(InvalidInput, match=r"x.jsonl:1: not a JSON object"):
        Catalogue.load([tmp_path / "x.jsonl"])
    dup = _write(tmp_path / "dup.jsonl", _rule(id=catalogue.rules[0].id))
    with pytest.raises(InvalidInput, match="already defined at builtin"):
        Catalogue.load([dup])


def test_builtin_catalogue_covers_vendors_families_languages(catalogue):
    rules = catalogue.rules
    assert {r.lang for r in rules} >= set(LANGS)
    assert {r.family for r in rules} >= {"vendor_attribution", "ai_disclaimer", "knowledge_cutoff",
                                         "refusal_boilerplate"}
    assert {r.vendor for r in rules} >= {"OpenAI", "Anthropic", "Google", "Meta", "Mistral", "DeepSeek", "Alibaba",
                                         "Baidu", "Moonshot", "Zhipu", "xAI", "Microsoft"}
    assert {r.precision for r in rules} == {"high", "medium", "low"}


# ---- recall and precision on real and written text ----------------------------------------------------------------

def test_recall_on_real_model_snippets(matcher):
    """../shared/data/selfid: real self-identification sentences from four reference sets."""
    t = pq.read_table(SHARED / "selfid" / "selfid_snippets.parquet").to_pylist()
    got = _findings(matcher, [r["text"] for r in t])
    per_family = collections.defaultdict(lambda: [0, 0])
    for r, f in zip(t, got):
        if r["first_person"]:
            per_family[r["phrase_family"]][0] += bool(f)
            per_family[r["phrase_family"]][1] += 1
    found = sum(v[0] for v in per_family.values())
    total = sum(v[1] for v in per_family.values())
    assert found / total >= 0.95, dict(per_family)
    for fam in ("as_an_ai_language_model", "as_a_language_model", "as_an_ai", "i_am_an_ai", "i_am_a_language_model",
                "knowledge_cutoff", "no_browsing", "no_personal_opinions", "built_by_openai"):
        k, n = per_family[fam]
        assert k / n >= 0.9, (fam, k, n)
    # The snippets' own third-person descriptions ("GPT-3 ... developed by OpenAI") mostly stay unflagged.
    third = [bool(f) for r, f in zip(t, got) if not r["first_person"]]
    assert sum(third) <= 2, sum(third)


def _phrasings():
    return [json.loads(line) for line in (DATA / "selfid_phrasings.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def test_phrasings_in_ten_languages(matcher):
    """tests/data/selfid_phrasings.jsonl, written independently of the catalogue: model statements in ten
    languages (with the vendor they name), news and reviews about models, quotations, human near-misses."""
    rows = _phrasings()
    got = _findings(matcher, [r["text"] for r in rows])
    misses, wrong_vendor, false_hits = [], [], []
    for r, f in zip(rows, got):
        if r["expect"] == "self_id":
            if not f:
                misses.append((r["lang"], r["text"]))
            elif r["vendor"] and r["vendor"] not in {rule.vendor for rule, _, _ in f}:
                wrong_vendor.append((r["vendor"], r["text"], [rule.id for rule, _, _ in f]))
        elif f:
            false_hits.append((r["family"], r["text"], [(rule.id, m) for rule, _, m in f]))
    assert not misses and not wrong_vendor and not false_hits, (misses, wrong_vendor, false_hits)
    langs = collections.Counter(r["lang"] for r in rows if r["expect"] == "self_id")
    assert all(langs[x] >= 8 for x in LANGS)


def test_quotations_are_low_precision(matcher):
    quoted = ['The chatbot replied: "As an AI language model, I cannot predict the election." Critics laughed.',
              "«En tant que modèle de langage, je ne peux pas», a répondu le robot.",
              "ボットは「私はAIアシスタントですので、お答えできません」と答えた。"]
    assert all(f == [] for f in _findings(matcher, quoted))
    low = _findings(matcher, quoted, "low")
    assert all(f and all(p == 0 for _, p, _ in f) for f in low), low
    # The same statement unquoted is model voice.
    assert _findings(matcher, ["As an AI language model, I cannot predict the election."])[0]


def test_no_findings_on_human_text(matcher):
    """Every human-written paragraph of six corpora in ../shared/data/human (about 62k rows)."""
    for name in ("brown", "gutenberg", "inaugural", "state_union", "movie_reviews", "webtext"):
        texts = pq.read_table(SHARED / "human" / f"{name}.parquet", columns=["text"]).column("text")
        res = matcher.scan(texts)
        assert len(res["rule"]) == 0, (name, [matcher.catalogue.rules[r].id for r in res["rule"][:5]])


# ---- offsets, surface tricks, determinism ------------------------------------------------------------------------

def test_offsets_point_into_the_original_text(matcher):
    texts = ["Intro line.\n\nAs an\u200b AI   language\tmodel, I can’t browse.",
             "前言。我是由 OpenAI 开发的人工智能助手。",
             "ＡＳ ＡＮ ＡＩ ＬＡＮＧＵＡＧＥ ＭＯＤＥＬ, I cannot.",
             "😀👩‍💻 Note: I’m ChatGPT, a large language model trained by OpenAI."]
    res = matcher.scan(texts)
    off = res["row_offsets"]
    rules = matcher.catalogue.rules
    spans = [[(rules[res["rule"][j]].id, texts[i][res["start"][j]:res["end"][j]],
               texts[i][res["sent_start"][j]:res["sent_end"][j]]) for j in range(off[i], off[i + 1])]
             for i in range(len(texts))]
    assert ("generic.as_an_ai_language_model.en", "As an\u200b AI   language\tmodel, I",
            "As an\u200b AI   language\tmodel, I can’t browse.") in spans[0]
    assert ("openai.made_by.zh", "OpenAI 开发", "我是由 OpenAI 开发的人工智能助手。") in spans[1]
    assert spans[2][0][1] == "ＡＳ ＡＮ ＡＩ ＬＡＮＧＵＡＧＥ ＭＯＤＥＬ, I"
    ids = {s[0] for s in spans[3]}
    assert {"openai.chatgpt.i_am.en", "openai.chatgpt.i_am_ai.en"} <= ids
    assert all(s[2] == texts[3] for s in spans[3])  # no sentence end before: from the start


def test_threads_and_batches_do_not_change_results(matcher):
    t = pq.read_table(SHARED / "selfid" / "selfid_snippets.parquet", columns=["text"]).column("text")
    texts = pa.concat_arrays([t.combine_chunks(), pa.array(["plain human text"] * 500)])
    one = matcher.scan(texts, threads=1)
    two = matcher.scan(texts, threads=2)
    for k in ("row_offsets", "rule", "start", "end", "sent_start", "sent_end", "precision"):
        assert np.array_equal(one[k], two[k]), k
    sliced = matcher.scan(texts.slice(100, 50), threads=2)
    base = one["row_offsets"][100]
    assert np.array_equal(sliced["start"], one["start"][base:one["row_offsets"][150]])


def test_degenerate_text_is_bounded(matcher):
    texts = ["As an AI, I " * 100_000, "a" * 2_000_000, None, ""]
    res = matcher.scan(texts)
    assert res["truncated"].tolist() == [1, 0, 0, 0]
    off = res["row_offsets"]
    assert off[1] >= 1 and off[-1] == off[1]


# ---- inside a scan ------------------------------------------------------------------------------------------------

def test_scan_writes_self_id_findings(tmp_path, tiny, tiny_index):
    from scanner.scan import ScanOptions, scan
    m = scan([tiny["corpus"]], tiny_index, tmp_path / "out", ScanOptions(detectors=("self_id",)))
    t = pq.read_table(tmp_path / "out" / "findings")
    assert set(t.column("detector").to_pylist()) == {"self_id"}
    key = pq.read_table(tiny["answer_key"]).to_pylist()
    planted = {k["id"]: k for k in key if k["kind"] == "self_id"}
    by_doc = collections.defaultdict(list)
    for r in t.to_pylist():
        by_doc[r["doc_id"]].append(r)
    assert set(planted) <= set(by_doc)
    corpus = {r["id"]: r["text"] for r in pq.read_table(tiny["corpus"]).to_pylist()}
    for doc_id, k in planted.items():
        for r in by_doc[doc_id]:
            # the match lies inside the planted passage, and the snippet is its sentence
            assert k["passage_start"] <= r["start"] < r["end"] <= k["passage_start"] + len(k["passage"])
            assert r["snippet"] and corpus[doc_id][r["start"]:r["end"]].split()[0] in r["snippet"]
            assert r["precision"] in ("high", "medium") and r["family"] and r["lang"] == "en"
    # no human paragraph is flagged: every flagged document is planted (self_id, or a copy of a reference
    # output that says "As an AI language model" itself)
    kinds = {k["id"]: k["kind"] for k in key}
    assert all(d in kinds for d in by_doc)
    assert m["self_id"]["rules"] == len(Catalogue.load()) and m["self_id"]["min_precision"] == "medium"
    assert m["stats"]["self_id"]["confirmed"] >= t.num_rows


def test_cli_patterns_option(tmp_path, tiny, tiny_index):
    from click.testing import CliRunner

    from scanner.cli import main
    from scanner.verify import verify
    corpus = tmp_path / "c.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["Greetings, I am AcmeBot and I like tea.", "Nothing."]}),
                   corpus)
    rules = _write(tmp_path / "acme.jsonl", _rule())
    r = CliRunner().invoke(main, ["scan", str(corpus), "--index", str(tiny_index.path), "-o", str(tmp_path / "o"),
                                  "--no-progress", "--detectors", "self_id", "--patterns", str(rules)])
    assert r.exit_code == 0, r.output
    t = pq.read_table(tmp_path / "o" / "findings").to_pylist()
    assert [(x["doc_id"], x["rule"], x["vendor"], x["model"]) for x in t] == [("a", "my.rule", "Acme", "AcmeBot")]
    assert verify(tmp_path / "o") == []
    rules.write_text(rules.read_text() + json.dumps(_rule(id="my.other")) + "\n")
    assert any("pattern file" in p for p in verify(tmp_path / "o"))
    bad = _write(tmp_path / "bad.jsonl", _rule(regex="(a|aa)+b"))
    r = CliRunner().invoke(main, ["scan", str(corpus), "--index", str(tiny_index.path), "-o", str(tmp_path / "o2"),
                                  "--no-progress", "--patterns", str(bad)])
    assert r.exit_code == 2 and "regular expressions are not supported" in r.output


def _anchor_texts():
    """Texts of the built-in anchors (every 7th rule's first few expansions, Latin and CJK, short and long),
    and cut-off prefixes of them, as near-misses for the prefilter."""
    out = []
    for rule in Catalogue.load().rules[::7]:
        for ph in rule.patterns[:2]:
            for t in expand(ph)[:2]:
                out += [t, t[: max(1, len(t) // 2)], t[:6]]
    return sorted(set(out))


ANCHOR_TEXTS = _anchor_texts()


@pytest.fixture(scope="module")
def low_ctx(tiny_index):
    from scanner.scan import ScanContext, ScanOptions
    return ScanContext(tiny_index, ScanOptions(threads=1, detectors=("self_id",), self_id_precision="low"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(ANCHOR_TEXTS), st.text(alphabet="abcxyz ,.'I", max_size=12),
                          st.sampled_from([" ", "\n\n", "。", "“", "”", "\u200b", "ＡＩ", "As an AI"])),
                min_size=1, max_size=25).map("".join))
def test_prefiltered_first_pass_finds_what_the_full_walk_finds(low_ctx, text):
    # The scan's first pass runs the automaton only in windows after the positions an anchor may start
    # at (csrc/self_id.hpp, AnchorPrefilter); with prefilter=False the detector walks every byte. Same
    # findings.
    ctx = low_ctx
    texts = pa.array([text, text * 3, "x" + text], type=pa.large_string())
    _, _, got = ctx.scan_batch(texts)
    want = ctx.matcher.scan(texts, "low", 1, prefilter=False)
    assert got.keys() == want.keys()
    _same(ctx.matcher.scan(texts, "low", 1), want)  # the detector's own scan prefilters too
    _same(got, want)


def _same(got: dict, want: dict):
    for k in want:
        if isinstance(want[k], np.ndarray):
            assert np.array_equal(got[k], want[k]), k
        else:
            assert got[k] == want[k], k


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(ANCHOR_TEXTS), st.text(max_size=20),
                          st.sampled_from([" ", "\n", "。", "\u200b", "As an AI", "openai"])),
                min_size=0, max_size=40).map("".join))
def test_prefilter_vector_loop_passes_the_positions_the_scalar_loop_passes(low_ctx, text):
    # The AVX2 loop hashes 8 positions at once; the scalar loop (CPUs without AVX2, and the last bytes of
    # every text) must pass exactly the same positions, and every anchor occurrence must start at one.
    rules = low_ctx.matcher._core
    norm = normalize_phrase(text) if text.strip() else text.encode()
    for t in (norm, b"x" * 7 + norm, norm + b"!" * 9):
        got = rules.prefilter_positions(t, vectorized=True)
        want = rules.prefilter_positions(t, vectorized=False)
        assert got.tolist() == want.tolist()
        passed = set(want.tolist())
        for a in _ANCHOR_LITERALS:
            i = t.find(a)
            while i >= 0:
                assert i in passed, (a, i)
                i = t.find(a, i + 1)


# The anchors (compiled, normalized literals) of the rules ANCHOR_TEXTS comes from.
_ANCHOR_LITERALS = sorted({lit for rule in Catalogue.load().rules[::7]
                           for lit in compile_phrases(rule.patterns, rule.id)})


def test_prefilter_windows_reach_the_end_of_long_anchors(low_ctx):
    # A prefilter window ends at the longest anchor that can start where it starts (AnchorPrefilter's
    # reach tables), not at the longest anchor of all: an anchor that shares its first bytes with shorter
    # ones, or is the longest, must still be walked to its end. Each text holds one of the longest
    # built-in anchors, alone and behind a shorter anchor of the same first 8 bytes.
    rules = Catalogue.load().rules
    lits = sorted({lit for r in rules for lit in compile_phrases(r.patterns, r.id)}, key=lambda x: (-len(x), x))
    by_head: dict = {}
    for lit in lits:
        by_head.setdefault(lit[:8], []).append(lit)
    longest = lits[:20]
    texts = []
    for lit in longest:
        shorter = [x for x in by_head[lit[:8]] if len(x) < len(lit)]
        texts.append("Quoted: " + lit.decode() + ". End.")
        if shorter:
            texts.append(shorter[-1].decode() + ", and " + lit.decode())
    assert any(len(by_head[x[:8]]) > 1 for x in longest)  # the shared-head case is exercised
    arr = pa.array(texts, type=pa.large_string())
    want = low_ctx.matcher.scan(arr, "low", 1, prefilter=False)
    got = low_ctx.matcher.scan(arr, "low", 1)
    assert want["anchor_hits"] >= len(texts)
    _same(got, want)


def _oracle_variants(norm: bytes, cap: int) -> list[bytes]:
    """Python transcription of phrase_variants (csrc/self_id.hpp): norm, and its forms with a space added
    or removed at each junction of a kSingle character (scripts written without spaces) and a word
    character, in itertools.product order, at most cap + 1 of them."""
    import itertools
    word, single, space = 1, 2, 3
    kinds = _core.char_kinds(norm).tolist()
    if single not in kinds:
        return [norm]
    chars = norm.decode("utf-8")
    n = len(chars)
    toks: list[tuple] = []
    for i, ch in enumerate(chars):
        if kinds[i] == space and 0 < i < n - 1 and kinds[i - 1] * kinds[i + 1] == word * single:
            toks.append((" ", ""))
            continue
        toks.append((ch,))
        if i + 1 < n and kinds[i] * kinds[i + 1] == word * single:
            toks.append(("", " "))
    out = []
    for t in itertools.product(*toks):
        out.append("".join(t).encode("utf-8"))
        if len(out) > cap:
            break
    return out


def _oracle_literals(texts: list[str], cap: int = 4096) -> list[bytes]:
    seen: dict = {}
    for text in texts:
        for v in _oracle_variants(normalize_phrase(text), cap):
            seen.setdefault(v, None)
    return list(seen)


def test_phrase_literals_equal_the_python_transcription_on_the_builtin_catalogue(catalogue):
    # Every rule and role of the built-in catalogue (tens of thousands of texts, Chinese, Japanese and
    # Korean among them) compiles to the same literals, in the same order, as the Python transcription.
    from scanner.self_id import ROLES
    n_varied = 0
    for rule in catalogue.rules:
        for key in ROLES:
            phrases = getattr(rule, key)
            texts = [t for ph in phrases for t in expand(ph)]
            want = _oracle_literals(texts)
            assert compile_phrases(phrases, rule.id) == want, (rule.id, key)
            n_varied += len(want) > len({normalize_phrase(t) for t in texts})
    assert n_varied > 20  # the spacing variants are exercised, not only plain literals


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["我", "是", "AI", "助手", " ", "  ", "GPT", "-4", "。", "の", "です", "é", "x",
                                 "\u3000", "Open", "AI", "模型", "\u200b", "1"]), min_size=1, max_size=14)
       .map("".join).filter(lambda t: t.strip()), st.sampled_from([4096, 3, 0]))
def test_phrase_literals_equal_the_python_transcription_on_mixed_scripts(text, cap):
    norm = normalize_phrase(text)
    lits, empty = _core.phrase_literals([text.encode()], cap)
    if not norm:
        assert (lits, empty) == ([], 0)
        return
    assert empty == -1
    assert lits == list(dict.fromkeys(_oracle_variants(norm, cap)))


def test_phrase_literals_name_the_text_that_normalizes_to_nothing():
    with pytest.raises(InvalidInput, match=r"'\\u200b' \(from '\{\\u200b\|x\}'\) is empty after normalization"):
        compile_phrases(["{\u200b|x}"], "rules.jsonl:3")
