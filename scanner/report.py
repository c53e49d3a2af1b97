"""Summaries of a scan output directory: numbers with 95% intervals, per file and per reference."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import InputNotFound, InvalidInput
from .storage import Store, is_file, parquet_file

HISTOGRAM_EDGES = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n ((0, 1) when n == 0)."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def ratio_interval(total: int, denom: int, sum_sq_terms: float, n_docs: int,
                   z: float = 1.959964) -> tuple[float, float]:
    """95% interval of a ratio of sums over documents (copied characters / characters), by the
    linearization (delta-method) variance of a ratio estimator with documents as clusters.

    sum_sq_terms is sum_i (c_i - R * n_i)^2 over every scanned document.
    """
    if denom <= 0 or n_docs < 2:
        return (0.0, 1.0)
    r = total / denom
    se = math.sqrt(n_docs / (n_docs - 1) * max(sum_sq_terms, 0.0)) / denom
    return (max(0.0, r - z * se), min(1.0, r + z * se))


def load_manifest(out_dir) -> dict:
    out = out_dir if isinstance(out_dir, Store) else Store(out_dir)
    if not out.is_file("manifest.json"):
        raise InputNotFound(f"{out_dir}: no manifest.json; is this the output directory of `scanner scan`?")
    try:
        return json.loads(out.read_bytes("manifest.json").decode("utf-8"))
    except ValueError as e:
        raise InvalidInput(f"{out.path('manifest.json')}: damaged manifest ({e})") from e


def _load_units(out: Store, m: dict):
    """The per-unit table of a sampled scan, or None for a full scan."""
    if not m.get("sample"):
        return None
    import pyarrow as pa
    parts = [out.read_table(sh["units"]) for rec in m["inputs"] for sh in rec.get("shards", [])
             if sh.get("units")]
    return pa.concat_tables(parts) if parts else None


def _unit_ratio_interval(units, num: str, den: str) -> tuple[float, float]:
    y = units.column(num).to_numpy().astype(np.float64)
    x = units.column(den).to_numpy().astype(np.float64)
    total, denom = float(y.sum()), float(x.sum())
    r = total / denom if denom else 0.0
    return ratio_interval(int(total), int(denom), float(np.sum((y - r * x) ** 2)), len(x))


def _group_values(path: str, column: str, n_rows: int):
    """The values of `column` for every row of a corpus file, as a pyarrow array (strings)."""
    import pyarrow as pa

    from .reader import _jsonl_records, file_kind
    if not is_file(path):
        raise InputNotFound(f"{path}: corpus file missing; --group-by reads the column from the scanned files")
    if file_kind(path) == "parquet":
        pf = parquet_file(path)
        if column not in pf.schema_arrow.names:
            raise InvalidInput(f"{path}: no column {column!r} to group by (columns: "
                               f"{', '.join(pf.schema_arrow.names)})")
        arr = pf.read(columns=[column]).column(column).combine_chunks()
    else:
        arr = pa.array([rec.get(column) for _, rec in _jsonl_records(path)])
    if len(arr) != n_rows:
        raise InvalidInput(f"{path}: {len(arr)} rows now, the scan read {n_rows}: the file changed since the scan")
    return arr.cast(pa.string())


def group_breakdown(out: Store, m: dict, findings, column: str) -> list:
    """Documents scanned and flagged per value of a corpus column, with 95% intervals (value null: "(null)")."""
    import pyarrow as pa
    import pyarrow.compute as pc
    groups: dict = {}
    for rec in m["inputs"]:
        path, n = rec["path"], rec["rows_read"]
        values = _group_values(path, column, n)
        considered = np.ones(n, dtype=bool)
        if m.get("sample"):
            from .sample import sampled_row_numbers
            considered[:] = False
            considered[sampled_row_numbers(path, rec["sha256"], m["sample"]["fraction"], m["sample"]["seed"], n)] = True
        for sh in rec.get("shards", []):
            if sh.get("skipped"):
                sk = out.read_table(sh["skipped"], columns=["row"]).column("row").to_numpy()
                considered[sk] = False
        for vc in pc.value_counts(values.fill_null("(null)").filter(pa.array(considered))).to_pylist():
            groups.setdefault(vc["values"], {"scanned": 0, "flagged": {}})["scanned"] += vc["counts"]
        if findings is not None and findings.num_rows:
            f = findings.filter(pc.equal(findings.column("source"), path))
            for det in m["detectors"] + ["any"]:
                sel = f if det == "any" else f.filter(pc.equal(f.column("detector"), det))
                rows = np.unique(sel.column("row").to_numpy())
                for v in values.take(pa.array(rows, type=pa.int64())).fill_null("(null)").to_pylist() \
                        if len(rows) else []:
                    g = groups.setdefault(v, {"scanned": 0, "flagged": {}})
                    g["flagged"][det] = g["flagged"].get(det, 0) + 1
    out_rows = []
    for v, g in sorted(groups.items(), key=lambda kv: (-kv[1]["scanned"], kv[0])):
        k = g["flagged"].get("any", 0)
        out_rows.append({"value": v, "rows_scanned": g["scanned"],
                         "documents_flagged": dict(sorted(g["flagged"].items())),
                         "rate": k / g["scanned"] if g["scanned"] else 0.0,
                         "rate_ci95": list(wilson_interval(k, g["scanned"]))})
    return out_rows


def summarize(out_dir, top: int = 10, group_by: Optional[str] = None) -> dict:
    """Numbers of a scan, from its manifest and findings (and, with group_by, a column of the corpus)."""
    out = out_dir if isinstance(out_dir, Store) else Store(out_dir)
    m = load_manifest(out)
    t = m["totals"]
    scanned = t["rows_scanned"]
    detectors = {}
    table = out.read_table("findings") if out.listdir("findings") else None
    units = _load_units(out, m)
    sample = None
    if m.get("sample"):
        frac = m["sample"]["fraction"]
        sample = {"fraction": frac, "seed": m["sample"]["seed"], "rows_total": t["rows_read"],
                  "units": 0 if units is None else units.num_rows,
                  "rows_scannable_estimate": scanned / frac if frac else 0.0}
    for det in m["detectors"] + ["any"]:
        k = t["documents_flagged"].get(det, 0)
        if units is not None:
            # cluster sample: ratio estimator over sampling units (row groups), delta-method interval
            y = units.column(f"flagged_{det}").to_numpy().astype(np.float64)
            x = units.column("rows_scanned").to_numpy().astype(np.float64)
            r = k / scanned if scanned else 0.0
            lo, hi = ratio_interval(k, scanned, float(np.sum((y - r * x) ** 2)), len(x))
        else:
            lo, hi = wilson_interval(k, scanned)
        detectors[det] = {"documents_flagged": k, "findings": t["findings"].get(det, 0) if det != "any"
                          else sum(t["findings"].values()),
                          "rate": k / scanned if scanned else 0.0, "rate_ci95": [lo, hi]}
        if sample is not None:
            n_hat = sample["rows_scannable_estimate"]
            detectors[det]["corpus_estimate"] = [round(lo * n_hat), round(detectors[det]["rate"] * n_hat),
                                                 round(hi * n_hat)]
    near = {}
    if table is not None and table.num_rows:
        nd = table.filter(np.asarray(table.column("detector").to_numpy(zero_copy_only=False) == "near_duplicate"))
        if nd.num_rows:
            scores = nd.column("score").to_numpy()
            hist, _ = np.histogram(scores, bins=HISTOGRAM_EDGES)
            near["score_histogram"] = [{"from": HISTOGRAM_EDGES[i], "to": HISTOGRAM_EDGES[i + 1], "findings": int(c)}
                                       for i, c in enumerate(hist)]
            below = int(np.count_nonzero(scores < HISTOGRAM_EDGES[0]))
            if below:
                near["score_histogram"].insert(0, {"from": 0.0, "to": HISTOGRAM_EDGES[0], "findings": below})
            grouped = nd.group_by(["ref_source", "ref_id"]).aggregate([("row", "count")]).sort_by(
                [("row_count", "descending"), ("ref_source", "ascending"), ("ref_id", "ascending")])
            near["top_references"] = [
                {"ref_source": r["ref_source"], "ref_id": r["ref_id"], "corpus_copies": r["row_count"]}
                for r in grouped.slice(0, top).to_pylist()]
    spans = {}
    if "copied_span" in m["detectors"]:
        copied, chars = t.get("copied_characters", 0), t["characters"]
        r = copied / chars if chars else 0.0
        # sum_i (c_i - r n_i)^2 = sum_flagged (c_i - r n_i)^2 + r^2 * sum_unflagged n_i^2
        sq_flagged, nsq_flagged = 0.0, 0.0
        if out.listdir("documents"):
            docs = out.read_table("documents")
            if docs.num_rows:
                c = docs.column("copied_characters").to_numpy().astype(np.float64)
                n = docs.column("characters").to_numpy().astype(np.float64)
                sq_flagged = float(np.sum((c - r * n) ** 2))
                nsq_flagged = float(np.sum(n * n))
        sq = sq_flagged + r * r * max(0.0, float(t.get("characters_squared", 0)) - nsq_flagged)
        sp = table.filter(np.asarray(table.column("detector").to_numpy(zero_copy_only=False) == "copied_span")) \
            if table is not None and table.num_rows else None
        common = int(np.count_nonzero(sp.column("common_phrase").to_numpy(zero_copy_only=False))) \
            if sp is not None and sp.num_rows else 0
        st = m["stats"].get("copied_span", {})
        spans = {"copied_characters": copied, "characters": chars, "copied_share": r,
                 "copied_share_ci95": list(ratio_interval(copied, chars, sq, scanned)) if units is None
                 else list(_unit_ratio_interval(units, "copied_characters", "characters")),
                 "spans": sp.num_rows if sp is not None else 0, "common_phrase_spans": common,
                 "documents_truncated": st.get("documents_truncated", 0),
                 "min_span": m["options"].get("min_span")}
        if sp is not None and sp.num_rows:
            real = sp.filter(np.asarray(~sp.column("common_phrase").to_numpy(zero_copy_only=False).astype(bool)))
            if real.num_rows:
                per = real.group_by(["ref_source", "ref_id", "source", "row"]).aggregate([("score", "sum")])
                g = per.group_by(["ref_source", "ref_id"]).aggregate([("row", "count"), ("score_sum", "sum")]).sort_by(
                    [("row_count", "descending"), ("score_sum_sum", "descending"), ("ref_source", "ascending"),
                     ("ref_id", "ascending")])
                spans["top_references"] = [
                    {"ref_source": x["ref_source"], "ref_id": x["ref_id"], "documents": x["row_count"],
                     "span_characters": int(x["score_sum_sum"])} for x in g.slice(0, top).to_pylist()]
    self_id = {}
    if "self_id" in m["detectors"] and table is not None and table.num_rows:
        sid = table.filter(np.asarray(table.column("detector").to_numpy(zero_copy_only=False) == "self_id"))
        rows, srcs = sid.column("row").to_pylist(), sid.column("source").to_pylist()
        for key in ("vendor", "family", "lang", "precision"):
            col = [v if v is not None else "(none named)" for v in sid.column(key).to_pylist()]
            groups: dict = {}
            for v, r, src in zip(col, rows, srcs):
                g = groups.setdefault(v, [0, set()])
                g[0] += 1
                g[1].add((src, r))
            self_id[f"by_{key}"] = [{key: k, "findings": v[0], "documents": len(v[1])}
                                    for k, v in sorted(groups.items(), key=lambda kv: (-len(kv[1][1]), kv[0]))]
    if "self_id" in m["detectors"]:
        cfg = m.get("self_id") or {}
        self_id["min_precision"] = cfg.get("min_precision")
        self_id["rules"] = cfg.get("rules")
        self_id["below_precision"] = m["stats"].get("self_id", {}).get("below_precision", 0)
    per_file = []
    for rec in m["inputs"]:
        n = rec["rows_scanned"]
        k = rec["documents_flagged"].get("any", 0)
        per_file.append({"path": rec["path"], "rows_read": rec["rows_read"], "rows_scanned": n,
                         "rows_skipped": rec["rows_skipped"], "documents_flagged": k,
                         "rate": k / n if n else 0.0, "rate_ci95": list(wilson_interval(k, n))})
    per_dir: dict = {}
    for f in per_file:
        d = per_dir.setdefault(str(Path(f["path"]).parent), {"files": 0, "rows_scanned": 0, "documents_flagged": 0})
        d["files"] += 1
        d["rows_scanned"] += f["rows_scanned"]
        d["documents_flagged"] += f["documents_flagged"]
    per_directory = [{"directory": k, **v, "rate": v["documents_flagged"] / v["rows_scanned"] if v["rows_scanned"]
                      else 0.0, "rate_ci95": list(wilson_interval(v["documents_flagged"], v["rows_scanned"]))}
                     for k, v in sorted(per_dir.items())]
    groups = None if group_by is None else {"column": group_by,
                                            "groups": group_breakdown(out, m, table, group_by)}
    return {
        "tool_version": m["tool_version"],
        "index_checksum_sha256": m["index"]["checksum_sha256"],
        "references": m["index"]["n_refs"],
        "files": t["files"], "rows_read": t["rows_read"], "rows_scanned": scanned,
        "rows_skipped": t["rows_skipped"], "characters": t["characters"], "tokens": t["tokens"],
        "detectors": detectors, "near_duplicate": near, "copied_span": spans, "self_id": self_id,
        "per_file": per_file, "per_directory": per_directory, "group_by": groups,
        "threshold": m["options"]["threshold"], "sample": sample,
        "limits_hit": {f"{det}.{k}": v for det, st in m["stats"].items() for k, v in st.items()
                       if k.endswith("truncated") and v},
    }


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def render_text(s: dict) -> str:
    """The summary as plain text for a terminal."""
    lines = []
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(s["rows_skipped"].items())) or "none"
    lines.append(f"scanner {s['tool_version']}: {s['files']} file(s), {s['rows_read']} rows read, "
                 f"{s['rows_scanned']} scanned, skipped: {skipped}")
    lines.append(f"{s['characters']} characters, {s['tokens']} tokens; {s['references']} reference outputs "
                 f"(index sha256 {s['index_checksum_sha256'][:16]}...)")
    if s.get("sample"):
        sm = s["sample"]
        lines.append(f"sample: {sm['fraction']:g} of the rows (seed {sm['seed']}, {sm['units']} sampling units); "
                     f"rates and intervals estimate the whole corpus of {sm['rows_total']} rows")
    lines.append("")
    lines.append(f"{'detector':<16}{'documents':>10}{'findings':>10}{'rate':>10}   95% interval")
    for det, d in s["detectors"].items():
        lo, hi = d["rate_ci95"]
        est = f"   corpus: ~{d['corpus_estimate'][1]} ({d['corpus_estimate'][0]} - {d['corpus_estimate'][2]})" \
            if d.get("corpus_estimate") else ""
        lines.append(f"{det:<16}{d['documents_flagged']:>10}{d['findings']:>10}{_pct(d['rate']):>10}   "
                     f"{_pct(lo)} - {_pct(hi)}{est}")
    near = s["near_duplicate"]
    if near.get("score_histogram"):
        lines.append("")
        lines.append(f"near-duplicate Jaccard (threshold {s['threshold']}):")
        for b in near["score_histogram"]:
            lines.append(f"  [{b['from']:.2f}, {b['to']:.2f}{']' if b['to'] == 1.0 else ')'}  {b['findings']}")
    if near.get("top_references"):
        lines.append("")
        lines.append("most copied reference outputs:")
        for r in near["top_references"]:
            lines.append(f"  {r['corpus_copies']:>6}  {r['ref_id']}  ({r['ref_source']})")
    sp = s.get("copied_span")
    if sp:
        lo, hi = sp["copied_share_ci95"]
        lines.append("")
        lines.append(f"copied spans (>= {sp['min_span']} characters): {sp['spans']} spans, "
                     f"{sp['common_phrase_spans']} of them common phrases (not counted)")
        lines.append(f"  copied characters {sp['copied_characters']} of {sp['characters']} = "
                     f"{_pct(sp['copied_share'])} (95% {_pct(lo)} - {_pct(hi)})")
        if sp.get("top_references"):
            lines.append("  references most copied from (documents with a span):")
            for x in sp["top_references"]:
                lines.append(f"    {x['documents']:>6}  {x['ref_id']}  ({x['span_characters']} characters)")
        if sp["documents_truncated"]:
            lines.append(f"  {sp['documents_truncated']} degenerate document(s) hit the span search budget "
                         f"(listed in documents/ with span_search_truncated)")
    sid = s.get("self_id")
    if sid and sid.get("by_vendor"):
        lines.append("")
        lines.append(f"self-identification ({sid['rules']} rules, precision >= {sid['min_precision']}; "
                     f"{sid['below_precision']} matches below it not written):")
        for key, title in (("vendor", "vendor"), ("family", "family"), ("lang", "language"),
                           ("precision", "precision")):
            parts = ", ".join(f"{g[key]} {g['documents']}" for g in sid[f"by_{key}"])
            lines.append(f"  by {title:<10} {parts}  (documents)")
    lines.append("")
    lines.append("per file:")
    for f in s["per_file"]:
        lo, hi = f["rate_ci95"]
        lines.append(f"  {f['path']}: {f['documents_flagged']}/{f['rows_scanned']} flagged "
                     f"({_pct(f['rate'])}, 95% {_pct(lo)} - {_pct(hi)})")
    if len(s.get("per_directory", [])) > 1:
        lines.append("")
        lines.append("per directory:")
        for d in s["per_directory"]:
            lo, hi = d["rate_ci95"]
            lines.append(f"  {d['directory']}: {d['documents_flagged']}/{d['rows_scanned']} flagged in {d['files']} "
                         f"file(s) ({_pct(d['rate'])}, 95% {_pct(lo)} - {_pct(hi)})")
    if s.get("group_by"):
        lines.append("")
        lines.append(f"by {s['group_by']['column']}:")
        for g in s["group_by"]["groups"]:
            lo, hi = g["rate_ci95"]
            dets = ", ".join(f"{k} {v}" for k, v in g["documents_flagged"].items() if k != "any")
            lines.append(f"  {g['value']}: {g['documents_flagged'].get('any', 0)}/{g['rows_scanned']} flagged "
                         f"({_pct(g['rate'])}, 95% {_pct(lo)} - {_pct(hi)}){'; ' + dets if dets else ''}")
    if s["limits_hit"]:
        lines.append("")
        lines.append("limits hit (raise --max-matches / --max-verify to keep everything): " +
                     ", ".join(f"{k} {v}" for k, v in s["limits_hit"].items()))
    return "\n".join(lines) + "\n"
