// Banded LSH over MinHash signatures.
//
// A signature of num_perm values is cut into `bands` bands of `rows` values
// (bands * rows <= num_perm; the rest is unused, as in datasketch). Two
// documents become candidates when any band is identical; with Jaccard s that
// happens with probability 1 - (1 - s^rows)^bands. The Python side chooses
// (bands, rows) from a threshold the way datasketch's MinHashLSH does.
//
// Layout (flat arrays, memory-mappable, built once). Per band, `buckets` buckets of one 64-byte cache line
// (8 uint64 words) each, so that a lookup costs one cache miss per band, and the misses of all bands of a
// signature overlap:
//   words 0..6   up to 7 entries: the low 32 bits of the band key (its fingerprint) and, in the high 32
//                bits, a value: a reference id, or kLshGroup | g for a group of references
//   word 7       the bucket's meta: its entry count (0..7) and kLshOverflow
// Each distinct band (key and values) is one entry. References that share a band are one group entry:
// its value's low 31 bits are the group's word offset within the band's part of `groups`, which holds,
// per group, its member count (>= 2) and then its member ids in ascending order; `group_offsets`
// (bands + 1 words) is where each band's part begins. Near-duplicate references share bands (a million
// recombined answers give 410k distinct keys per band), and one slot per reference put long runs of equal
// keys in the buckets: a third of them overflowed and a lookup read 2.5 buckets per band.
// A key's home bucket is the top 32 bits of the key scaled to the bucket count. Entries are placed by
// linear probing, in ascending (key, first id) order: an entry goes to the first bucket from its home with
// a free slot, and every full bucket it passes gets kLshOverflow, so a lookup scans from the home bucket
// on while kLshOverflow is set. buckets = lsh_bucket_count(the most entries in a band): 4 entries per
// bucket on average in that band (57% of the slots, so few buckets overflow). Per reference and band the
// table takes at most 16 bytes, the groups 4 bytes per grouped reference and 4 per group.
// An entry whose fingerprint matches is a candidate only if its signature (a group's first member's)
// holds the same values in the whole band, so the candidates are exactly the references sharing a band
// with the query.
// Most corpus documents share no band with any reference, yet each band lookup reads a bucket that is a
// cache miss once the table outgrows the caches (6 MB at 16k references). So a lookup first asks a bitset
// derived from the table when it is opened, `presence`: two bits per entry, set from its fingerprint in
// its band's part of the bitset, 8 to 16 bits per entry of the fullest band (416 kB at 16k references,
// 13.6 MB at a million). A band whose two bits are not both set holds no entry with the query's
// fingerprint, and its bucket is not read; a few percent of absent bands pass anyway and are looked up
// as before. It only skips lookups that would find nothing, so the candidates are the same. Each band
// having its own part keeps the fill, band after band, inside a part that stays in the cache.
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
inline constexpr std::uint32_t kLshGroup = std::uint32_t{1} << 31;  // an entry's value is a group
inline constexpr std::size_t kLshMaxRefs = std::size_t{1} << 30;    // so a band's group words fit 31 bits

// Buckets per band for a band of `entries` entries: 4 entries per bucket on average.
inline std::size_t lsh_bucket_count(std::size_t entries) { return std::max<std::size_t>(1, (entries + 3) / 4); }

// Per-thread working memory of LshTables::candidates.
struct LshScratch {
    std::vector<std::uint64_t> bands;  // per band: its key, and the pending list (band, next bucket)
    std::vector<std::uint64_t> found;  // fingerprint matches: value << 32 | band
};

struct LshTables {
    int num_perm = 0, bands = 0, rows = 0;
    std::size_t n = 0, buckets = 1;
    const std::uint64_t* table = nullptr;          // bands * buckets * kLshBucketWords
    const std::uint32_t* groups = nullptr;         // group_offsets[bands] words
    const std::uint64_t* group_offsets = nullptr;  // bands + 1
    const std::uint32_t* sigs = nullptr;           // n * num_perm, the references' signatures (bands are checked there)
    std::vector<std::uint64_t> presence;           // bands * 2^presence_bits words, filled by open()
    unsigned presence_bits = 0;

    // In band b's part of the presence bitset, a fingerprint's word is its hash's top bits, its two bits
    // the next 12.
    static std::uint64_t presence_hash(std::uint64_t key) { return (key & 0xffffffffULL) * 0x9e3779b97f4a7c15ULL; }
    std::size_t presence_word(std::size_t b, std::uint64_t h) const {
        return (b << presence_bits) | static_cast<std::size_t>(h >> (64 - presence_bits));
    }
    std::uint64_t presence_mask(std::uint64_t h) const {
        return (std::uint64_t{1} << ((h >> (58 - presence_bits)) & 63)) |
               (std::uint64_t{1} << ((h >> (52 - presence_bits)) & 63));
    }
    bool present(std::size_t b, std::uint64_t h) const {
        const std::uint64_t m = presence_mask(h);
        return (presence[presence_word(b, h)] & m) == m;
    }

    std::size_t home(std::uint64_t key) const {
        return static_cast<std::size_t>(((key >> 32) * static_cast<std::uint64_t>(buckets)) >> 32);
    }
    const std::uint64_t* bucket(std::size_t band, std::size_t i) const {
        return table + (band * buckets + i) * kLshBucketWords;
    }
    // The ids of an entry's value in band b: one reference, or a group's members.
    const std::uint32_t* members(std::size_t b, std::uint32_t value, std::uint32_t& count) const {
        if ((value & kLshGroup) == 0) {
            count = 1;
            return nullptr;
        }
        const std::uint32_t* g = groups + group_offsets[b] + (value & ~kLshGroup);
        count = g[0];
        return g + 1;
    }

    // Checks what lookups rely on, so a damaged index cannot cause out-of-bounds reads or endless scans:
    // counts and meta bits, ids below n, groups inside their band's words, every reference once per band
    // and a bucket without kLshOverflow in each. O(bands * buckets + group words). Returns the most
    // entries (slots in use) of a band.
    std::size_t validate(std::size_t group_words) const {
        if (bands < 1 || rows < 1 || bands * rows > num_perm)
            throw FormatError("LSH: bands * rows must be between 1 and num_perm");
        if (n > kLshMaxRefs) throw FormatError("LSH: more references than an LSH table holds");
        if (buckets < 1 || buckets > lsh_bucket_count(n))
            throw FormatError("LSH: bucket count does not match the references");
        if (group_offsets[0] != 0 || group_offsets[bands] != group_words)
            throw FormatError("LSH: group offsets do not match the group words");
        std::size_t most = 0;
        for (int bi = 0; bi < bands; ++bi) {
            const std::size_t b = static_cast<std::size_t>(bi);
            if (group_offsets[b + 1] < group_offsets[b] || group_offsets[b + 1] - group_offsets[b] > 2 * n)
                throw FormatError("LSH: damaged group offsets in band " + std::to_string(b));
            const std::size_t band_words = group_offsets[b + 1] - group_offsets[b];
            std::size_t entries = 0, slots = 0;
            bool ends = false;
            for (std::size_t i = 0; i < buckets; ++i) {
                const std::uint64_t* w = bucket(b, i);
                const std::uint64_t count = w[7] & kLshCountMask;
                if (count > kLshSlots || (w[7] & ~(kLshCountMask | kLshOverflow)) != 0)
                    throw FormatError("LSH: damaged bucket " + std::to_string(i) + " in band " + std::to_string(b));
                slots += count;
                for (std::size_t j = 0; j < count; ++j) {
                    const auto value = static_cast<std::uint32_t>(w[j] >> 32);
                    if ((value & kLshGroup) == 0) {
                        if (value >= n) throw FormatError("LSH: reference id out of range in band " + std::to_string(b));
                        ++entries;
                        continue;
                    }
                    const std::size_t off = value & ~kLshGroup;
                    if (off >= band_words || groups[group_offsets[b] + off] < 2 ||
                        groups[group_offsets[b] + off] > band_words - off - 1)
                        throw FormatError("LSH: damaged group in band " + std::to_string(b));
                    std::uint32_t c;
                    const std::uint32_t* ids = members(b, value, c);
                    for (std::uint32_t m = 0; m < c; ++m)
                        if (ids[m] >= n) throw FormatError("LSH: reference id out of range in band " + std::to_string(b));
                    entries += c;
                }
                ends = ends || (w[7] & kLshOverflow) == 0;
            }
            if (entries != n || !ends)
                throw FormatError("LSH: band " + std::to_string(b) + " does not hold every reference once");
            most = std::max(most, slots);
        }
        return most;
    }

    // Checks the tables (validate) and fills `presence` from every entry's fingerprint, band after band.
    void open(std::size_t group_words) {
        const std::size_t most = validate(group_words);
        presence_bits = 1;  // 2^bits words of 64 bits per band
        while ((std::uint64_t{64} << presence_bits) < 8 * static_cast<std::uint64_t>(most)) ++presence_bits;
        presence.assign(static_cast<std::size_t>(bands) << presence_bits, 0);
        for (std::size_t b = 0; b < static_cast<std::size_t>(bands); ++b)
            for (std::size_t i = 0; i < buckets; ++i) {
                const std::uint64_t* w = bucket(b, i);
                for (std::size_t j = 0; j < (w[7] & kLshCountMask); ++j) {
                    const std::uint64_t h = presence_hash(w[j]);
                    presence[presence_word(b, h)] |= presence_mask(h);
                }
            }
    }

    // Appends the references sharing at least one band with sig, sorted and unique.
    // First every band's presence bits (all prefetched, then tested): a band that fails them is not
    // looked up. The others are looked up in rounds: round 0 reads their home buckets, each later round
    // the next bucket of the bands whose last bucket had kLshOverflow. Every round prefetches all its buckets before
    // comparing any, and nothing branches on a loaded bucket (which band goes on is a branchless append):
    // a branch on the overflow bit that mispredicts waits out the cache miss before it. A fingerprint match
    // is checked against the reference's band values after all rounds, those signature reads prefetched
    // together too.
    void candidates(const std::uint32_t* sig, std::vector<std::uint32_t>& out, LshScratch& scratch) const {
        out.clear();
        if (n == 0) return;
        const std::size_t nb = static_cast<std::size_t>(bands);
        scratch.bands.resize(3 * nb);
        std::uint64_t* bkey = scratch.bands.data();
        std::uint64_t* pend_band = bkey + nb;        // the bands still being scanned ...
        std::uint64_t* pend_bucket = bkey + 2 * nb;  // ... and the bucket each reads next
        for (std::size_t b = 0; b < nb; ++b) {
            bkey[b] = band_key(sig, static_cast<int>(b), rows);
            SCANNER_PREFETCH(presence.data() + presence_word(b, presence_hash(bkey[b])));
        }
        std::size_t pending = 0;  // the bands whose presence bits are set
        for (std::size_t b = 0; b < nb; ++b) {
            if (!present(b, presence_hash(bkey[b]))) continue;
            pend_band[pending] = b;
            pend_bucket[pending] = home(bkey[b]);
            SCANNER_PREFETCH(bucket(b, pend_bucket[pending]));
            ++pending;
        }
        std::vector<std::uint64_t>& found = scratch.found;
        found.clear();
        // validate(): every band has a bucket without kLshOverflow, so no chain is longer than `buckets`
        for (std::size_t round = 0; pending > 0 && round < buckets; ++round) {
            if (round > 0)
                for (std::size_t k = 0; k < pending; ++k) SCANNER_PREFETCH(bucket(pend_band[k], pend_bucket[k]));
            std::size_t keep = 0;
            for (std::size_t k = 0; k < pending; ++k) {
                const std::uint64_t b = pend_band[k];
                const std::size_t i = pend_bucket[k];
                const std::uint64_t* w = bucket(b, i);
                const std::uint64_t fp = bkey[b] & 0xffffffffULL;
                // All 7 slots compared without branches, empty slots masked off by the count.
                unsigned hit = 0;
                for (std::size_t j = 0; j < kLshSlots; ++j) hit |= static_cast<unsigned>((w[j] & 0xffffffffULL) == fp) << j;
                hit &= (1u << (w[7] & kLshCountMask)) - 1u;
                for (; hit != 0; hit &= hit - 1) found.push_back((w[__builtin_ctz(hit)] & ~0xffffffffULL) | b);
                pend_band[keep] = b;
                pend_bucket[keep] = i + 1 == buckets ? 0 : i + 1;
                keep += static_cast<std::size_t>(w[7] >> 63);  // kLshOverflow: the chain goes on
            }
            pending = keep;
        }
        if (found.empty()) return;
        // The reference whose band is compared: the entry's, or its group's first member.
        auto first_of = [&](std::uint64_t f, std::uint32_t& count, const std::uint32_t*& ids) {
            const auto value = static_cast<std::uint32_t>(f >> 32);
            ids = members(f & 0xffffffffULL, value, count);
            return ids == nullptr ? value : ids[0];
        };
        auto band_of = [&](std::uint32_t id, std::uint64_t b) {
            return sigs + static_cast<std::size_t>(id) * num_perm + b * static_cast<std::size_t>(rows);
        };
        std::uint32_t count;
        const std::uint32_t* ids;
        for (std::uint64_t f : found) SCANNER_PREFETCH(band_of(first_of(f, count, ids), f & 0xffffffffULL));
        const std::size_t row_bytes = static_cast<std::size_t>(rows) * sizeof(std::uint32_t);
        for (std::uint64_t f : found) {
            const std::uint64_t b = f & 0xffffffffULL;
            const std::uint32_t id = first_of(f, count, ids);
            if (std::memcmp(band_of(id, b), sig + b * static_cast<std::size_t>(rows), row_bytes) != 0) continue;
            if (ids == nullptr) out.push_back(id);
            else out.insert(out.end(), ids, ids + count);
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
        LshScratch scratch;
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

// What lsh_build makes: the table (bands * buckets * kLshBucketWords words), the groups and their per-band
// offsets (bands + 1).
struct LshBuilt {
    std::size_t buckets = 1;
    std::vector<std::uint64_t> table;
    std::vector<std::uint32_t> groups;
    std::vector<std::uint64_t> group_offsets;
};

namespace detail {

// Band b's entries in ascending (key, first id) order: calls entry(key, first, len) per entry, where
// kv[first, first + len) (sorted by (key, id)) are its references. A run of equal keys whose bands hold
// equal values is one entry; in the astronomically rare case of a 64-bit key collision between different
// values, the run's references stay single entries, each checked at lookup.
template <class F>
void lsh_band_entries(const std::uint32_t* sigs, std::size_t n, int num_perm, std::size_t b, int rows,
                      std::vector<std::pair<std::uint64_t, std::uint32_t>>& kv, F&& entry) {
    kv.resize(n);
    for (std::size_t j = 0; j < n; ++j)
        kv[j] = {band_key(sigs + j * num_perm, static_cast<int>(b), rows), static_cast<std::uint32_t>(j)};
    std::sort(kv.begin(), kv.end());
    const std::size_t row_bytes = static_cast<std::size_t>(rows) * sizeof(std::uint32_t);
    auto band_of = [&](std::uint32_t id) { return sigs + static_cast<std::size_t>(id) * num_perm + b * rows; };
    for (std::size_t s = 0; s < n;) {
        std::size_t e = s + 1;
        while (e < n && kv[e].first == kv[s].first) ++e;
        bool same = true;
        for (std::size_t j = s + 1; j < e && same; ++j)
            same = std::memcmp(band_of(kv[j].second), band_of(kv[s].second), row_bytes) == 0;
        if (same) {
            entry(kv[s].first, s, e - s);
        } else {
            for (std::size_t j = s; j < e; ++j) entry(kv[j].first, j, 1);
        }
        s = e;
    }
}

}  // namespace detail

// The tables of n signatures, the same for any thread count. Two passes over the bands, each sorting the
// band's keys: one counts the entries (the bucket count follows from the fullest band), one places them,
// so no band's sorted keys are kept beyond its own pass.
inline LshBuilt lsh_build(const std::uint32_t* sigs, std::size_t n, int num_perm, int bands, int rows, int threads) {
    if (bands < 1 || rows < 1 || bands * rows > num_perm)
        throw InvalidArgument("bands * rows must be between 1 and num_perm");
    if (n > kLshMaxRefs) throw InvalidArgument("an LSH table holds at most 2^30 references");
    const std::size_t nb = static_cast<std::size_t>(bands);
    std::vector<std::size_t> entries(nb, 0);
    parallel_chunks(nb, threads, [&](std::size_t b) {
        std::vector<std::pair<std::uint64_t, std::uint32_t>> kv;
        detail::lsh_band_entries(sigs, n, num_perm, b, rows, kv,
                                 [&](std::uint64_t, std::size_t, std::size_t) { ++entries[b]; });
    });
    LshBuilt out;
    out.buckets = lsh_bucket_count(*std::max_element(entries.begin(), entries.end()));
    LshTables t;
    t.buckets = out.buckets;
    out.table.assign(nb * out.buckets * kLshBucketWords, 0);
    std::vector<std::vector<std::uint32_t>> gw(nb);  // per band: its group words
    parallel_chunks(nb, threads, [&](std::size_t b) {
        std::vector<std::pair<std::uint64_t, std::uint32_t>> kv;
        detail::lsh_band_entries(sigs, n, num_perm, b, rows, kv, [&](std::uint64_t key, std::size_t first,
                                                                     std::size_t len) {
            std::uint32_t value = kv[first].second;
            if (len > 1) {
                value = kLshGroup | static_cast<std::uint32_t>(gw[b].size());
                gw[b].push_back(static_cast<std::uint32_t>(len));
                for (std::size_t j = first; j < first + len; ++j) gw[b].push_back(kv[j].second);
            }
            std::size_t i = t.home(key);
            for (;;) {  // fewer entries than slots, so a bucket with room comes
                std::uint64_t* w = out.table.data() + (b * t.buckets + i) * kLshBucketWords;
                const std::uint64_t count = w[7] & kLshCountMask;
                if (count < kLshSlots) {
                    w[count] = (key & 0xffffffffULL) | (static_cast<std::uint64_t>(value) << 32);
                    w[7] += 1;
                    break;
                }
                w[7] |= kLshOverflow;
                i = i + 1 == t.buckets ? 0 : i + 1;
            }
        });
    });
    out.group_offsets.assign(nb + 1, 0);
    for (std::size_t b = 0; b < nb; ++b) out.group_offsets[b + 1] = out.group_offsets[b] + gw[b].size();
    out.groups.reserve(out.group_offsets[nb]);
    for (std::size_t b = 0; b < nb; ++b) {
        out.groups.insert(out.groups.end(), gw[b].begin(), gw[b].end());
        std::vector<std::uint32_t>().swap(gw[b]);
    }
    return out;
}

}  // namespace scanner
