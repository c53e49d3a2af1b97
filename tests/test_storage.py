"""Corpus, index and output at fsspec URLs (here the in-memory file system): the same findings as on a
local disk, and report, verify, resume and clean work on them."""

from __future__ import annotations

import uuid

import fsspec
import pyarrow.parquet as pq
import pytest

from scanner.clean import CleanOptions, clean
from scanner.index import ReferenceIndex
from scanner.report import summarize
from scanner.scan import scan
from scanner.storage import Store
from scanner.verify import verify


@pytest.fixture
def mem(monkeypatch, tmp_path):
    monkeypatch.setenv("SCANNER_CACHE", str(tmp_path / "cache"))
    root = f"memory://scanner-test-{uuid.uuid4().hex[:8]}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root.split("://", 1)[1]):
        fs.rm(root.split("://", 1)[1], recursive=True)


def _put(local, url):
    with fsspec.open(url, "wb") as f:
        f.write(local.read_bytes())


def test_scan_at_urls_equals_the_local_scan(mem, tiny, tiny_index, tmp_path):
    _put(tiny["corpus"], f"{mem}/corpus/part-0.parquet")
    _put(tiny["reference"], f"{mem}/refs/reference.parquet")
    idx = ReferenceIndex.build([f"{mem}/refs"], f"{mem}/index")
    assert idx.location == f"{mem}/index" and idx.n_refs == tiny_index.n_refs
    assert fsspec.filesystem("memory").isfile(f"{mem.split('://')[1]}/index/manifest.json")
    m = scan([f"{mem}/corpus"], f"{mem}/index", f"{mem}/out")
    local = scan([tiny["corpus"]], tiny_index, tmp_path / "local")
    assert m["totals"] == local["totals"]
    out = Store(f"{mem}/out")
    a = out.read_table("findings").drop_columns(["source", "ref_source"])
    b = pq.read_table(tmp_path / "local" / "findings").drop_columns(["source", "ref_source"])
    assert a.equals(b)
    # inputs found by expanding a URL directory are named in fsspec's canonical form (memory:///...)
    assert m["inputs"][0]["path"].replace(":///", "://") == f"{mem}/corpus/part-0.parquet"
    assert m["index"]["path"] == f"{mem}/index"
    s = summarize(f"{mem}/out")
    assert s["detectors"]["near_duplicate"]["documents_flagged"] == 42
    assert verify(f"{mem}/out") == []
    # resume: a lost shard is redone, the rest kept
    out.remove("findings/part-00000-00000.parquet")
    assert any("missing shard" in p for p in verify(f"{mem}/out"))
    scan([f"{mem}/corpus"], f"{mem}/index", f"{mem}/out")
    assert verify(f"{mem}/out") == []
    assert out.read_table("findings").drop_columns(["source", "ref_source"]).equals(b)
    # a changed remote input is noticed
    data = fsspec.open(f"{mem}/corpus/part-0.parquet", "rb").open().read()
    with fsspec.open(f"{mem}/corpus/part-0.parquet", "wb") as f:
        f.write(data + b"x")
    assert any("bytes" in p for p in verify(f"{mem}/out"))


def test_clean_and_html_at_urls(mem, tiny, tiny_index):
    _put(tiny["corpus"], f"{mem}/corpus.parquet")
    scan([f"{mem}/corpus.parquet"], tiny_index, f"{mem}/out")
    m = clean([f"{mem}/corpus.parquet"], f"{mem}/out", f"{mem}/clean", CleanOptions(mode="drop"))
    assert m["totals"]["rows_in"] == 394 == m["totals"]["rows_out"] + m["totals"]["rows_quarantined"]
    kept = Store(f"{mem}/clean").read_table("corpus.parquet")
    assert kept.num_rows == m["totals"]["rows_out"]
    from scanner.html_report import render_html
    page = render_html(f"{mem}/out")
    assert "Longest copied spans" in page and "<mark>" in page
