// The hash family of the core.
//
// hash_bytes: a seeded 64-bit hash of a byte string (8-byte little-endian
//   words folded with a multiply-xorshift mixer and the MurmurHash3 64-bit
//   finalizer). Used for tokens, shingles and LSH band keys. Deterministic
//   across runs and machines of the same endianness (the index records it).
// fmix32: MurmurHash3's 32-bit finalizer, the pre-mix datasketch (>= 2.0,
//   scheme "affine32") applies before its affine permutations.
// sha1_32: the first four bytes of SHA-1, read little-endian, which is
//   datasketch.hashfunc.sha1_hash32; used only in the datasketch-compatible mode.
#pragma once
#include <cstring>

#include "common.hpp"

namespace scanner {

inline std::uint64_t fmix64(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

inline std::uint32_t fmix32(std::uint32_t h) {
    h ^= h >> 16;
    h *= 0x85ebca6bU;
    h ^= h >> 13;
    h *= 0xc2b2ae35U;
    h ^= h >> 16;
    return h;
}

inline std::uint64_t load_le64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;  // the index header rejects big-endian machines
}

// hash_bytes before its final fmix64: hash_bytes(p, n, seed) == fmix64(hash_bytes_unmixed(p, n, seed)).
// Callers hashing many strings mix them all at the end, in one vectorized pass.
inline std::uint64_t hash_bytes_unmixed(const std::uint8_t* p, std::size_t n, std::uint64_t seed) {
    constexpr std::uint64_t kMul = 0x9fb21c651e98df25ULL;
    std::uint64_t h = seed ^ (static_cast<std::uint64_t>(n) * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        std::uint64_t v = load_le64(p) * kMul;
        v ^= v >> 29;
        h = (h ^ v) * kMul;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
        v *= kMul;
        v ^= v >> 29;
        h = (h ^ v) * kMul;
    }
    return h;
}

inline std::uint64_t hash_bytes(const std::uint8_t* p, std::size_t n, std::uint64_t seed) {
    return fmix64(hash_bytes_unmixed(p, n, seed));
}

namespace detail {
inline std::uint32_t rotl32(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

inline void sha1_block(std::uint32_t st[5], const std::uint8_t* blk) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i)
        w[i] = (std::uint32_t(blk[4 * i]) << 24) | (std::uint32_t(blk[4 * i + 1]) << 16) |
               (std::uint32_t(blk[4 * i + 2]) << 8) | std::uint32_t(blk[4 * i + 3]);
    for (int i = 16; i < 80; ++i) w[i] = rotl32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4];
    for (int i = 0; i < 80; ++i) {
        std::uint32_t f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999U; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1U; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdcU; }
        else { f = b ^ c ^ d; k = 0xca62c1d6U; }
        const std::uint32_t t = rotl32(a, 5) + f + e + k + w[i];
        e = d; d = c; c = rotl32(b, 30); b = a; a = t;
    }
    st[0] += a; st[1] += b; st[2] += c; st[3] += d; st[4] += e;
}
}  // namespace detail

// First 4 bytes of SHA-1(p[0:n]) as a little-endian uint32 (datasketch's sha1_hash32).
inline std::uint32_t sha1_32(const std::uint8_t* p, std::size_t n) {
    std::uint32_t st[5] = {0x67452301U, 0xefcdab89U, 0x98badcfeU, 0x10325476U, 0xc3d2e1f0U};
    const std::uint64_t bits = static_cast<std::uint64_t>(n) * 8;
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) detail::sha1_block(st, p + i);
    std::uint8_t tail[128] = {0};
    const std::size_t rem = n - i;
    std::memcpy(tail, p + i, rem);
    tail[rem] = 0x80;
    const std::size_t tail_len = rem + 1 + 8 <= 64 ? 64 : 128;
    for (int j = 0; j < 8; ++j) tail[tail_len - 1 - j] = static_cast<std::uint8_t>(bits >> (8 * j));
    detail::sha1_block(st, tail);
    if (tail_len == 128) detail::sha1_block(st, tail + 64);
    // digest bytes 0..3 are st[0] big-endian; read them little-endian
    const std::uint32_t s = st[0];
    return ((s >> 24) & 0xff) | (((s >> 16) & 0xff) << 8) | (((s >> 8) & 0xff) << 16) | ((s & 0xff) << 24);
}

}  // namespace scanner
