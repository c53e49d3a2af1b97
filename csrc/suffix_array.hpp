// Suffix array over the normalized reference outputs.
//
// What it is. The reference outputs, normalized (normalize.hpp), are laid end
// to end in one byte string with a 0xFF byte after each output. 0xFF never
// occurs in UTF-8, so no corpus text can match across two outputs, and every
// output ends with a byte no query contains. The suffix array lists the start
// of every suffix of that string in lexicographic order (bytes compared as
// unsigned; a suffix that is a prefix of another sorts first). All
// occurrences of a string then form one contiguous run of the array, found by
// binary search.
//
// How it is built. SA-IS (Nong, Zhang and Chan, "Two efficient algorithms for
// linear time suffix array construction", 2011): classify each suffix as
// S (smaller than the next) or L; sort the LMS substrings (the stretches
// between S positions preceded by an L) by one round of induced sorting; if
// their names are not all distinct, sort the string of names recursively;
// then induce the order of every suffix from the sorted LMS suffixes. O(n)
// time; memory: the output array (4 bytes per byte below 2^31 bytes, 8 above)
// plus n bytes of types and a reduced string of at most n/2 entries that
// lives inside the output array. The sentinel is virtual: suffix n is never
// materialized, so the input needs no extra byte.
//
// How it is stored. Each entry takes the fewest whole bytes that can hold
// n - 1 (3 bytes up to 16 MiB of text, 4 up to 4 GiB, 5 beyond), packed
// little-endian, with 8 zero bytes of slack so an entry is read with one
// unaligned 8-byte load and a mask. A table of 65,537 ranks gives the run of
// every 2-byte prefix, which saves the first ~16 steps of each search. A
// second table keeps the first 8 bytes (big-endian, zero padded) of every
// kSampleStep-th suffix in rank order: 1/16 byte per text byte, small enough
// to stay in cache, so a search of 8 bytes or more narrows its rank range to
// about 2 * kSampleStep ranks by comparing integers there before it touches
// the suffix array and the text, where each step is a cache miss.
//
// How it is searched. lower()/upper() are binary searches that skip the
// prefix already known to match both ends of the current range (Manber and
// Myers' "mlr" heuristic), so a search for q costs O(|q| + log n) byte
// comparisons in practice. longest() finds the longest prefix of q that
// occurs: it is shared with one of the two suffixes beside q's insertion
// point.
//
// No LCP array is stored. The span finder only needs the searches above, the
// occurrence count of a span comes from its rank range, and an LCP array
// would cost at least one more byte per reference byte (capped values) for
// nothing the scan uses; build_suffix_array stays the single place to add
// one (Kasai's algorithm, O(n)) if a later detector needs it.
#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

#include "common.hpp"

namespace scanner {

inline constexpr std::uint8_t kDocSeparator = 0xff;
inline constexpr std::size_t kSuffixArrayPad = 8;
inline constexpr std::size_t kSampleStep = 128;

// The first 8 bytes of p[0, avail) as a big-endian integer, zero padded: for strings s < t,
// prefix_key(s) <= prefix_key(t).
inline std::uint64_t prefix_key(const std::uint8_t* p, std::size_t avail) {
    std::uint64_t v = 0;
    if (avail >= 8) {
        std::memcpy(&v, p, 8);
        return __builtin_bswap64(v);
    }
    for (std::size_t i = 0; i < avail; ++i) v |= static_cast<std::uint64_t>(p[i]) << (56 - 8 * i);
    return v;
}

// Entries of the sample table of a text of n bytes.
inline std::size_t sample_count(std::size_t n) { return (n + kSampleStep - 1) / kSampleStep; }

namespace detail {

// SA-IS over T[0, n) with symbols in [0, K). SA receives the sorted suffix starts.
// I is a signed integer type able to hold n.
template <class C, class I>
void sais(const C* T, I* SA, I n, I K) {
    if (n <= 0) return;
    if (n == 1) {
        SA[0] = 0;
        return;
    }
    std::vector<std::uint8_t> stype(static_cast<std::size_t>(n));  // 1: S-type
    stype[static_cast<std::size_t>(n - 1)] = 0;  // the virtual sentinel after it is smaller
    for (I i = n - 2; i >= 0; --i)
        stype[i] = T[i] < T[i + 1] || (T[i] == T[i + 1] && stype[i + 1]);
    auto is_lms = [&](I i) { return i > 0 && i < n && stype[i] && !stype[i - 1]; };

    std::vector<I> counts(static_cast<std::size_t>(K), 0), bkt(static_cast<std::size_t>(K));
    for (I i = 0; i < n; ++i) ++counts[static_cast<std::size_t>(T[i])];
    auto bucket_heads = [&]() {
        I sum = 0;
        for (I c = 0; c < K; ++c) {
            bkt[c] = sum;
            sum += counts[c];
        }
    };
    auto bucket_tails = [&]() {
        I sum = 0;
        for (I c = 0; c < K; ++c) {
            sum += counts[c];
            bkt[c] = sum;
        }
    };
    // Induced sorting reads only T: the types of p - 1 follow from T[p - 1],
    // T[p] and the type of p, and in the S pass p is S-type exactly when it
    // lies in the part of its bucket already filled by that pass. This keeps
    // the type array out of the two random-access loops, which dominate.
    auto induce = [&]() {
        bucket_heads();
        // Suffix n-1 is L-type and follows the virtual sentinel in sorted order.
        SA[bkt[T[n - 1]]++] = n - 1;
        for (I i = 0; i < n; ++i) {
            const I p = SA[i];
            // Every entry seen here is L-type or an LMS seed, so p - 1 is L-type iff T[p-1] >= T[p].
            if (p > 0 && T[p - 1] >= T[p]) SA[bkt[T[p - 1]]++] = p - 1;
        }
        bucket_tails();
        for (I i = n - 1; i >= 0; --i) {
            const I p = SA[i];
            if (p <= 0) continue;
            const auto c = T[p], c0 = T[p - 1];
            const bool p_is_s = i >= bkt[c];
            if (c0 < c || (c0 == c && p_is_s)) SA[--bkt[c0]] = p - 1;
        }
    };

    // 1. Sort the LMS substrings by induced sorting from their bucket tails.
    std::fill(SA, SA + n, I(-1));
    bucket_tails();
    for (I i = 1; i < n; ++i)
        if (is_lms(i)) SA[--bkt[T[i]]] = i;
    induce();

    // 2. Gather the sorted LMS positions at the front and name the substrings.
    std::vector<std::uint64_t> lms_bits(static_cast<std::size_t>(n / 64 + 1), 0);
    for (I i = 1; i < n; ++i)
        if (is_lms(i)) lms_bits[static_cast<std::size_t>(i) >> 6] |= std::uint64_t{1} << (i & 63);
    I n1 = 0;
    for (I i = 0; i < n; ++i) {
        const I p = SA[i];
        if (p > 0 && ((lms_bits[static_cast<std::size_t>(p) >> 6] >> (p & 63)) & 1)) SA[n1++] = p;
    }
    std::fill(SA + n1, SA + n, I(-1));
    I name = 0, prev = -1;
    for (I i = 0; i < n1; ++i) {
        const I pos = SA[i];
        bool diff = prev < 0;
        for (I d = 0; !diff; ++d) {
            // A substring that reaches the (unique) sentinel differs from every other.
            if (pos + d == n || prev + d == n || T[pos + d] != T[prev + d] || stype[pos + d] != stype[prev + d]) {
                diff = true;
            } else if (d > 0 && (is_lms(pos + d) || is_lms(prev + d))) {
                break;
            }
        }
        if (diff) {
            ++name;
            prev = pos;
        }
        SA[n1 + pos / 2] = name - 1;
    }
    for (I i = n - 1, j = n - 1; i >= n1; --i)
        if (SA[i] >= 0) SA[j--] = SA[i];

    // 3. Order the LMS suffixes: directly if all names differ, else recursively.
    I* s1 = SA + n - n1;
    I* sa1 = SA;
    if (name < n1) {
        sais<I, I>(s1, sa1, n1, name);
    } else {
        for (I i = 0; i < n1; ++i) sa1[s1[i]] = i;
    }

    // 4. Induce every suffix from the sorted LMS suffixes.
    for (I i = 1, j = 0; i < n; ++i)
        if (is_lms(i)) s1[j++] = i;
    for (I i = 0; i < n1; ++i) sa1[i] = s1[sa1[i]];
    std::fill(SA + n1, SA + n, I(-1));
    bucket_tails();
    for (I i = n1 - 1; i >= 0; --i) {
        const I j = SA[i];
        SA[i] = -1;
        SA[--bkt[T[j]]] = j;
    }
    induce();
}

}  // namespace detail

// Bytes per entry for a text of n bytes.
inline int suffix_array_width(std::size_t n) {
    int w = 1;
    while (w < 8 && (static_cast<std::uint64_t>(n) >> (8 * w)) != 0) ++w;
    return w;
}

// Suffix array of text[0, n), packed at `width` bytes per entry into out
// (n * width + kSuffixArrayPad bytes, zero padded).
inline void build_suffix_array(const std::uint8_t* text, std::size_t n, int width, std::vector<std::uint8_t>& out) {
    out.assign(n * static_cast<std::size_t>(width) + kSuffixArrayPad, 0);
    auto pack = [&](const auto* sa) {
        for (std::size_t r = 0; r < n; ++r) {
            const std::uint64_t v = static_cast<std::uint64_t>(sa[r]);
            std::memcpy(out.data() + r * static_cast<std::size_t>(width), &v, static_cast<std::size_t>(width));
        }
    };
    if (n < 0x7fffffffULL) {
        std::vector<std::int32_t> sa(n);
        detail::sais<std::uint8_t, std::int32_t>(text, sa.data(), static_cast<std::int32_t>(n), 256);
        pack(sa.data());
    } else {
        std::vector<std::int64_t> sa(n);
        detail::sais<std::uint8_t, std::int64_t>(text, sa.data(), static_cast<std::int64_t>(n), 256);
        pack(sa.data());
    }
}

// A read-only view of a packed suffix array and its text (both memory-mapped
// from the index). Thread-safe: every method is const and keeps no state.
struct SuffixArrayView {
    const std::uint8_t* text = nullptr;  // n bytes
    std::size_t n = 0;
    const std::uint8_t* sa = nullptr;  // n * width + kSuffixArrayPad bytes
    int width = 4;
    const std::uint64_t* bucket = nullptr;  // 65537 ranks, or null
    const std::uint64_t* samples = nullptr;  // sample_count(n) prefix keys of ranks 0, kSampleStep, ..., or null

    static constexpr std::size_t kBucketSize = 65537;

    std::uint64_t at(std::size_t r) const {
        std::uint64_t v;
        std::memcpy(&v, sa + r * static_cast<std::size_t>(width), 8);
        return width == 8 ? v : v & ((std::uint64_t{1} << (8 * width)) - 1);
    }

    // Asks the cache for byte d of the suffix of rank r (a hint: nothing is read or checked).
    void prefetch_suffix(std::size_t r, std::size_t d) const {
        const std::uint64_t x = at(r);
        if (x < n) __builtin_prefetch(text + x + std::min<std::size_t>(d, n - static_cast<std::size_t>(x)));
    }

    // Compares the suffix at x with q[0, L), the first d bytes known equal.
    // Returns <0 if the suffix sorts before q, 0 if q is a prefix of it, >0 after; d becomes their lcp.
    int compare(std::uint64_t x, const std::uint8_t* q, std::size_t L, std::size_t& d) const {
        // Entries are validated against n only when the index is verified; never read past the text.
        if (x >= n) throw FormatError("suffix array entry out of range: the index is damaged, rebuild it");
        const std::uint8_t* s = text + x;
        const std::size_t avail = n - static_cast<std::size_t>(x);
        const std::size_t lim = std::min(L, avail);
        while (d + 8 <= lim) {
            std::uint64_t a, b;
            std::memcpy(&a, s + d, 8);
            std::memcpy(&b, q + d, 8);
            if (a != b) {
                d += static_cast<std::size_t>(__builtin_ctzll(a ^ b) >> 3);
                return s[d] < q[d] ? -1 : 1;
            }
            d += 8;
        }
        while (d < lim && s[d] == q[d]) ++d;
        if (d == L) return 0;
        if (d == avail) return -1;
        return s[d] < q[d] ? -1 : 1;
    }

    // A rank range [lo, hi) holding q's insertion point (the first rank whose suffix is >= q) and every
    // suffix that starts with q; every suffix from hi on is above every string that starts with q. From
    // the prefix table (q's first two bytes), then for L >= 8 the sample table: a sample whose key is
    // below q's sorts below q, one whose key is above it sorts above every string starting with q.
    void initial_range(const std::uint8_t* q, std::size_t L, std::size_t& lo, std::size_t& hi) const {
        lo = 0;
        hi = n;
        if (bucket != nullptr && L >= 2) {
            const std::size_t key = (static_cast<std::size_t>(q[0]) << 8) | q[1];
            lo = bucket[key];
            hi = bucket[key + 1];
        }
        if (samples == nullptr || L < 8 || lo >= hi) return;
        const std::uint64_t kq = prefix_key(q, 8);
        // Samples of ranks in [lo, hi), plus the one just before: the first below-or-equal boundary.
        std::size_t a = lo / kSampleStep, b = (hi + kSampleStep - 1) / kSampleStep;
        // First sample in [a, b) with key >= kq, then the first with key > kq.
        const std::uint64_t* s0 = samples + a;
        const std::uint64_t* ge = std::lower_bound(s0, samples + b, kq);
        const std::uint64_t* gt = std::upper_bound(ge, samples + b, kq);
        if (ge != s0) lo = std::max(lo, static_cast<std::size_t>(ge - 1 - samples) * kSampleStep + 1);
        if (gt != samples + b) hi = std::min(hi, static_cast<std::size_t>(gt - samples) * kSampleStep);
        if (lo > hi) lo = hi;  // only a damaged table gets here
    }

    // First rank in [lo, hi) whose suffix is >= q (upper=false) or > every string with prefix q (upper=true).
    std::size_t bound(const std::uint8_t* q, std::size_t L, std::size_t lo, std::size_t hi, bool upper,
                      std::size_t known = 0) const {
        std::size_t llcp = known, rlcp = known;
        while (lo < hi) {
            const std::size_t mid = lo + (hi - lo) / 2;
            std::size_t d = std::min(llcp, rlcp);
            if (hi - lo > 2) {  // start loading the text of both possible next probes
                prefetch_suffix(lo + (mid - lo) / 2, d);
                prefetch_suffix(mid + 1 + (hi - mid - 1) / 2, d);
            }
            const int c = compare(at(mid), q, L, d);
            if (c < 0 || (upper && c == 0)) {
                lo = mid + 1;
                llcp = d;
            } else {
                hi = mid;
                rlcp = d;
            }
        }
        return lo;
    }

    // The rank range [lo, hi) of the suffixes that start with q[0, L).
    // The end is found by galloping from lo (ranks lo + 1, lo + 2, lo + 4, ...) and a binary search in
    // the last gap: a passage found in few places costs a compare or two instead of a second search.
    void range(const std::uint8_t* q, std::size_t L, std::size_t& lo, std::size_t& hi) const {
        std::size_t a, b;
        initial_range(q, L, a, b);
        lo = bound(q, L, a, b, false);
        auto has_prefix = [&](std::size_t r) {
            std::size_t d = 0;
            return compare(at(r), q, L, d) == 0;
        };
        if (lo >= b || !has_prefix(lo)) {
            hi = lo;
            return;
        }
        std::size_t in = lo + 1, out = b;  // [lo, in) have the prefix; [out, b) do not
        for (std::size_t step = 1; in < out; step *= 2) {
            const std::size_t probe = std::min(out - 1, in + step - 1);
            if (!has_prefix(probe)) {
                out = probe;
                break;
            }
            in = probe + 1;
        }
        hi = bound(q, L, in, out, true);
    }

    bool occurs(const std::uint8_t* q, std::size_t L) const {
        if (L == 0) return true;
        std::size_t a, b;
        initial_range(q, L, a, b);
        const std::size_t r = bound(q, L, a, b, false);
        if (r >= b) return false;
        std::size_t d = 0;
        return compare(at(r), q, L, d) == 0;
    }

    // Length of the longest prefix of q[0, L) that occurs in the text, and the
    // text position of one occurrence of it (any, if the length is 0).
    std::size_t longest(const std::uint8_t* q, std::size_t L, std::uint64_t* where = nullptr) const {
        if (n == 0 || L == 0) return 0;
        std::size_t a, b;
        initial_range(q, L, a, b);
        const std::size_t r = bound(q, L, a, b, false);  // q's insertion point among all suffixes
        std::size_t best = 0;
        std::uint64_t pos = at(r < n ? r : n - 1);
        for (std::size_t c : {r, r - 1}) {
            if (c >= n) continue;  // r == n, or r - 1 wrapped below 0
            std::size_t d = 0;
            compare(at(c), q, L, d);
            if (d > best) {
                best = d;
                pos = at(c);
            }
        }
        if (where != nullptr) *where = pos;
        return best;
    }
};

// Fills the sample table (sample_count(v.n) entries) of a suffix array.
inline void build_sample_table(const SuffixArrayView& v, std::uint64_t* out) {
    for (std::size_t i = 0, r = 0; r < v.n; ++i, r += kSampleStep) {
        const std::uint64_t x = v.at(r);
        out[i] = prefix_key(v.text + x, v.n - static_cast<std::size_t>(x));
    }
}

// Fills the 2-byte prefix table of a suffix array: bucket[key] is the first
// rank whose suffix is >= the two bytes (key >> 8, key & 0xff).
inline void build_prefix_table(const SuffixArrayView& v, std::uint64_t* bucket) {
    std::size_t r = 0;
    for (std::size_t key = 0; key < 65536; ++key) {
        const std::uint8_t q[2] = {static_cast<std::uint8_t>(key >> 8), static_cast<std::uint8_t>(key & 0xff)};
        while (r < v.n) {
            std::size_t d = 0;
            if (v.compare(v.at(r), q, 2, d) >= 0) break;
            ++r;
        }
        bucket[key] = r;
    }
    bucket[65536] = v.n;
}

}  // namespace scanner
