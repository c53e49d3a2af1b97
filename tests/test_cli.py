"""The command line, run in-process: exit codes, stdout/stderr split, and the README's known answer."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner
from conftest import REPO

from scanner.cli import main


def _run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_index_scan_report_pipeline(tiny, tmp_path):
    r = _run(["index", str(tiny["reference"]), "-o", str(tmp_path / "idx"), "--no-progress"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["references"] == 400 and (info["bands"], info["rows"]) == (26, 3)
    r = _run(["scan", str(tiny["corpus"]), "--index", str(tmp_path / "idx"), "-o", str(tmp_path / "out"),
              "--no-progress"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["rows_read"] == 394 and summary["documents_flagged"]["near_duplicate"] == 42
    r = _run(["report", str(tmp_path / "out")])
    assert r.exit_code == 0
    # The README quotes one line of this report as the known answer of the bundled example.
    readme = (REPO / "README.md").read_text()
    quoted = re.search(r"<!-- known-answer -->\n```\n(.*?)\n```", readme, re.S).group(1)
    for line in quoted.splitlines():
        assert line in r.stdout.splitlines()
    r = _run(["report", str(tmp_path / "out"), "--json"])  # no value: stdout
    s = json.loads(r.stdout)
    assert s["detectors"]["near_duplicate"]["documents_flagged"] == 42
    assert s["rows_read"] == s["rows_scanned"] + sum(s["rows_skipped"].values())


def test_span_options_and_control(tiny, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    assert _run(["index", str(tiny["reference"]), "-o", str(tmp_path / "idx"), "--no-progress",
                 "--span-window", "40"]).exit_code == 0
    r = _run(["scan", str(tiny["corpus"]), "--index", str(tmp_path / "idx"), "-o", str(tmp_path / "o"),
              "--no-progress", "--min-span", "30"])
    assert r.exit_code == 2 and "--min-span 30 is below the index's span window of 40" in r.stderr
    # A control set holding one copied passage turns that span into a common phrase.
    key = pq.read_table(tiny["answer_key"]).to_pylist()
    k = next(k for k in key if k["kind"] == "copied_span")
    pq.write_table(pa.table({"text": ["Background text. " + k["passage"] + " More."]}), tmp_path / "human.parquet")
    assert _run(["index", str(tmp_path / "human.parquet"), "-o", str(tmp_path / "ctl"), "--no-progress"]).exit_code == 0
    r = _run(["scan", str(tiny["corpus"]), "--index", str(tmp_path / "idx"), "-o", str(tmp_path / "o"),
              "--no-progress", "--detectors", "copied_span", "--min-span", "60", "--control", str(tmp_path / "ctl")])
    assert r.exit_code == 0, r.output
    t = pq.read_table(tmp_path / "o" / "findings").to_pylist()
    assert {f["detector"] for f in t} == {"copied_span"} and all(f["score"] >= 60 for f in t)
    assert [f["doc_id"] for f in t if f["common_phrase"]] == [k["id"]]
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert m["control"]["n_refs"] == 1 and m["options"]["min_span"] == 60


def test_errors_exit_2_with_a_message_on_stderr(tiny, tmp_path):
    r = _run(["scan", str(tmp_path / "nope.parquet"), "--index", str(tmp_path / "idx"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "error:" in r.stderr and "does not exist" in r.stderr and r.stdout == ""
    r = _run(["scan", str(tiny["corpus"]), "--index", str(tmp_path), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "not a scanner index" in r.stderr
    r = _run(["index", str(tiny["reference"]), "-o", str(tmp_path / "i"), "--threshold", "1.5"])
    assert r.exit_code == 2 and "threshold" in r.stderr
    r = _run(["report", str(tmp_path)])
    assert r.exit_code == 2 and "manifest.json" in r.stderr


def test_python_dash_m_is_the_same_program():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "scanner", "--version"], capture_output=True, text=True,
                         cwd="/", check=True)
    assert out.stdout.startswith("scanner, version")
