"""The command line: `scanner index`, `scanner scan`, `scanner report`, `scanner clean`, `scanner verify`.

Progress goes to stderr; stdout carries only machine-readable or report output.
"""

from __future__ import annotations

import json
import os
import sys

# numpy's OpenBLAS starts a thread per core when numpy is imported, and each spins for about 0.1 s of CPU
# waiting for work (0.11 s per process on a 2-core machine, more on bigger ones). A scanner command calls
# no BLAS routine worth a thread (index building: dot products of 200 numbers), so the CLI asks for one.
# Only the CLI: a program importing scanner keeps its own BLAS settings. Never overrides the user's value.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click  # noqa: E402

from ._version import __version__  # noqa: E402
from .config import HASH_MODES, NearDupParams, SpanParams  # noqa: E402
from .errors import ScannerError  # noqa: E402


def _fail(e: Exception):
    click.echo(f"error: {e}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scanner")
def main():
    """Find reference-model outputs (near-duplicates, copied spans, self-identification) in training corpora."""


@main.command("index")
@click.argument("reference", nargs=-1, required=True)
@click.option("-o", "--out", "out", required=True, help="Index directory to create.")
@click.option("--text-column", default="text", show_default=True, help="Column/field holding the reference text.")
@click.option("--id-column", default="id", show_default=True, help="Column/field holding the reference id "
              "(row number when absent).")
@click.option("--num-perm", default=128, show_default=True, help="MinHash permutations.")
@click.option("--seed", default=1, show_default=True, help="MinHash seed.")
@click.option("--ngram", default=5, show_default=True, help="Words per shingle.")
@click.option("--threshold", default=0.5, show_default=True, help="Near-duplicate Jaccard threshold.")
@click.option("--hash", "hash_mode", type=click.Choice(HASH_MODES), default="fast", show_default=True,
              help="Shingle hash: fast, or datasketch (SHA-1, signatures identical to datasketch.MinHash).")
@click.option("--min-tokens", type=int, default=None, help="Leave out references with fewer word tokens "
              "[default: --ngram, one full shingle].")
@click.option("--false-negative-weight", default=0.95, show_default=True,
              help="Weight of misses against false candidates when choosing LSH bands and rows (0..1).")
@click.option("--span-window", default=32, show_default=True, help="Bytes per k-gram of the copied-span "
              "prefilter; scans can then use any --min-span >= this.")
@click.option("--threads", default=0, show_default=True, help="Native threads (0: all cores).")
@click.option("--batch-rows", default=8192, show_default=True, help="Rows per batch.")
@click.option("--force", is_flag=True, help="Replace an existing index directory.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr.")
def index_cmd(reference, out, text_column, id_column, num_perm, seed, ngram, threshold, hash_mode, min_tokens,
              false_negative_weight, span_window, threads, batch_rows, force, progress):
    """Build an index of REFERENCE outputs (Parquet/JSONL files, directories or globs).

    JSONL lines hold {"text": ...} or chat records {"messages": [{"role": "assistant", "content": ...}]},
    whose assistant turns each become a reference output.
    """
    from .index import ReferenceIndex
    try:
        params = NearDupParams(num_perm=num_perm, seed=seed, ngram=ngram, threshold=threshold, hash=hash_mode,
                               min_tokens=min_tokens,
                               false_negative_weight=false_negative_weight,
                               false_positive_weight=round(1.0 - false_negative_weight, 12))
        idx = ReferenceIndex.build(list(reference), out, params=params, text_column=text_column,
                                   id_column=id_column, threads=threads, batch_rows=batch_rows,
                                   progress=progress, overwrite=force, span_params=SpanParams(window=span_window))
    except (ScannerError, OSError) as e:
        _fail(e)
    click.echo(json.dumps({"index": idx.location, "references": idx.n_refs, "bands": idx.bands,
                           "rows": idx.rows, "checksum_sha256": idx.checksum}))


@main.command("scan")
@click.argument("corpus", nargs=-1, required=True)
@click.option("--index", "index_dir", required=True, help="Index directory built by `scanner index`.")
@click.option("-o", "--out", "out", required=True, help="Output directory for findings and manifest.")
@click.option("--text-column", default="text", show_default=True, help="Column/field holding the document text.")
@click.option("--id-column", default=None, help="Column/field of document ids [default: 'id' when present].")
@click.option("--threshold", type=float, default=None, help="Near-duplicate Jaccard threshold [default: the "
              "index's].")
@click.option("--max-matches", default=20, show_default=True, help="Near-duplicate findings kept per document, "
              "best first (0: all).")
@click.option("--max-verify", default=1000, show_default=True, help="Candidates verified exactly per document "
              "(0: all).")
@click.option("--detectors", default="near_duplicate,copied_span,self_id", show_default=True,
              help="Comma-separated detectors to run.")
@click.option("--min-span", type=int, default=None, help="Shortest copied span reported, in normalized "
              "characters, >= the index's --span-window [default: 50; with --min-span-words: the span window].")
@click.option("--min-span-words", type=int, default=None, help="Also require this many words in a copied span "
              "(e.g. 13 for the 13-gram rule).")
@click.option("--control", default=None, help="Index (built by `scanner index`) of human-written text: copied "
              "spans also found there are marked common_phrase and not counted as copied.")
@click.option("--patterns", "patterns", multiple=True, help="Self-identification rule file (JSON Lines, see "
              "README) added to the built-in catalogue; repeatable.")
@click.option("--builtin-patterns/--no-builtin-patterns", default=True, show_default=True,
              help="Use the built-in self-identification catalogue.")
@click.option("--self-id-precision", type=click.Choice(["high", "medium", "low"]), default="medium",
              show_default=True, help="Lowest precision of self-identification findings written (quoted "
              "matches are low).")
@click.option("--sample", type=float, default=None, help="Scan a reproducible random sample of this fraction "
              "of the rows (row groups, then rows); the report estimates the whole corpus.")
@click.option("--seed", default=0, show_default=True, help="Seed of --sample.")
@click.option("--scheduler", default=None, help="Address of a running Dask scheduler (tcp://host:8786): run one "
              "task per unit on that cluster.")
@click.option("--workers", type=int, default=None, help="Start a local Dask cluster of this many worker processes.")
@click.option("--unit-rows", default=262144, show_default=True, help="Rows per unit of work (a run of whole row "
              "groups); units are the tasks, the shards and what a re-run resumes.")
@click.option("--threads", default=0, show_default=True, help="Native threads (0: all cores; 1 per task on Dask).")
@click.option("--batch-rows", default=8192, show_default=True, help="Rows per batch.")
@click.option("--verify-index/--no-verify-index", default=True, show_default=True,
              help="Re-hash the index files before scanning.")
@click.option("--force", is_flag=True, help="Replace the findings of an existing output directory.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr.")
def scan_cmd(corpus, index_dir, out, text_column, id_column, threshold, max_matches, max_verify, detectors,
             min_span, min_span_words, control, patterns, builtin_patterns, self_id_precision, sample, seed, scheduler,
             workers, unit_rows, threads, batch_rows, verify_index, force, progress):
    """Scan CORPUS (Parquet/JSONL files, directories or globs) against an index; write findings to --out.

    Re-running the same command into the same --out resumes: units with an intact completion record are
    kept, the others are redone.
    """
    from .scan import ScanOptions, scan
    try:
        opts = ScanOptions(text_column=text_column, id_column=id_column, batch_rows=batch_rows, threads=threads,
                           threshold=threshold, max_matches=max_matches, max_verify=max_verify,
                           detectors=tuple(d.strip() for d in detectors.split(",") if d.strip()),
                           min_span=min_span, min_span_words=min_span_words, control=control,
                           patterns=tuple(patterns), builtin_patterns=builtin_patterns,
                           self_id_precision=self_id_precision, sample=sample, seed=seed)
        if scheduler is not None or workers is not None:
            from .distributed import connect, dask_executor
            client, close = connect(scheduler, workers)
            try:
                m = scan(list(corpus), index_dir, out, opts, force=force, verify_index=verify_index,
                         progress=False, executor=dask_executor(client, index_dir, opts), unit_rows=unit_rows)
            finally:
                close()
        else:
            m = scan(list(corpus), index_dir, out, opts, force=force, verify_index=verify_index, progress=progress,
                     unit_rows=unit_rows)
    except (ScannerError, OSError) as e:
        _fail(e)
    t = m["totals"]
    click.echo(json.dumps({"out": out, "files": t["files"], "rows_read": t["rows_read"],
                           "rows_scanned": t["rows_scanned"], "rows_skipped": t["rows_skipped"],
                           "documents_flagged": t["documents_flagged"], "findings": t["findings"],
                           "copied_characters": t["copied_characters"]}, sort_keys=True))


@main.command("report")
@click.argument("out_dir")
@click.option("--json", "json_path", is_flag=False, flag_value="-", default=None,
              help="Write the summary as JSON to this file ('-' or no value: stdout, instead of the text).")
@click.option("--html", "html_path", default=None, help="Write a self-contained HTML report (tables, plots, "
              "examples, methodology) to this file.")
@click.option("--top", default=10, show_default=True, help="How many most-copied references to list.")
@click.option("--examples", default=5, show_default=True, help="Strongest examples per detector in the HTML report.")
@click.option("--group-by", "group_by", default=None, help="Break the rates down by this column of the corpus "
              "files (read again from the scanned files).")
def report_cmd(out_dir, json_path, html_path, top, examples, group_by):
    """Summarize the scan in OUT_DIR: text on stdout, or JSON / HTML files."""
    from .report import render_text, summarize
    try:
        s = summarize(out_dir, top=top, group_by=group_by)
        if html_path:
            from .html_report import render_html
            _write_text(html_path, render_html(out_dir, top=top, examples=examples, group_by=group_by))
        if json_path and json_path != "-":
            _write_text(json_path, json.dumps(s, indent=2, sort_keys=True) + "\n")
    except (ScannerError, OSError) as e:
        _fail(e)
    if json_path == "-":
        click.echo(json.dumps(s, indent=2, sort_keys=True))
    elif not html_path and not json_path:
        click.echo(render_text(s), nl=False)
    else:
        click.echo(json.dumps({k: v for k, v in (("html", html_path), ("json", json_path)) if v}))


def _write_text(path: str, text: str) -> None:
    import os
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@main.command("clean")
@click.argument("corpus", nargs=-1, required=True)
@click.option("--findings", "findings_dir", required=True, help="Output directory of the `scanner scan` of CORPUS.")
@click.option("-o", "--out", "out", required=True, help="Directory for the cleaned corpus and its quarantine.")
@click.option("--mode", type=click.Choice(["drop", "redact"]), default="drop", show_default=True,
              help="drop: leave flagged documents out; redact: cut copied spans and self-identification "
              "sentences out of the text (near-duplicates are dropped).")
@click.option("--detectors", default="near_duplicate,copied_span,self_id", show_default=True,
              help="Comma-separated detectors whose findings are acted on.")
@click.option("--replacement", default="", show_default=True, help="Text put where a redacted piece was "
              "(empty: cut).")
@click.option("--text-column", default="text", show_default=True, help="Column holding the document text.")
@click.option("--self-id-precision", type=click.Choice(["high", "medium", "low"]), default="medium",
              show_default=True, help="Ignore self-identification findings below this precision.")
@click.option("--force", is_flag=True, help="Replace an existing output directory.")
def clean_cmd(corpus, findings_dir, out, mode, detectors, replacement, text_column, self_id_precision, force):
    """Write CORPUS without what the scan in --findings flagged; everything removed goes to quarantine/."""
    from .clean import CleanOptions, clean
    try:
        opts = CleanOptions(mode=mode, detectors=tuple(d.strip() for d in detectors.split(",") if d.strip()),
                            replacement=replacement, text_column=text_column, min_precision=self_id_precision)
        m = clean(list(corpus), findings_dir, out, opts, force=force)
    except (ScannerError, OSError) as e:
        _fail(e)
    click.echo(json.dumps({"out": out, **m["totals"]}, sort_keys=True))


@main.command("verify")
@click.argument("out_dir")
def verify_cmd(out_dir):
    """Re-check a scan output: inputs and index unchanged, every shard present and intact, rows add up.

    Prints {"ok": ..., "problems": [...]} and exits 0 when everything holds, 1 when not.
    """
    from .verify import verify
    try:
        problems = verify(out_dir)
    except (ScannerError, OSError) as e:
        _fail(e)
    click.echo(json.dumps({"ok": not problems, "problems": problems}, indent=2))
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    main()
