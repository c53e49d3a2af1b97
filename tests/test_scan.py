"""End to end on the bundled example (real reference outputs and human text with planted copies),
checked against its answer key and the naive Jaccard oracle."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reference import naive_normalize as naive

from scanner.errors import InputNotFound, InvalidInput, OutputConflict
from scanner.scan import ScanOptions, scan


@pytest.fixture(scope="module")
def result(tiny, tiny_index, tmp_path_factory):
    out = tmp_path_factory.mktemp("scan") / "out"
    manifest = scan([str(tiny["corpus"])], tiny_index, out)
    return out, manifest, pq.read_table(out / "findings")


@pytest.fixture(scope="module")
def data(tiny):
    corpus = pq.read_table(tiny["corpus"])
    ref = pq.read_table(tiny["reference"])
    key = pq.read_table(tiny["answer_key"]).to_pylist()
    return ({i: t for i, t in zip(corpus["id"].to_pylist(), corpus["text"].to_pylist())},
            {i: t for i, t in zip(ref["id"].to_pylist(), ref["text"].to_pylist())}, key)


def test_planted_near_duplicates_are_found_with_their_reference(result, data):
    _, _, table = result
    docs, refs, key = data
    found = {(r["doc_id"], r["ref_id"]): r for r in table.to_pylist() if r["detector"] == "near_duplicate"}
    planted = [k for k in key if k["kind"] == "near_duplicate"]
    assert len(planted) == 60
    above = hits = 0
    for k in planted:
        j = naive.jaccard(docs[k["id"]].encode(), refs[k["ref_id"]].encode(), 5)
        f = found.get((k["id"], k["ref_id"]))
        if j >= 0.5:
            above += 1
            hits += f is not None
            if j >= 0.6:
                assert f is not None, (k, j)
        else:
            assert f is None, (k, j)
        if f is not None:
            assert f["score"] == pytest.approx(j, abs=1e-12)
    # Edit rates up to 5% with surface changes (case, fullwidth, zero-width) stay above 0.5.
    assert above >= 35 and hits / above >= 0.95, (hits, above)


def test_every_finding_is_a_true_near_duplicate_and_human_text_gives_none(result, data):
    _, _, table = result
    docs, refs, key = data
    planted = {k["id"] for k in key}
    for f in table.to_pylist():
        if f["detector"] != "near_duplicate":
            continue
        j = naive.jaccard(docs[f["doc_id"]].encode(), refs[f["ref_id"]].encode(), 5)
        assert j >= 0.5 and f["score"] == pytest.approx(j, abs=1e-12)
        assert f["doc_id"] in planted
        text = docs[f["doc_id"]]
        assert (f["start"], f["end"]) == (0, len(text))
        assert (f["ref_start"], f["ref_end"]) == (0, len(refs[f["ref_id"]]))
        assert f["source"].endswith("corpus.parquet") and f["ref_source"].endswith("reference.parquet")
        assert f["snippet"] == " ".join(text[:240].split())
    human = [i for i in docs if i not in planted]
    assert len(human) == 304
    assert not set(table["doc_id"].to_pylist()) & set(human)


def test_planted_copied_spans_are_located_to_the_character(result, data):
    _, m, table = result
    docs, refs, key = data
    spans = [f for f in table.to_pylist() if f["detector"] == "copied_span"]
    by_doc = {}
    for f in spans:
        by_doc.setdefault(f["doc_id"], []).append(f)
    planted = [k for k in key if k["kind"] == "copied_span"]
    assert len(planted) == 20
    for k in planted:
        (f,) = by_doc[k["id"]]
        text, ref = docs[k["id"]], refs[k["ref_id"]]
        assert f["ref_id"] == k["ref_id"] and f["ref_count"] == 1 and f["common_phrase"] is False
        assert f["start"] == k["passage_start"]
        # The match may run a few characters on where the next paragraph happens to continue it.
        assert k["passage_start"] + len(k["passage"]) <= f["end"] <= k["passage_start"] + len(k["passage"]) + 3
        copied = naive.normalize(text[f["start"]:f["end"]].encode())[0]
        assert copied == naive.normalize(ref[f["ref_start"]:f["ref_end"]].encode())[0]
        assert f["score"] == len(copied.decode())
        assert f["snippet"] == " ".join(text[f["start"]:min(f["end"], f["start"] + 240)].split())
    # Every copied span lies in a planted document (near-duplicates contain long exact runs too).
    assert {f["doc_id"] for f in spans} <= {k["id"] for k in key}
    docs_table = pq.read_table(result[0] / "documents").to_pylist()
    assert {d["doc_id"] for d in docs_table} == set(by_doc)
    for d in docs_table:
        assert d["copied_characters"] <= d["characters"] == len(docs[d["doc_id"]])
        assert d["copied_fraction"] == pytest.approx(d["copied_characters"] / d["characters"])
    assert sum(d["copied_characters"] for d in docs_table) == m["totals"]["copied_characters"]


def test_manifest_accounts_for_every_row(result, tiny):
    out, m, table = result
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == m
    (rec,) = m["inputs"]
    assert rec["rows_read"] == 394
    assert rec["rows_skipped"] == {"null_text": 1, "no_tokens": 3}
    assert rec["rows_read"] == rec["rows_scanned"] + sum(rec["rows_skipped"].values())
    import hashlib
    assert rec["sha256"] == hashlib.sha256(tiny["corpus"].read_bytes()).hexdigest()
    for det in ("near_duplicate", "copied_span"):
        rows = [r for r, d in zip(table["row"].to_pylist(), table["detector"].to_pylist()) if d == det]
        assert rec["findings"][det] == len(rows)
        assert rec["documents_flagged"][det] == len(set(rows))
    assert m["index"]["checksum_sha256"] and m["index"]["n_refs"] == 400
    rows = table["row"].to_pylist()
    assert rows == sorted(rows)


def test_thread_count_and_batching_do_not_change_a_byte(result, tiny, tiny_index, tmp_path):
    out, _, _ = result
    other = tmp_path / "o"
    scan([str(tiny["corpus"])], tiny_index, other, ScanOptions(threads=1, batch_rows=7))
    for rel in ("manifest.json", "findings/part-00000-00000.parquet", "documents/part-00000-00000.parquet"):
        assert (other / rel).read_bytes() == (out / rel).read_bytes(), rel


def test_ids_sliced_batches_and_jsonl_corpus(tiny, tiny_index, tmp_path, data):
    docs, _, _ = data
    corpus = pq.read_table(tiny["corpus"])
    jl = tmp_path / "c.jsonl"
    with open(jl, "w") as f:
        for i, t in zip(corpus["id"].to_pylist(), corpus["text"].to_pylist()):
            f.write(json.dumps({"id": i, "text": t}) + "\n")
    a = scan([str(tiny["corpus"])], tiny_index, tmp_path / "a")
    b = scan([str(jl)], tiny_index, tmp_path / "b")
    ta = pq.read_table(tmp_path / "a" / "findings").drop_columns(["source"])
    tb = pq.read_table(tmp_path / "b" / "findings").drop_columns(["source"])
    assert ta.equals(tb)
    assert a["totals"]["rows_skipped"] == b["totals"]["rows_skipped"]


def test_output_conflicts_and_bad_inputs(tiny, tiny_index, tmp_path):
    out = tmp_path / "out"
    first = scan([str(tiny["corpus"])], tiny_index, out)
    assert scan([str(tiny["corpus"])], tiny_index, out) == first  # the same scan again: resumed, nothing to redo
    with pytest.raises(OutputConflict, match="--force"):
        scan([str(tiny["corpus"])], tiny_index, out, ScanOptions(min_span=60))
    scan([str(tiny["corpus"])], tiny_index, out, ScanOptions(min_span=60), force=True)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(OutputConflict, match="other files"):
        scan([str(tiny["corpus"])], tiny_index, tmp_path / "foreign")
    with pytest.raises(InputNotFound):
        scan([str(tmp_path / "missing.parquet")], tiny_index, tmp_path / "o2")
    with pytest.raises(InvalidInput, match="no column 'body'"):
        scan([str(tiny["corpus"])], tiny_index, tmp_path / "o3", ScanOptions(text_column="body"))
    bad = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"text": pa.array([1, 2, 3])}), bad)
    with pytest.raises(InvalidInput, match="not text"):
        scan([str(bad)], tiny_index, tmp_path / "o4")
    with pytest.raises(InvalidInput, match="no id column 'doc'"):
        scan([str(tiny["corpus"])], tiny_index, tmp_path / "o5", ScanOptions(id_column="doc"))


def test_limits_are_counted_not_silent(tiny_index, tmp_path, data):
    # The same reference text five times in the corpus reference set would make five findings;
    # with max_matches=1 one is kept and the rest counted.
    _, refs, key = data
    rid = next(k["ref_id"] for k in key if k["kind"] == "near_duplicate" and k["edit_rate"] == 0.0)
    refp = tmp_path / "r.parquet"
    pq.write_table(pa.table({"id": [f"{rid}-{i}" for i in range(5)], "text": [refs[rid]] * 5}), refp)
    from scanner.index import ReferenceIndex
    idx = ReferenceIndex.build([str(refp)], tmp_path / "idx")
    cp = tmp_path / "c.parquet"
    pq.write_table(pa.table({"text": [refs[rid]]}), cp)
    m = scan([str(cp)], idx, tmp_path / "o", ScanOptions(max_matches=1))
    assert m["totals"]["findings"] == {"near_duplicate": 1, "copied_span": 1}
    assert m["stats"]["near_duplicate"]["matches_truncated"] == 4
    t = pq.read_table(tmp_path / "o" / "findings").to_pylist()
    nd, sp = (next(f for f in t if f["detector"] == d) for d in ("near_duplicate", "copied_span"))
    assert nd["ref_id"] == f"{rid}-0" and nd["doc_id"] is None and np.isclose(nd["score"], 1.0)
    # The copied span is the whole text, attributed to its first holder and counting all five.
    assert (sp["ref_id"], sp["ref_count"], sp["start"], sp["end"]) == (f"{rid}-0", 5, 0, len(refs[rid].strip()))


def test_damaged_parquet_is_named_not_a_traceback(tiny, tiny_index, tmp_path):
    data = bytearray(tiny["corpus"].read_bytes())
    # Overwrite the middle of the first data page, leaving footer and magic intact.
    for i in range(200, 1200):
        data[i] = 0x55
    bad = tmp_path / "damaged.parquet"
    bad.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="damaged.parquet"):
        scan([str(bad)], tiny_index, tmp_path / "o")
    trunc = tmp_path / "truncated.parquet"
    trunc.write_bytes(tiny["corpus"].read_bytes()[:-100])
    with pytest.raises(InvalidInput, match="truncated.parquet: not a readable Parquet file"):
        scan([str(trunc)], tiny_index, tmp_path / "o2")



def _assert_same(a: dict, b: dict, what: str):
    assert a.keys() == b.keys(), what
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert np.array_equal(a[k], b[k]), f"{what}: {k}"
        else:
            assert a[k] == b[k], f"{what}: {k}"


@pytest.mark.parametrize("threads", [1, 2])
def test_one_pass_equals_the_three_separate_scans(tiny, tiny_index, threads):
    # The scan normalizes each document once and feeds all detectors from that buffer; each detector's
    # own scan() normalizes (or walks) the original text itself. Same documents, same results, to the array.
    from conftest import shared_texts

    from scanner.arrow_bridge import as_text_array, text_buffers
    from scanner.scan import ScanContext
    corpus = pq.read_table(tiny["corpus"]).column("text").to_pylist()
    snippets = shared_texts("selfid/selfid_snippets.parquet", 60, min_words=3)
    docs = [None if t is None else (t + " " + snippets[i % len(snippets)] if i % 7 == 0 else t).encode()
            for i, t in enumerate(corpus)]
    # nulls, empty and blank rows, invalid UTF-8, fullwidth, curly quotes and CJK
    docs += [None, b"", b"   \n\t ", b"\xff\xfe As an AI language model, I \xc3",
             "ＡＢＣ “quoted” — 我是由OpenAI开发的人工智能助手。".encode()]
    texts = as_text_array(pa.array(docs, type=pa.large_binary()))
    ctx = ScanContext(tiny_index, ScanOptions(threads=threads))
    nd, sp, sid = ctx.scan_batch(texts)
    o = ctx.opts
    _assert_same(nd, tiny_index.near_dup.scan(text_buffers(texts), ctx.threshold, ctx.prefilter, o.max_verify,
                                              o.max_matches, threads), "near-duplicates")
    _assert_same(sp, tiny_index.spans.scan(texts, ctx.min_span, threads=threads), "spans")
    _assert_same(sid, ctx.matcher.scan(texts, o.self_id_precision, threads, prefilter=False), "self-ID")
    assert len(nd["ref"]) and len(sp["start"]) and len(sid["rule"])  # each detector found something


@pytest.mark.parametrize("detectors", [("copied_span",), ("self_id",), ("near_duplicate", "self_id")])
def test_one_pass_with_some_detectors(tiny, tiny_index, detectors):
    # Detectors left out are not run (None), and the near-duplicate result still gives every row's
    # status and counts, with matches only when near_duplicate is asked for.
    from scanner.scan import ScanContext
    texts = pa.array(pq.read_table(tiny["corpus"]).column("text").to_pylist() + [None], type=pa.large_string())
    full_nd, full_sp, full_sid = ScanContext(tiny_index, ScanOptions(threads=1)).scan_batch(texts)
    nd, sp, sid = ScanContext(tiny_index, ScanOptions(threads=1, detectors=detectors)).scan_batch(texts)
    for k in ("status", "n_codepoints", "n_tokens"):
        assert np.array_equal(nd[k], full_nd[k])
    assert (len(nd["ref"]) > 0) == ("near_duplicate" in detectors)
    assert (sp is None) == ("copied_span" not in detectors)
    assert (sid is None) == ("self_id" not in detectors)
    if sp is not None:
        _assert_same(sp, full_sp, "spans")
    if sid is not None:
        _assert_same(sid, full_sid, "self-ID")
