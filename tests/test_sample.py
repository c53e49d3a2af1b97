"""scan --sample: a reproducible sample (seed and file content decide it, not paths or order), rows left
out are accounted as skipped, and the report's intervals cover the full-scan value."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scanner.errors import InvalidInput
from scanner.report import summarize
from scanner.sample import probabilities, row_uniforms
from scanner.scan import ScanOptions, scan
from scanner.verify import verify


@pytest.fixture(scope="module")
def big(tmp_path_factory, tiny, tiny_index):
    """The bundled corpus 12 times over in row groups of 150 rows, and its full scan."""
    d = tmp_path_factory.mktemp("sample")
    t = pq.read_table(tiny["corpus"])
    big = pa.concat_tables([t] * 12)
    pq.write_table(big, d / "big.parquet", row_group_size=150)
    full = scan([d / "big.parquet"], tiny_index, d / "full")
    return d, full


def test_uniforms_are_uniform_and_fixed():
    u = row_uniforms(12345, np.arange(200_000))
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    assert np.array_equal(u, row_uniforms(12345, np.arange(200_000)))
    assert probabilities(0.01, 100) == pytest.approx((0.1, 0.1))
    assert probabilities(0.01, 3) == (1.0, 0.01)


def test_sample_is_reproducible_and_accounted(big, tiny_index, tmp_path):
    d, full = big
    opts = ScanOptions(sample=0.2, seed=7)
    a = scan([d / "big.parquet"], tiny_index, tmp_path / "a", opts)
    # the same file elsewhere: the same rows (the sample follows the content, not the path)
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(d / "big.parquet", other / "big.parquet")
    b = scan([other / "big.parquet"], tiny_index, tmp_path / "b", opts)
    assert b["inputs"][0]["rows_scanned"] == a["inputs"][0]["rows_scanned"]
    ta, tb = pq.read_table(tmp_path / "a" / "findings"), pq.read_table(tmp_path / "b" / "findings")
    assert ta.drop(["source"]).equals(tb.drop(["source"]))
    rec = a["inputs"][0]
    assert rec["rows_read"] == full["inputs"][0]["rows_read"] == 394 * 12
    assert rec["rows_read"] == rec["rows_scanned"] + sum(rec["rows_skipped"].values())
    assert rec["rows_skipped"]["not_sampled"] > 0
    (shard,) = rec["shards"]
    design = shard["sample"]
    assert shard["row_groups"] == [0, 32] and 0 < design["row_groups_sampled"] < 32  # whole groups left unread
    sampled = rec["rows_read"] - rec["rows_skipped"]["not_sampled"]
    assert 0.1 * rec["rows_read"] < sampled < 0.3 * rec["rows_read"]
    c = scan([d / "big.parquet"], tiny_index, tmp_path / "c", ScanOptions(sample=0.2, seed=8))
    assert c["inputs"][0]["rows_scanned"] != rec["rows_scanned"] or \
        not pq.read_table(tmp_path / "c" / "findings").equals(ta)
    assert verify(tmp_path / "a") == []
    (tmp_path / "a" / "units" / "part-00000-00000.parquet").write_bytes(b"damaged")
    assert any("units" in p for p in verify(tmp_path / "a"))


def test_intervals_cover_the_full_scan(big, tiny_index, tmp_path):
    d, full = big
    truth = summarize(d / "full")
    dets = ("near_duplicate", "copied_span", "self_id", "any")
    covered = {det: 0 for det in dets + ("copied_share",)}
    runs = 12
    for seed in range(runs):
        scan([d / "big.parquet"], tiny_index, tmp_path / f"s{seed}", ScanOptions(sample=0.25, seed=seed))
        s = summarize(tmp_path / f"s{seed}")
        assert s["sample"]["fraction"] == 0.25
        for det in dets:
            lo, hi = s["detectors"][det]["rate_ci95"]
            covered[det] += lo <= truth["detectors"][det]["rate"] <= hi
            est = s["detectors"][det]["corpus_estimate"]
            assert est[0] <= est[1] <= est[2]
        lo, hi = s["copied_span"]["copied_share_ci95"]
        covered["copied_share"] += lo <= truth["copied_span"]["copied_share"] <= hi
    # nominal 95%: with 12 runs, fewer than 9 covered would be very unlikely for a correct interval
    assert all(v >= 9 for v in covered.values()), covered


def test_sample_fraction_is_checked(tmp_path):
    for bad in (0, 1.5, -0.1, "half"):
        with pytest.raises(InvalidInput, match="fraction"):
            ScanOptions(sample=bad)


def test_cli_sample_and_report(big, tiny_index, tmp_path):
    from click.testing import CliRunner

    from scanner.cli import main
    d, _ = big
    r = CliRunner().invoke(main, ["scan", str(d / "big.parquet"), "--index", str(tiny_index.path), "-o",
                                  str(tmp_path / "o"), "--sample", "0.1", "--seed", "3", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows_skipped"]["not_sampled"] > 0
    r = CliRunner().invoke(main, ["report", str(tmp_path / "o")])
    assert "sample: 0.1 of the rows (seed 3" in r.stdout and "corpus: ~" in r.stdout
