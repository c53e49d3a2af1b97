"""scanner clean: drop and redact on the bundled example; nothing is lost (rows in == rows out + quarantined,
and every redacted piece can be put back); schema, column order and row-group size are kept; findings of
other files are refused."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from scanner.clean import CleanOptions, clean
from scanner.errors import InvalidInput, OutputConflict
from scanner.scan import scan


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, tiny, tiny_index):
    d = tmp_path_factory.mktemp("clean")
    corpus = d / "corpus.parquet"
    # several row groups of 50 rows, an extra column, to check that both survive
    t = pq.read_table(tiny["corpus"])
    t = t.append_column("n", pa.array(range(t.num_rows), type=pa.int32()))
    pq.write_table(t, corpus, row_group_size=50)
    scan([corpus], tiny_index, d / "out")
    return corpus, d / "out", t


def test_drop_keeps_exactly_the_unflagged_rows(tmp_path, scanned, tiny):
    corpus, out, original = scanned
    m = clean([corpus], out, tmp_path / "c")
    findings = pq.read_table(out / "findings")
    flagged = set(findings.column("row").to_pylist())
    kept = pq.read_table(tmp_path / "c" / "corpus.parquet")
    q = pq.read_table(tmp_path / "c" / "quarantine" / "rows" / "corpus.parquet")
    assert kept.schema == original.schema  # same columns, same order, same types
    assert kept.num_rows + q.num_rows == original.num_rows == m["totals"]["rows_in"]
    assert m["totals"]["rows_out"] == kept.num_rows and m["totals"]["rows_quarantined"] == q.num_rows
    assert kept.to_pylist() == [r for i, r in enumerate(original.to_pylist()) if i not in flagged]
    assert sorted(q.column("_scanner_row").to_pylist()) == sorted(flagged)
    for r in q.to_pylist():
        assert {k: r[k] for k in original.column_names} == original.slice(r["_scanner_row"], 1).to_pylist()[0]
        assert r["_scanner_detectors"] and r["_scanner_findings"] >= 1
    # every human paragraph survives: the dropped rows are all planted ones
    planted = {k["id"] for k in pq.read_table(tiny["answer_key"]).to_pylist()}
    assert set(q.column("id").to_pylist()) <= planted
    md = pq.ParquetFile(tmp_path / "c" / "corpus.parquet").metadata
    sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    assert all(s == 50 for s in sizes[:-1]) and 0 < sizes[-1] <= 50


def test_redact_can_be_undone_from_quarantine(tmp_path, scanned):
    corpus, out, original = scanned
    m = clean([corpus], out, tmp_path / "r", CleanOptions(mode="redact"))
    kept = pq.read_table(tmp_path / "r" / "corpus.parquet")
    rows_q = pq.read_table(tmp_path / "r" / "quarantine" / "rows" / "corpus.parquet")
    spans = pq.read_table(tmp_path / "r" / "quarantine" / "spans" / "corpus.parquet").to_pylist()
    assert kept.num_rows + rows_q.num_rows == original.num_rows
    assert set(rows_q.column("_scanner_detectors").to_pylist()) <= {"near_duplicate", "copied_span,near_duplicate",
                                                                     "copied_span,near_duplicate,self_id",
                                                                     "near_duplicate,self_id"}
    orig = {r["n"]: r["text"] for r in original.to_pylist()}
    by_row: dict[int, list] = {}
    for s in spans:
        assert orig[s["row"]][s["start"]:s["end"]] == s["text"]
        by_row.setdefault(s["row"], []).append(s)
    assert m["totals"]["spans_removed"] == len(spans) > 20 and m["totals"]["rows_redacted"] == len(by_row)
    redacted = 0
    for r in kept.to_pylist():
        if r["n"] not in by_row:
            assert r["text"] == orig[r["n"]]
            continue
        redacted += 1
        # put the pieces back, last first: the original text again
        text = r["text"]
        pieces = sorted(by_row[r["n"]], key=lambda s: s["start"])
        shift = 0
        rebuilt = []
        pos = 0
        for s in pieces:
            a = s["start"] - shift
            rebuilt.append(text[pos:a])
            rebuilt.append(s["text"])
            pos = a
            shift += s["end"] - s["start"]
        rebuilt.append(text[pos:])
        assert "".join(rebuilt) == orig[r["n"]]
        assert "As an AI language model, I" not in r["text"]
    assert redacted == len(by_row)


def test_replacement_and_detector_choice(tmp_path, scanned):
    corpus, out, original = scanned
    clean([corpus], out, tmp_path / "s", CleanOptions(mode="redact", detectors=("self_id",), replacement="[SELF]"))
    kept = pq.read_table(tmp_path / "s" / "corpus.parquet")
    assert kept.num_rows == original.num_rows  # no near-duplicate drops when only self_id is chosen
    n = sum("[SELF]" in t for t in kept.column("text").to_pylist() if t)
    sid = pq.read_table(out / "findings").filter(pa.compute.equal(pq.read_table(out / "findings")["detector"],
                                                                  "self_id"))
    assert n == len(set(sid.column("row").to_pylist())) > 0


def test_clean_is_deterministic(tmp_path, scanned):
    corpus, out, _ = scanned
    clean([corpus], out, tmp_path / "a", CleanOptions(mode="redact"))
    clean([corpus], out, tmp_path / "b", CleanOptions(mode="redact"))
    for rel in ("corpus.parquet", "quarantine/rows/corpus.parquet", "quarantine/spans/corpus.parquet"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    with pytest.raises(OutputConflict):
        clean([corpus], out, tmp_path / "a")
    clean([corpus], out, tmp_path / "a", force=True)


def test_refuses_findings_of_other_files(tmp_path, scanned):
    corpus, out, original = scanned
    changed = tmp_path / "corpus.parquet"
    shutil.copy(corpus, changed)
    with pytest.raises(InvalidInput, match="not an input of the scan"):
        clean([changed], out, tmp_path / "x")
    # same path, other content
    work = tmp_path / "w"
    work.mkdir()
    shutil.copy(corpus, work / "corpus.parquet")
    scan([work / "corpus.parquet"], _index_of(out), work / "out")
    pq.write_table(original.slice(1), work / "corpus.parquet")
    with pytest.raises(InvalidInput, match="SHA-256"):
        clean([work / "corpus.parquet"], work / "out", tmp_path / "y")


def _index_of(out):
    return json.loads((out / "manifest.json").read_text())["index"]["path"]


def test_cli_clean(tmp_path, scanned):
    from scanner.cli import main
    corpus, out, original = scanned
    r = CliRunner().invoke(main, ["clean", str(corpus), "--findings", str(out), "-o", str(tmp_path / "c"),
                                  "--mode", "drop", "--detectors", "near_duplicate"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["rows_in"] == s["rows_out"] + s["rows_quarantined"] and s["rows_quarantined"] == 42
    r = CliRunner().invoke(main, ["clean", str(corpus), "--findings", str(out), "-o", str(tmp_path / "d"),
                                  "--detectors", "telepathy"])
    assert r.exit_code == 2 and "choose from" in r.output


def test_jsonl_corpus(tmp_path, tiny, tiny_index):
    rows = pq.read_table(tiny["corpus"]).slice(0, 120).to_pylist()
    lines = [json.dumps({"id": r["id"], "text": r["text"], "extra": [1, 2]}, ensure_ascii=False) for r in rows]
    lines.insert(5, "")  # a blank line is no row and stays
    src = tmp_path / "corpus.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    scan([src], tiny_index, tmp_path / "out")
    flagged = set(pq.read_table(tmp_path / "out" / "findings").column("row").to_pylist())
    assert flagged
    m = clean([src], tmp_path / "out", tmp_path / "d")
    out_lines = (tmp_path / "d" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    kept = [ln for ln in out_lines if ln]
    assert kept == [json.dumps({"id": r["id"], "text": r["text"], "extra": [1, 2]}, ensure_ascii=False)
                    for i, r in enumerate(rows) if i not in flagged]
    q = pq.read_table(tmp_path / "d" / "quarantine" / "rows" / "corpus.jsonl.parquet").to_pylist()
    assert sorted(x["_scanner_row"] for x in q) == sorted(flagged)
    assert all(json.loads(x["line"])["id"] == rows[x["_scanner_row"]]["id"] for x in q)
    assert m["totals"]["rows_in"] == 120 == m["totals"]["rows_out"] + m["totals"]["rows_quarantined"]
    m = clean([src], tmp_path / "out", tmp_path / "r", CleanOptions(mode="redact", detectors=("copied_span",)))
    red = [json.loads(ln) for ln in (tmp_path / "r" / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if ln]
    spans = pq.read_table(tmp_path / "r" / "quarantine" / "spans" / "corpus.jsonl.parquet").to_pylist()
    assert len(red) == 120 and m["totals"]["spans_removed"] == len(spans) > 0
    for s in spans:
        assert rows[s["row"]]["text"][s["start"]:s["end"]] == s["text"]
        assert s["text"] not in red[s["row"]]["text"]
        assert red[s["row"]]["extra"] == [1, 2]
