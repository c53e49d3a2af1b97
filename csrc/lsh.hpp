// Banded LSH over MinHash signatures.
//
// A signature of num_perm values is cut into `bands` bands of `rows` values
// (bands * rows <= num_perm; the rest is unused, as in datasketch). Two
// documents become candidates when any band is identical; with Jaccard s that
// happens with probability 1 - (1 - s^rows)^bands. The Python side chooses
// (bands, rows) from a threshold the way datasketch's MinHashLSH does.
//
// Layout (flat arrays, memory-mappable, built once):
//   keys[band * n + j]  uint64  band keys of band `band`, sorted ascending
//   ids [band * n + j]  uint32  reference index owning keys[band * n + j]
//   dir [band * (2^dir_bits + 1) + slot]  uint32  first j whose key has top
//        dir_bits bits >= slot, so a lookup is one directory read and a short
//        scan (about one entry per slot, dir_bits ~ log2 n).
// Memory: 12 bytes per reference per band plus 4 * 2^dir_bits per band.
#pragma once
#include <algorithm>
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

inline int lsh_dir_bits(std::size_t n) {
    int d = 1;
    while (d < 24 && (std::size_t(1) << d) < n) ++d;
    return d;
}

struct LshTables {
    int num_perm = 0, bands = 0, rows = 0, dir_bits = 1;
    std::size_t n = 0;
    const std::uint64_t* keys = nullptr;
    const std::uint32_t* ids = nullptr;
    const std::uint32_t* dir = nullptr;

    std::size_t dir_len() const { return (std::size_t(1) << dir_bits) + 1; }

    // Checks the invariants lookups rely on, so a damaged index cannot cause
    // out-of-bounds reads: O(bands * (n + 2^dir_bits)).
    void validate() const {
        if (bands < 1 || rows < 1 || bands * rows > num_perm)
            throw FormatError("LSH: bands * rows must be between 1 and num_perm");
        if (dir_bits < 1 || dir_bits > 30) throw FormatError("LSH: dir_bits out of range");
        for (int b = 0; b < bands; ++b) {
            const std::uint32_t* d = dir + b * dir_len();
            if (d[0] != 0 || d[dir_len() - 1] != n)
                throw FormatError("LSH: directory of band " + std::to_string(b) + " does not span the table");
            for (std::size_t s = 1; s < dir_len(); ++s)
                if (d[s] < d[s - 1]) throw FormatError("LSH: directory of band " + std::to_string(b) + " not sorted");
            const std::uint32_t* id = ids + b * n;
            for (std::size_t j = 0; j < n; ++j)
                if (id[j] >= n) throw FormatError("LSH: reference id out of range in band " + std::to_string(b));
        }
    }

    // Appends the references sharing at least one band with sig, sorted and unique.
    // Three passes over the bands (keys and directory prefetch, table prefetch,
    // compare) so the cache misses of all bands overlap instead of queueing.
    void candidates(const std::uint32_t* sig, std::vector<std::uint32_t>& out,
                    std::vector<std::uint64_t>& scratch) const {
        out.clear();
        const int shift = 64 - dir_bits;
        scratch.resize(static_cast<std::size_t>(bands) * 2);
        std::uint64_t* bkey = scratch.data();
        std::uint64_t* range = scratch.data() + bands;
        for (int b = 0; b < bands; ++b) {
            bkey[b] = band_key(sig, b, rows);
            SCANNER_PREFETCH(dir + b * dir_len() + (bkey[b] >> shift));
        }
        for (int b = 0; b < bands; ++b) {
            const std::uint32_t* d = dir + b * dir_len() + (bkey[b] >> shift);
            range[b] = (static_cast<std::uint64_t>(d[0]) << 32) | d[1];
            SCANNER_PREFETCH(keys + b * n + d[0]);
        }
        for (int b = 0; b < bands; ++b) {
            const std::uint64_t* k = keys + b * n;
            const std::uint32_t* id = ids + b * n;
            const std::uint32_t hi = static_cast<std::uint32_t>(range[b]);
            for (std::uint32_t j = static_cast<std::uint32_t>(range[b] >> 32); j < hi; ++j)
                if (k[j] == bkey[b]) out.push_back(id[j]);
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

// Fills keys/ids (bands * n) and dir (bands * (2^dir_bits + 1)) from n signatures.
inline void lsh_build(const std::uint32_t* sigs, std::size_t n, int num_perm, int bands, int rows, int dir_bits,
                      std::uint64_t* keys, std::uint32_t* ids, std::uint32_t* dir, int threads) {
    if (bands < 1 || rows < 1 || bands * rows > num_perm)
        throw InvalidArgument("bands * rows must be between 1 and num_perm");
    if (n >= 0xffffffffULL) throw InvalidArgument("LSH holds at most 2^32 - 2 references");
    const std::size_t dl = (std::size_t(1) << dir_bits) + 1;
    parallel_chunks(static_cast<std::size_t>(bands), threads, [&](std::size_t b) {
        std::vector<std::pair<std::uint64_t, std::uint32_t>> kv(n);
        for (std::size_t j = 0; j < n; ++j)
            kv[j] = {band_key(sigs + j * num_perm, static_cast<int>(b), rows), static_cast<std::uint32_t>(j)};
        std::sort(kv.begin(), kv.end());
        std::uint32_t* d = dir + b * dl;
        std::fill(d, d + dl, 0u);
        for (std::size_t j = 0; j < n; ++j) {
            keys[b * n + j] = kv[j].first;
            ids[b * n + j] = kv[j].second;
            ++d[(kv[j].first >> (64 - dir_bits)) + 1];
        }
        for (std::size_t s = 1; s < dl; ++s) d[s] += d[s - 1];
    });
}

}  // namespace scanner
