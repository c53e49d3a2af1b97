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
// vectorised with AVX2 where the CPU has it (chosen at run time).
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
    NormalizedText norm;
    std::vector<Token> tokens;
    std::vector<std::uint64_t> token_hash;
    std::vector<std::uint64_t> h64;   // shingle identities, document order
    std::vector<std::uint32_t> h32;   // MinHash inputs (already fmix32'd)
    std::vector<std::uint8_t> joined;
};

inline constexpr std::uint64_t kTokenSeed = 0x5ca77e5dULL;

// Fills s.h64 (and s.h32 when want_h32) for a document. Returns the token count.
inline std::size_t shingle_document(ByteSpan text, int k, HashMode mode, bool want_h32, ShingleScratch& s) {
    normalize_into<false>(text, s.norm);
    const std::uint8_t* nb = s.norm.bytes.data();
    tokenize(nb, s.norm.bytes.size(), s.tokens);
    const std::size_t nt = s.tokens.size();
    s.h64.clear();
    s.h32.clear();
    if (nt == 0) return 0;
    s.token_hash.resize(nt);
    for (std::size_t t = 0; t < nt; ++t)
        s.token_hash[t] = hash_bytes(nb + s.tokens[t].begin, s.tokens[t].end - s.tokens[t].begin, kTokenSeed);
    const std::size_t kk = std::min<std::size_t>(static_cast<std::size_t>(k), nt);
    const std::size_t n_sh = nt - kk + 1;
    s.h64.resize(n_sh);
    for (std::size_t i = 0; i < n_sh; ++i) {
        std::uint64_t h = 0x243f6a8885a308d3ULL ^ kk;
        for (std::size_t j = 0; j < kk; ++j) h = fmix64(h * 0x9e3779b97f4a7c15ULL + s.token_hash[i + j]);
        s.h64[i] = h;
    }
    if (!want_h32) return nt;
    s.h32.resize(n_sh);
    if (mode == HashMode::kFast) {
        for (std::size_t i = 0; i < n_sh; ++i)
            s.h32[i] = fmix32(static_cast<std::uint32_t>(s.h64[i] ^ (s.h64[i] >> 32)));
    } else {
        for (std::size_t i = 0; i < n_sh; ++i) {
            s.joined.clear();
            for (std::size_t j = 0; j < kk; ++j) {
                if (j) s.joined.push_back(' ');
                const Token& t = s.tokens[i + j];
                s.joined.insert(s.joined.end(), nb + t.begin, nb + t.end);
            }
            s.h32[i] = fmix32(sha1_32(s.joined.data(), s.joined.size()));
        }
    }
    return nt;
}

namespace detail {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SCANNER_NO_DISPATCH)
__attribute__((target_clones("avx2", "default")))
#endif
inline void minhash_kernel(const std::uint32_t* hv, std::size_t n, const std::uint32_t* __restrict a,
                           const std::uint32_t* __restrict b, std::size_t num_perm,
                           std::uint32_t* __restrict sig) {
    for (std::size_t s = 0; s < n; ++s) {
        const std::uint32_t x = hv[s];
        for (std::size_t i = 0; i < num_perm; ++i) {
            const std::uint32_t v = a[i] * x + b[i];
            sig[i] = v < sig[i] ? v : sig[i];
        }
    }
}
}  // namespace detail

// sig must hold num_perm values; it is reset to the empty signature (all 2^32-1) first.
inline void minhash_signature(const std::vector<std::uint32_t>& h32, const MinHashParams& p, std::uint32_t* sig) {
    std::fill(sig, sig + p.num_perm, 0xffffffffu);
    detail::minhash_kernel(h32.data(), h32.size(), p.a, p.b, static_cast<std::size_t>(p.num_perm), sig);
}

// Signatures of every row of a column: sigs is rows * num_perm (row-major),
// status[r] is 0 (signed), 1 (null), 2 (no tokens: empty signature, all
// 2^32-1) or 3 (too large). Independent of the thread count.
inline void batch_signatures(const TextColumn& col, const MinHashParams& p, int threads, std::uint32_t* sigs,
                             std::uint8_t* status) {
    const std::int64_t n = col.length;
    const std::int64_t chunk = 64;
    const std::size_t n_chunks = static_cast<std::size_t>((n + chunk - 1) / chunk);
    parallel_chunks(n_chunks, threads, [&](std::size_t c) {
        ShingleScratch s;
        const std::int64_t lo = static_cast<std::int64_t>(c) * chunk, hi = std::min(n, lo + chunk);
        for (std::int64_t r = lo; r < hi; ++r) {
            std::uint32_t* sig = sigs + static_cast<std::size_t>(r) * p.num_perm;
            std::fill(sig, sig + p.num_perm, 0xffffffffu);
            if (!col.is_valid(r)) { status[r] = kNull; continue; }
            const ByteSpan text = col.row(r);
            if (text.size >= kMaxDocumentBytes) { status[r] = kTooLarge; continue; }
            if (shingle_document(text, p.k, p.mode, true, s) == 0) { status[r] = kNoTokens; continue; }
            status[r] = kScanned;
            minhash_signature(s.h32, p, sig);
        }
    });
}

}  // namespace scanner
