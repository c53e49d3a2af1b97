"""Self-identification: which model's voice is in the corpus, by vendor, family and language.

The rules live in a catalogue of JSON Lines (the built-in one is
``scanner/data/self_id_rules.jsonl``; users add files in the same format with
``--patterns FILE``). One rule per line:

    {"id": "openai.chatgpt.en", "vendor": "OpenAI", "model": "ChatGPT",
     "family": "vendor_attribution", "lang": "en", "precision": "high",
     "patterns": ["{i am|i'm} chatgpt"]}

Keys:
  id         unique name, letters, digits and ``._-``; reported in the findings' ``rule`` column.
  vendor     maker the statement attributes itself to (null: none named, e.g. "As an AI language model").
  model      model the statement names, or null.
  family     vendor_attribution | ai_disclaimer | knowledge_cutoff | refusal_boilerplate
             (or another lower-case word of your own).
  lang       ISO 639-1 code of the language of the patterns.
  precision  high | medium | low: how sure a match is model voice. Scans report rules at or above
             ``--self-id-precision`` (default medium); a match inside a quotation drops to low.
  patterns   phrases whose occurrence is a finding (an anchor).
  requires   optional phrases one of which must occur in the same sentence, overlapping the anchor
             or at most ``within`` characters (default 40) before or after it.
  within     see requires.
  excludes   optional phrases that cancel an anchor occurrence they overlap ("as an ai researcher"
             cancels "as an ai").
  note       free text, ignored.

Phrase syntax: plain text, normalized exactly as corpus text is (case folding, fullwidth and
compatibility forms, curly quotes, zero-width characters, whitespace runs), so write it naturally;
``{a|b|}`` offers alternatives (an empty one makes the group optional), and ``\\{ \\} \\| \\\\``
are literal. There are no regular expressions: every rule compiles to literals of one automaton,
which runs in time linear in the text whatever the rules, so no rule file can make a scan hang.
A phrase that starts or ends with a letter or digit only matches at a word boundary; a phrase
mixing a script written without spaces (Chinese, Japanese) with Latin letters also matches with
a space at each such junction, and without one ("我是由 OpenAI 开发的" and "我是由OpenAI开发的").
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Optional

import numpy as np

from . import _core
from .arrow_bridge import as_text_array, text_buffers
from .errors import InputNotFound, InvalidInput
from .storage import is_file, open_binary

PRECISIONS = ("low", "medium", "high")
FAMILIES = ("vendor_attribution", "ai_disclaimer", "knowledge_cutoff", "refusal_boilerplate")
ROLES = ("patterns", "requires", "excludes")
KEYS = {"id", "vendor", "model", "family", "lang", "precision", "patterns", "requires", "within", "excludes", "note"}
DEFAULT_WITHIN = 40
MAX_EXPANSIONS = 4096
BUILTIN = "builtin:self_id_rules.jsonl"

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_FAMILY_RE = re.compile(r"^[a-z][a-z_]*$")
_LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]+)?$")


@dataclass(frozen=True)
class Rule:
    id: str
    vendor: Optional[str]
    model: Optional[str]
    family: str
    lang: str
    precision: str
    patterns: tuple
    requires: tuple = ()
    excludes: tuple = ()
    within: int = DEFAULT_WITHIN
    source: str = BUILTIN
    line: int = 0


def expand(phrase: str, where: str = "phrase") -> list[str]:
    """Every text a phrase stands for: ``{a|b|}`` groups expanded, in order."""
    parts: list[list[str]] = []
    lit: list[str] = []
    i, n = 0, len(phrase)
    group: Optional[list[str]] = None
    while i < n:
        c = phrase[i]
        if c == "\\":
            if i + 1 >= n:
                raise InvalidInput(f"{where}: a trailing backslash; write \\\\ for a literal one")
            lit.append(phrase[i + 1])
            i += 2
            continue
        if c == "{":
            if group is not None:
                raise InvalidInput(f"{where}: groups cannot nest: {phrase!r}")
            parts.append(["".join(lit)])
            lit, group = [], []
        elif c == "|":
            if group is None:
                raise InvalidInput(f"{where}: '|' outside a {{...}} group in {phrase!r}; write \\| for a literal one")
            group.append("".join(lit))
            lit = []
        elif c == "}":
            if group is None:
                raise InvalidInput(f"{where}: unbalanced '}}' in {phrase!r}")
            group.append("".join(lit))
            parts.append(group)
            lit, group = [], None
        else:
            lit.append(c)
        i += 1
    if group is not None:
        raise InvalidInput(f"{where}: unclosed '{{' in {phrase!r}")
    parts.append(["".join(lit)])
    total = 1
    for p in parts:
        total *= len(p)
    if total > MAX_EXPANSIONS:
        raise InvalidInput(f"{where}: {phrase!r} stands for {total} texts, more than {MAX_EXPANSIONS}; split it "
                           f"into several phrases")
    return ["".join(t) for t in itertools.product(*parts)]


def normalize_phrase(text: str) -> bytes:
    return _core.normalize(text.encode("utf-8"))[0]


def compile_phrases(phrases, where: str) -> list[bytes]:
    """The distinct normalized literals of phrases, in first-seen order: each text a phrase stands for
    (``expand``), normalized, and its forms with a space added or removed at each junction of a script
    written without spaces and a word character (at most MAX_EXPANSIONS + 1 per text; the native
    ``phrase_variants`` in csrc/self_id.hpp, which the tests hold to a Python transcription)."""
    texts: list[str] = []
    owner: list[str] = []
    for ph in phrases:
        if not isinstance(ph, str) or not ph.strip():
            raise InvalidInput(f"{where}: phrases must be non-empty strings, got {ph!r}")
        got = expand(ph, where)
        texts += got
        owner += [ph] * len(got)
    lits, empty = _core.phrase_literals([t.encode("utf-8") for t in texts], MAX_EXPANSIONS)
    if empty >= 0:
        raise InvalidInput(f"{where}: {texts[empty]!r} (from {owner[empty]!r}) is empty after normalization")
    return lits


def _str_or_null(rec: dict, key: str, where: str) -> Optional[str]:
    v = rec.get(key)
    if v is not None and (not isinstance(v, str) or not v.strip()):
        raise InvalidInput(f"{where}: '{key}' must be a non-empty string or null")
    return v


def parse_rule(rec, source: str, line: int) -> Rule:
    where = f"{source}:{line}"
    if not isinstance(rec, dict):
        raise InvalidInput(f"{where}: a rule is a JSON object, got {type(rec).__name__}")
    if "regex" in rec or "regexes" in rec or "pattern" in rec:
        raise InvalidInput(f"{where}: regular expressions are not supported (a backtracking regex can hang a scan, and "
                           f"every rule runs inside one literal automaton): list phrases under 'patterns', with "
                           f"{{a|b}} for alternatives")
    unknown = set(rec) - KEYS
    if unknown:
        raise InvalidInput(f"{where}: unknown keys {sorted(unknown)}; a rule has {sorted(KEYS)}")
    rid = rec.get("id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise InvalidInput(f"{where}: 'id' must be letters, digits and ._- (got {rid!r})")
    where = f"{where} (rule {rid})"
    family = rec.get("family")
    if not isinstance(family, str) or not _FAMILY_RE.match(family):
        raise InvalidInput(f"{where}: 'family' must be a lower-case word such as {', '.join(FAMILIES)}")
    lang = rec.get("lang")
    if not isinstance(lang, str) or not _LANG_RE.match(lang):
        raise InvalidInput(f"{where}: 'lang' must be an ISO 639 code such as en, zh, es (got {lang!r})")
    precision = rec.get("precision")
    if precision not in PRECISIONS:
        raise InvalidInput(f"{where}: 'precision' must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    lists = {}
    for key in ROLES:
        v = rec.get(key, [])
        if isinstance(v, str) or not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise InvalidInput(f"{where}: '{key}' must be a list of phrases")
        lists[key] = tuple(v)
    if not lists["patterns"]:
        raise InvalidInput(f"{where}: 'patterns' must list at least one phrase")
    within = rec.get("within", DEFAULT_WITHIN)
    if not isinstance(within, int) or isinstance(within, bool) or not 0 <= within <= 1000:
        raise InvalidInput(f"{where}: 'within' must be a number of characters in 0..1000")
    return Rule(id=rid, vendor=_str_or_null(rec, "vendor", where), model=_str_or_null(rec, "model", where),
                family=family, lang=lang, precision=precision, patterns=lists["patterns"],
                requires=lists["requires"], excludes=lists["excludes"], within=within, source=source, line=line)


def parse_rules(data: bytes, source: str) -> list[Rule]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{source}: not UTF-8 ({e}); save the rule file as UTF-8") from e
    rules = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise InvalidInput(f"{source}:{i}: not a JSON object ({e}); rule files hold one JSON object per line") \
                from e
        rules.append(parse_rule(rec, source, i))
    return rules


def builtin_rules() -> bytes:
    """The bytes of the built-in catalogue this install ships."""
    return resources.files("scanner").joinpath("data/self_id_rules.jsonl").read_bytes()


class Catalogue:
    """A validated list of rules and the files they came from (path, SHA-256, rule count)."""

    def __init__(self, rules: list[Rule], sources: list[dict]):
        seen: dict[str, Rule] = {}
        for r in rules:
            if r.id in seen:
                first = seen[r.id]
                raise InvalidInput(f"{r.source}:{r.line}: rule id {r.id!r} is already defined at "
                                   f"{first.source}:{first.line}; give the rule another id")
            seen[r.id] = r
        self.rules = tuple(rules)
        self.sources = sources

    @classmethod
    def load(cls, paths=(), builtin: bool = True) -> Catalogue:
        """The built-in rules (unless builtin=False) followed by the rules of each file in paths."""
        rules: list[Rule] = []
        sources = []
        if builtin:
            data = builtin_rules()
            got = parse_rules(data, BUILTIN)
            rules += got
            sources.append({"path": BUILTIN, "sha256": hashlib.sha256(data).hexdigest(), "rules": len(got)})
        for p in paths:
            if not is_file(p):
                raise InputNotFound(f"pattern file {p} does not exist")
            with open_binary(p) as f:
                data = f.read()
            got = parse_rules(data, str(p))
            rules += got
            sources.append({"path": str(p), "sha256": hashlib.sha256(data).hexdigest(), "rules": len(got)})
        if not rules:
            raise InvalidInput("no self-identification rules: give --patterns FILE or keep the built-in rules")
        return cls(rules, sources)

    def compile(self) -> SelfIdMatcher:
        """The compiled automaton of these rules. Compiling the built-in catalogue takes about 0.13 s, so a
        process keeps the last few it compiled: a second scan with the same rules (a loop over shards,
        a Dask worker's next task) reuses it. Matchers are read-only, so threads may share one."""
        try:
            hash(self.rules)
        except TypeError:  # rules built by hand with lists in them: compiled, not kept
            return SelfIdMatcher(self)
        with _COMPILED_LOCK:
            m = _COMPILED.get(self.rules)
            if m is not None:
                _COMPILED.move_to_end(self.rules)
                return m
        m = SelfIdMatcher(self)
        with _COMPILED_LOCK:
            _COMPILED[self.rules] = m
            while len(_COMPILED) > _COMPILED_MAX:
                _COMPILED.popitem(last=False)
        return m

    def __len__(self) -> int:
        return len(self.rules)


# Compiled matchers by rule tuple (Rule is frozen, so equal rules from equal files hash alike).
_COMPILED: collections.OrderedDict = collections.OrderedDict()
_COMPILED_MAX = 4
_COMPILED_LOCK = threading.Lock()


class SelfIdMatcher:
    """A compiled catalogue: ``scan(texts)`` finds the self-identification statements of every text.

    One automaton holds every phrase of every rule (anchors and context), so a scan reads each
    normalized byte once whatever the number of rules; only documents with an anchor occurrence are
    normalized again with offsets and checked against their rules (csrc/self_id.hpp).
    """

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        lits: list[bytes] = []
        pat_rule: list[int] = []
        pat_role: list[int] = []
        for r_i, rule in enumerate(catalogue.rules):
            for role_i, key in enumerate(ROLES):
                for lit in compile_phrases(getattr(rule, key), f"{rule.source}:{rule.line} (rule {rule.id}) {key}"):
                    lits.append(lit)
                    pat_rule.append(r_i)
                    pat_role.append(role_i)
        self.n_literals = len(lits)
        self._core = _core.SelfIdRules(
            lits, np.asarray(pat_rule, dtype=np.uint32), np.asarray(pat_role, dtype=np.uint8),
            np.asarray([PRECISIONS.index(r.precision) for r in catalogue.rules], dtype=np.uint8),
            np.asarray([r.within for r in catalogue.rules], dtype=np.uint32))

    @property
    def memory_bytes(self) -> int:
        return int(self._core.memory_bytes)

    def scan(self, texts, min_precision: str = "medium", threads: int = 0, *, prefilter: bool = True) -> dict:
        """Findings of every document of `texts` (pyarrow string array, chunked array or list of str).

        prefilter=False runs the automaton over every byte of the first pass instead of only after the
        positions an anchor can start at: the same findings, slower; the tests compare the two.

        Returns a dict of CSR arrays: ``row_offsets`` (len(texts)+1); per finding ``rule`` (index into
        catalogue.rules), ``start``/``end`` (code points of the matched phrase in the original text),
        ``sent_start``/``sent_end`` (its sentence), ``precision`` (0 low, 1 medium, 2 high),
        ``quoted``; per document ``truncated``; and counters.
        """
        if min_precision not in PRECISIONS:
            raise InvalidInput(f"min_precision={min_precision!r}: use one of {', '.join(PRECISIONS)}")
        arr = as_text_array(texts, where="documents")
        return self._core.scan(text_buffers(arr), PRECISIONS.index(min_precision), threads, bool(prefilter))
