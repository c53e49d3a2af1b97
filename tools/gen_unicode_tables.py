"""Generate csrc/unicode_data.inc, the per-code-point tables behind normalization.

Run: python tools/gen_unicode_tables.py  (rewrites csrc/unicode_data.inc)

The tables encode, for every code point, the folding that scanner applies
before any detector looks at text, and the token class of the folded text.
`fold(cp)` is defined here once; tests/reference/naive_normalize.py imports
this module's `fold_char` and `char_class` so the oracle and the table agree
by construction, and the C++ side is tested against that oracle.

fold(ch):
  * drop:  Cc (except whitespace), Cf (zero-width space/joiners, bidi controls,
           BOM, soft hyphen), variation selectors, combining grapheme joiner;
  * space: anything str.isspace() calls whitespace (NBSP, ideographic space,
           line/paragraph separators, ...), which the normalizer collapses;
  * else:  NFKD(casefold(NFKD(ch))), with typographic quotes and dashes
           mapped to ASCII. NFKD rather than NFKC because decomposition is
           local to one code point, so precomposed and decomposed inputs fold
           to the same bytes without a composition pass across characters.
           Hangul syllables are kept whole (decomposing triples Korean bytes).

char_class(folded ch): WORD (letters, digits, marks), SINGLE (scripts written
without spaces, where each character is a token: Han, kana, Thai, Lao, Khmer,
Myanmar, ...), SPACE, OTHER (punctuation, symbols: token separators).
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

OTHER, WORD, SINGLE, SPACE, DROP = 0, 1, 2, 3, 4
KIND_NAMES = {OTHER: "OTHER", WORD: "WORD", SINGLE: "SINGLE", SPACE: "SPACE", DROP: "DROP"}

ASCII_FOLDS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
    "\uff07": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\uff02": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-",
    "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-", "\ufe58": "-", "\ufe63": "-",
    "\uff0d": "-",
}

SINGLE_RANGES = [
    (0x0E00, 0x0EFF),   # Thai, Lao
    (0x1000, 0x109F),   # Myanmar
    (0x1780, 0x17FF),   # Khmer
    (0x19E0, 0x19FF),   # Khmer symbols
    (0x2E80, 0x2FDF),   # CJK radicals, Kangxi
    (0x3005, 0x3007),   # ideographic iteration / closing marks, number zero
    (0x3021, 0x3029),   # Hangzhou numerals
    (0x3040, 0x30FF),   # Hiragana, Katakana
    (0x31F0, 0x31FF),   # Katakana phonetic extensions
    (0x3400, 0x4DBF),   # CJK Ext A
    (0x4E00, 0x9FFF),   # CJK Unified
    (0xF900, 0xFAFF),   # CJK Compatibility Ideographs
    (0xFF66, 0xFF9F),   # halfwidth Katakana
    (0x20000, 0x3FFFF), # CJK Ext B..
]

_DROP_EXTRA = set(range(0xFE00, 0xFE10)) | set(range(0xE0100, 0xE01F0)) | {0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0}


def _is_single(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in SINGLE_RANGES)


def char_class(ch: str) -> int:
    """Token class of one (already folded) character."""
    cp = ord(ch)
    if ch.isspace():
        return SPACE
    cat = unicodedata.category(ch)
    if _is_single(cp) and cat[0] in "LNM":
        return SINGLE
    if cat[0] in "LNM":
        return WORD
    return OTHER


def fold_char(ch: str) -> str | None:
    """Folded form of one code point: None to drop, " " for whitespace."""
    cp = ord(ch)
    if 0xD800 <= cp <= 0xDFFF:
        return "\ufffd"
    if ch.isspace():
        return " "
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cf") or cp in _DROP_EXTRA:
        return None
    if ch in ASCII_FOLDS:
        return ASCII_FOLDS[ch]
    if 0xAC00 <= cp <= 0xD7A3:
        return ch
    s = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", ch).casefold())
    out = []
    for c in s:
        if c in ASCII_FOLDS:
            out.append(ASCII_FOLDS[c])
        elif c.isspace():
            out.append(" ")
        elif unicodedata.category(c) in ("Cc", "Cf") or ord(c) in _DROP_EXTRA:
            continue
        else:
            out.append(c)
    return "".join(out)


def build():
    entries = []          # per code point: uint32
    pool = bytearray()
    pool_index: dict[bytes, int] = {}
    for cp in range(0x110000):
        ch = chr(cp)
        f = fold_char(ch)
        if f is None:
            kind, mapped = DROP, None
        elif f == " ":
            kind, mapped = SPACE, None
        else:
            # The normalizer reads only DROP, SPACE and the mapping; the tokenizer
            # reads the kind of the characters of already-folded text.
            kind = char_class(ch)
            mapped = None if f == ch else f.encode("utf-8")
        if mapped is None:
            e = kind
        else:
            if len(mapped) > 127:
                raise SystemExit(f"fold of U+{cp:04X} too long: {len(mapped)} bytes")
            off = pool_index.get(mapped)
            if off is None:
                off = len(pool)
                pool_index[mapped] = off
                pool += mapped
            if off >= 1 << 21:
                raise SystemExit("string pool too large")
            e = kind | 8 | (len(mapped) << 4) | (off << 11)
        entries.append(e)
    # Two-stage table, blocks of 128 code points, deduplicated.
    block_size = 128
    blocks: list[tuple[int, ...]] = []
    block_index: dict[tuple[int, ...], int] = {}
    stage1 = []
    for start in range(0, 0x110000, block_size):
        blk = tuple(entries[start:start + block_size])
        idx = block_index.get(blk)
        if idx is None:
            idx = len(blocks)
            block_index[blk] = idx
            blocks.append(blk)
        stage1.append(idx)
    return stage1, blocks, bytes(pool)


def render(stage1, blocks, pool) -> str:
    lines = [
        "// Generated by tools/gen_unicode_tables.py from Python's unicodedata; do not edit.",
        f"// Unicode version {unicodedata.unidata_version}.",
        "// Entry layout (uint32): bits 0-2 kind (0 OTHER, 1 WORD, 2 SINGLE, 3 SPACE, 4 DROP),",
        "// bit 3 mapped, bits 4-10 folded length in bytes, bits 11-31 offset into kFoldPool.",
        "#pragma once",
        "#include <cstdint>",
        "namespace scanner { namespace unicode_data {",
        f'constexpr const char* kUnicodeVersion = "{unicodedata.unidata_version}";',
        "constexpr unsigned kBlockShift = 7;",
        f"constexpr std::uint16_t kStage1[{len(stage1)}] = {{",
    ]
    for i in range(0, len(stage1), 24):
        lines.append(",".join(str(x) for x in stage1[i:i + 24]) + ",")
    lines.append("};")
    lines.append(f"constexpr std::uint32_t kStage2[{len(blocks) * 128}] = {{")
    for blk in blocks:
        for i in range(0, 128, 16):
            lines.append(",".join(str(x) for x in blk[i:i + 16]) + ",")
    lines.append("};")
    lines.append(f"constexpr unsigned char kFoldPool[{max(len(pool), 1)}] = {{")
    for i in range(0, len(pool), 32):
        lines.append(",".join(str(x) for x in pool[i:i + 32]) + ",")
    lines.append("};")
    lines.append("}}  // namespace scanner::unicode_data")
    return "\n".join(lines) + "\n"


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "csrc" / "unicode_data.inc"
    stage1, blocks, pool = build()
    out.write_text(render(stage1, blocks, pool))
    print(f"{out}: {len(blocks)} blocks, pool {len(pool)} bytes, unicode {unicodedata.unidata_version}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
