#!/usr/bin/env python3
"""Build the bundled example data set in examples/tiny/ (deterministic).

    python3 examples/make_example.py [--data /work/shared/data] [--out examples/tiny]

Reads the shared text corpora (see the data directory's README.md) and writes:

  reference.parquet   400 model outputs (AlpacaEval, OpenAI models)
  corpus.parquet      human text with planted near-duplicates, copied spans,
                      self-identification snippets and a few bad inputs
  answer_key.parquet  one row per planted corpus document
  README.md           description, provenance, licences, counts

Every random choice goes through one random.Random(SEED); all inputs are sorted
before sampling, so the output bytes are the same on every run (for a given
pyarrow version).
"""
from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20261122
N_REFERENCE = 400
REF_MIN_WORDS, REF_MAX_WORDS = 40, 400
AI_PHRASE = "as an ai language model"
HUMAN_SOURCES = ["brown", "gutenberg", "inaugural", "state_union", "webtext", "movie_reviews"]
HUMAN_PER_SOURCE = 50
HUMAN_MIN_WORDS = 30
HUMAN_MAX_WORDS = 400          # keeps the example small (some "paragraphs" are whole speeches)
PAD_MAX_WORDS = 150            # human text around copied spans / self-ID snippets
MOVIE_REVIEW_WORDS = 200
N_NEAR_DUP = 60
EDIT_RATES = [0.0, 0.01, 0.03, 0.05, 0.10, 0.20]
SURFACES = ["upper", "fullwidth", "zero_width"]
N_COPIED = 20
COPY_MIN_WORDS, COPY_MAX_WORDS = 60, 120
N_SELFID = 10
# ShareGPT snippets are left out: their rights are unclear (see the data README).
SELFID_SOURCES = {"openai_alpacaeval", "davinci003_alpaca", "gpt4_gpteacher"}
BAD_INPUTS = [None, "", "  \n\t ", "... -- !!"]
ZWSP = "\u200b"
WORD_RE = re.compile(r"\S+")


def read_rows(path: Path, columns: list[str]) -> list[dict]:
    rows = pq.read_table(path, columns=columns).to_pylist()
    rows.sort(key=lambda r: r["id"])
    return rows


def nwords(text: str) -> int:
    return len(text.split())


# ---------------------------------------------------------------- reference
def pick_reference(rng: random.Random, data: Path) -> list[dict]:
    rows = read_rows(data / "reference" / "openai_alpacaeval.parquet", ["id", "text", "model"])
    fit = [r for r in rows if r["text"] is not None
           and REF_MIN_WORDS <= nwords(r["text"]) <= REF_MAX_WORDS]
    ai = [r for r in fit if AI_PHRASE in r["text"].lower()]
    rest = [r for r in fit if AI_PHRASE not in r["text"].lower()]
    chosen = ai + rng.sample(rest, N_REFERENCE - len(ai))
    chosen.sort(key=lambda r: r["id"])
    return chosen


# ---------------------------------------------------------------- human text
def human_pools(data: Path) -> dict[str, list[dict]]:
    """Per source: eligible paragraphs (id, text), sorted by id, unique texts."""
    pools = {}
    for src in HUMAN_SOURCES:
        rows = read_rows(data / "human" / f"{src}.parquet", ["id", "text"])
        seen, pool = set(), []
        for r in rows:
            text = r["text"]
            if text is None:
                continue
            if src == "movie_reviews":
                text = " ".join(text.split()[:MOVIE_REVIEW_WORDS])
            if src == "gutenberg" and ("gutenberg" in text.lower() or "***" in text):
                continue  # Project Gutenberg licence boilerplate, not book text
            if not HUMAN_MIN_WORDS <= nwords(text) <= HUMAN_MAX_WORDS:
                continue
            if text in seen:
                continue
            seen.add(text)
            pool.append({"id": r["id"], "text": text})
        pools[src] = pool
    return pools


# ---------------------------------------------------------------- edits
def build_vocab(texts: list[str]) -> list[str]:
    vocab = set()
    for t in texts:
        for w in t.split():
            if w.isascii() and w.isalpha() and len(w) >= 2:
                vocab.add(w.lower())
    return sorted(vocab)


def edit_words(rng: random.Random, text: str, rate: float, vocab: list[str]) -> str:
    out = []
    for w in text.split():
        if rng.random() < rate:
            op = rng.randrange(3)
            if op == 0:                      # substitute
                out.append(rng.choice(vocab))
            elif op == 1:                    # delete
                pass
            else:                            # insert after
                out.append(w)
                out.append(rng.choice(vocab))
        else:
            out.append(w)
    return " ".join(out)


def to_fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if ("A" <= c <= "Z" or "a" <= c <= "z") else c for c in s)


def apply_surface(rng: random.Random, text: str, kind: str) -> str:
    if kind == "upper":
        return text.upper()
    if kind == "fullwidth":
        m = re.search(r"[.!?](\s|$)", text)
        end = m.end(0) if m else len(text)
        return to_fullwidth(text[:end]) + text[end:]
    if kind == "zero_width":
        words = text.split(" ")
        cand = [i for i, w in enumerate(words) if len(w) >= 2]
        for i in sorted(rng.sample(cand, 3)):
            w = words[i]
            k = rng.randrange(1, len(w))
            words[i] = w[:k] + ZWSP + w[k:]
        return " ".join(words)
    raise ValueError(kind)


# ---------------------------------------------------------------- main
def main() -> None:
    here = Path(__file__).resolve()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=here.parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=here.parent / "tiny")
    args = ap.parse_args()
    data, out = args.data, args.out
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)

    # 1. reference set
    refs = pick_reference(rng, data)
    ref_ids = {r["id"] for r in refs}
    n_ai = sum(AI_PHRASE in r["text"].lower() for r in refs)

    # 2. human paragraphs: background (50 per source) + padding for embeddings
    pools = human_pools(data)
    background, padding = [], []
    for src in HUMAN_SOURCES:
        pool = pools[src]
        picked = rng.sample(range(len(pool)), len(pool))   # a seeded permutation
        background += [pool[i]["text"] for i in picked[:HUMAN_PER_SOURCE]]
        padding += [pool[i]["text"] for i in picked[HUMAN_PER_SOURCE:]
                    if nwords(pool[i]["text"]) <= PAD_MAX_WORDS][:20]
    rng.shuffle(padding)
    vocab = build_vocab(background)

    docs: list[dict] = []   # {"text", plus answer-key fields for planted docs}
    for t in background:
        docs.append({"text": t, "kind": None})

    # 3. planted near-duplicates
    nd_idx = rng.sample(range(len(refs)), N_NEAR_DUP)
    taken = set(nd_idx)
    cp_pool = [i for i in range(len(refs))
               if i not in taken and nwords(refs[i]["text"]) >= COPY_MIN_WORDS]
    nd_refs = [refs[i] for i in nd_idx]
    cp_refs = [refs[i] for i in rng.sample(cp_pool, N_COPIED)]   # disjoint from nd_refs
    surface_idx = []
    for r in range(len(EDIT_RATES)):          # half of each rate group gets a surface change
        group = list(range(r, N_NEAR_DUP, len(EDIT_RATES)))
        surface_idx += rng.sample(group, len(group) // 2)
    rng.shuffle(surface_idx)
    surface_of = {i: SURFACES[j % len(SURFACES)] for j, i in enumerate(surface_idx)}
    for i, ref in enumerate(nd_refs):
        rate = EDIT_RATES[i % len(EDIT_RATES)]
        text = edit_words(rng, ref["text"], rate, vocab)
        surface = surface_of.get(i, "none")
        if surface != "none":
            text = apply_surface(rng, text, surface)
        docs.append({"text": text, "kind": "near_duplicate", "ref_id": ref["id"],
                     "edit_rate": rate, "surface": surface, "passage": None, "passage_start": None})

    # 4. copied spans: human + verbatim reference passage + human
    pad = iter(padding)
    for ref in cp_refs:
        spans = [m.span() for m in WORD_RE.finditer(ref["text"])]
        length = rng.randint(COPY_MIN_WORDS, min(COPY_MAX_WORDS, len(spans)))
        first = rng.randint(0, len(spans) - length)
        passage = ref["text"][spans[first][0]:spans[first + length - 1][1]]
        before, after = next(pad), next(pad)
        text = before + " " + passage + " " + after
        docs.append({"text": text, "kind": "copied_span", "ref_id": ref["id"], "edit_rate": None,
                     "surface": None, "passage": passage, "passage_start": len(before) + 1})

    # 5. self-identification snippets inside a human paragraph
    snippets = read_rows(data / "selfid" / "selfid_snippets.parquet",
                         ["id", "text", "phrase_family", "source_file", "source_id", "first_person"])
    eligible = [s for s in snippets if Path(s["source_file"]).stem in SELFID_SOURCES and s["first_person"]
                and s["source_id"] not in ref_ids and "\n" not in s["text"]]
    families = sorted({s["phrase_family"] for s in eligible})
    chosen_snips = []
    for fam in families:                      # one per family first, for variety
        if len(chosen_snips) < N_SELFID:
            chosen_snips.append(rng.choice([s for s in eligible if s["phrase_family"] == fam]))
    left = [s for s in eligible if s not in chosen_snips]
    chosen_snips += rng.sample(left, N_SELFID - len(chosen_snips))
    for s in chosen_snips:
        host = next(pad)
        cuts = [m.end() for m in re.finditer(r"[.!?] ", host)] or \
               [m.start() for m in WORD_RE.finditer(host)][1:]
        cut = rng.choice(cuts) if cuts else len(host)
        head = host[:cut]
        if head and not head.endswith(" "):
            head += " "
        tail = host[cut:].lstrip()
        text = head + s["text"] + (" " + tail if tail else "")
        docs.append({"text": text, "kind": "self_id", "ref_id": None, "edit_rate": None,
                     "surface": None, "passage": s["text"], "passage_start": len(head)})

    # 6. bad inputs
    for t in BAD_INPUTS:
        docs.append({"text": t, "kind": None})

    # shuffle everything together, then number
    rng.shuffle(docs)
    for n, d in enumerate(docs, 1):
        d["id"] = f"doc-{n:05d}"

    # checks
    for d in docs:
        if d["kind"] in ("copied_span", "self_id"):
            s, p = d["passage_start"], d["passage"]
            assert d["text"][s:s + len(p)] == p, d["id"]
    assert len({d["id"] for d in docs}) == len(docs)

    # write
    def write(table: pa.Table, name: str) -> None:
        pq.write_table(table, out / name, compression="zstd")

    write(pa.table({"id": [r["id"] for r in refs], "text": [r["text"] for r in refs],
                    "model": [r["model"] for r in refs]},
                   schema=pa.schema([("id", pa.string()), ("text", pa.string()), ("model", pa.string())])),
          "reference.parquet")
    write(pa.table({"id": [d["id"] for d in docs], "text": [d["text"] for d in docs]},
                   schema=pa.schema([("id", pa.string()), ("text", pa.string())])),
          "corpus.parquet")
    key_schema = pa.schema([("id", pa.string()), ("kind", pa.string()), ("ref_id", pa.string()),
                            ("edit_rate", pa.float64()), ("surface", pa.string()),
                            ("passage", pa.string()), ("passage_start", pa.int64())])
    planted = [d for d in docs if d["kind"]]
    write(pa.table({f.name: [d[f.name] for d in planted] for f in key_schema}, schema=key_schema),
          "answer_key.parquet")

    counts = {k: sum(d["kind"] == k for d in docs) for k in ("near_duplicate", "copied_span", "self_id")}
    surf = {s: sum(d.get("surface") == s for d in planted) for s in ["none"] + SURFACES}
    (out / "README.md").write_text(README.format(
        n_ref=len(refs), n_ai=n_ai, n_docs=len(docs), n_human=len(background),
        per_src=HUMAN_PER_SOURCE, n_bad=len(BAD_INPUTS), seed=SEED, **counts,
        surf_none=surf["none"], surf_upper=surf["upper"], surf_fw=surf["fullwidth"],
        surf_zw=surf["zero_width"], per_rate=N_NEAR_DUP // len(EDIT_RATES),
        rates=", ".join(str(r) for r in EDIT_RATES), n_plant=len(planted)))
    print(f"wrote {out}: {len(refs)} reference rows, {len(docs)} corpus rows, {len(planted)} answer-key rows")


README = """\
# Tiny example data set

Small, fixed test data for `scanner`. Generated by `examples/make_example.py`
(seed {seed}, deterministic: the same bytes on every run):

    python3 examples/make_example.py --data /work/shared/data --out examples/tiny

## Files

- `reference.parquet` ({n_ref} rows; `id`, `text`, `model`): model outputs from
  AlpacaEval (OpenAI models), 40-400 words each. It holds all {n_ai} outputs of
  that length that contain "as an AI language model"; the rest are a random sample.
- `corpus.parquet` ({n_docs} rows; `id` = `doc-NNNNN`, `text`): the documents to scan,
  shuffled together:
  - {n_human} human-written paragraphs, {per_src} each from Brown, Gutenberg, inaugural
    addresses, State of the Union, webtext and movie reviews (30-400 words; reviews
    cut to their first 200 words; Gutenberg licence boilerplate left out).
  - {near_duplicate} near-duplicates of reference outputs: word-level edits (substitute,
    delete, insert a random word) at rates {rates}, {per_rate} per rate, whitespace
    collapsed to single spaces. {surf_upper} are also upper-cased, {surf_fw} have their
    first sentence in fullwidth letters, {surf_zw} have U+200B inside 3 words; {surf_none} have no
    surface change.
  - {copied_span} copied spans: human paragraph + a verbatim run of 60-120 words of a
    reference output (original whitespace kept) + another human paragraph.
  - {self_id} self-identification snippets (from `selfid/selfid_snippets.parquet`,
    AlpacaEval/davinci-003 Alpaca/GPTeacher only) inserted into a human paragraph.
  - {n_bad} bad inputs: null, empty, whitespace-only, punctuation-only.
- `answer_key.parquet` ({n_plant} rows): one row per planted document. Columns: `id`,
  `kind` (`near_duplicate` | `copied_span` | `self_id`), `ref_id`, `edit_rate`,
  `surface` (`none` | `upper` | `fullwidth` | `zero_width`), `passage`,
  `passage_start` (code-point offset of `passage` in the corpus text).
  Human paragraphs and bad inputs are not listed.

Caveats: AlpacaEval has the same 805 prompts for every model, so some reference
outputs are close to each other, and a planted document can also match a sibling
output. Some planted reference texts contain self-ID phrases themselves.

## Sources and licences

All text comes from the project's shared data (`/work/shared/data`, see its
README for the commits). These files are for testing only, not for
redistribution outside the project.

| data | source | licence |
|---|---|---|
| reference outputs, copied spans, near-duplicates | `tatsu-lab/alpaca_eval` `results/*/model_outputs.json` | CC BY-NC 4.0 (repo README badge); outputs also under OpenAI terms of use |
| self-ID snippets | AlpacaEval (as above); `stayanti/alpaca-gpt-4` (Stanford Alpaca data, CC BY-NC 4.0); `teknium1/GPTeacher` (MIT, GPT-4-generated) | as the source |
| Brown | nltk_data `brown.zip` | non-commercial use only |
| Gutenberg | nltk `corpora/gutenberg` | public domain |
| inaugural, State of the Union | nltk_data | public domain |
| webtext | nltk_data `webtext.zip` | not stated |
| movie reviews | nltk_data `movie_reviews.zip` (Pang & Lee) | CC BY 4.0 |
"""

if __name__ == "__main__":
    main()
