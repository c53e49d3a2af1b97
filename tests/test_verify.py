"""`scanner verify`: a clean scan passes; each kind of later change is named."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.errors import InputNotFound
from scanner.scan import scan
from scanner.verify import verify


@pytest.fixture()
def run(tiny, tiny_index, tmp_path):
    corpus = tmp_path / "corpus.parquet"
    shutil.copy(tiny["corpus"], corpus)
    out = tmp_path / "out"
    scan([str(corpus)], tiny_index, out)
    return corpus, out


def test_clean_scan_verifies(run):
    _, out = run
    assert verify(out) == []
    r = CliRunner().invoke(main, ["verify", str(out)])
    assert r.exit_code == 0 and json.loads(r.stdout) == {"ok": True, "problems": []}


def test_changed_input_missing_shard_and_stray_shard_are_named(run):
    corpus, out = run
    with open(corpus, "ab") as f:
        f.write(b"x")
    (out / "documents" / "part-00000-00000.parquet").unlink()
    shutil.copy(out / "findings" / "part-00000-00000.parquet", out / "findings" / "part-00009-00000.parquet")
    problems = verify(out)
    assert any("corpus.parquet" in p and "bytes" in p for p in problems)
    assert any("documents/part-00000-00000.parquet: missing shard" in p for p in problems)
    assert any("part-00009-00000.parquet" in p and "does not list" in p for p in problems)
    r = CliRunner().invoke(main, ["verify", str(out)])
    assert r.exit_code == 1 and json.loads(r.stdout)["ok"] is False


def test_tampered_findings_and_broken_accounting(run):
    _, out = run
    p = out / "findings" / "part-00000-00000.parquet"
    data = bytearray(p.read_bytes())
    data[100] ^= 0xFF
    p.write_bytes(bytes(data))
    m = json.loads((out / "manifest.json").read_text())
    m["inputs"][0]["rows_scanned"] -= 1
    (out / "manifest.json").write_text(json.dumps(m))
    problems = verify(out)
    assert any("findings/part-00000-00000.parquet: SHA-256 differs" in p for p in problems)
    assert any("rows read but" in p for p in problems)


def test_changed_index_is_named(tiny, tmp_path):
    from scanner.index import ReferenceIndex
    idx = ReferenceIndex.build([tiny["reference"]], tmp_path / "idx")
    scan([str(tiny["corpus"])], idx, tmp_path / "out")
    arr = tmp_path / "idx" / "span_filter.bin"
    data = bytearray(arr.read_bytes())
    data[0] ^= 1
    arr.write_bytes(bytes(data))
    assert any("span_filter.bin" in p and "SHA-256" in p for p in verify(tmp_path / "out"))
    with pytest.raises(InputNotFound):
        verify(tmp_path)
