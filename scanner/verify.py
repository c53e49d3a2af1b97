"""Re-check a scan output directory against its manifest.

`verify(out_dir)` answers "are these numbers still backed by the same inputs?": every input file
still has the size and SHA-256 recorded at scan time, the index (and control index) still has the
recorded checksum and intact arrays, every findings/documents shard is present with its recorded
SHA-256 and row counts, and rows read equal rows scanned plus rows skipped, per file and in total.
It returns the list of problems found (empty when everything holds); nothing is modified.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import IndexFormatError, InputNotFound, InvalidInput
from .reader import sha256_file
from .scan import MANIFEST_FORMAT, MANIFEST_VERSION
from .storage import Store, file_size, is_file


def _index_problems(meta: dict, what: str) -> list[str]:
    from .index import ReferenceIndex
    loc = meta["path"]
    store = Store(loc)
    if not store.is_file("manifest.json"):
        return [f"{what} {loc}: missing (no manifest.json)"]
    digest = hashlib.sha256(store.read_bytes("manifest.json")).hexdigest()
    if digest != meta["checksum_sha256"]:
        return [f"{what} {loc}: manifest checksum {digest[:16]}... differs from the scan's "
                f"{meta['checksum_sha256'][:16]}...: the index was rebuilt or changed since the scan"]
    try:
        ReferenceIndex.load(loc, verify=True)
    except IndexFormatError as e:
        return [f"{what}: {e}"]
    return []


def _catalogue_problems(meta) -> list[str]:
    """The self-identification rule files of the scan, re-hashed (the built-in one as this install ships it)."""
    from .self_id import BUILTIN, builtin_rules
    if not meta:
        return []
    problems = []
    for src in meta.get("catalogue", []):
        if src["path"] == BUILTIN:
            if hashlib.sha256(builtin_rules()).hexdigest() != src["sha256"]:
                problems.append("built-in self-identification rules differ from the ones the scan used (another "
                                "scanner version?)")
            continue
        p = src["path"]
        if not is_file(p):
            problems.append(f"pattern file {p}: missing")
        elif sha256_file(p) != src["sha256"]:
            problems.append(f"pattern file {p}: SHA-256 differs from the one recorded at scan time")
    return problems


def verify(out_dir) -> list[str]:
    """Problems found in the scan output `out_dir` (an empty list when everything checks out)."""
    out = out_dir if isinstance(out_dir, Store) else Store(out_dir)
    mpath = out.path("manifest.json")
    if not out.is_file("manifest.json"):
        raise InputNotFound(f"{out}: no manifest.json; is this the output directory of `scanner scan`?")
    try:
        m = json.loads(out.read_bytes("manifest.json").decode("utf-8"))
    except ValueError as e:
        raise InvalidInput(f"{mpath}: damaged manifest ({e})") from e
    if not isinstance(m, dict) or m.get("format") != MANIFEST_FORMAT:
        raise InvalidInput(f"{mpath}: not a scanner scan manifest")
    if m.get("format_version") != MANIFEST_VERSION:
        raise InvalidInput(f"{mpath}: manifest version {m.get('format_version')!r}; this scanner reads "
                           f"{MANIFEST_VERSION}")
    problems: list[str] = []
    problems += _index_problems(m["index"], "index")
    if m.get("control"):
        problems += _index_problems(m["control"], "control index")
    problems += _catalogue_problems(m.get("self_id"))
    totals = {"rows_read": 0, "rows_scanned": 0, "rows_skipped": 0}
    for rec in m["inputs"]:
        p = rec["path"]
        if not is_file(p):
            problems.append(f"input {p}: missing")
        elif file_size(p) != rec["bytes"]:
            problems.append(f"input {p}: {file_size(p)} bytes, the scan read {rec['bytes']}")
        elif sha256_file(p) != rec["sha256"]:
            problems.append(f"input {p}: SHA-256 differs from the one recorded at scan time")
        skipped = sum(rec["rows_skipped"].values())
        if rec["rows_read"] != rec["rows_scanned"] + skipped:
            problems.append(f"input {p}: {rec['rows_read']} rows read but {rec['rows_scanned']} scanned + "
                            f"{skipped} skipped")
        totals["rows_read"] += rec["rows_read"]
        totals["rows_scanned"] += rec["rows_scanned"]
        totals["rows_skipped"] += skipped
        n_findings, findings_ok = 0, True
        for shard in rec.get("shards", []):
            for key in ("findings", "documents", "skipped", "units"):
                rel = shard.get(key)
                if rel is None:
                    continue
                f = out.path(rel)
                problem = None
                if Path(rel).is_absolute() or ".." in Path(rel).parts:
                    problem = f"{rel}: shard path leaves the output directory"
                elif not out.is_file(rel):
                    problem = f"{f}: missing shard"
                elif out.sha256(rel) != shard.get(f"{key}_sha256"):
                    problem = f"{f}: SHA-256 differs from the manifest (changed or damaged)"
                if problem is not None:
                    problems.append(problem)
                    findings_ok = findings_ok and key != "findings"  # its count is then not checked
                elif key == "findings":
                    n_findings += out.parquet_rows(rel)
        if findings_ok and n_findings != sum(rec["findings"].values()):
            problems.append(f"input {p}: {n_findings} findings in its shards, the manifest counts "
                            f"{sum(rec['findings'].values())}")
    t = m["totals"]
    if (t["rows_read"], t["rows_scanned"], sum(t["rows_skipped"].values())) != \
            (totals["rows_read"], totals["rows_scanned"], totals["rows_skipped"]):
        problems.append("totals do not add up to the per-file counts")
    listed = {shard.get("findings") for rec in m["inputs"] for shard in rec.get("shards", [])}
    for name in out.listdir("findings"):
        if name.endswith(".parquet") and not name.startswith(".") and f"findings/{name}" not in listed:
            problems.append(f"{out.path('findings/' + name)}: a findings shard the manifest does not list (left "
                            f"from another run?)")
    return problems
