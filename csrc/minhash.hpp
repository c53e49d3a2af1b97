// Word shingles and MinHash signatures.
//
// Shingles are k consecutive tokens of the normalized text (a document with
// 1..k-1 tokens has one shingle of all its tokens; one with none has none).
// Each shingle has two hashes:
//   - a 64-bit identity (token hashes chained through fmix64), used for the
//     exact shingle-set Jaccard and, folded to 32 bits, as the MinHash input
//     in the default (fast) mode;
//   - in the datasketch-compatible mode, sha1_32 of the tokens joined by one
//     space, i.e. what datasketch.MinHash.update(" ".join(tokens).encode())
//     hashes.
// The signature is datasketch's "affine32" scheme: x = fmix32(h),
// sig[i] = min over shingles of (a[i] * x + b[i]) mod 2^32, a[i] odd; a and
// b come from numpy.random.RandomState(seed) exactly as datasketch draws them
// (done in Python). Same shingles + same (num_perm, seed) => bit-identical
// signatures to datasketch.MinHash(num_perm, seed) in compatible mode.
// Cost: O(tokens * k) hashing plus O(shingles * num_perm) for the minimum,
// vectorised with AVX-512 or AVX2 where the CPU has them (chosen at run time).
#pragma once
#include <algorithm>
#include <vector>

#include "hash.hpp"
#include "normalize.hpp"
#include "parallel.hpp"
#include "text_column.hpp"

namespace scanner {

enum class HashMode : int { kFast = 0, kSha1 = 1 };

struct MinHashParams {
    int k = 5;
    HashMode mode = HashMode::kFast;
    const std::uint32_t* a = nullptr;
    const std::uint32_t* b = nullptr;
    int num_perm = 0;
};

// Per-thread scratch, reused across documents to avoid allocation per row.
struct ShingleScratch {
    TokenText tok;
    std::vector<std::uint64_t> token_hash;
    std::vector<std::uint64_t> h64;   // shingle identities, document order
    std::vector<std::uint32_t> h32;   // MinHash inputs (already fmix32'd)
    std::vector<std::uint8_t> joined;
};

inline constexpr std::uint64_t kTokenSeed = 0x5ca77e5dULL;
inline constexpr std::uint64_t kShingleBase = 0x9e3779b97f4a7c15ULL;

// Hash of one token, before its final fmix64 (detail::mix_all applies that to a document's tokens at
// once). Tokens of up to 8 bytes (most words) are read with one masked 8-byte load, which the caller's
// padding makes safe, and mixed by a bijection, so two different short tokens never collide.
inline std::uint64_t token_hash_unmixed(const std::uint8_t* p, std::size_t n) {
    if (n <= 8) {
        std::uint64_t v = load_le64(p);
        if (n < 8) v &= (std::uint64_t(1) << (8 * n)) - 1;
        return (v ^ kTokenSeed) * 0x9fb21c651e98df25ULL + n;
    }
    return hash_bytes_unmixed(p, n, kTokenSeed);
}

namespace detail {
// The finalizers of a document's hashes, over whole arrays (independent values: the vector units take 8
// at a time where the CPU has AVX-512, chosen at run time):
//   mix_all:       h[i] = fmix64(h[i])
//   mix_shingles:  h64[i] = fmix64(h64[i] ^ salt), and h32[i] = fmix32(h64[i] folded to 32 bits) if h32
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SCANNER_NO_DISPATCH)
#define SCANNER_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define SCANNER_VECTOR_CLONES
#endif
SCANNER_VECTOR_CLONES
inline void mix_all(std::uint64_t* h, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h[i] = fmix64(h[i]);
}

SCANNER_VECTOR_CLONES
inline void mix_shingles(std::uint64_t* h64, std::uint32_t* h32, std::size_t n, std::uint64_t salt) {
    if (h32 == nullptr) {
        for (std::size_t i = 0; i < n; ++i) h64[i] = fmix64(h64[i] ^ salt);
        return;
    }
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t x = fmix64(h64[i] ^ salt);
        h64[i] = x;
        h32[i] = fmix32(static_cast<std::uint32_t>(x ^ (x >> 32)));
    }
}
}  // namespace detail

// Fills s.h64 (and s.h32 when want_h32) from the tokens of a document, byte
// ranges of nb (which has NormalizedText::kPad readable bytes past its end).
// Shingle identities are a rolling polynomial of the token hashes
// (sum of t[i+j] * B^(k-1-j) mod 2^64, one multiply-add per shingle to
// update) passed through fmix64. Returns the token count.
// Work goes in passes over arrays: token pre-hashes (scalar, one load each), their fmix64 (vectorized),
// the rolling polynomial (the only serial chain: one multiply and one add per shingle, the outgoing
// token's term computed off the chain), then the shingles' fmix64 and fmix32 (vectorized).
inline std::size_t shingle_tokens(const std::uint8_t* nb, const std::vector<Token>& tokens, int k, HashMode mode,
                                  bool want_h32, ShingleScratch& s) {
    const std::size_t nt = tokens.size();
    s.h64.clear();
    s.h32.clear();
    if (nt == 0) return 0;
    s.token_hash.resize(nt);
    std::uint64_t* const th = s.token_hash.data();
    const Token* const tk = tokens.data();
    for (std::size_t t = 0; t < nt; ++t) th[t] = token_hash_unmixed(nb + tk[t].begin, tk[t].end - tk[t].begin);
    detail::mix_all(th, nt);
    const std::size_t kk = std::min<std::size_t>(static_cast<std::size_t>(k), nt);
    const std::size_t n_sh = nt - kk + 1;
    const std::uint64_t salt = 0x243f6a8885a308d3ULL ^ kk;
    std::uint64_t top = 1;  // B^(kk-1)
    for (std::size_t j = 1; j < kk; ++j) top *= kShingleBase;
    const std::uint64_t top_b = top * kShingleBase;  // (h - t * top) * B == h * B - t * (top * B), mod 2^64
    std::uint64_t h = 0;
    for (std::size_t j = 0; j < kk; ++j) h = h * kShingleBase + th[j];
    s.h64.resize(n_sh);
    std::uint64_t* const o = s.h64.data();
    o[0] = h;
    for (std::size_t i = 1; i < n_sh; ++i) {
        h = h * kShingleBase + (th[i + kk - 1] - th[i - 1] * top_b);
        o[i] = h;
    }
    const bool fast32 = want_h32 && mode == HashMode::kFast;
    if (fast32) s.h32.resize(n_sh);
    detail::mix_shingles(o, fast32 ? s.h32.data() : nullptr, n_sh, salt);
    if (!want_h32 || fast32) return nt;
    s.h32.resize(n_sh);
    for (std::size_t i = 0; i < n_sh; ++i) {
        s.joined.clear();
        for (std::size_t j = 0; j < kk; ++j) {
            if (j) s.joined.push_back(' ');
            const Token& t = tokens[i + j];
            s.joined.insert(s.joined.end(), nb + t.begin, nb + t.end);
        }
        s.h32[i] = fmix32(sha1_32(s.joined.data(), s.joined.size()));
    }
    return nt;
}

// Fills s.tok, s.h64 (and s.h32 when want_h32) for a document given as original text.
inline std::size_t shingle_document(ByteSpan text, int k, HashMode mode, bool want_h32, ShingleScratch& s) {
    tokenize(text, s.tok);
    return shingle_tokens(s.tok.data(), s.tok.tokens, k, mode, want_h32, s);
}

// The same for a document already normalized (normalize_into; NormalizedText::kPad readable bytes past
// its end): its tokens are byte ranges of the normalized bytes themselves.
inline std::size_t shingle_normalized(ByteSpan norm, int k, HashMode mode, bool want_h32, ShingleScratch& s) {
    tokenize_normalized(norm.data, norm.size, s.tok.tokens);
    return shingle_tokens(norm.data, s.tok.tokens, k, mode, want_h32, s);
}

namespace detail {
#if defined(__GNUC__)
#define SCANNER_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SCANNER_ALWAYS_INLINE inline
#endif

// B permutations at a time, kept in registers across all shingles of a document.
// Always inlined, so each target clone of minhash_kernel gets its own vector code.
template <std::size_t B>
SCANNER_ALWAYS_INLINE void minhash_block(const std::uint32_t* hv, std::size_t n, const std::uint32_t* a, const std::uint32_t* b,
                          std::uint32_t* sig) {
    std::uint32_t s[B], av[B], bv[B];
    for (std::size_t j = 0; j < B; ++j) { s[j] = sig[j]; av[j] = a[j]; bv[j] = b[j]; }
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t x = hv[i];
        for (std::size_t j = 0; j < B; ++j) {
            const std::uint32_t v = av[j] * x + bv[j];
            s[j] = v < s[j] ? v : s[j];
        }
    }
    for (std::size_t j = 0; j < B; ++j) sig[j] = s[j];
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SCANNER_NO_DISPATCH)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
inline void minhash_kernel(const std::uint32_t* hv, std::size_t n, const std::uint32_t* a, const std::uint32_t* b,
                           std::size_t num_perm, std::uint32_t* sig) {
    std::size_t base = 0;
    for (; base + 32 <= num_perm; base += 32) minhash_block<32>(hv, n, a + base, b + base, sig + base);
    for (; base + 8 <= num_perm; base += 8) minhash_block<8>(hv, n, a + base, b + base, sig + base);
    for (; base < num_perm; ++base) minhash_block<1>(hv, n, a + base, b + base, sig + base);
}
}  // namespace detail

// sig must hold num_perm values; it is reset to the empty signature (all 2^32-1) first.
inline void minhash_signature(const std::vector<std::uint32_t>& h32, const MinHashParams& p, std::uint32_t* sig) {
    std::fill(sig, sig + p.num_perm, 0xffffffffu);
    detail::minhash_kernel(h32.data(), h32.size(), p.a, p.b, static_cast<std::size_t>(p.num_perm), sig);
}

// Signatures of every row of a column: sigs is rows * num_perm (row-major),
// n_tokens[r] the row's word-token count,
// status[r] is 0 (signed), 1 (null), 2 (no tokens: empty signature, all
// 2^32-1) or 3 (too large). Independent of the thread count.
inline void batch_signatures(const TextColumn& col, const MinHashParams& p, int threads, std::uint32_t* sigs,
                             std::uint8_t* status, std::int64_t* n_tokens) {
    const std::int64_t n = col.length;
    const std::int64_t chunk = 64;
    const std::size_t n_chunks = static_cast<std::size_t>((n + chunk - 1) / chunk);
    parallel_chunks(n_chunks, threads, [&](std::size_t c) {
        ShingleScratch s;
        const std::int64_t lo = static_cast<std::int64_t>(c) * chunk, hi = std::min(n, lo + chunk);
        for (std::int64_t r = lo; r < hi; ++r) {
            std::uint32_t* sig = sigs + static_cast<std::size_t>(r) * p.num_perm;
            std::fill(sig, sig + p.num_perm, 0xffffffffu);
            n_tokens[r] = 0;
            if (!col.is_valid(r)) { status[r] = kNull; continue; }
            const ByteSpan text = col.row(r);
            if (text.size >= kMaxDocumentBytes) { status[r] = kTooLarge; continue; }
            const std::size_t nt = shingle_document(text, p.k, p.mode, true, s);
            n_tokens[r] = static_cast<std::int64_t>(nt);
            if (nt == 0) { status[r] = kNoTokens; continue; }
            status[r] = kScanned;
            minhash_signature(s.h32, p, sig);
        }
    });
}

}  // namespace scanner
