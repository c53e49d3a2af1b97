"""Units, exactly-once shards and resume: a scan cut into units gives the same findings as one unit; a scan
killed with SIGKILL at several points and run again gives byte-identical output to an uninterrupted run; a
damaged or partial shard is redone; the same unit run twice at once publishes one copy; Dask workers give
the same bytes as one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scanner.scan import ScanContext, ScanOptions, completed, plan_units, scan, scan_unit

UNIT_ROWS = 100


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny):
    d = tmp_path_factory.mktemp("resume")
    t = pq.read_table(tiny["corpus"])
    pq.write_table(pa.concat_tables([t] * 6), d / "big.parquet", row_group_size=50)
    pq.write_table(t, d / "small.parquet", row_group_size=400)
    return d


@pytest.fixture(scope="module")
def reference(corpus, tiny_index):
    """The uninterrupted single-process scan the other runs must reproduce byte for byte."""
    out = corpus / "reference-out"
    scan([corpus / "big.parquet", corpus / "small.parquet"], tiny_index, out, unit_rows=UNIT_ROWS)
    return out


def _tree(out: Path) -> dict:
    """Bytes of every published file of a scan output (the run state in _done is compared separately)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.parts[-2] != "_done" and not p.name.startswith(".")}


def test_units_follow_row_groups(corpus, reference):
    m = json.loads((reference / "manifest.json").read_text())
    big = m["inputs"][0]
    assert len(big["shards"]) == 24 and [s["row_groups"] for s in big["shards"][:2]] == [[0, 2], [2, 4]]
    assert len(m["inputs"][1]["shards"]) == 1
    units = plan_units([str(corpus / "big.parquet")], ["x"], 120)
    assert all(u.rows == 100 for u in units[:-1])  # whole row groups, not more than unit_rows (but at least one)


def test_one_unit_or_many_give_the_same_findings(corpus, reference, tiny_index, tmp_path):
    scan([corpus / "big.parquet", corpus / "small.parquet"], tiny_index, tmp_path / "one", unit_rows=10**9)
    a = pq.read_table(reference / "findings")
    b = pq.read_table(tmp_path / "one" / "findings")
    assert a.equals(b)
    ma = json.loads((reference / "manifest.json").read_text())
    mb = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert ma["totals"] == mb["totals"]


KILL_SCRIPT = """
import sys
from scanner.scan import scan
scan(sys.argv[1:3], sys.argv[3], sys.argv[4], unit_rows=int(sys.argv[5]))
"""


@pytest.mark.parametrize("kill_after", [1, 9, 20])
def test_sigkill_then_rerun_is_byte_identical(corpus, reference, tiny_index, tmp_path, kill_after):
    out = tmp_path / "out"
    args = [sys.executable, "-c", KILL_SCRIPT, str(corpus / "big.parquet"), str(corpus / "small.parquet"),
            str(tiny_index.path), str(out), str(UNIT_ROWS)]
    err = tmp_path / "stderr.txt"
    done = out / "_done"
    with open(err, "wb") as errf:
        # run outside the source tree, so the installed package (with its native core) is imported
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=errf, cwd=tmp_path)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if done.is_dir() and len(list(done.glob("*.json"))) >= kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(timeout=60)
    killed = proc.returncode == -signal.SIGKILL
    assert killed or proc.returncode == 0, err.read_text()
    if killed:
        assert not (out / "manifest.json").exists()
        before = {p.name: p.stat().st_mtime_ns for p in done.glob("*.json")}
    scan([corpus / "big.parquet", corpus / "small.parquet"], tiny_index, out, unit_rows=UNIT_ROWS)
    assert _tree(out) == _tree(reference)
    if killed:
        after = {p.name: p.stat().st_mtime_ns for p in done.glob("*.json")}
        assert all(after[k] == v for k, v in before.items())  # completed units were kept, not redone
    assert not list(out.rglob(".*.tmp-*"))


def test_damaged_or_partial_shards_are_redone(corpus, reference, tiny_index, tmp_path):
    out = tmp_path / "out"
    scan([corpus / "big.parquet", corpus / "small.parquet"], tiny_index, out, unit_rows=UNIT_ROWS)
    (out / "findings" / "part-00000-00003.parquet").write_bytes(b"PAR1 truncated")
    (out / "documents" / "part-00000-00005.parquet").unlink()
    (out / "_done" / "00000-00007.json").write_text("{not json")
    (out / "manifest.json").unlink()
    (out / "findings" / ".part-00000-00009.parquet.tmp-1-abc").write_bytes(b"half")  # a killed writer's leftover
    from scanner.verify import verify
    scan([corpus / "big.parquet", corpus / "small.parquet"], tiny_index, out, unit_rows=UNIT_ROWS)
    assert _tree(out) == _tree(reference)
    assert verify(out) == []


def test_same_unit_twice_at_once_publishes_one_copy(corpus, tiny_index, tmp_path):
    out = tmp_path / "dup"
    for d in ("findings", "documents", "skipped", "units", "_done"):
        (out / d).mkdir(parents=True)
    ctx = ScanContext(tiny_index, ScanOptions())
    unit = plan_units([str(corpus / "big.parquet")], ["digest"], UNIT_ROWS)[2]
    results = []
    threads = [threading.Thread(target=lambda: results.append(scan_unit(ctx, unit, out))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == results[1] and completed(out, unit) == results[0]
    assert sorted(p.name for p in (out / "findings").iterdir()) == ["part-00000-00002.parquet"]


def test_dask_workers_give_the_same_bytes(corpus, reference, tiny_index, tmp_path):
    pytest.importorskip("distributed")
    from scanner.distributed import connect, dask_executor
    client, close = connect(workers=2)
    try:
        opts = ScanOptions()
        scan([corpus / "big.parquet", corpus / "small.parquet"], tiny_index, tmp_path / "dask", opts,
             executor=dask_executor(client, str(tiny_index.path), opts), unit_rows=UNIT_ROWS)
    finally:
        close()
    assert _tree(tmp_path / "dask") == _tree(reference)


def test_dask_worker_killed_mid_scan(corpus, reference, tiny_index, tmp_path):
    pytest.importorskip("distributed")
    from scanner.distributed import connect, dask_executor
    client, close = connect(workers=2)
    out = tmp_path / "dask-kill"
    try:
        pids = list(client.run(os.getpid).values())
        opts = ScanOptions()
        result = {}

        def run():
            result["m"] = scan([corpus / "big.parquet", corpus / "small.parquet"], tiny_index, out, opts,
                               executor=dask_executor(client, str(tiny_index.path), opts), unit_rows=UNIT_ROWS)
        t = threading.Thread(target=run)
        t.start()
        deadline = time.time() + 60
        while time.time() < deadline and (not (out / "_done").is_dir() or len(list((out / "_done").glob("*"))) < 3):
            time.sleep(0.005)
        os.kill(pids[0], signal.SIGKILL)
        t.join(timeout=300)
        assert "m" in result
    finally:
        close()
    assert _tree(out) == _tree(reference)
