"""The index on disk: round trip, memory mapping, and clear failures on damage."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import shared_texts

from scanner.config import NearDupParams
from scanner.errors import IndexFormatError, InputNotFound, InvalidInput, OutputConflict
from scanner.index import ReferenceIndex
from scanner.minhash import MinHasher


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    d = tmp_path_factory.mktemp("refs")
    texts = shared_texts("reference/gpt4_gpteacher.parquet", 300)
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(texts))], "text": texts}), d / "a.parquet")
    chat = d / "chat.jsonl"
    with open(chat, "w") as f:
        for i, t in enumerate(shared_texts("reference/chatgpt_sharegpt_sample.parquet", 40)):
            f.write(json.dumps({"id": f"c{i}", "messages": [{"role": "user", "content": "question"},
                                                           {"role": "assistant", "content": t},
                                                           {"role": "user", "content": "more"},
                                                           {"role": "assistant", "content": t[::-1]}]}) + "\n")
    plain = d / "plain.jsonl"
    plain.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[:5]) + "\n" +
                     json.dumps({"text": None}) + "\n")
    return d, texts


@pytest.fixture(scope="module")
def built(refs, tmp_path_factory):
    d, _ = refs
    return ReferenceIndex.build([str(d)], tmp_path_factory.mktemp("i") / "idx")


def test_build_reads_parquet_and_both_jsonl_forms(built, refs):
    _, texts = refs
    files = {r["path"].rsplit("/", 1)[-1]: r for r in built.references}
    assert files["a.parquet"]["indexed"] == len(texts)
    assert files["chat.jsonl"]["indexed"] == 80  # two assistant turns per line, user turns ignored
    assert files["plain.jsonl"]["indexed"] == 5 and files["plain.jsonl"]["skipped"] == {"null_text": 1}
    ids = built.ref_ids.to_pylist()
    assert "c3#1" in ids and "r7" in ids and "0" in ids
    i = ids.index("r7")
    assert built.ref_text(i) == texts[7]


def test_saved_equals_loaded_and_in_memory(built, refs):
    _, texts = refs
    again = ReferenceIndex.load(built.path, verify=True)
    assert again.checksum == built.checksum
    for name in ("signatures", "lsh_table", "ref_text_offsets", "ref_source"):
        assert np.array_equal(np.asarray(again._arrays[name]), np.asarray(built._arrays[name]))
        assert isinstance(again._arrays[name], np.memmap) or again._arrays[name].size == 0
    sigs, _ = MinHasher().signatures(texts)
    ids = again.ref_ids.to_pylist()
    for i in (0, 17, 299):
        assert np.array_equal(np.asarray(again._arrays["signatures"])[ids.index(f"r{i}")], sigs[i])


def test_rebuild_is_byte_identical(refs, built, tmp_path):
    d, _ = refs
    other = ReferenceIndex.build([str(d)], tmp_path / "idx2", threads=1)
    assert other.checksum == built.checksum
    for f in built.path.iterdir():
        assert (tmp_path / "idx2" / f.name).read_bytes() == f.read_bytes(), f.name


def _copy(built, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(built.path, dst)
    return dst


def test_truncated_array_fails_clearly(built, tmp_path):
    dst = _copy(built, tmp_path)
    p = dst / "lsh_table.bin"
    p.write_bytes(p.read_bytes()[:-8])
    with pytest.raises(IndexFormatError, match="lsh_table.bin.*truncated"):
        ReferenceIndex.load(dst)


def test_bit_flip_is_caught_by_checksums(built, tmp_path):
    dst = _copy(built, tmp_path)
    p = dst / "signatures.bin"
    b = bytearray(p.read_bytes())
    b[1234] ^= 0x10
    p.write_bytes(bytes(b))
    ReferenceIndex.load(dst)  # sizes still match: a cheap open does not read the data
    with pytest.raises(IndexFormatError, match="signatures.bin: SHA-256"):
        ReferenceIndex.load(dst, verify=True)


@pytest.mark.parametrize("edit,match", [
    (lambda m: m.update(format_version=99), "format version 99"),
    (lambda m: m.update(format="other"), "not a scanner index"),
    (lambda m: m.update(byteorder="big"), "byte order"),
    (lambda m: m["params"]["near_duplicate"].update(num_perm=64), "shape"),
    (lambda m: m["lsh"].update(bands=3), "shape"),
    (lambda m: m["arrays"]["ref_row"].update(file="../../etc/passwd"), "plain file name"),
    (lambda m: m.pop("arrays"), "incomplete"),
])
def test_manifest_mismatch_fails_clearly(built, tmp_path, edit, match):
    dst = _copy(built, tmp_path)
    m = json.loads((dst / "manifest.json").read_text())
    edit(m)
    (dst / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexFormatError, match=match):
        ReferenceIndex.load(dst)


def test_damaged_lsh_table_is_refused_before_any_lookup(built, tmp_path):
    dst = _copy(built, tmp_path)
    p = dst / "lsh_table.bin"
    d = np.fromfile(p, dtype="<u8").reshape(-1, 8)
    d[5, 0] = np.uint64(2**32 - 1) << np.uint64(32)  # a reference id far past the last one
    d[5, 7] = np.uint64(1)  # in the bucket's only entry
    d.tofile(p)
    idx = ReferenceIndex.load(dst)
    with pytest.raises(IndexFormatError, match="LSH"):
        _ = idx.near_dup


def test_missing_inputs_and_outputs(tmp_path, refs):
    d, _ = refs
    with pytest.raises(InputNotFound):
        ReferenceIndex.build([str(tmp_path / "nope.parquet")], tmp_path / "x")
    with pytest.raises(IndexFormatError, match="no manifest.json"):
        ReferenceIndex.load(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    with pytest.raises(OutputConflict):
        ReferenceIndex.build([str(d / "a.parquet")], tmp_path / "full")
    with pytest.raises(InvalidInput, match="no column 'body'"):
        ReferenceIndex.build([str(d / "a.parquet")], tmp_path / "y", text_column="body")


def test_empty_reference_set_builds_and_scans(tmp_path):
    p = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}), p)
    idx = ReferenceIndex.build([str(p)], tmp_path / "idx")
    assert idx.n_refs == 0
    from scanner.arrow_bridge import text_buffers
    res = idx.near_dup.scan(text_buffers(pa.array(["some words here and more words"])), 0.5, 0.4, 10, 10, 1)
    assert res["row_offsets"].tolist() == [0, 0]


def test_references_shorter_than_a_shingle_are_left_out_and_counted(tmp_path):
    p = tmp_path / "r.parquet"
    long = "the committee approved the budget after a long debate on tuesday evening"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["Yes.", "2.", long]}), p)
    idx = ReferenceIndex.build([str(p)], tmp_path / "idx")
    assert idx.n_refs == 1 and idx.references[0]["skipped"] == {"too_short": 2}
    from scanner.arrow_bridge import text_buffers
    res = idx.near_dup.scan(text_buffers(pa.array(["Yes.", long.upper()])), 0.5, 0.4, 10, 10, 1)
    assert res["row_offsets"].tolist() == [0, 0, 1]
    idx3 = ReferenceIndex.build([str(p)], tmp_path / "idx3", params=NearDupParams(min_tokens=1))
    assert idx3.n_refs == 3


def test_verification_from_the_span_text_equals_normalizing_each_reference(tiny, tiny_index):
    # The index's near-duplicate detector re-shingles candidates from the span index's normalized text
    # (and its last reference from a padded copy); one built without it normalizes each reference
    # again. Both must verify to the same scores.
    from scanner import _core
    from scanner.arrow_bridge import text_buffers
    from scanner.minhash import permutations
    idx = tiny_index
    p, ar = idx.params, idx._arrays
    a, b = permutations(p.num_perm, p.seed)
    plain = _core.NearDupIndex(ar["signatures"], ar["lsh_table"], ar["lsh_groups"], ar["lsh_group_offsets"], idx.bands,
                               idx.rows, text_buffers(idx.ref_texts), p.ngram, 0, a, b)
    docs = pq.read_table(tiny["corpus"]).column("text").combine_chunks()
    # Every reference verified at least once: each against itself, the last one included.
    docs = pa.concat_arrays([docs.cast(pa.large_string()), idx.ref_texts])
    want = plain.scan(text_buffers(docs), 0.5, 0.3, 1000, 0, 1)
    got = idx.near_dup.scan(text_buffers(docs), 0.5, 0.3, 1000, 0, 1)
    assert got["verified"] == want["verified"] > idx.n_refs
    for k in ("row_offsets", "ref", "score", "estimate", "status", "n_tokens"):
        assert np.array_equal(got[k], want[k]), k
    last = idx.n_refs - 1
    assert last in got["ref"][got["row_offsets"][len(docs) - 1]:]
