"""Report numbers: skipped rows listed with their reason, breakdowns per directory and per corpus column
(--group-by), counted against a direct computation from the findings and the corpus."""

from __future__ import annotations

import collections

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scanner.errors import InvalidInput
from scanner.report import render_text, summarize
from scanner.scan import ScanOptions, scan


@pytest.fixture(scope="module")
def two_dirs(tmp_path_factory, tiny, tiny_index):
    d = tmp_path_factory.mktemp("report")
    t = pq.read_table(tiny["corpus"])
    t = t.append_column("lang", pa.array([None if i % 7 == 0 else ("en" if i % 3 else "fr")
                                          for i in range(t.num_rows)]))
    (d / "a").mkdir()
    (d / "b").mkdir()
    pq.write_table(t.slice(0, 200), d / "a" / "x.parquet")
    pq.write_table(t.slice(200), d / "b" / "y.parquet")
    scan([d / "a", d / "b"], tiny_index, d / "out")
    return d, t


def test_skipped_rows_are_listed(two_dirs):
    d, t = two_dirs
    sk = pq.read_table(d / "out" / "skipped").to_pylist()
    texts = t.column("text").to_pylist()
    assert {(r["reason"]) for r in sk} == {"null_text", "no_tokens"}
    for r in sk:
        offset = 0 if r["source"].endswith("x.parquet") else 200
        txt = texts[r["row"] + offset]
        assert txt is None if r["reason"] == "null_text" else not any(c.isalnum() for c in txt)
    s = summarize(d / "out")
    assert len(sk) == sum(s["rows_skipped"].values())


def test_group_by_and_directories(two_dirs):
    d, t = two_dirs
    s = summarize(d / "out", group_by="lang")
    findings = pq.read_table(d / "out" / "findings").to_pylist()
    skipped = {(r["source"], r["row"]) for r in pq.read_table(d / "out" / "skipped").to_pylist()}
    langs = t.column("lang").to_pylist()

    def key(src, row):
        return langs[row + (0 if src.endswith("x.parquet") else 200)] or "(null)"
    scanned = collections.Counter(key(src, r) for src, n in ((str(d / "a" / "x.parquet"), 200),
                                                            (str(d / "b" / "y.parquet"), t.num_rows - 200))
                                  for r in range(n) if (src, r) not in skipped)
    flagged = collections.Counter(key(src, r) for src, r in {(f["source"], f["row"]) for f in findings})
    got = {g["value"]: g for g in s["group_by"]["groups"]}
    assert set(got) == {"en", "fr", "(null)"}
    for v, g in got.items():
        assert g["rows_scanned"] == scanned[v] and g["documents_flagged"]["any"] == flagged[v]
        lo, hi = g["rate_ci95"]
        assert lo <= g["rate"] <= hi
    assert sum(g["rows_scanned"] for g in got.values()) == s["rows_scanned"]
    dirs = {x["directory"].rsplit("/", 1)[-1]: x for x in s["per_directory"]}
    assert set(dirs) == {"a", "b"} and sum(x["documents_flagged"] for x in dirs.values()) == \
        s["detectors"]["any"]["documents_flagged"]
    text = render_text(s)
    assert "by lang:" in text and "per directory:" in text
    with pytest.raises(InvalidInput, match="no column 'colour'"):
        summarize(d / "out", group_by="colour")


def test_group_by_on_a_sample_counts_sampled_rows(two_dirs, tiny_index, tmp_path):
    d, _ = two_dirs
    scan([d / "a", d / "b"], tiny_index, tmp_path / "s", ScanOptions(sample=0.5, seed=1))
    s = summarize(tmp_path / "s", group_by="lang")
    assert sum(g["rows_scanned"] for g in s["group_by"]["groups"]) == s["rows_scanned"]
    assert sum(g["documents_flagged"].get("any", 0) for g in s["group_by"]["groups"]) == \
        s["detectors"]["any"]["documents_flagged"]
