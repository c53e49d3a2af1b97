"""A self-contained HTML page of a scan: numbers with intervals, plots, the strongest examples side by
side, and a methodology section generated from the manifest.

No network, no script: inline CSS and inline SVG only. Every piece of corpus, reference, path or
parameter text goes through html.escape, so a corpus holding ``<script>`` shows it as text. The page
is a function of the scan output (no timestamps), so the same scan gives the same bytes.
"""

from __future__ import annotations

import html
import json
import shlex
from pathlib import Path
from typing import Optional

import pyarrow as pa
import pyarrow.compute as pc

from .report import load_manifest, summarize
from .storage import Store, is_file, parquet_file

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em;margin:1em 0}
.text{white-space:pre-wrap;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;background:#fafafa;
border:1px solid #e5e5e5;padding:.6em;max-height:22em;overflow:auto;word-break:break-word}
mark{background:#ffe08a}mark.sid{background:#b9e6ff}.muted{color:#666}code{font-size:12px}
"""


def _e(x) -> str:
    s = "" if x is None else str(x)
    # text read from a binary column keeps its invalid bytes as lone surrogates (so offsets match the core);
    # the page shows each as U+FFFD
    s = s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return html.escape(s, quote=True)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _table(header: list, rows: list, numeric: Optional[set] = None) -> str:
    numeric = numeric or set()
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td class=\"n\">{_e(v)}</td>" if i in numeric else f"<td>{_e(v)}</td>"
                                    for i, v in enumerate(r)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _bars(labels: list, values: list, title: str, width: int = 560) -> str:
    """A horizontal bar chart as inline SVG."""
    if not values:
        return ""
    bar, gap, left = 18, 6, 170
    h = len(values) * (bar + gap) + 30
    top = max(values) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" '
             f'aria-label="{_e(title)}"><title>{_e(title)}</title>']
    for i, (lab, v) in enumerate(zip(labels, values)):
        y = 20 + i * (bar + gap)
        w = int((width - left - 60) * v / top)
        parts.append(f'<text x="{left - 6}" y="{y + 13}" font-size="12" text-anchor="end">{_e(lab)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w}" height="{bar}" fill="#4a7fb5"/>')
        parts.append(f'<text x="{left + w + 4}" y="{y + 13}" font-size="12">{_e(v)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _highlight(text: str, ranges: list, cls: str = "") -> str:
    """text escaped, with the code-point ranges wrapped in <mark>."""
    out, pos = [], 0
    attr = f' class="{cls}"' if cls else ""
    for a, b in sorted(ranges):
        a, b = max(a, pos), min(b, len(text))
        if b <= a:
            continue
        out.append(_e(text[pos:a]))
        out.append(f"<mark{attr}>{_e(text[a:b])}</mark>")
        pos = b
    out.append(_e(text[pos:]))
    return "".join(out)


def _row_texts(source: str, text_column: str, rows: list) -> dict:
    """Original text of the given rows of a corpus file, reading only the row groups (Parquet) or lines
    (JSONL) that hold them; {} for a file that is gone."""
    wanted = sorted(set(rows))
    if not is_file(source) or not wanted:
        return {}
    out = {}
    if source.lower().endswith((".jsonl", ".ndjson")):
        from .reader import _jsonl_records
        for row, (_, rec) in enumerate(_jsonl_records(source)):
            if row in wanted:
                v = rec.get(text_column)
                out[row] = v if isinstance(v, str) else ""
                if len(out) == len(wanted):
                    break
        return out
    pf = parquet_file(source)
    md = pf.metadata
    start = 0
    for g in range(md.num_row_groups):
        n = md.row_group(g).num_rows
        here = [r for r in wanted if start <= r < start + n]
        if here:
            col = pf.read_row_group(g, columns=[text_column]).column(text_column)
            for r, v in zip(here, col.take(pa.array([r - start for r in here], type=pa.int64())).to_pylist()):
                if isinstance(v, bytes):
                    v = v.decode("utf-8", "surrogateescape")
                out[r] = v if isinstance(v, str) else ""
        start += n
    return out


def _reference_texts(manifest: dict) -> tuple[Optional[object], dict]:
    from .errors import ScannerError
    from .index import ReferenceIndex
    try:
        idx = ReferenceIndex.load(manifest["index"]["path"], verify=False)
    except (ScannerError, OSError):
        return None, {}
    ids = idx.ref_ids.to_pylist()
    return idx, {(idx.references[int(s)]["path"], rid): i for i, (s, rid) in enumerate(zip(idx.ref_source, ids))}


def _pair(doc_html: str, ref_html: str) -> str:
    """Corpus document and reference output side by side (both already escaped)."""
    return ('<div class="pair"><div><div class="muted">corpus document</div><div class="text">' + doc_html +
            '</div></div><div><div class="muted">reference output</div><div class="text">' + ref_html +
            "</div></div></div>")


def _examples(out: Path, m: dict, findings: pa.Table, n: int) -> str:
    text_col = m["options"].get("text_column", "text")
    idx, ref_pos = _reference_texts(m)
    parts = []

    def texts_of(r):
        doc = _row_texts(r["source"], text_col, [r["row"]]).get(r["row"], "")
        key = (r["ref_source"], r["ref_id"])
        return doc, idx.ref_text(ref_pos[key]) if idx is not None and key in ref_pos else ""
    det = findings.column("detector")
    spans = findings.filter(pc.equal(det, "copied_span"))
    if spans.num_rows:
        spans = spans.filter(pc.invert(spans.column("common_phrase").fill_null(False)))
        best = spans.sort_by([("score", "descending"), ("source", "ascending"), ("row", "ascending")]).slice(0, n)
        parts.append("<h3>Longest copied spans</h3>")
        for r in best.to_pylist():
            doc, ref = texts_of(r)
            parts.append(f"<p><b>{int(r['score'])} characters</b> copied from reference <code>{_e(r['ref_id'])}</code>"
                         f" ({r['ref_count']} reference output(s) hold it) into <code>{_e(r['source'])}</code> row "
                         f"{r['row']} (id <code>{_e(r['doc_id'])}</code>), characters {r['start']}-{r['end']}</p>")
            parts.append(_pair(_highlight(doc, [(r["start"], r["end"])]),
                               _highlight(ref, [(r["ref_start"], r["ref_end"])])))
    near = findings.filter(pc.equal(det, "near_duplicate"))
    if near.num_rows:
        best = near.sort_by([("score", "descending"), ("source", "ascending"), ("row", "ascending")]).slice(0, n)
        parts.append("<h3>Closest near-duplicates</h3>")
        for r in best.to_pylist():
            doc, ref = texts_of(r)
            parts.append(f"<p><b>Jaccard {r['score']:.3f}</b> with reference <code>{_e(r['ref_id'])}</code>: "
                         f"<code>{_e(r['source'])}</code> row {r['row']} (id <code>{_e(r['doc_id'])}</code>)</p>")
            parts.append(_pair(_e(doc), _e(ref)))
    sid = findings.filter(pc.equal(det, "self_id"))
    if sid.num_rows:
        best = sid.sort_by([("precision", "ascending"), ("source", "ascending"), ("row", "ascending")]).slice(0, n)
        parts.append("<h3>Self-identification</h3>")
        rows = [[r["rule"], r["vendor"] or "-", r["family"], r["lang"], r["precision"], r["snippet"]]
                for r in best.to_pylist()]
        parts.append(_table(["rule", "vendor", "family", "language", "precision", "sentence"], rows))
    return "\n".join(parts)


def _methodology(m: dict) -> str:
    o = m["options"]
    idx = m["index"]
    params = idx["params"]
    nd, cs = params.get("near_duplicate", {}), params.get("copied_span", {})
    items = [
        f"<li><b>Tool</b>: scanner {_e(m['tool_version'])}; detectors run: {_e(', '.join(m['detectors']))}.</li>",
        f"<li><b>Reference index</b> <code>{_e(idx['path'])}</code>: {idx['n_refs']} reference outputs, manifest "
        f"SHA-256 <code>{_e(idx['checksum_sha256'])}</code>; built from "
        + ", ".join(f"<code>{_e(r['path'])}</code> (SHA-256 <code>{_e(r.get('sha256', ''))}</code>)"
                    for r in idx.get("references", [])) + ".</li>",
        "<li><b>Normalization</b> (all detectors): Unicode case folding and compatibility decomposition, typographic "
        "quotes and dashes to ASCII, zero-width and format characters dropped, whitespace runs collapsed; offsets "
        "are code points of the original text.</li>",
    ]
    if "near_duplicate" in m["detectors"]:
        items.append(f"<li><b>near_duplicate</b>: word {nd.get('ngram')}-shingles, MinHash with {nd.get('num_perm')} "
                     f"permutations (seed {nd.get('seed')}, {_e(nd.get('hash'))} hash), LSH {idx['lsh'].get('bands')} "
                     f"bands x {idx['lsh'].get('rows')} rows; candidates verified by the exact Jaccard of the shingle "
                     f"sets, reported when at least {o.get('threshold')} (the score). A document is flagged when it "
                     f"has one such reference.</li>")
    if "copied_span" in m["detectors"]:
        items.append(f"<li><b>copied_span</b>: maximal exact passages of at least {o.get('min_span')} normalized "
                     f"characters{' and ' + str(o.get('min_span_words')) + ' words' if o.get('min_span_words') else ''}"
                     f" that occur in a reference output, found with a suffix array (k-gram filter of "
                     f"{cs.get('window')} bytes). <i>Copied characters</i> are the code points of a document under "
                     f"such spans, not counting spans also found in the control set"
                     f"{' <code>' + _e(m['control']['path']) + '</code>' if m.get('control') else ' (none given)'}"
                     f"; the copied share is their sum over all characters scanned.</li>")
    if "self_id" in m["detectors"] and m.get("self_id"):
        srcs = ", ".join(f"<code>{_e(s['path'])}</code> ({s['rules']} rules, SHA-256 <code>{_e(s['sha256'])}</code>)"
                         for s in m["self_id"]["catalogue"])
        items.append(f"<li><b>self_id</b>: {m['self_id']['rules']} rules from {srcs}; literal phrases matched on the "
                     f"normalized text, confirmed by word boundaries and per-rule context; findings at precision "
                     f"&ge; {_e(m['self_id']['min_precision'])} (a match inside a quotation is <i>low</i>).</li>")
    if m.get("sample"):
        items.append(f"<li><b>Sample</b>: {m['sample']['fraction']:g} of the rows, seed {m['sample']['seed']}: row "
                     "groups chosen with probability sqrt(fraction) in files of 10 or more row groups, then rows, so "
                     "every row has the same probability; the choice depends only on the seed and each file's "
                     "SHA-256. Rates are sample proportions; their 95% intervals are ratio-estimator intervals "
                     "with the row groups as clusters (delta method), and corpus counts are rate times the "
                     "estimated number of scannable rows (rows scanned / fraction).</li>")
    else:
        items.append("<li><b>Intervals</b>: document rates carry 95% Wilson score intervals over the documents "
                     "scanned; the copied share a 95% interval of a ratio estimator with documents as clusters "
                     "(delta method).</li>")
    items.append("<li><b>Accounting</b>: every row read is scanned or skipped with a reason (null text, no word "
                 "token, 4 GiB or more); findings and manifest are byte-identical for the same inputs and "
                 "parameters. <code>scanner verify</code> re-checks inputs, index and shards against the "
                 "checksums below.</li>")
    inputs = _table(["input", "bytes", "SHA-256", "rows read", "scanned", "skipped"],
                    [[r["path"], r["bytes"], r["sha256"], r["rows_read"], r["rows_scanned"],
                      json.dumps(r["rows_skipped"], sort_keys=True)] for r in m["inputs"]], {1, 3, 4})
    return "<ul>" + "\n".join(items) + "</ul>\n<h3>Inputs</h3>\n" + inputs + \
        f"\n<h3>Reproduce</h3>\n<pre class=\"text\">{_e(reproduce_command(m))}</pre>"


def reproduce_command(m: dict) -> str:
    """The `scanner scan` command line that repeats this scan (paths as recorded)."""
    o = m["options"]
    args = ["scanner", "scan", *[r["path"] for r in m["inputs"]], "--index", m["index"]["path"], "-o", "OUT_DIR",
            "--detectors", ",".join(m["detectors"]), "--text-column", o.get("text_column", "text"),
            "--threshold", str(o.get("threshold")), "--max-matches", str(o.get("max_matches")),
            "--max-verify", str(o.get("max_verify"))]
    if o.get("id_column"):
        args += ["--id-column", o["id_column"]]
    if "copied_span" in m["detectors"]:
        args += ["--min-span", str(o.get("min_span"))]
        if o.get("min_span_words"):
            args += ["--min-span-words", str(o["min_span_words"])]
        if o.get("control"):
            args += ["--control", o["control"]]
    if "self_id" in m["detectors"]:
        for p in o.get("patterns", []):
            args += ["--patterns", p]
        if not o.get("builtin_patterns", True):
            args.append("--no-builtin-patterns")
        args += ["--self-id-precision", o.get("self_id_precision", "medium")]
    if o.get("sample") is not None:
        args += ["--sample", str(o["sample"]), "--seed", str(o.get("seed", 0))]
    return " ".join(shlex.quote(a) for a in args)


def render_html(out_dir, top: int = 10, examples: int = 5, group_by: Optional[str] = None) -> str:
    """The report page of the scan in out_dir."""
    out = out_dir if isinstance(out_dir, Store) else Store(out_dir)
    m = load_manifest(out)
    s = summarize(out, top=top, group_by=group_by)
    findings = out.read_table("findings") if out.listdir("findings") else None
    body = [f"<h1>Contamination scan: {s['rows_scanned']} documents</h1>",
            f"<p class=\"muted\">scanner {_e(s['tool_version'])}, {s['files']} file(s), {s['rows_read']} rows read, "
            f"{s['rows_scanned']} scanned, skipped {_e(json.dumps(s['rows_skipped'], sort_keys=True))}; "
            f"{s['characters']} characters, {s['tokens']} tokens; {s['references']} reference outputs.</p>"]
    if s.get("sample"):
        body.append(f"<p><b>Sample</b>: {_e(s['sample']['fraction'])} of the rows (seed {s['sample']['seed']}); "
                    f"rates and intervals are estimates for the whole corpus of {s['sample']['rows_total']} rows.</p>")
    body.append("<h2>Documents flagged</h2>")
    est_head = ["documents in the corpus (estimate, 95%)"] if s.get("sample") else []
    body.append(_table(["detector", "documents", "findings", "rate", "95% interval"] + est_head,
                       [[d, v["documents_flagged"], v["findings"], _pct(v["rate"]),
                         f"{_pct(v['rate_ci95'][0])} - {_pct(v['rate_ci95'][1])}"] +
                        ([f"{v['corpus_estimate'][1]} ({v['corpus_estimate'][0]} - {v['corpus_estimate'][2]})"]
                         if s.get("sample") else [])
                        for d, v in s["detectors"].items()], {1, 2, 3}))
    sp = s.get("copied_span")
    if sp:
        lo, hi = sp["copied_share_ci95"]
        body.append(f"<p><b>Copied characters</b>: {sp['copied_characters']} of {sp['characters']} = "
                    f"{_pct(sp['copied_share'])} (95% {_pct(lo)} - {_pct(hi)}), in {sp['spans']} spans of at least "
                    f"{sp['min_span']} characters; {sp['common_phrase_spans']} common-phrase spans not counted.</p>")
    if sp and sp.get("top_references"):
        body.append("<h3>References most copied from</h3>")
        body.append(_table(["reference", "file", "documents with a span", "copied characters"],
                           [[x["ref_id"], x["ref_source"], x["documents"], x["span_characters"]]
                            for x in sp["top_references"]], {2, 3}))
    near = s.get("near_duplicate") or {}
    if near.get("score_histogram"):
        body.append("<h2>Near-duplicate similarity</h2>")
        h = near["score_histogram"]
        body.append(_bars([f"[{b['from']:.2f}, {b['to']:.2f})" for b in h], [b["findings"] for b in h],
                          "near-duplicate findings by exact Jaccard"))
    if near.get("top_references"):
        body.append("<h3>Most copied reference outputs</h3>")
        body.append(_table(["reference", "file", "corpus copies"],
                           [[r["ref_id"], r["ref_source"], r["corpus_copies"]] for r in near["top_references"]],
                           {2}))
    sid = s.get("self_id") or {}
    if sid.get("by_vendor"):
        body.append("<h2>Self-identification</h2>")
        for key, title in (("vendor", "vendor"), ("family", "family"), ("lang", "language"),
                           ("precision", "precision")):
            g = sid[f"by_{key}"]
            body.append(f"<h3>By {title}</h3>")
            body.append(_bars([x[key] for x in g], [x["documents"] for x in g], f"documents by {title}"))
    body.append("<h2>Per file</h2>")
    body.append(_table(["file", "rows scanned", "flagged", "rate", "95% interval"],
                       [[f["path"], f["rows_scanned"], f["documents_flagged"], _pct(f["rate"]),
                         f"{_pct(f['rate_ci95'][0])} - {_pct(f['rate_ci95'][1])}"] for f in s["per_file"]], {1, 2, 3}))
    if len(s.get("per_directory", [])) > 1:
        body.append("<h3>Per directory</h3>")
        body.append(_table(["directory", "files", "rows scanned", "flagged", "rate", "95% interval"],
                           [[d["directory"], d["files"], d["rows_scanned"], d["documents_flagged"], _pct(d["rate"]),
                             f"{_pct(d['rate_ci95'][0])} - {_pct(d['rate_ci95'][1])}"] for d in s["per_directory"]],
                           {1, 2, 3, 4}))
    if s.get("group_by"):
        body.append(f"<h3>By {_e(s['group_by']['column'])}</h3>")
        body.append(_table([s["group_by"]["column"], "rows scanned", "flagged", "rate", "95% interval", "by detector"],
                           [[g["value"], g["rows_scanned"], g["documents_flagged"].get("any", 0), _pct(g["rate"]),
                             f"{_pct(g['rate_ci95'][0])} - {_pct(g['rate_ci95'][1])}",
                             ", ".join(f"{k} {v}" for k, v in g["documents_flagged"].items() if k != "any")]
                            for g in s["group_by"]["groups"]], {1, 2, 3}))
    if findings is not None and findings.num_rows:
        body.append("<h2>Strongest examples</h2>")
        body.append(_examples(out, m, findings, examples))
    body.append("<h2>Methodology</h2>")
    body.append(_methodology(m))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f"<title>scanner report</title><style>{CSS}</style></head><body>\n" + "\n".join(body) +
            "\n</body></html>\n")
