"""Bad input, hostile content and faults: each case either fails with a clear error naming the file (and row
or row group) and what to do, or is skipped and recorded, or is processed correctly; and in every scan that
completes, rows read == rows scanned + rows skipped. Generated fixtures, real text where text matters."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import shared_texts

from scanner.errors import IndexFormatError, InputNotFound, InvalidInput
from scanner.index import ReferenceIndex
from scanner.scan import ScanOptions, scan
from scanner.verify import verify

REPO = Path(__file__).resolve().parents[1]


def _accounted(m: dict) -> None:
    for rec in m["inputs"]:
        assert rec["rows_read"] == rec["rows_scanned"] + sum(rec["rows_skipped"].values()), rec["path"]
    t = m["totals"]
    assert t["rows_read"] == t["rows_scanned"] + sum(t["rows_skipped"].values())


@pytest.fixture(scope="module")
def human():
    return shared_texts("human/brown.parquet", 200, min_words=20)


def _pq(path: Path, texts, **cols) -> Path:
    data = {"text": texts, **cols}
    pq.write_table(pa.table(data), path)
    return path


# ---- files -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["zero_bytes", "not_parquet", "truncated_footer", "bad_magic"])
def test_damaged_files_are_named(tmp_path, tiny_index, human, damage):
    good = _pq(tmp_path / "good.parquet", human[:50])
    data = good.read_bytes()
    bad = tmp_path / "bad.parquet"
    bad.write_bytes({"zero_bytes": b"", "not_parquet": b"id,text\n1,hello\n", "truncated_footer": data[:-20],
                     "bad_magic": b"XXXX" + data[4:-4] + b"XXXX"}[damage])
    with pytest.raises(InvalidInput, match=re.escape(str(bad))) as e:
        scan([good, bad], tiny_index, tmp_path / "out")
    assert "Parquet" in str(e.value)


def test_corrupt_page_is_named_or_read(tmp_path, tiny_index, human):
    f = _pq(tmp_path / "c.parquet", human * 5)
    data = bytearray(f.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0x5A
    f.write_bytes(bytes(data))
    try:
        m = scan([f], tiny_index, tmp_path / "out")
    except InvalidInput as e:
        assert str(f) in str(e) and ("damaged" in str(e) or "not a readable" in str(e))
    else:  # the flipped bytes decoded to other text: still every row accounted
        _accounted(m)


def test_zero_rows_and_many_tiny_files(tmp_path, tiny_index, human):
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"text": pa.array([], type=pa.string())}), empty)
    d = tmp_path / "many"
    d.mkdir()
    for i in range(2000):
        _pq(d / f"s{i:04d}.parquet", [human[i % len(human)]])
    (d / "README.txt").write_text("not a corpus file: ignored by directory expansion")
    m = scan([empty, d], tiny_index, tmp_path / "out")
    assert m["totals"]["files"] == 2001 and m["totals"]["rows_read"] == 2000
    assert m["inputs"][0]["rows_read"] == 0
    _accounted(m)
    assert verify(tmp_path / "out") == []


# ---- schema ------------------------------------------------------------------------------------------------------

def test_schema_variants_are_read_the_same(tmp_path, tiny_index, human):
    texts = human[:80] + [None, "", "   "]
    plain = _pq(tmp_path / "plain.parquet", texts)
    large = tmp_path / "large.parquet"
    pq.write_table(pa.table({"text": pa.array(texts, type=pa.large_string())}), large)
    dic = tmp_path / "dict.parquet"
    pq.write_table(pa.table({"text": pa.array(texts).dictionary_encode()}), dic)
    binary = tmp_path / "binary.parquet"
    pq.write_table(pa.table({"text": pa.array([None if t is None else t.encode() for t in texts],
                                              type=pa.binary())}), binary)
    drift = tmp_path / "drift.parquet"  # other columns, other order, other id type
    pq.write_table(pa.table({"id": list(range(len(texts))), "extra": [1.5] * len(texts), "text": texts}), drift)
    outs = {}
    for f in (plain, large, dic, binary, drift):
        m = scan([f], tiny_index, tmp_path / f"o-{f.stem}")
        _accounted(m)
        outs[f.stem] = pq.read_table(tmp_path / f"o-{f.stem}" / "findings").drop_columns(["source", "doc_id"])
        assert m["totals"]["rows_skipped"] == {"null_text": 1, "no_tokens": 2}
    for k, t in outs.items():
        assert t.equals(outs["plain"]), k
    # several schemas in one scan
    m = scan([plain, large, dic, binary, drift], tiny_index, tmp_path / "all")
    _accounted(m)


def test_invalid_utf8_in_a_binary_column(tmp_path, tiny, tiny_index, human):
    refs = pq.read_table(tiny["reference"]).column("text").to_pylist()
    copied = refs[0][:400]
    raw = [b"\xff\xfe broken \xc3\x28 bytes " + copied.encode() + b" \xed\xa0\x80 lone surrogate", b"\x80" * 50]
    f = tmp_path / "b.parquet"
    pq.write_table(pa.table({"text": pa.array(raw, type=pa.binary())}), f)
    m = scan([f], tiny_index, tmp_path / "out")
    _accounted(m)
    t = pq.read_table(tmp_path / "out" / "findings").to_pylist()
    spans = [r for r in t if r["detector"] == "copied_span"]
    assert spans
    doc = raw[0].decode("utf-8", "surrogateescape")
    for r in spans:  # offsets count each invalid byte as one code point, as surrogateescape does
        assert doc[r["start"]:r["end"]].encode("utf-8", "surrogateescape").decode("utf-8") in copied


@pytest.mark.parametrize("col", [pa.array([["a list"], ["of strings"]]), pa.array([{"x": "struct"}, {"x": "y"}]),
                                 pa.array([1, 2])])
def test_non_text_columns_are_refused(tmp_path, tiny_index, col):
    f = tmp_path / "n.parquet"
    pq.write_table(pa.table({"text": col}), f)
    with pytest.raises(InvalidInput, match=re.escape(str(f)) + r".*(not text|text-column)"):
        scan([f], tiny_index, tmp_path / "out")


def test_duplicated_ids_keep_their_rows(tmp_path, tiny, tiny_index, human):
    refs = pq.read_table(tiny["reference"]).column("text").to_pylist()
    f = _pq(tmp_path / "d.parquet", [refs[1], human[0], refs[1]], id=["same", "same", "same"])
    scan([f], tiny_index, tmp_path / "out")
    t = pq.read_table(tmp_path / "out" / "findings")
    assert set(t.column("row").to_pylist()) == {0, 2} and set(t.column("doc_id").to_pylist()) == {"same"}


# ---- values and pathological text --------------------------------------------------------------------------------

def test_large_and_pathological_documents_are_bounded(tmp_path, tiny, tiny_index, human):
    refs = pq.read_table(tiny["reference"]).column("text").to_pylist()
    big = " ".join(human) * 120  # about 15 MB of real text in one document
    texts = [big, "a" * 10_000_000, (human[3] + " ") * 10_000, refs[2] + " " + "As an AI language model, I " * 50]
    f = _pq(tmp_path / "p.parquet", texts)
    m = scan([f], tiny_index, tmp_path / "out", ScanOptions(batch_rows=1))
    _accounted(m)
    assert m["totals"]["rows_scanned"] == 4
    t = pq.read_table(tmp_path / "out" / "findings")
    rows = set(t.column("row").to_pylist())
    assert 3 in rows  # the real copy is still found next to the noise


def test_a_150_mb_document(tmp_path, tiny, tiny_index, human):
    refs = pq.read_table(tiny["reference"]).column("text").to_pylist()
    filler = " ".join(human)
    reps = 150_000_000 // len(filler) + 2
    doc = filler * (reps // 2) + " " + refs[7] + " As an AI language model, I cannot. " + filler * (reps // 2)
    assert len(doc.encode()) > 150_000_000
    f = _pq(tmp_path / "huge.parquet", [doc, "and a small one"])
    del doc
    m = scan([f], tiny_index, tmp_path / "out", ScanOptions(batch_rows=1))
    _accounted(m)
    t = pq.read_table(tmp_path / "out" / "findings").to_pylist()
    assert {r["detector"] for r in t if r["row"] == 0} == {"copied_span", "self_id"}
    text = pq.read_table(f).column("text")[0].as_py()
    span = max((r for r in t if r["detector"] == "copied_span"), key=lambda r: r["end"] - r["start"])
    assert text[span["start"]:span["end"]].strip() in refs[7]


def test_millions_of_tiny_documents(tmp_path, tiny_index):
    n = 1_000_000
    f = tmp_path / "tiny.parquet"
    pq.write_table(pa.table({"text": pa.array(np.where(np.arange(n) % 3 == 0, "ok", "hi there").tolist())}), f)
    m = scan([f], tiny_index, tmp_path / "out", ScanOptions(detectors=("near_duplicate", "self_id")))
    _accounted(m)
    assert m["totals"]["rows_read"] == n


def test_a_bucket_shared_by_thousands_of_references_is_capped_and_counted(tmp_path, human):
    same = human[5]
    refs = tmp_path / "refs.parquet"
    _pq(refs, [same] * 3000, id=[f"r{i}" for i in range(3000)])
    idx = ReferenceIndex.build([refs], tmp_path / "idx")
    f = _pq(tmp_path / "c.parquet", [same, human[6]])
    m = scan([f], idx, tmp_path / "out", ScanOptions(max_verify=100, max_matches=20))
    st = m["stats"]["near_duplicate"]
    assert st["verify_truncated"] >= 1 and st["matches_truncated"] >= 1
    t = pq.read_table(tmp_path / "out" / "findings")
    nd = t.filter(pa.compute.equal(t["detector"], "near_duplicate"))
    assert nd.num_rows == 20


@pytest.mark.parametrize("text", [
    "Ａｓ ａｎ ＡＩ ｌａｎｇｕａｇｅ ｍｏｄｅｌ， I can’t do that.",   # fullwidth, curly apostrophe
    "As an\u200b AI\u200d lan\u00adguage\u2060 model, I cannot.",       # zero-width and soft hyphen
    "\u202eAs an AI language model, I cannot.\u202c",                    # bidi override
    "كنموذج لغوي، لا أستطيع. As an AI language model, I cannot.",       # RTL script around it
    "作为一个人工智能语言模型，我无法回答。👩‍💻🏳️‍🌈",                     # CJK and emoji sequences
])
def test_unicode_tricks_are_seen_through_with_exact_offsets(tmp_path, tiny_index, text):
    f = _pq(tmp_path / "u.parquet", [text])
    scan([f], tiny_index, tmp_path / "out", ScanOptions(detectors=("self_id",)))
    t = pq.read_table(tmp_path / "out" / "findings").to_pylist()
    assert t, text
    for r in t:
        piece = text[r["start"]:r["end"]]
        assert piece and r["snippet"]
        assert text[r["context_start"]:r["context_end"]].count(piece) >= 1


def test_homoglyphs_are_not_folded():
    """Cyrillic 'а' (U+0430) is another letter, as Unicode says: no silent rewriting of scripts."""
    from scanner.self_id import Catalogue
    m = Catalogue.load().compile()
    res = m.scan(["\u0410s an AI language model, I cannot."])
    assert len(res["rule"]) == 0


# ---- index files -------------------------------------------------------------------------------------------------

def test_index_from_another_version_is_refused(tmp_path, tiny):
    idx = ReferenceIndex.build([tiny["reference"]], tmp_path / "idx")
    man = json.loads((idx.path / "manifest.json").read_text())
    man["format_version"] = 999
    (idx.path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(IndexFormatError, match="version"):
        ReferenceIndex.load(idx.path)


# ---- faults ------------------------------------------------------------------------------------------------------

CLEAN_SCRIPT = """
import sys
from scanner.clean import CleanOptions, clean
clean([sys.argv[1]], sys.argv[2], sys.argv[3], CleanOptions(mode="redact"), force=True, batch_rows=20)
"""


def test_sigkill_during_clean_then_rerun_is_identical(tmp_path, tiny, tiny_index):
    t = pq.read_table(tiny["corpus"])
    corpus = tmp_path / "c.parquet"
    pq.write_table(pa.concat_tables([t] * 8), corpus, row_group_size=40)
    scan([corpus], tiny_index, tmp_path / "out")
    from scanner.clean import CleanOptions, clean
    clean([corpus], tmp_path / "out", tmp_path / "ref", CleanOptions(mode="redact"), batch_rows=20)
    target = tmp_path / "cl"
    for delay in (0.05, 0.3):
        with open(tmp_path / "err", "wb") as err:
            p = subprocess.Popen([sys.executable, "-c", CLEAN_SCRIPT, str(corpus), str(tmp_path / "out"), str(target)],
                                 stdout=subprocess.DEVNULL, stderr=err, cwd=tmp_path)
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        # a killed clean never leaves a file under its final name that differs from a complete run's
        for f in target.rglob("*") if target.exists() else []:
            if f.is_file() and not f.name.startswith(".") and f.name != "clean_manifest.json":
                assert f.read_bytes() == (tmp_path / "ref" / f.relative_to(target)).read_bytes(), f
        clean([corpus], tmp_path / "out", target, CleanOptions(mode="redact"), force=True, batch_rows=20)
        for f in (tmp_path / "ref").rglob("*"):
            if f.is_file():
                assert f.read_bytes() == (target / f.relative_to(tmp_path / "ref")).read_bytes(), f


FULL_DISK_SCRIPT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)          # writes past the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
from scanner.cli import main
sys.argv = ["scanner", "scan", sys.argv[1], "--index", sys.argv[2], "-o", sys.argv[3], "--no-progress",
            "--unit-rows", "50"]
main()
"""


def test_disk_full_is_a_clear_error_and_publishes_nothing_partial(tmp_path, tiny, tiny_index):
    t = pq.read_table(tiny["corpus"])
    corpus = tmp_path / "c.parquet"
    pq.write_table(pa.concat_tables([t] * 4), corpus, row_group_size=50)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-c", FULL_DISK_SCRIPT, str(corpus), str(tiny_index.path), str(out)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 2, r.stderr[-3000:]
    assert r.stderr.startswith("error:") and "Traceback" not in r.stderr
    assert not (out / "manifest.json").exists()
    from scanner.reader import sha256_file
    from scanner.scan import completed, plan_units
    units = plan_units([str(corpus)], [sha256_file(str(corpus))], 50)
    for u in units:  # every completion record that exists is backed by intact shards
        if (out / "_done" / f"{u.name}.json").exists():
            assert completed(out, u) is not None
    # and with room again, the same command finishes the scan
    m = scan([corpus], tiny_index, out, unit_rows=50)
    _accounted(m)
    assert verify(out) == []


# ---- security and determinism ------------------------------------------------------------------------------------

def test_no_pickle_anywhere_we_read():
    """No module of the package reads with pickle: no pickle import, no numpy load that could unpickle."""
    banned = re.compile(r"\bimport (c?pickle|dill|joblib)\b|\bfrom (c?pickle|dill|joblib) import|"
                        r"pickle\.loads?\(|read_pickle|allow_pickle\s*=\s*True|np\.load\(")
    for f in (REPO / "scanner").rglob("*.py"):
        assert not banned.search(f.read_text(encoding="utf-8")), f


def test_shard_paths_cannot_leave_the_output(tmp_path, tiny, tiny_index):
    out = tmp_path / "out"
    scan([tiny["corpus"]], tiny_index, out)
    m = json.loads((out / "manifest.json").read_text())
    m["inputs"][0]["shards"][0]["findings"] = "../../etc/passwd"
    (out / "manifest.json").write_text(json.dumps(m))
    assert any("leaves the output directory" in p for p in verify(out))


HASHSEED_SCRIPT = """
import sys
from scanner.scan import scan
scan(sys.argv[1:-2], sys.argv[-2], sys.argv[-1])
"""


def test_input_order_and_hash_seed_do_not_change_a_byte(tmp_path, tiny, tiny_index, human):
    other = _pq(tmp_path / "h.parquet", human[:100])
    outs = []
    for seed, order in (("0", [tiny["corpus"], other]), ("12345", [other, tiny["corpus"]])):
        out = tmp_path / f"o{seed}"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-c", HASHSEED_SCRIPT, *map(str, order), str(tiny_index.path), str(out)],
                       check=True, env=env, cwd=tmp_path, timeout=300)
        outs.append(out)
    files = sorted(str(p.relative_to(outs[0])) for p in outs[0].rglob("*") if p.is_file())
    for rel in files:
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes(), rel


def test_missing_inputs(tmp_path, tiny_index):
    with pytest.raises(InputNotFound, match="does not exist"):
        scan([tmp_path / "nope.parquet"], tiny_index, tmp_path / "o")
    (tmp_path / "d").mkdir()
    with pytest.raises(InputNotFound, match="holds no .parquet"):
        scan([tmp_path / "d"], tiny_index, tmp_path / "o")


HUGE_PAGE_SCRIPT = """
import sys
from scanner.errors import InvalidInput
from scanner.scan import scan
try:
    scan([sys.argv[1]], sys.argv[2], sys.argv[3])
except InvalidInput as e:
    print("ERROR", e)
print("HWM", open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
"""


def test_tiny_file_declaring_a_huge_page_fails_fast_in_bounded_memory(tmp_path, tiny_index):
    """tests/fixtures/huge_page.parquet: 6.5 kB whose one data page header declares 2 GiB uncompressed
    (made by writing 200 MB of 'a' with zstd and patching the header's varint)."""
    f = REPO / "tests" / "fixtures" / "huge_page.parquet"
    assert f.stat().st_size < 10_000
    r = subprocess.run([sys.executable, "-c", HUGE_PAGE_SCRIPT, str(f), str(tiny_index.path), str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in r.stdout.strip().splitlines())
    assert str(f) in lines["ERROR"] and "damaged" in lines["ERROR"]
    assert int(lines["HWM"]) < 1_000_000  # kB: well below the 2 GiB the header asks for


def test_in_memory_array_layouts_give_the_same_results(human):
    """string, large_string, string_view, dictionary, chunked and sliced arrays into the native detectors."""
    from scanner.self_id import Catalogue
    m = Catalogue.load().compile()
    texts = human[:30] + ["As an AI language model, I cannot do that.", None, ""]
    base = m.scan(pa.array(texts))
    variants = [pa.array(texts, type=pa.large_string()), pa.array(texts).dictionary_encode(),
                pa.chunked_array([pa.array(texts[:10]), pa.array(texts[10:])]),
                pa.array(["x"] * 5 + texts).slice(5)]
    if hasattr(pa, "string_view"):
        variants.append(pa.array(texts, type=pa.string_view()))
    for v in variants:
        got = m.scan(v)
        for k in ("row_offsets", "rule", "start", "end"):
            assert np.array_equal(got[k], base[k]), (v.type, k)
