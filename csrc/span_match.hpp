// Copied spans: the maximal passages of a corpus document, of at least
// min_chars normalized characters, that occur verbatim in some reference
// output (after normalization), located in the original texts.
//
// Definition (held to a quadratic Python oracle by the tests). Let T be the
// normalized document and end(i) the end of the longest prefix of T[i:] that
// occurs in the reference text (end is non-decreasing in i). The maximal
// matches are the [i, end(i)) whose end exceeds end(i - 1); each is stripped
// of a leading/trailing space and kept if it still has >= min_chars
// characters (and, if min_words > 0, at least that many word tokens, as
// tokenize() counts them). It is attributed to the reference holding its first occurrence
// (lowest reference number, then lowest offset) and carries how many
// distinct references contain it. Matches attributed to one reference that
// overlap or touch in the document are merged into one span.
//
// How it is found without computing end(i) everywhere. A k-byte window
// filter (a blocked Bloom filter of every k-gram of the references, ~8 bits
// each, no false negatives) is probed at every stride-th position of T,
// stride = min_chars - k + 1, so every match of min_chars characters (and
// hence bytes) contains a probed window, and the first probed window inside
// it lies less than one stride after its start. Only on a probe hit is the
// suffix array consulted: end(p) first, then, if a long enough match can
// start in (p - stride, p], the starts themselves by binary search (end(j) >
// x iff T[j..x] occurs, which is monotone in j). Inside a known match ending
// at E, a window costs one probe: the k-gram ending at E decides whether any
// later start can reach past E. Bloom false positives cost one suffix-array
// search each and are never reported. Cost: O(N / stride) probes per document
// plus O(match length + log n) per real hit.
#pragma once
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "common.hpp"
#include "hash.hpp"
#include "normalize.hpp"
#include "parallel.hpp"
#include "suffix_array.hpp"
#include "text_column.hpp"

namespace scanner {

inline constexpr std::uint64_t kKgramSeed = 0x5eed5a5eed5a0003ULL;

// Blocked Bloom filter: one 64-bit word per key, 6 bits of it set. At 16 bits
// per key about 1 probe in 400 of an absent k-gram passes.
struct KgramFilter {
    const std::uint64_t* words = nullptr;
    std::uint64_t n_words = 0;
    std::size_t k = 0;

    // Windows of 8..64 bytes in whole words (the default 32 among them) are hashed wyhash-style: each pair
    // of words, xored with its own constants, multiplied into 128 bits and the halves folded, the pairs'
    // products (independent, so the CPU overlaps them) xored, and one more fold with the length. hash_bytes
    // folds word after word, a dependent chain about three times as long at 32 bytes.
    __extension__ typedef unsigned __int128 U128;  // GCC and Clang on 64-bit targets
    static std::uint64_t mum(std::uint64_t a, std::uint64_t b) {
        const U128 r = static_cast<U128>(a) * b;
        return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
    }
    static std::uint64_t hash(const std::uint8_t* p, std::size_t k) {
        if (k % 8 != 0 || k == 0 || k > 64) return hash_bytes(p, k, kKgramSeed);
        static constexpr std::uint64_t kC[9] = {0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL, 0x8ebc6af09c88c6e3ULL,
                                               0x589965cc75374cc3ULL, 0x1d8e4e27c47d124fULL, 0xd6e8feb86659fd93ULL,
                                               0xff51afd7ed558ccdULL, 0xc4ceb9fe1a85ec53ULL, 0x9fb21c651e98df25ULL};
        const std::size_t m = k / 8;
        std::uint64_t acc = kKgramSeed;
        for (std::size_t i = 0; i < m; i += 2)
            acc ^= mum(load_le64(p + 8 * i) ^ kC[i], (i + 1 < m ? load_le64(p + 8 * i + 8) : 0) ^ kC[i + 1]);
        return mum(acc ^ kC[8], k ^ kC[0]);
    }
    static std::uint64_t mask(std::uint64_t h) {
        std::uint64_t m = 0;
        for (int i = 0; i < 5; ++i) m |= std::uint64_t{1} << ((h >> (6 * i)) & 63);
        return m | (std::uint64_t{1} << ((h * 0x9e3779b97f4a7c15ULL) >> 58));
    }
    std::size_t word(std::uint64_t h) const { return static_cast<std::size_t>(((h >> 32) * n_words) >> 32); }
    void prefetch(std::uint64_t h) const { __builtin_prefetch(words + word(h)); }
    bool test(std::uint64_t h) const {
        const std::uint64_t m = mask(h);
        return (words[word(h)] & m) == m;
    }
    bool maybe(const std::uint8_t* p) const { return test(hash(p, k)); }
};

// Number of filter words for `kgrams` keys at `bits` bits per key.
inline std::uint64_t kgram_filter_words(std::uint64_t kgrams, int bits) {
    return std::max<std::uint64_t>(1, (kgrams * static_cast<std::uint64_t>(bits) + 63) / 64);
}

// Sets the bits of every k-gram that lies inside one document of text
// (documents end at the 0xFF separators). OR is order-free, so the filter is
// the same for any thread count.
inline void build_kgram_filter(const std::uint8_t* text, const std::uint64_t* doc_starts, std::size_t n_docs,
                               std::size_t k, std::uint64_t* words, std::uint64_t n_words, int threads) {
    std::fill(words, words + n_words, 0);
    KgramFilter f;
    f.words = words;
    f.n_words = n_words;
    f.k = k;
    const std::size_t chunk = 1024;
    parallel_chunks((n_docs + chunk - 1) / chunk, threads, [&](std::size_t c) {
        const std::size_t d1 = std::min(n_docs, (c + 1) * chunk);
        for (std::size_t d = c * chunk; d < d1; ++d) {
            const std::uint64_t b = doc_starts[d], e = doc_starts[d + 1] - 1;  // minus the separator
            for (std::uint64_t p = b; p + k <= e; ++p) {
                const std::uint64_t h = KgramFilter::hash(text + p, k);
                __atomic_fetch_or(&words[f.word(h)], KgramFilter::mask(h), __ATOMIC_RELAXED);
            }
        }
    });
}

struct SpanIndex {
    SuffixArrayView sa;
    KgramFilter filter;
    const std::uint64_t* doc_starts = nullptr;  // n_docs + 1 entries; doc d is [doc_starts[d], doc_starts[d+1]-1)
    std::size_t n_docs = 0;
    TextColumn refs;  // original reference texts, for reference offsets (optional for a control index)

    // Checks what a damaged or mismatched index could break; O(documents + 65,536).
    void validate() const {
        const std::size_t n = sa.n;
        if (sa.width < 8 && n > 0 && (static_cast<std::uint64_t>(n - 1) >> (8 * sa.width)) != 0)
            throw FormatError("span index: suffix array width too small for the text");
        for (std::size_t i = 0; i + 1 < SuffixArrayView::kBucketSize; ++i)
            if (sa.bucket[i] > sa.bucket[i + 1]) throw FormatError("span index: prefix table is damaged");
        if (sa.bucket[SuffixArrayView::kBucketSize - 1] != n)
            throw FormatError("span index: prefix table does not end at the text size");
        for (std::size_t i = 1; sa.samples != nullptr && i < sample_count(n); ++i)
            if (sa.samples[i - 1] > sa.samples[i]) throw FormatError("span index: sample table is damaged");
        if (doc_starts[0] != 0 || doc_starts[n_docs] != n)
            throw FormatError("span index: document starts do not cover the text");
        for (std::size_t d = 0; d < n_docs; ++d)
            if (doc_starts[d + 1] <= doc_starts[d] || doc_starts[d + 1] > n ||
                sa.text[doc_starts[d + 1] - 1] != kDocSeparator)
                throw FormatError("span index: document starts are damaged");
        if (refs.data != nullptr && static_cast<std::size_t>(refs.length) != n_docs)
            throw FormatError("span index: reference count differs from the document count");
        if (filter.k == 0 || filter.n_words == 0) throw FormatError("span index: empty k-gram filter");
    }

    std::size_t doc_of(std::uint64_t pos) const {
        return static_cast<std::size_t>(std::upper_bound(doc_starts, doc_starts + n_docs + 1, pos) - doc_starts) - 1;
    }
};

// Normalizes every row of refs into one string, each followed by the 0xFF
// separator (nulls become empty documents, so document d is row d). Returns
// the number of k-grams inside documents.
inline std::uint64_t concat_normalized(const TextColumn& refs, std::size_t k, std::vector<std::uint8_t>& text,
                                       std::vector<std::uint64_t>& starts) {
    const std::size_t n_docs = static_cast<std::size_t>(refs.length);
    text.clear();
    starts.assign(n_docs + 1, 0);
    NormalizedText nt;
    std::uint64_t kgrams = 0;
    for (std::size_t d = 0; d < n_docs; ++d) {
        starts[d] = text.size();
        if (refs.is_valid(static_cast<std::int64_t>(d))) {
            const ByteSpan row = refs.row(static_cast<std::int64_t>(d));
            if (row.size >= kMaxDocumentBytes) throw InvalidArgument("a reference text is 4 GiB or more");
            normalize_into<false>(row, nt);
            text.insert(text.end(), nt.data(), nt.data() + nt.size);
            if (nt.size >= k) kgrams += nt.size - k + 1;
        }
        text.push_back(kDocSeparator);
    }
    starts[n_docs] = text.size();
    return kgrams;
}

struct SpanOptions {
    std::size_t min_chars = 50;
    std::size_t min_words = 0;  // 0: no word condition
    int threads = 0;
};

struct SpanResult {
    std::vector<std::int64_t> row_offsets;           // CSR over batch rows
    std::vector<std::int64_t> start, end;            // code points in the original document
    std::vector<std::uint32_t> ref;                  // reference number
    std::vector<std::int64_t> ref_start, ref_end;    // code points in the original reference text
    std::vector<std::int64_t> ref_count;             // distinct references containing the span
    std::vector<std::uint8_t> common;                // 1: the span occurs in the control text
    std::vector<std::int64_t> chars;                 // normalized characters of the span
    std::vector<std::int64_t> copied_chars;          // per row: original code points under non-common spans
    std::vector<std::uint8_t> truncated;             // per row: 1 if the search budget ran out
    std::int64_t windows = 0, filter_hits = 0, searches = 0, matches = 0;
};

namespace detail {

// Word tokens of normalized text (runs of word characters; each character of
// a script written without spaces is one), as tokenize() splits them.
inline std::size_t count_words(const std::uint8_t* p, std::size_t n) {
    std::size_t words = 0, len;
    bool in_word = false;
    for (std::size_t i = 0; i < n; i += len) {
        const std::uint32_t cp = p[i] < 0x80 ? (len = 1, p[i]) : decode_utf8(p + i, n - i, len);
        const unsigned kind = unicode_entry(cp) & 7;
        if (kind == kWord) {
            words += !in_word;
            in_word = true;
        } else if (kind == kSingle) {
            ++words;
            in_word = false;
        } else if (kind != kDrop) {
            in_word = false;
        }
    }
    return words;
}

struct RawSpan {
    std::uint32_t start, end;           // normalized bytes in the document
    std::uint32_t ref;
    std::uint64_t ref_pos, ref_end;     // normalized bytes in the reference
    std::int64_t ref_count;
};

// Appends sp, merging it into the last span when that one is of the same
// reference and overlaps or touches it (spans arrive in start order, so this
// keeps highly repetitive documents from piling up matches).
inline void push_merged(std::vector<RawSpan>& out, const RawSpan& sp) {
    if (!out.empty() && out.back().ref == sp.ref && sp.start <= out.back().end) {
        RawSpan& b = out.back();
        b.end = std::max(b.end, sp.end);
        b.ref_pos = std::min(b.ref_pos, sp.ref_pos);
        b.ref_end = std::max(b.ref_end, sp.ref_end);
        b.ref_count = std::max(b.ref_count, sp.ref_count);
    } else {
        out.push_back(sp);
    }
}

struct SpanCounters {
    std::int64_t windows = 0, filter_hits = 0, searches = 0, matches = 0, truncated = 0;
};

// Suffix-array searches allowed per document: far above what real text needs
// (a copied passage costs about ten), so only degenerate periodic text
// ("aaaa...") reaches it; the document is then counted as truncated.
inline std::int64_t search_budget(std::size_t windows) { return 16 * static_cast<std::int64_t>(windows) + 4096; }

// The windows find_raw_spans probes in a normalized document of N bytes, for spans of at least m bytes:
// T[p, p + k) for p = 0, s, 2s, ... (k the filter's window, s = m - k + 1) while p + k <= N; none if
// N < m or the index is empty.
inline std::size_t window_count(const SpanIndex& idx, std::size_t N, std::size_t m) {
    const std::size_t k = idx.filter.k;
    return N < m || idx.sa.n == 0 || k == 0 || m < k ? 0 : (N - k) / (m - k + 1) + 1;
}

// The k-gram filter's answer for every window of the documents docs[0, n) (normalized, each readable
// kPad bytes past its end), one byte per window, document after document; first[d] is where document
// d's windows begin (first has n + 1 entries). The filter is larger than the caches (16 bits per
// reference byte) and each test is a cache miss: testing all the windows of a chunk of documents in one
// stream keeps kAhead tests in flight across document boundaries, where a document of a few hundred bytes
// alone has only a handful of windows and would wait out a full miss at its start.
inline void test_windows(const SpanIndex& idx, std::size_t m, const ByteSpan* docs, std::size_t n,
                         std::vector<std::uint8_t>& tested, std::vector<std::size_t>& first) {
    const KgramFilter& f = idx.filter;
    const std::size_t k = f.k, s = m >= k ? m - k + 1 : 1;
    first.assign(n + 1, 0);
    for (std::size_t d = 0; d < n; ++d)
        first[d + 1] = first[d] + window_count(idx, docs[d].size, m);
    const std::size_t total = first[n];
    tested.resize(total);
    if (total == 0) return;
    constexpr std::size_t kAhead = 32;
    std::uint64_t ring[kAhead];
    std::size_t d = 0, p = 0;  // the next window to hash: document d at byte p
    auto next_hash = [&]() {
        while (first[d + 1] == first[d] || p + k > docs[d].size) {
            ++d;
            p = 0;
        }
        const std::uint64_t h = KgramFilter::hash(docs[d].data + p, k);
        f.prefetch(h);
        p += s;
        return h;
    };
    const std::size_t lead = std::min(kAhead, total);
    for (std::size_t i = 0; i < lead; ++i) ring[i] = next_hash();
    for (std::size_t i = 0; i < total; ++i) {
        const std::uint64_t h = ring[i % kAhead];
        if (i + kAhead < total) ring[i % kAhead] = next_hash();
        tested[i] = f.test(h) ? 1 : 0;
    }
}

// The maximal matches of the normalized document T[0, N) (see the header
// comment), merged per reference where consecutive. tested: the filter's answer for each of its windows
// (test_windows). Returns false if the document exhausted its search budget (the matches found so far
// are kept).
inline bool find_raw_spans(const std::uint8_t* T, std::size_t N, const SpanIndex& idx, std::size_t m,
                           std::size_t min_words, const std::uint8_t* tested, std::vector<RawSpan>& out,
                           std::vector<std::uint64_t>& occ, SpanCounters& ctr) {
    const SuffixArrayView& sa = idx.sa;
    const std::size_t k = idx.filter.k;
    const std::size_t windows = window_count(idx, N, m);
    if (windows == 0) return true;
    const std::size_t s = m - k + 1;
    const std::int64_t budget = search_budget(windows);
    std::int64_t searches = 0;

    auto occurs = [&](std::size_t a, std::size_t b) {
        ++searches;
        return sa.occurs(T + a, b - a);
    };
    auto end_of = [&](std::size_t j, std::uint64_t* where = nullptr) {
        ++searches;
        return j + sa.longest(T + j, N - j, where);
    };
    std::size_t last_end = 0;  // char end of the last kept match, to skip a repeat from a later byte start
    // no_left_to: T[j - 1, no_left_to) is already known not to occur (a failed search of the caller's),
    // so neither does any longer string around it, and the previous-character search is skipped.
    auto consider = [&](std::size_t j, std::size_t ej, std::size_t no_left_to) {
        while (ej > j && ej < N && is_utf8_continuation(T[ej])) --ej;
        if (ej <= j) return;
        if (j > 0 && ej < no_left_to) {
            std::size_t pb = j - 1;
            while (pb > 0 && is_utf8_continuation(T[pb])) --pb;
            if (occurs(pb, ej)) return;  // the previous character starts a match reaching as far
        }
        std::size_t a = j, b = ej;
        while (a < b && T[a] == ' ') ++a;
        while (b > a && T[b - 1] == ' ') --b;
        if (count_utf8_chars(T + a, b - a) < m || b <= last_end) return;
        if (min_words > 0 && count_words(T + a, b - a) < min_words) return;
        last_end = b;
        // Attribute: first occurrence (lowest position = lowest reference, lowest offset), distinct references.
        std::size_t lo, hi;
        ++searches;
        sa.range(T + a, b - a, lo, hi);
        occ.clear();
        for (std::size_t r = lo; r < hi; ++r) occ.push_back(sa.at(r));
        std::sort(occ.begin(), occ.end());
        std::int64_t refs = 0;
        std::size_t prev_doc = static_cast<std::size_t>(-1);
        for (std::uint64_t x : occ) {
            const std::size_t d = idx.doc_of(x);
            if (d != prev_doc) {
                ++refs;
                prev_doc = d;
            }
        }
        const std::uint64_t first = occ.empty() ? 0 : occ.front();
        const std::size_t d = idx.doc_of(first);
        const std::uint64_t rp = first - idx.doc_starts[d];
        push_merged(out, RawSpan{static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(b),
                                 static_cast<std::uint32_t>(d), rp, rp + (b - a), refs});
        ++ctr.matches;
    };

    std::size_t E = 0;  // end(p) of the last probed window whose end is known
    bool complete = true;
    for (std::size_t p = 0, w = 0; p + k <= N; p += s, ++w) {
        if (searches > budget) {
            complete = false;
            break;
        }
        ++ctr.windows;
        const std::size_t theta = std::max(E, p + k - 1);  // starts of interest: end(j) > theta
        if (theta >= N) continue;
        if (theta == p + k - 1 ? tested[w] == 0 : !idx.filter.maybe(T + theta + 1 - k)) {
            if (theta == p + k - 1) E = 0;
            continue;
        }
        ++ctr.filter_hits;
        std::uint64_t q = 0;  // where T[p, endp) occurs
        const std::size_t endp = end_of(p, &q);
        if (endp <= theta) {
            if (theta == p + k - 1) E = 0;
            continue;
        }
        const std::size_t lo_r = p >= s ? p - s + 1 : 0;
        if (endp - lo_r < m) {
            E = endp;
            continue;
        }
        std::size_t cur = theta, pos = lo_r;
        for (bool first = true;; first = false) {
            // Smallest j in [pos, p] with end(j) > cur, i.e. T[j..cur] occurs (true at p, as endp > cur).
            std::size_t j, hi = p, jq = p + 1;
            if (first) {
                // Walk left along the occurrence at q: T[jq, endp) occurs, so the answer is <= jq, and
                // usually jq itself (a pasted passage has one source), which one search confirms.
                jq = p;
                while (jq > pos && q > p - jq && sa.text[q - (p - jq) - 1] == T[jq - 1]) --jq;
                hi = jq;
            }
            bool left_failed = false;  // T[j - 1, cur + 1) was searched and does not occur
            if (hi == pos || !occurs(hi - 1, cur + 1)) {
                j = hi;
                left_failed = hi != pos;
            } else if (occurs(pos, cur + 1)) {
                j = pos;
            } else {
                std::size_t lo = pos + 1;  // invariant: T[lo - 1, cur + 1) does not occur
                --hi;  // known to hold
                while (lo < hi) {
                    const std::size_t mid = lo + (hi - lo) / 2;
                    if (occurs(mid, cur + 1)) hi = mid;
                    else lo = mid + 1;
                }
                j = lo;
                left_failed = true;
            }
            const bool along_q = j == jq;
            const std::size_t j_found = j;
            while (j < N && is_utf8_continuation(T[j])) ++j;
            if (j != j_found) left_failed = false;
            // end() is non-decreasing: a start in [jq, p] ends exactly at endp, as T[jq, endp) occurs.
            const std::size_t ej = along_q && j <= p ? endp : end_of(j);
            consider(j, ej, left_failed ? cur + 1 : static_cast<std::size_t>(-1));
            cur = std::max(cur, ej);
            pos = j + 1;
            if (pos > p || endp <= cur || searches > budget) break;
        }
        E = std::max(endp, cur);
    }
    ctr.searches += searches;
    if (!complete) ++ctr.truncated;
    return complete;
}

struct SpanChunk {
    std::vector<std::int64_t> counts;
    std::vector<std::int64_t> start, end, ref_start, ref_end, ref_count, chars;
    std::vector<std::uint32_t> ref;
    std::vector<std::uint8_t> common;
    SpanCounters ctr;
};

// Per-thread buffers of span_document, reused across documents.
struct SpanScratch {
    std::vector<RawSpan> raw, merged;
    std::vector<std::uint64_t> occ;
    std::vector<std::size_t> order, norm_at, bytes_at, ref_norm_at, ref_bytes;
    OffsetScratch offsets;
    std::vector<std::int64_t> cps, ref_cps;
    struct Interval { std::int64_t a, b; };
    std::vector<Interval> cover;
    std::vector<ByteSpan> docs;             // the documents of a test_windows call
    std::vector<std::uint8_t> tested;       // its answers ...
    std::vector<std::size_t> first_window;  // ... and where each document's begin
};

// The spans of one document (valid, under kMaxDocumentBytes) whose normalized bytes are nt, appended to
// out; sets its copied characters and whether its search was cut short. tested: the filter's answers for
// its windows (test_windows). Returns the number of spans.
inline std::int64_t span_document(const SpanIndex& idx, const SpanIndex* control, const SpanOptions& o,
                                  ByteSpan text, ByteSpan nt, const std::uint8_t* tested, SpanScratch& w,
                                  SpanChunk& out, std::int64_t& copied, std::uint8_t& truncated) {
    w.raw.clear();
    if (!find_raw_spans(nt.data, nt.size, idx, o.min_chars, o.min_words, tested, w.raw, w.occ, out.ctr))
        truncated = 1;
    if (w.raw.empty()) return 0;
    // Merge the matches of one reference that overlap or touch in the document.
    std::stable_sort(w.raw.begin(), w.raw.end(), [](const RawSpan& x, const RawSpan& y) {
        return x.ref != y.ref ? x.ref < y.ref : x.start < y.start;
    });
    w.merged.clear();
    for (const auto& sp : w.raw) push_merged(w.merged, sp);
    // Document order for output.
    w.order.resize(w.merged.size());
    for (std::size_t i = 0; i < w.order.size(); ++i) w.order[i] = i;
    std::sort(w.order.begin(), w.order.end(), [&](std::size_t x, std::size_t y) {
        const auto &a = w.merged[x], &b = w.merged[y];
        if (a.start != b.start) return a.start < b.start;
        if (a.end != b.end) return a.end < b.end;
        return a.ref < b.ref;
    });
    // Map to original code points: byte offsets first (one walk of the normalizer, up to the last span),
    // then one pass over the document.
    w.norm_at.clear();
    for (std::size_t i : w.order) {
        w.norm_at.push_back(w.merged[i].start);
        w.norm_at.push_back(w.merged[i].end);
    }
    if (!original_ranges(text, w.norm_at, w.bytes_at, w.offsets))  // nt is normalize(text): cannot happen
        throw std::logic_error("span offsets past the normalized document");
    codepoints_at(text, w.bytes_at, w.cps);
    w.cover.clear();
    for (std::size_t t = 0; t < w.order.size(); ++t) {
        const auto& sp = w.merged[w.order[t]];
        const std::int64_t ca = w.cps[2 * t], cb = w.cps[2 * t + 1];
        std::int64_t ra = 0, rb = 0;
        if (idx.refs.data != nullptr && sp.ref < static_cast<std::uint64_t>(idx.refs.length)) {
            const ByteSpan rt = idx.refs.row(sp.ref);
            w.ref_norm_at = {static_cast<std::size_t>(sp.ref_pos), static_cast<std::size_t>(sp.ref_end)};
            // false only if the reference texts are not the ones indexed (then no reference offsets)
            if (original_ranges(rt, w.ref_norm_at, w.ref_bytes, w.offsets)) {
                codepoints_at(rt, w.ref_bytes, w.ref_cps);
                ra = w.ref_cps[0];
                rb = w.ref_cps[1];
            }
        }
        bool common = false;
        if (control != nullptr && control->sa.n > 0) {
            ++out.ctr.searches;
            common = control->sa.occurs(nt.data + sp.start, sp.end - sp.start);
        }
        out.start.push_back(ca);
        out.end.push_back(cb);
        out.ref.push_back(sp.ref);
        out.ref_start.push_back(ra);
        out.ref_end.push_back(rb);
        out.ref_count.push_back(sp.ref_count);
        out.common.push_back(common ? 1 : 0);
        out.chars.push_back(static_cast<std::int64_t>(count_utf8_chars(nt.data + sp.start, sp.end - sp.start)));
        if (!common) w.cover.push_back({ca, cb});
    }
    std::sort(w.cover.begin(), w.cover.end(),
              [](const SpanScratch::Interval& x, const SpanScratch::Interval& y) { return x.a < y.a; });
    std::int64_t covered = 0, reach = -1;
    for (const auto& iv : w.cover) {
        const std::int64_t a = std::max(iv.a, reach);
        if (iv.b > a) covered += iv.b - a;
        reach = std::max(reach, iv.b);
    }
    copied = covered;
    return static_cast<std::int64_t>(w.order.size());
}

inline void check_span_options(const SpanIndex& idx, const SpanOptions& o) {
    if (o.min_chars < idx.filter.k)
        throw InvalidArgument("min_chars " + std::to_string(o.min_chars) + " is below the index's span window of " +
                              std::to_string(idx.filter.k) + " bytes");
}

inline void span_init(SpanResult& res, std::int64_t n) {
    res.copied_chars.assign(static_cast<std::size_t>(n), 0);
    res.truncated.assign(static_cast<std::size_t>(n), 0);
}

// Concatenates the chunks, in row order, into res.
inline void span_merge(const std::vector<SpanChunk>& chunks, SpanResult& res) {
    row_offsets_of(chunks, res.row_offsets);
    for (const auto& ch : chunks) {
        auto app = [](auto& dst, const auto& src) { dst.insert(dst.end(), src.begin(), src.end()); };
        app(res.start, ch.start);
        app(res.end, ch.end);
        app(res.ref, ch.ref);
        app(res.ref_start, ch.ref_start);
        app(res.ref_end, ch.ref_end);
        app(res.ref_count, ch.ref_count);
        app(res.common, ch.common);
        app(res.chars, ch.chars);
        res.windows += ch.ctr.windows;
        res.filter_hits += ch.ctr.filter_hits;
        res.searches += ch.ctr.searches;
        res.matches += ch.ctr.matches;
    }
}

}  // namespace detail

// Copied spans of every row of `docs` against `idx` (and, if given, whether each
// occurs in `control`). Rows that are null or too large have no spans.
inline SpanResult span_scan(const TextColumn& docs, const SpanIndex& idx, const SpanIndex* control,
                            const SpanOptions& o) {
    detail::check_span_options(idx, o);
    SpanResult res;
    detail::span_init(res, docs.length);
    struct Scratch {
        detail::SpanScratch w;
        NormalizedText nt;
    };
    const auto chunks = row_chunks<detail::SpanChunk, Scratch>(
        docs.length, o.threads, [&](auto& out, std::int64_t lo, std::int64_t hi, Scratch& sc) {
        detail::SpanScratch& w = sc.w;
        NormalizedText& nt = sc.nt;
        for (std::int64_t r = lo; r < hi; ++r) {
            if (!docs.is_valid(r)) continue;
            const ByteSpan text = docs.row(r);
            if (text.size >= kMaxDocumentBytes) continue;
            normalize_into<false>(text, nt);
            const std::size_t ur = static_cast<std::size_t>(r);
            const ByteSpan norm{nt.data(), nt.size};
            detail::test_windows(idx, o.min_chars, &norm, 1, w.tested, w.first_window);
            out.counts[static_cast<std::size_t>(r - lo)] = detail::span_document(
                idx, control, o, text, norm, w.tested.data(), w, out, res.copied_chars[ur], res.truncated[ur]);
        }
    });
    detail::span_merge(chunks, res);
    return res;
}

}  // namespace scanner
