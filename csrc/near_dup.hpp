// Near-duplicate scan of a batch of corpus documents against the reference set.
//
// Per document: normalize, tokenize, shingle, MinHash signature; LSH
// candidates; the estimated Jaccard (share of equal signature values) must
// reach `prefilter`; survivors, best estimate first and at most
// `max_verify` of them, are verified by the exact shingle-set Jaccard
// against the reference text, re-shingled from the index; those reaching
// `threshold` are findings, best first, at most `max_matches` per document
// (0: no limit). Everything cut by a limit is counted, never dropped silently.
//
// Output is CSR over the batch rows (row_offsets has rows+1 entries) and does
// not depend on the thread count: rows are cut into chunks, each chunk fills
// its own buffers, and chunks are concatenated in row order.
#pragma once
#include <algorithm>
#include <vector>

#include "jaccard.hpp"
#include "lsh.hpp"
#include "minhash.hpp"
#include "parallel.hpp"
#include "text_column.hpp"

namespace scanner {

struct NearDupIndex {
    MinHashParams mh;
    LshTables lsh;
    const std::uint32_t* sigs = nullptr;  // n * num_perm, row-major
    TextColumn refs;                      // reference texts, for exact verification
};

struct NearDupOptions {
    double threshold = 0.5;
    double prefilter = 0.4;
    std::size_t max_verify = 1000;
    std::size_t max_matches = 0;
    int threads = 0;
};

struct NearDupResult {
    std::vector<std::int64_t> row_offsets;
    std::vector<std::uint32_t> ref;
    std::vector<double> score;      // exact shingle Jaccard
    std::vector<double> estimate;   // MinHash estimate
    std::vector<std::uint8_t> status;
    std::vector<std::int64_t> n_codepoints;
    std::vector<std::int64_t> n_tokens;
    std::int64_t candidates = 0, prefilter_passed = 0, verified = 0;
    std::int64_t verify_truncated = 0, matches_truncated = 0;
};

namespace detail {
struct NearDupChunk {
    std::vector<std::int64_t> counts;
    std::vector<std::uint32_t> ref;
    std::vector<double> score, estimate;
    std::int64_t candidates = 0, prefilter_passed = 0, verified = 0, verify_truncated = 0, matches_truncated = 0;
};
}  // namespace detail

inline NearDupResult near_dup_scan(const TextColumn& docs, const NearDupIndex& idx, const NearDupOptions& o) {
    const std::int64_t n = docs.length;
    const int P = idx.mh.num_perm;
    NearDupResult res;
    res.status.assign(static_cast<std::size_t>(n), kScanned);
    res.n_codepoints.assign(static_cast<std::size_t>(n), 0);
    res.n_tokens.assign(static_cast<std::size_t>(n), 0);
    const int threads = resolve_threads(o.threads);
    const std::int64_t chunk_rows = chunk_rows_for(n, threads);
    const std::size_t n_chunks = chunk_count(n, chunk_rows);
    std::vector<detail::NearDupChunk> chunks(n_chunks);

    parallel_chunks(n_chunks, threads, [&](std::size_t c) {
        detail::NearDupChunk& out = chunks[c];
        ShingleScratch s, rs;
        std::vector<std::uint32_t> sig(static_cast<std::size_t>(P));
        std::vector<std::uint64_t> doc_set, ref_set;
        std::vector<std::uint32_t> cand;
        std::vector<std::uint64_t> lsh_scratch;
        std::vector<std::pair<double, std::uint32_t>> passed;
        struct Found { double jaccard, estimate; std::uint32_t ref; };
        std::vector<Found> found;
        const std::int64_t lo = static_cast<std::int64_t>(c) * chunk_rows, hi = std::min(n, lo + chunk_rows);
        out.counts.assign(static_cast<std::size_t>(hi - lo), 0);
        for (std::int64_t r = lo; r < hi; ++r) {
            const std::size_t ur = static_cast<std::size_t>(r);
            if (!docs.is_valid(r)) { res.status[ur] = kNull; continue; }
            const ByteSpan text = docs.row(r);
            if (text.size >= kMaxDocumentBytes) { res.status[ur] = kTooLarge; continue; }
            res.n_codepoints[ur] = count_codepoints(text);
            const std::size_t nt = shingle_document(text, idx.mh.k, idx.mh.mode, true, s);
            res.n_tokens[ur] = static_cast<std::int64_t>(nt);
            if (nt == 0) { res.status[ur] = kNoTokens; continue; }
            if (idx.lsh.n == 0) continue;
            minhash_signature(s.h32, idx.mh, sig.data());
            idx.lsh.candidates(sig.data(), cand, lsh_scratch);
            out.candidates += static_cast<std::int64_t>(cand.size());
            passed.clear();
            for (const std::uint32_t ref : cand) {
                const std::uint32_t* rsig = idx.sigs + static_cast<std::size_t>(ref) * P;
                int eq = 0;
                for (int i = 0; i < P; ++i) eq += rsig[i] == sig[i];
                const double est = static_cast<double>(eq) / P;
                if (est >= o.prefilter) passed.emplace_back(est, ref);
            }
            out.prefilter_passed += static_cast<std::int64_t>(passed.size());
            if (passed.empty()) continue;
            std::sort(passed.begin(), passed.end(), [](const auto& x, const auto& y) {
                return x.first != y.first ? x.first > y.first : x.second < y.second;
            });
            if (o.max_verify > 0 && passed.size() > o.max_verify) {
                out.verify_truncated += static_cast<std::int64_t>(passed.size() - o.max_verify);
                passed.resize(o.max_verify);
            }
            doc_set = s.h64;
            sort_unique(doc_set);
            found.clear();
            for (const auto& pe : passed) {
                const ByteSpan rt = idx.refs.is_valid(pe.second) ? idx.refs.row(pe.second) : ByteSpan{};
                if (rt.size >= kMaxDocumentBytes) continue;
                shingle_document(rt, idx.mh.k, idx.mh.mode, false, rs);
                ref_set = rs.h64;
                sort_unique(ref_set);
                ++out.verified;
                const double j = jaccard_sorted(doc_set, ref_set);
                if (j >= o.threshold) found.push_back(Found{j, pe.first, pe.second});
            }
            std::sort(found.begin(), found.end(), [](const Found& x, const Found& y) {
                return x.jaccard != y.jaccard ? x.jaccard > y.jaccard : x.ref < y.ref;
            });
            if (o.max_matches > 0 && found.size() > o.max_matches) {
                out.matches_truncated += static_cast<std::int64_t>(found.size() - o.max_matches);
                found.resize(o.max_matches);
            }
            for (const Found& f : found) {
                out.ref.push_back(f.ref);
                out.score.push_back(f.jaccard);
                out.estimate.push_back(f.estimate);
            }
            out.counts[static_cast<std::size_t>(r - lo)] = static_cast<std::int64_t>(found.size());
        }
    });

    res.row_offsets.reserve(static_cast<std::size_t>(n) + 1);
    res.row_offsets.push_back(0);
    for (auto& ch : chunks) {
        for (std::int64_t cnt : ch.counts) res.row_offsets.push_back(res.row_offsets.back() + cnt);
        res.ref.insert(res.ref.end(), ch.ref.begin(), ch.ref.end());
        res.score.insert(res.score.end(), ch.score.begin(), ch.score.end());
        res.estimate.insert(res.estimate.end(), ch.estimate.begin(), ch.estimate.end());
        res.candidates += ch.candidates;
        res.prefilter_passed += ch.prefilter_passed;
        res.verified += ch.verified;
        res.verify_truncated += ch.verify_truncated;
        res.matches_truncated += ch.matches_truncated;
    }
    return res;
}

}  // namespace scanner
