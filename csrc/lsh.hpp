// Banded LSH over MinHash signatures.
//
// A signature of num_perm values is cut into `bands` bands of `rows` values
// (bands * rows <= num_perm; the rest is unused, as in datasketch). Two
// documents become candidates when any band is identical; with Jaccard s that
// happens with probability 1 - (1 - s^rows)^bands. The Python side chooses
// (bands, rows) from a threshold the way datasketch's MinHashLSH does.
//
// Layout (one flat array, memory-mappable, built once): per band, `buckets` buckets of one 64-byte
// cache line (8 uint64 words) each, so that a lookup costs one cache miss per band, and the misses of
// all bands of a signature overlap:
//   words 0..6   up to 7 entries: the low 32 bits of the band key (its fingerprint), and the reference
//                id in the high 32 bits
//   word 7       the bucket's meta: its entry count (0..7) and kLshOverflow
// A key's home bucket is the top 32 bits of the key scaled to the bucket count. Entries are placed by
// linear probing, in ascending (key, id) order: an entry goes to the first bucket from its home with a
// free slot, and every full bucket it passes gets kLshOverflow, so a lookup scans from the home bucket
// on while kLshOverflow is set. 4 entries per bucket on average (57% of the slots, so few buckets
// overflow and a lookup of an absent key nearly always reads one line): 16 bytes per reference per band.
// An entry whose fingerprint matches is a candidate only if its signature holds the same values in the
// whole band, so the candidates are exactly the references sharing a band with the query.
#pragma once
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "hash.hpp"
#include "parallel.hpp"

#if defined(__GNUC__)
#define SCANNER_PREFETCH(p) __builtin_prefetch(p)
#else
#define SCANNER_PREFETCH(p) ((void)0)
#endif

namespace scanner {

inline std::uint64_t band_key(const std::uint32_t* sig, int band, int rows) {
    return hash_bytes(reinterpret_cast<const std::uint8_t*>(sig + static_cast<std::size_t>(band) * rows),
                      static_cast<std::size_t>(rows) * 4, 0xb4d5eedULL + static_cast<std::uint64_t>(band));
}

inline constexpr std::size_t kLshSlots = 7;           // entries per bucket
inline constexpr std::size_t kLshBucketWords = 8;     // one cache line
inline constexpr std::uint64_t kLshOverflow = std::uint64_t{1} << 63;
inline constexpr std::uint64_t kLshCountMask = 0xff;

// Buckets per band for n references: 4 entries per bucket on average.
inline std::size_t lsh_bucket_count(std::size_t n) { return std::max<std::size_t>(1, (n + 3) / 4); }

struct LshTables {
    int num_perm = 0, bands = 0, rows = 0;
    std::size_t n = 0, buckets = 1;
    const std::uint64_t* table = nullptr;  // bands * buckets * kLshBucketWords
    const std::uint32_t* sigs = nullptr;   // n * num_perm, the references' signatures (bands are checked there)

    std::size_t home(std::uint64_t key) const {
        return static_cast<std::size_t>(((key >> 32) * static_cast<std::uint64_t>(buckets)) >> 32);
    }
    const std::uint64_t* bucket(int band, std::size_t i) const {
        return table + (static_cast<std::size_t>(band) * buckets + i) * kLshBucketWords;
    }

    // Checks what lookups rely on, so a damaged index cannot cause out-of-bounds reads or endless scans:
    // counts and meta bits, ids below n, n entries per band and a bucket without kLshOverflow in each.
    // O(bands * buckets).
    void validate() const {
        if (bands < 1 || rows < 1 || bands * rows > num_perm)
            throw FormatError("LSH: bands * rows must be between 1 and num_perm");
        if (buckets != lsh_bucket_count(n)) throw FormatError("LSH: bucket count does not match the references");
        for (int b = 0; b < bands; ++b) {
            std::size_t entries = 0;
            bool ends = false;
            for (std::size_t i = 0; i < buckets; ++i) {
                const std::uint64_t* w = bucket(b, i);
                const std::uint64_t count = w[7] & kLshCountMask;
                if (count > kLshSlots || (w[7] & ~(kLshCountMask | kLshOverflow)) != 0)
                    throw FormatError("LSH: damaged bucket " + std::to_string(i) + " in band " + std::to_string(b));
                for (std::size_t j = 0; j < count; ++j)
                    if ((w[j] >> 32) >= n)
                        throw FormatError("LSH: reference id out of range in band " + std::to_string(b));
                entries += count;
                ends = ends || (w[7] & kLshOverflow) == 0;
            }
            if (entries != n || !ends)
                throw FormatError("LSH: band " + std::to_string(b) + " does not hold every reference once");
        }
    }

    // Appends the references sharing at least one band with sig, sorted and unique.
    // Two passes over the bands (keys and bucket prefetch, then compare) so the cache misses of all
    // bands overlap instead of queueing.
    void candidates(const std::uint32_t* sig, std::vector<std::uint32_t>& out,
                    std::vector<std::uint64_t>& scratch) const {
        out.clear();
        if (n == 0) return;
        scratch.resize(static_cast<std::size_t>(bands));
        std::uint64_t* bkey = scratch.data();
        for (int b = 0; b < bands; ++b) {
            bkey[b] = band_key(sig, b, rows);
            SCANNER_PREFETCH(bucket(b, home(bkey[b])));
        }
        const std::size_t row_bytes = static_cast<std::size_t>(rows) * sizeof(std::uint32_t);
        for (int b = 0; b < bands; ++b) {
            const std::uint64_t fp = bkey[b] & 0xffffffffULL;
            const std::uint32_t* q = sig + static_cast<std::size_t>(b) * rows;
            std::size_t i = home(bkey[b]);
            for (std::size_t steps = 0; steps < buckets; ++steps) {  // validate(): some bucket ends the scan
                const std::uint64_t* w = bucket(b, i);
                // All 7 slots compared without branches (a loop over the entry count mispredicted its exit
                // at nearly every bucket), empty slots masked off by the count.
                unsigned hit = 0;
                for (std::size_t j = 0; j < kLshSlots; ++j) hit |= static_cast<unsigned>((w[j] & 0xffffffffULL) == fp) << j;
                hit &= (1u << (w[7] & kLshCountMask)) - 1u;
                for (; hit != 0; hit &= hit - 1) {
                    const std::uint32_t id = static_cast<std::uint32_t>(w[__builtin_ctz(hit)] >> 32);
                    const std::uint32_t* r = sigs + static_cast<std::size_t>(id) * num_perm + static_cast<std::size_t>(b) * rows;
                    if (std::memcmp(r, q, row_bytes) == 0) out.push_back(id);
                }
                if ((w[7] & kLshOverflow) == 0) break;
                i = i + 1 == buckets ? 0 : i + 1;
            }
        }
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
    }
};

// Candidates of many signatures (rows * num_perm, row-major) as CSR: offsets
// (rows + 1) and ids. Independent of the thread count.
inline void lsh_query_batch(const LshTables& t, const std::uint32_t* sigs, std::size_t rows, int threads,
                            std::vector<std::int64_t>& offsets, std::vector<std::uint32_t>& ids) {
    const std::size_t chunk = 256;
    const std::size_t n_chunks = (rows + chunk - 1) / chunk;
    std::vector<std::vector<std::uint32_t>> part_ids(n_chunks);
    std::vector<std::vector<std::int64_t>> part_counts(n_chunks);
    parallel_chunks(n_chunks, threads, [&](std::size_t c) {
        std::vector<std::uint32_t> cand;
        std::vector<std::uint64_t> scratch;
        for (std::size_t r = c * chunk; r < std::min(rows, (c + 1) * chunk); ++r) {
            t.candidates(sigs + r * static_cast<std::size_t>(t.num_perm), cand, scratch);
            part_ids[c].insert(part_ids[c].end(), cand.begin(), cand.end());
            part_counts[c].push_back(static_cast<std::int64_t>(cand.size()));
        }
    });
    offsets.assign(1, 0);
    ids.clear();
    for (std::size_t c = 0; c < n_chunks; ++c) {
        for (std::int64_t k : part_counts[c]) offsets.push_back(offsets.back() + k);
        ids.insert(ids.end(), part_ids[c].begin(), part_ids[c].end());
    }
}

// Fills table (bands * lsh_bucket_count(n) * kLshBucketWords words) from n signatures. Each band's
// entries are placed in ascending (key, id) order, so the table is the same for any thread count.
inline void lsh_build(const std::uint32_t* sigs, std::size_t n, int num_perm, int bands, int rows,
                      std::uint64_t* table, int threads) {
    if (bands < 1 || rows < 1 || bands * rows > num_perm)
        throw InvalidArgument("bands * rows must be between 1 and num_perm");
    if (n >= 0xffffffffULL) throw InvalidArgument("LSH holds at most 2^32 - 2 references");
    LshTables t;
    t.n = n;
    t.buckets = lsh_bucket_count(n);
    std::fill(table, table + static_cast<std::size_t>(bands) * t.buckets * kLshBucketWords, std::uint64_t{0});
    parallel_chunks(static_cast<std::size_t>(bands), threads, [&](std::size_t b) {
        std::vector<std::pair<std::uint64_t, std::uint32_t>> kv(n);
        for (std::size_t j = 0; j < n; ++j)
            kv[j] = {band_key(sigs + j * num_perm, static_cast<int>(b), rows), static_cast<std::uint32_t>(j)};
        std::sort(kv.begin(), kv.end());
        for (const auto& [key, id] : kv) {
            std::size_t i = t.home(key);
            for (;;) {  // fewer entries than slots, so a bucket with room comes
                std::uint64_t* w = table + (b * t.buckets + i) * kLshBucketWords;
                const std::uint64_t count = w[7] & kLshCountMask;
                if (count < kLshSlots) {
                    w[count] = (key & 0xffffffffULL) | (static_cast<std::uint64_t>(id) << 32);
                    w[7] += 1;
                    break;
                }
                w[7] |= kLshOverflow;
                i = i + 1 == t.buckets ? 0 : i + 1;
            }
        }
    });
}

}  // namespace scanner
