// Self-identification: statements in which a model names itself, its maker,
// its knowledge cutoff or its AI-disclaimer boilerplate, found by literal
// patterns and confirmed by per-rule conditions.
//
// Rules and patterns come from the catalogue (scanner/data/self_id_rules.jsonl,
// compiled by scanner/self_id.py): every pattern is a normalized literal that
// belongs to one rule, in one role:
//   anchor    an occurrence is a candidate finding of its rule;
//   requires  the rule holds only if one of these occurs in the same sentence,
//             overlapping the anchor or at most rule.within characters from it;
//   excludes  an occurrence of one of these that overlaps the anchor cancels
//             it ("as an ai researcher" cancels "as an ai").
// A pattern that starts (ends) with a letter or digit of a script written
// with spaces only matches where the text has no such character just before
// (after) it: "i am chatgpt" does not match inside "hi am chatgpt".
//
// Pass 1 (every document): the normalization walk (normalize.hpp) feeds the
// pattern automaton directly, so no normalized copy is written; cost one
// table load per normalized byte; only anchor occurrences are kept. Pass 2
// (documents with an anchor only): normalize with offsets, collect every
// phrase in windows around the anchors (so a 150 MB document full of "I"
// and "my" keeps nothing but what confirmation needs), confirm, find the
// sentence, map to code points.
//
// Sentences: a sentence ends after '.', '!' or '?' followed by a space (so
// "gpt-3.5" and "openai.com" do not end one), or after a CJK full stop; it is
// cut at kSentenceReach bytes on either side of the match. A match with an
// quotation mark (", ', «, 「 or 『) opened and not closed in the kQuoteReach
// bytes before it, and a closing one in the kQuoteReach bytes after it, is
// inside a quotation (a news text quoting a chatbot) and drops to the low
// precision level.
//
// Results are in document order (start, then rule) and do not depend on the
// thread count.
#pragma once
#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "common.hpp"
#include "hash.hpp"
#include "normalize.hpp"
#include "parallel.hpp"
#include "pattern_set.hpp"
#include "text_column.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(SCANNER_NO_DISPATCH)
#include <immintrin.h>
#define SCANNER_HAVE_AVX2_DISPATCH 1
#else
#define SCANNER_HAVE_AVX2_DISPATCH 0
#endif

namespace scanner {

enum PatternRole : std::uint8_t { kAnchor = 0, kRequires = 1, kExcludes = 2 };
enum Precision : std::uint8_t { kLow = 0, kMedium = 1, kHigh = 2 };

inline constexpr std::size_t kSentenceReach = 300;
inline constexpr std::size_t kQuoteReach = 300;
// Anchor occurrences recorded per document: this, or one per 64 bytes of a longer document; past it the
// document is marked truncated (only degenerate text such as "As an AI, I " repeated gets there).
inline constexpr std::size_t kMaxHitsPerDocument = 1 << 16;

// Where an anchor can start. Bitsets over a hash of the bytes at a position, set from every anchor's
// first bytes: `first6` of its first 6 bytes (all anchors), then, to thin out what passes, `long8` of
// its first 8 (anchors of 8 bytes or more) and `short6` of its first 6 (shorter anchors). No false
// negatives: every anchor occurrence starts at a position that passes. In ordinary text about 1
// position in 1,500 passes (1 in 400 passes first6), so pass 1 runs the automaton only over short
// windows after those positions (prefilter_anchors) instead of over every byte. A window is as long as
// the longest anchor whose first bytes hash where the position's do (`reach8`/`reach6`, per group of
// 16 bitset slots, so hash neighbours only lengthen it): anchors run from 6 to 130 bytes, and a window
// of the longest for every position would walk most of them for nothing. Not used (enabled = false) if
// an anchor is shorter than 6 bytes.
//
// The first6 test, which every byte pays, hashes with 32-bit multiplies of the two overlapping 4-byte
// words at p and p + 2, so that with AVX2 (checked at run time) 8 positions are hashed and looked up
// (one gather) at once; the scalar loop computes the same test, so both find the same positions.
struct AnchorPrefilter {
    static constexpr int kBits = 20;  // 2^20 bits (128 kB) per bitset: collisions pass ~0.1% of positions
    static constexpr std::uint32_t kMul6a = 0x9e3779b1u, kMul6b = 0x85ebca77u;
    bool enabled = false, any_short = false, use_avx2 = false;
    std::size_t max_len = 0;  // longest anchor, bytes
    std::vector<std::uint32_t> first6;
    std::vector<std::uint64_t> long8, short6;
    static constexpr int kReachBits = kBits - 4;
    static constexpr std::uint16_t kReachMax = 0xffff;  // this or longer: max_len
    std::vector<std::uint16_t> reach8, reach6;         // longest anchor per 16 slots of long8 / short6
    static std::uint32_t slot(std::uint64_t v) {
        return static_cast<std::uint32_t>((v * 0x9e3779b97f4a7c15ULL) >> (64 - kBits));
    }
    static std::uint32_t load_le32(const std::uint8_t* p) {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        return v;
    }
    // Hash of the 6 bytes at p (the two 4-byte words at p and p + 2).
    static std::uint32_t slot6(const std::uint8_t* p) {
        return (load_le32(p) * kMul6a + load_le32(p + 2) * kMul6b) >> (32 - kBits);
    }
    static bool test(const std::uint64_t* b, std::uint32_t i) { return (b[i >> 6] >> (i & 63)) & 1u; }
    static void set(std::vector<std::uint64_t>& b, std::uint32_t i) { b[i >> 6] |= std::uint64_t{1} << (i & 63); }
    static std::uint64_t low6(std::uint64_t v) { return v & 0xffffffffffffULL; }

    void build(const std::vector<ByteSpan>& anchors) {
        enabled = !anchors.empty();
        any_short = false;
        max_len = 0;
        first6.assign(std::size_t{1} << (kBits - 5), 0);
        for (auto* b : {&long8, &short6}) b->assign(std::size_t{1} << (kBits - 6), 0);
        for (auto* r : {&reach8, &reach6}) r->assign(std::size_t{1} << kReachBits, 0);
#if SCANNER_HAVE_AVX2_DISPATCH
        use_avx2 = __builtin_cpu_supports("avx2");
#endif
        for (const ByteSpan& a : anchors) {
            if (a.size < 6) {
                enabled = false;
                return;
            }
            std::uint8_t head[8] = {};
            std::memcpy(head, a.data, std::min<std::size_t>(8, a.size));
            const std::uint32_t s6 = slot6(head);
            first6[s6 >> 5] |= std::uint32_t{1} << (s6 & 31);
            const std::uint64_t v = load_le64(head);
            const std::uint32_t sl = a.size >= 8 ? slot(v) : slot(low6(v));
            if (a.size >= 8) {
                set(long8, sl);
            } else {
                set(short6, sl);
                any_short = true;
            }
            std::uint16_t& r = (a.size >= 8 ? reach8 : reach6)[sl >> (kBits - kReachBits)];
            r = static_cast<std::uint16_t>(std::max<std::size_t>(r, std::min<std::size_t>(a.size, kReachMax)));
            max_len = std::max(max_len, a.size);
        }
    }
    bool pass6(const std::uint8_t* T, std::size_t p) const {
        const std::uint32_t s = slot6(T + p);
        return (first6[s >> 5] >> (s & 31)) & 1u;
    }
    // The tests after first6, at a position that passed it (p + 6 <= N; T readable up to N + 8).
    bool pass_rest(const std::uint8_t* T, std::size_t N, std::size_t p) const {
        const std::uint64_t v = load_le64(T + p);
        return (p + 8 <= N && test(long8.data(), slot(v))) || (any_short && test(short6.data(), slot(low6(v))));
    }
    // The longest anchor that can start at p, a position that passed (so at least 6).
    std::size_t reach(const std::uint8_t* T, std::size_t N, std::size_t p) const {
        const std::uint64_t v = load_le64(T + p);
        std::size_t r = 0;
        auto at = [&](const std::vector<std::uint16_t>& t, std::uint32_t sl) {
            const std::uint16_t x = t[sl >> (kBits - kReachBits)];
            r = std::max<std::size_t>(r, x == kReachMax ? max_len : x);
        };
        if (p + 8 <= N && test(long8.data(), slot(v))) at(reach8, slot(v));
        if (any_short && test(short6.data(), slot(low6(v)))) at(reach6, slot(low6(v)));
        return r;
    }
    // The first position q >= p with q + 6 <= N that may start an anchor, or N if there is none.
    // T must be readable up to N + 8.
    std::size_t next(const std::uint8_t* T, std::size_t N, std::size_t p) const {
#if SCANNER_HAVE_AVX2_DISPATCH
        if (use_avx2) return next_avx2(T, N, p);
#endif
        return next_scalar(T, N, p);
    }
    std::size_t next_scalar(const std::uint8_t* T, std::size_t N, std::size_t p) const {
        for (; p + 6 <= N; ++p)
            if (pass6(T, p) && pass_rest(T, N, p)) return p;
        return N;
    }
#if SCANNER_HAVE_AVX2_DISPATCH
    // Eight positions at a time: their two words come out of one 16-byte load by byte shuffles.
    __attribute__((target("avx2"))) std::size_t next_avx2(const std::uint8_t* T, std::size_t N, std::size_t p) const {
        const __m256i shuf_a = _mm256_setr_epi8(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6,  //
                                                4, 5, 6, 7, 5, 6, 7, 8, 6, 7, 8, 9, 7, 8, 9, 10);
        const __m256i shuf_b = _mm256_setr_epi8(2, 3, 4, 5, 3, 4, 5, 6, 4, 5, 6, 7, 5, 6, 7, 8,  //
                                                6, 7, 8, 9, 7, 8, 9, 10, 8, 9, 10, 11, 9, 10, 11, 12);
        const __m256i mul_a = _mm256_set1_epi32(static_cast<int>(kMul6a));
        const __m256i mul_b = _mm256_set1_epi32(static_cast<int>(kMul6b));
        const __m256i low5 = _mm256_set1_epi32(31);
        const int* words = reinterpret_cast<const int*>(first6.data());
        // Positions p..p+7 all have 6 bytes when p + 13 <= N; the load reads p..p+15 <= N + 2.
        for (; p + 13 <= N; p += 8) {
            const __m256i x = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(T + p)));
            const __m256i h = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_shuffle_epi8(x, shuf_a), mul_a),
                                               _mm256_mullo_epi32(_mm256_shuffle_epi8(x, shuf_b), mul_b));
            const __m256i s = _mm256_srli_epi32(h, 32 - kBits);
            const __m256i w = _mm256_i32gather_epi32(words, _mm256_srli_epi32(s, 5), 4);
            const __m256i bit = _mm256_sllv_epi32(w, _mm256_sub_epi32(low5, _mm256_and_si256(s, low5)));
            unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(bit)));
            while (mask != 0) {
                const std::size_t q = p + static_cast<std::size_t>(__builtin_ctz(mask));
                if (pass_rest(T, N, q)) return q;
                mask &= mask - 1;
            }
        }
        return next_scalar(T, N, p);
    }
#endif
};

struct SelfIdRules {
    PatternSet set;
    AnchorPrefilter prefilter;  // over the anchors' first bytes
    std::vector<std::uint32_t> pat_rule;
    std::vector<std::uint8_t> pat_role;
    std::vector<std::uint8_t> pat_lead_word, pat_trail_word;
    std::vector<std::uint8_t> rule_precision;
    std::vector<std::uint32_t> rule_within;  // characters, for requires
    std::vector<std::uint8_t> rule_has_requires;
    std::size_t max_len = 0;                  // longest pattern, bytes

    std::size_t n_rules() const { return rule_precision.size(); }
};

namespace detail {

inline unsigned kind_at(const std::uint8_t* p, std::size_t n) {
    std::size_t len;
    const std::uint32_t cp = p[0] < 0x80 ? p[0] : decode_utf8(p, n, len);
    return unicode_entry(cp) & 7;
}

// Kind of the character that ends just before byte i of T (a character start).
inline unsigned kind_before(const std::uint8_t* T, std::size_t i) {
    std::size_t j = i - 1;
    while (j > 0 && is_utf8_continuation(T[j])) --j;
    return kind_at(T + j, i - j);
}

}  // namespace detail

// The literals one phrase text stands for, appended to out unless already in seen: its normalized form
// and, at each junction of a character of a script written without spaces (kSingle) and a word character,
// both the form with a space there and the one without, since a corpus may write either (normalization
// keeps the spaces a text has and adds none). Listed as Python's itertools.product lists the choices (the
// text as normalized first, the last junction varying fastest), at most max_variants + 1 of them.
// Returns false if the text normalizes to nothing. nt is scratch.
inline bool phrase_variants(ByteSpan text, std::size_t max_variants, NormalizedText& nt,
                            std::vector<std::string>& out, std::unordered_set<std::string>& seen) {
    normalize_into<false>(text, nt);
    const std::uint8_t* T = nt.data();
    const std::size_t N = nt.size;
    if (N == 0) return false;
    auto add = [&](std::string v) {
        if (seen.insert(v).second) out.push_back(std::move(v));
    };
    // Code points: start byte and kind.
    std::vector<std::size_t> at;
    std::vector<unsigned> kind;
    bool single = false;
    for (std::size_t i = 0, len; i < N; i += len) {
        const std::uint32_t cp = T[i] < 0x80 ? (len = 1, T[i]) : decode_utf8(T + i, N - i, len);
        at.push_back(i);
        kind.push_back(unicode_entry(cp) & 7);
        single |= kind.back() == kSingle;
    }
    at.push_back(N);
    // Pieces: fixed bytes, or a choice between two (one of them empty). A space between a word and a
    // kSingle character may go; such a pair without one may take one.
    struct Piece { std::size_t a, b; int choice; };  // choice: 0 fixed T[a, b); 1 (" ", ""); 2 ("", " ")
    std::vector<Piece> pieces;
    std::size_t m = 0;  // choices
    const std::size_t n = kind.size();
    auto junction = [&](std::size_t x, std::size_t y) { return kind[x] * kind[y] == kWord * kSingle; };
    for (std::size_t i = 0; single && i < n; ++i) {
        if (kind[i] == kSpace && i > 0 && i + 1 < n && junction(i - 1, i + 1)) {
            pieces.push_back({0, 0, 1});
            ++m;
            continue;
        }
        pieces.push_back({at[i], at[i + 1], 0});
        if (i + 1 < n && junction(i, i + 1)) {
            pieces.push_back({0, 0, 2});
            ++m;
        }
    }
    if (m == 0) {
        add(std::string(reinterpret_cast<const char*>(T), N));
        return true;
    }
    const std::uint64_t cap = static_cast<std::uint64_t>(max_variants) + 1;
    const std::uint64_t count = m < 63 && (std::uint64_t{1} << m) < cap ? std::uint64_t{1} << m : cap;
    std::string v;
    for (std::uint64_t c = 0; c < count; ++c) {
        v.clear();
        std::size_t j = 0;  // choices so far; choice j takes bit m - 1 - j of c
        for (const Piece& pc : pieces) {
            if (pc.choice == 0) {
                v.append(reinterpret_cast<const char*>(T + pc.a), pc.b - pc.a);
                continue;
            }
            const std::size_t bit = m - 1 - j++;
            const bool second = bit < 64 && ((c >> bit) & 1) != 0;
            if ((pc.choice == 1) != second) v.push_back(' ');
        }
        add(v);
    }
    return true;
}

// Compiles the rule tables; patterns are normalized UTF-8 literals.
inline SelfIdRules make_self_id_rules(const std::vector<ByteSpan>& patterns, const std::uint32_t* pat_rule,
                                      const std::uint8_t* pat_role, std::size_t n_rules,
                                      const std::uint8_t* rule_precision, const std::uint32_t* rule_within) {
    SelfIdRules r;
    const std::size_t n = patterns.size();
    r.pat_rule.assign(pat_rule, pat_rule + n);
    r.pat_role.assign(pat_role, pat_role + n);
    r.rule_precision.assign(rule_precision, rule_precision + n_rules);
    r.rule_within.assign(rule_within, rule_within + n_rules);
    for (std::size_t i = 0; i < n; ++i) {
        if (r.pat_rule[i] >= n_rules) throw InvalidArgument("self-id: pattern " + std::to_string(i) + " names no rule");
        if (r.pat_role[i] > kExcludes) throw InvalidArgument("self-id: bad pattern role");
        const ByteSpan p = patterns[i];
        if (p.size == 0) throw InvalidArgument("self-id: empty pattern " + std::to_string(i));
        r.pat_lead_word.push_back(detail::kind_at(p.data, p.size) == kWord);
        r.pat_trail_word.push_back(detail::kind_before(p.data, p.size) == kWord);
        r.max_len = std::max(r.max_len, p.size);
    }
    for (std::size_t i = 0; i < n_rules; ++i)
        if (r.rule_precision[i] > kHigh) throw InvalidArgument("self-id: bad precision level");
    r.rule_has_requires.assign(n_rules, 0);
    for (std::size_t i = 0; i < n; ++i)
        if (r.pat_role[i] == kRequires) r.rule_has_requires[r.pat_rule[i]] = 1;
    r.set = PatternSet(patterns);
    std::vector<ByteSpan> anchors;
    for (std::size_t i = 0; i < n; ++i)
        if (r.pat_role[i] == kAnchor) anchors.push_back(patterns[i]);
    r.prefilter.build(anchors);
    return r;
}

struct SelfIdOptions {
    std::uint8_t min_precision = kMedium;
    int threads = 0;
    bool prefilter = true;  // false: pass 1 walks every byte (the reference the tests hold the prefilter to)
};

struct SelfIdResult {
    std::vector<std::int64_t> row_offsets;                // CSR over batch rows
    std::vector<std::uint32_t> rule;
    std::vector<std::int64_t> start, end;                 // code points of the match in the original text
    std::vector<std::int64_t> sent_start, sent_end;       // code points of its sentence
    std::vector<std::uint8_t> precision;                  // the rule's, or kLow inside a quotation
    std::vector<std::uint8_t> quoted;
    std::vector<std::uint8_t> truncated;                  // per row: more than kMaxHitsPerDocument occurrences
    std::int64_t pattern_hits = 0, anchor_hits = 0, confirmed = 0, below_precision = 0;
};

namespace detail {

struct PatHit {
    std::uint32_t pat, end;
};

// Feeds the normalization walk into the automaton, recording occurrences.
// Feeds the normalization walk into the automaton, recording occurrences (of every pattern, or with
// role != nullptr only of the patterns whose role is kAnchor), at most `cap` of them.
struct MatchSink {
    const PatternSet& set;
    std::vector<PatHit>& hits;
    const std::uint8_t* role = nullptr;
    std::size_t cap = kMaxHitsPerDocument;
    std::uint32_t state = 0;
    std::uint32_t pos = 0;
    bool overflow = false;
    void reserve(std::size_t) {}
    void put(std::uint8_t b, std::uint32_t) {
        ++pos;
        state = set.step(state, b, pos, [&](std::uint32_t id, std::size_t end) {
            if (role != nullptr && role[id] != kAnchor) return;
            if (hits.size() < cap) hits.push_back(PatHit{id, static_cast<std::uint32_t>(end)});
            else overflow = true;
        });
    }
    void put_run(const std::uint8_t* b, std::size_t n, std::uint32_t src0) {
        for (std::size_t k = 0; k < n; ++k) put(b[k], src0);
    }
};

// Every occurrence inside the windows of normalized text T around the anchor occurrences `anchors`
// (each widened by the sentence reach and the longest pattern, then merged), in end order: all that
// confirmation can look at, since a requires phrase lies in the anchor's sentence and an excludes
// phrase overlaps the anchor. Context phrases elsewhere in a long document are never collected.
inline void hits_near_anchors(const SelfIdRules& R, const std::uint8_t* T, std::size_t N,
                              const std::vector<PatHit>& anchors, std::vector<PatHit>& out) {
    out.clear();
    const std::size_t reach = kSentenceReach + R.max_len + 4;
    std::size_t w0 = 0, w1 = 0;
    bool open = false;
    auto flush = [&]() {
        R.set.find(T + w0, w1 - w0, [&](std::uint32_t id, std::size_t end) {
            out.push_back(PatHit{id, static_cast<std::uint32_t>(w0 + end)});
        });
    };
    for (const PatHit& h : anchors) {
        const std::size_t a = h.end - std::min<std::size_t>(h.end, R.set.pattern_length(h.pat));
        const std::size_t lo = a > reach ? a - reach : 0, hi = std::min(N, static_cast<std::size_t>(h.end) + reach);
        if (open && lo <= w1) {
            w1 = std::max(w1, hi);
        } else {
            if (open) flush();
            w0 = lo;
            w1 = hi;
            open = true;
        }
    }
    if (open) flush();
}

inline bool sentence_end_at(const std::uint8_t* T, std::size_t N, std::size_t i) {
    // T[i] ends a sentence; i < N.
    const std::uint8_t c = T[i];
    if (c == '.' || c == '!' || c == '?') return i + 1 == N || T[i + 1] == ' ';
    // U+3002 IDEOGRAPHIC FULL STOP (e3 80 82); fullwidth ! and ? fold to ASCII.
    return c == 0x82 && i >= 2 && T[i - 1] == 0x80 && T[i - 2] == 0xe3;
}

inline std::size_t char_start_at_or_after(const std::uint8_t* T, std::size_t N, std::size_t i) {
    while (i < N && is_utf8_continuation(T[i])) ++i;
    return i;
}

// [ss, se): the sentence around T[a, b).
inline void sentence_around(const std::uint8_t* T, std::size_t N, std::size_t a, std::size_t b, std::size_t& ss,
                            std::size_t& se) {
    const std::size_t lo = a > kSentenceReach ? a - kSentenceReach : 0;
    ss = lo == 0 ? 0 : char_start_at_or_after(T, N, lo);
    for (std::size_t i = a; i > lo; --i) {
        if (sentence_end_at(T, N, i - 1)) {
            ss = i;
            break;
        }
    }
    while (ss < a && T[ss] == ' ') ++ss;
    const std::size_t hi = std::min(N, b + kSentenceReach);
    se = hi;
    for (std::size_t i = b; i < hi; ++i) {
        if (sentence_end_at(T, N, i)) {
            se = i + 1;
            break;
        }
    }
    se = char_start_at_or_after(T, N, se);
    while (se > b && T[se - 1] == ' ') --se;
}

// Whether a quotation opened in the kQuoteReach bytes before T[a] is still open there.
inline bool quote_open_before(const std::uint8_t* T, std::size_t N, std::size_t a) {
    std::size_t i = a > kQuoteReach ? char_start_at_or_after(T, N, a - kQuoteReach) : 0;
    int straight = 0, single = 0, guillemets = 0, corners = 0, white_corners = 0;
    while (i < a) {
        const std::uint8_t c = T[i];
        if (c == '"') {
            straight ^= 1;
        } else if (c == '\'') {
            // An apostrophe between letters (I'm, don't) is no quotation mark; one after a non-letter and
            // before a letter opens a quotation, one after a letter and before a non-letter closes it.
            const bool word_before = i > 0 && kind_before(T, i) == kWord;
            const bool word_after = i + 1 < N && kind_at(T + i + 1, N - i - 1) == kWord;
            if (!word_before && word_after) ++single;
            else if (word_before && !word_after) single = std::max(0, single - 1);
        } else if (c == 0xc2 && i + 1 < a) {
            if (T[i + 1] == 0xab) ++guillemets;                               // «
            else if (T[i + 1] == 0xbb) guillemets = std::max(0, guillemets - 1);  // »
        } else if (c == 0xe3 && i + 2 < a && T[i + 1] == 0x80) {
            if (T[i + 2] == 0x8c) ++corners;                                  // 「
            else if (T[i + 2] == 0x8d) corners = std::max(0, corners - 1);    // 」
            else if (T[i + 2] == 0x8e) ++white_corners;                       // 『
            else if (T[i + 2] == 0x8f) white_corners = std::max(0, white_corners - 1);  // 』
        }
        ++i;
    }
    return straight || single || guillemets || corners || white_corners;
}

// Whether T[a, b) lies inside a quotation: one opened in the kQuoteReach bytes before it and not
// closed before it, and a closing mark in the kQuoteReach bytes after it (an unclosed quotation
// mark alone is too weak: tokenized corpora and stray inch marks leave many).
inline bool inside_quote(const std::uint8_t* T, std::size_t N, std::size_t a, std::size_t b) {
    if (!quote_open_before(T, N, a)) return false;
    const std::size_t hi = std::min(N, b + kQuoteReach);
    for (std::size_t i = b; i < hi; ++i) {
        const std::uint8_t c = T[i];
        if (c == '"') return true;
        if (c == '\'' && i > 0 && T[i - 1] != ' ' && (i + 1 >= N || kind_at(T + i + 1, N - i - 1) != kWord))
            return true;  // after a non-space, before a non-letter: closes
        if (c == 0xc2 && i + 1 < N && T[i + 1] == 0xbb) return true;                         // »
        if (c == 0xe3 && i + 2 < N && T[i + 1] == 0x80 && (T[i + 2] == 0x8d || T[i + 2] == 0x8f)) return true;
    }
    return false;
}

struct Candidate {
    std::uint32_t a, b;  // normalized bytes
    std::uint32_t rule;
    std::uint32_t ss, se;
    std::uint8_t precision, quoted;
};

struct SelfIdChunk {
    std::vector<std::int64_t> counts;
    std::vector<std::uint32_t> rule;
    std::vector<std::int64_t> start, end, sent_start, sent_end;
    std::vector<std::uint8_t> precision, quoted;
    std::int64_t pattern_hits = 0, anchor_hits = 0, confirmed = 0, below_precision = 0;
};

// Confirmed findings of one normalized document, given its pattern occurrences (in end order).
inline void confirm(const SelfIdRules& R, const std::uint8_t* T, std::size_t N, const std::vector<PatHit>& hits,
                    std::uint8_t min_precision, std::vector<Candidate>& out, SelfIdChunk& ctr) {
    const PatternSet& S = R.set;
    auto bounded = [&](const PatHit& h, std::size_t& a) {
        a = h.end - S.pattern_length(h.pat);
        if (R.pat_lead_word[h.pat] && a > 0 && kind_before(T, a) == kWord) return false;
        if (R.pat_trail_word[h.pat] && h.end < N && kind_at(T + h.end, N - h.end) == kWord) return false;
        return true;
    };
    // Context occurrences (requires/excludes), by (rule, end), for range look-ups.
    struct Ctx {
        std::uint32_t rule, end, start;
        std::uint8_t role;
    };
    std::vector<Ctx> ctx;
    for (const PatHit& h : hits) {
        if (R.pat_role[h.pat] == kAnchor) continue;
        std::size_t a;
        if (bounded(h, a))
            ctx.push_back(Ctx{R.pat_rule[h.pat], h.end, static_cast<std::uint32_t>(a), R.pat_role[h.pat]});
    }
    std::sort(ctx.begin(), ctx.end(), [](const Ctx& x, const Ctx& y) {
        return x.rule != y.rule ? x.rule < y.rule : x.role != y.role ? x.role < y.role : x.end < y.end;
    });
    auto range = [&](std::uint32_t rule, std::uint8_t role, std::uint32_t lo_end, std::uint32_t hi_end) {
        const auto key_lo = Ctx{rule, lo_end, 0, role};
        const auto less = [](const Ctx& x, const Ctx& y) {
            return x.rule != y.rule ? x.rule < y.rule : x.role != y.role ? x.role < y.role : x.end < y.end;
        };
        auto first = std::lower_bound(ctx.begin(), ctx.end(), key_lo, less);
        auto last = first;
        while (last != ctx.end() && last->rule == rule && last->role == role && last->end <= hi_end) ++last;
        return std::make_pair(first, last);
    };
    for (const PatHit& h : hits) {
        if (R.pat_role[h.pat] != kAnchor) continue;
        ++ctr.anchor_hits;
        std::size_t a;
        if (!bounded(h, a)) continue;
        const std::uint32_t rule = R.pat_rule[h.pat];
        std::size_t ss, se;
        sentence_around(T, N, a, h.end, ss, se);
        if (R.rule_has_requires[rule]) {
            // Some requires occurrence in the sentence, overlapping the anchor or at most `within` characters away.
            const std::size_t within = R.rule_within[rule], reach = 4 * within;
            const std::size_t lo = std::max(ss, a > reach ? a - reach : 0);
            const std::size_t hi = std::min(N, h.end + reach + R.max_len);
            auto [f, l] = range(rule, kRequires, static_cast<std::uint32_t>(lo), static_cast<std::uint32_t>(hi));
            bool ok = false;
            for (auto it = f; it != l && !ok; ++it) {
                if (it->start < ss || it->end > se) continue;
                if (it->end <= a) ok = count_utf8_chars(T + it->end, a - it->end) <= within;
                else if (it->start >= h.end) ok = count_utf8_chars(T + h.end, it->start - h.end) <= within;
                else ok = true;
            }
            if (!ok) continue;
        }
        {
            // An exclude occurrence overlapping the anchor cancels it; it ends within max_len past the anchor.
            auto [f, l] = range(rule, kExcludes, h.end > a ? static_cast<std::uint32_t>(a + 1) : h.end,
                                static_cast<std::uint32_t>(std::min<std::size_t>(N, h.end + R.max_len)));
            bool excluded = false;
            for (auto it = f; it != l && !excluded; ++it) excluded = it->start < h.end && it->end > a;
            if (excluded) continue;
        }
        const bool quoted = inside_quote(T, N, a, h.end);
        const std::uint8_t prec = quoted ? static_cast<std::uint8_t>(kLow) : R.rule_precision[rule];
        if (prec < min_precision) {
            ++ctr.below_precision;
            continue;
        }
        out.push_back(Candidate{static_cast<std::uint32_t>(a), h.end, rule, static_cast<std::uint32_t>(ss),
                                static_cast<std::uint32_t>(se), prec, static_cast<std::uint8_t>(quoted)});
    }
    // One finding per rule and stretch of text: overlapping matches of a rule merge.
    std::sort(out.begin(), out.end(), [](const Candidate& x, const Candidate& y) {
        return x.rule != y.rule ? x.rule < y.rule : x.a != y.a ? x.a < y.a : x.b > y.b;
    });
    std::size_t w = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (w > 0 && out[w - 1].rule == out[i].rule && out[i].a < out[w - 1].b) {
            Candidate& c = out[w - 1];
            c.b = std::max(c.b, out[i].b);
            c.se = std::max(c.se, out[i].se);
            c.precision = std::max(c.precision, out[i].precision);
            c.quoted = c.quoted && out[i].quoted;
        } else {
            out[w++] = out[i];
        }
    }
    out.resize(w);
    std::sort(out.begin(), out.end(), [](const Candidate& x, const Candidate& y) {
        return x.a != y.a ? x.a < y.a : x.b != y.b ? x.b < y.b : x.rule < y.rule;
    });
    ctr.confirmed += static_cast<std::int64_t>(out.size());
}

// Pass 1 over normalized bytes T (readable up to T.size + 8) with the prefilter: the automaton, from its
// start state, over the windows [p, p + reach(p)) of the positions p that may start an anchor,
// overlapping windows merged. Every anchor occurrence starts at such a p and is no longer than reach(p),
// so it ends inside its window, and the sink gets the same anchors, in the same (end) order, as from a
// walk over all of T.
inline void prefilter_anchors(const SelfIdRules& R, ByteSpan T, MatchSink& sink) {
    const std::size_t N = T.size;
    std::size_t w0 = 0, w1 = 0;  // the open window; none while w1 == 0
    auto run = [&]() {
        sink.state = 0;
        sink.pos = static_cast<std::uint32_t>(w0);
        sink.put_run(T.data + w0, std::min(w1, N) - w0, 0);
    };
    for (std::size_t p = R.prefilter.next(T.data, N, 0); p < N; p = R.prefilter.next(T.data, N, p + 1)) {
        const std::size_t e = p + R.prefilter.reach(T.data, N, p);
        if (w1 != 0 && p < w1) {
            w1 = std::max(w1, e);
        } else {
            if (w1 != 0) run();
            w0 = p;
            w1 = e;
        }
    }
    if (w1 != 0) run();
}

// Per-thread buffers of self_id_document, reused across documents.
struct SelfIdScratch {
    std::vector<PatHit> hits, anchors;
    std::vector<Candidate> cands;
    NormalizedText nt, nto;  // the document normalized (for the prefilter), and with offsets
    std::vector<std::size_t> bytes_at;
    std::vector<std::int64_t> cps;
};

// The findings of one document (valid, under kMaxDocumentBytes), appended to out; norm: its normalized
// bytes if the caller has them, else null. Sets whether a hit cap was reached; returns the number of findings.
inline std::int64_t self_id_document(const SelfIdRules& R, const SelfIdOptions& o, ByteSpan text,
                                     const ByteSpan* norm, SelfIdScratch& w, SelfIdChunk& out,
                                     std::uint8_t& truncated) {
    // Pass 1: anchors only (a few per million bytes in ordinary text), over the normalized bytes.
    w.anchors.clear();
    MatchSink sink{R.set, w.anchors, R.pat_role.data(), std::max(kMaxHitsPerDocument, text.size / 64)};
    if (o.prefilter && R.prefilter.enabled) {
        ByteSpan nb;
        if (norm != nullptr) {
            nb = *norm;
        } else {
            normalize_into<false>(text, w.nt);
            nb = ByteSpan{w.nt.data(), w.nt.size};
        }
        prefilter_anchors(R, nb, sink);
    } else if (norm != nullptr) {
        sink.put_run(norm->data, norm->size, 0);
    } else {
        normalize_walk(text, sink);
    }
    if (sink.overflow) truncated = 1;
    if (w.anchors.empty()) return 0;
    // Pass 2: every phrase near the anchors, in the normalized text with offsets.
    normalize_into<true>(text, w.nto);
    const NormalizedText& T = w.nto;
    hits_near_anchors(R, T.data(), T.size, w.anchors, w.hits);
    out.pattern_hits += static_cast<std::int64_t>(w.hits.size());
    w.cands.clear();
    confirm(R, T.data(), T.size, w.hits, o.min_precision, w.cands, out);
    if (w.cands.empty()) return 0;
    w.bytes_at.clear();
    for (const auto& cd : w.cands) {
        std::size_t oa, ob;
        original_range(T, text, cd.a, cd.b, oa, ob);
        w.bytes_at.push_back(oa);
        w.bytes_at.push_back(ob);
        original_range(T, text, cd.ss, std::max<std::size_t>(cd.se, cd.ss + 1), oa, ob);
        w.bytes_at.push_back(oa);
        w.bytes_at.push_back(ob);
    }
    codepoints_at(text, w.bytes_at, w.cps);
    for (std::size_t t = 0; t < w.cands.size(); ++t) {
        out.rule.push_back(w.cands[t].rule);
        out.start.push_back(w.cps[4 * t]);
        out.end.push_back(w.cps[4 * t + 1]);
        out.sent_start.push_back(w.cps[4 * t + 2]);
        out.sent_end.push_back(w.cps[4 * t + 3]);
        out.precision.push_back(w.cands[t].precision);
        out.quoted.push_back(w.cands[t].quoted);
    }
    return static_cast<std::int64_t>(w.cands.size());
}

// Concatenates the chunks, in row order, into res.
inline void self_id_merge(const std::vector<SelfIdChunk>& chunks, SelfIdResult& res) {
    row_offsets_of(chunks, res.row_offsets);
    auto app = [](auto& dst, const auto& src) { dst.insert(dst.end(), src.begin(), src.end()); };
    for (const auto& ch : chunks) {
        app(res.rule, ch.rule);
        app(res.start, ch.start);
        app(res.end, ch.end);
        app(res.sent_start, ch.sent_start);
        app(res.sent_end, ch.sent_end);
        app(res.precision, ch.precision);
        app(res.quoted, ch.quoted);
        res.pattern_hits += ch.pattern_hits;
        res.anchor_hits += ch.anchor_hits;
        res.confirmed += ch.confirmed;
        res.below_precision += ch.below_precision;
    }
}

}  // namespace detail

// Self-identification findings of every row of docs. Null and too-large rows have none.
inline SelfIdResult self_id_scan(const TextColumn& docs, const SelfIdRules& R, const SelfIdOptions& o) {
    SelfIdResult res;
    res.truncated.assign(static_cast<std::size_t>(docs.length), 0);
    const auto chunks = row_chunks<detail::SelfIdChunk, detail::SelfIdScratch>(
        docs.length, o.threads, [&](auto& out, std::int64_t lo, std::int64_t hi, detail::SelfIdScratch& w) {
        for (std::int64_t r = lo; r < hi; ++r) {
            if (!docs.is_valid(r)) continue;
            const ByteSpan text = docs.row(r);
            if (text.size >= kMaxDocumentBytes) continue;
            out.counts[static_cast<std::size_t>(r - lo)] =
                detail::self_id_document(R, o, text, nullptr, w, out, res.truncated[static_cast<std::size_t>(r)]);
        }
    });
    detail::self_id_merge(chunks, res);
    return res;
}

}  // namespace scanner
