"""The HTML report: self-contained, every piece of corpus and reference text escaped (hostile markup in the
corpus renders as text, checked with Python's HTML parser and, where Debian's chromium is installed, in a
real headless browser), deterministic, with the methodology and the reproduce command from the manifest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import shared_texts

from scanner.html_report import render_html
from scanner.index import ReferenceIndex
from scanner.scan import scan

PAYLOADS = ['<script>alert("x")</script>', '<img src=x onerror=alert(1)>', '"><svg onload=alert(2)>',
            "</textarea><iframe src=//evil.example>"]


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def hostile_scan(tmp_path_factory):
    d = tmp_path_factory.mktemp("html")
    refs = shared_texts("reference/openai_alpacaeval.parquet", 40, min_words=60)
    refs[0] = refs[0] + " " + PAYLOADS[0] + " and the reference goes on for a while longer here."
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(refs))], "text": refs}), d / "refs.parquet")
    human = shared_texts("human/brown.parquet", 30, min_words=30)
    docs = list(human)
    docs.append(human[0] + " " + PAYLOADS[1] + " " + refs[0])                                   # copied span
    docs.append(PAYLOADS[2] + " As an AI language model, I cannot " + PAYLOADS[3] + " do that.")  # self_id
    docs.append(refs[1])                                                                       # near-duplicate
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(len(docs))], "text": docs}), d / "corpus.parquet")
    idx = ReferenceIndex.build([d / "refs.parquet"], d / "index")
    scan([d / "corpus.parquet"], idx, d / "out")
    return d


def test_report_escapes_everything(hostile_scan):
    page = render_html(hostile_scan / "out")
    p = _Collect()
    p.feed(page)
    allowed = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "b", "i", "code", "table",
               "tr", "th", "td", "div", "mark", "svg", "rect", "text", "pre", "ul", "li"}
    assert set(p.tags) <= allowed, set(p.tags) - allowed
    assert not [a for a in p.attrs if a[1].startswith("on") or (a[2] or "").startswith("javascript")]
    text = "".join(p.text)
    for payload in PAYLOADS:
        assert payload in text  # shown as text, not parsed as markup
    for needle in ("Documents flagged", "Copied characters", "Near-duplicate similarity", "Self-identification",
                   "Longest copied spans", "Methodology", "Reproduce", "SHA-256"):
        assert needle in text, needle
    assert "<mark>" in page
    assert render_html(hostile_scan / "out") == page  # deterministic


def test_reproduce_command_repeats_the_scan(hostile_scan, tmp_path):
    import shlex

    from scanner.cli import main
    page = render_html(hostile_scan / "out")
    p = _Collect()
    p.feed(page)
    text = "".join(p.text)
    cmd = next(line for line in text.splitlines() if line.startswith("scanner scan "))
    args = shlex.split(cmd)[1:]
    args[args.index("OUT_DIR")] = str(tmp_path / "again")
    r = CliRunner().invoke(main, args + ["--no-progress"])
    assert r.exit_code == 0, r.output
    a = pq.read_table(hostile_scan / "out" / "findings")
    b = pq.read_table(tmp_path / "again" / "findings")
    assert a.equals(b)


def test_cli_writes_html_and_json(hostile_scan, tmp_path):
    from scanner.cli import main
    r = CliRunner().invoke(main, ["report", str(hostile_scan / "out"), "--html", str(tmp_path / "r.html"),
                                  "--json", str(tmp_path / "s.json")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "s.json").read_text())["rows_scanned"] == 33
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (apt-get install "
                    "chromium; .ci/run installs it)")
def test_report_in_headless_chromium(hostile_scan, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(hostile_scan / "out"), encoding="utf-8")
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}"]
    # the browser must not inherit a sanitizer runtime preloaded for our native core (.ci/run's ASan pass)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    dom = subprocess.run(base + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, env=env)
    assert dom.returncode == 0, dom.stderr[-2000:]
    p = _Collect()
    p.feed(dom.stdout)
    # what the browser built: no script, iframe or event handler came out of the corpus text
    assert "script" not in p.tags and "iframe" not in p.tags and "img" not in p.tags
    assert not [a for a in p.attrs if a[1].startswith("on")]
    text = "".join(p.text)
    assert all(payload in text for payload in PAYLOADS)
    shot = tmp_path / "shot.png"
    r = subprocess.run(base + [f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and shot.stat().st_size > 10_000


def test_invalid_utf8_from_a_binary_column_renders(tmp_path, hostile_scan):
    refs = pq.read_table(hostile_scan / "refs.parquet").column("text").to_pylist()
    raw = [b"\xff\xfe bad bytes first " + refs[3].encode() + b" \xc3\x28 and after"]
    pq.write_table(pa.table({"text": pa.array(raw, type=pa.binary())}), tmp_path / "b.parquet")
    scan([tmp_path / "b.parquet"], ReferenceIndex.load(hostile_scan / "index"), tmp_path / "out")
    page = render_html(tmp_path / "out")
    page.encode("utf-8")  # no lone surrogate reaches the page
    assert "\ufffd" in page and "<mark>" in page
