// The whole scan of a batch in one pass: each document is normalized once, and that buffer feeds
// the three detectors while it is hot in the cache (near-duplicates read their tokens from it,
// copied spans search it, self-identification runs its automaton over it). One parallel region
// per batch, rows cut into chunks and results concatenated in row order, so the output does not
// depend on the thread count and equals what the three separate scans give (the tests hold it so).
#pragma once
#include <vector>

#include "near_dup.hpp"
#include "self_id.hpp"
#include "span_match.hpp"

namespace scanner {

struct OnePassOptions {
    NearDupOptions near_dup;
    bool near_dup_match = true;     // false: near-duplicates give only the per-row status and counts
    const SpanIndex* spans = nullptr;  // null: no span search
    const SpanIndex* control = nullptr;
    SpanOptions span;
    const SelfIdRules* self_id = nullptr;  // null: no self-identification
    SelfIdOptions self_id_options;
    int threads = 0;
};

struct OnePassResult {
    NearDupResult near_dup;
    SpanResult spans;
    SelfIdResult self_id;
};

inline OnePassResult one_pass_scan(const TextColumn& docs, const NearDupIndex& nd, const OnePassOptions& o) {
    if (o.spans != nullptr) detail::check_span_options(*o.spans, o.span);
    const std::int64_t n = docs.length;
    OnePassResult res;
    detail::near_dup_init(res.near_dup, n);
    detail::span_init(res.spans, n);
    res.self_id.truncated.assign(static_cast<std::size_t>(n), 0);
    const int threads = resolve_threads(o.threads);
    const std::int64_t chunk_rows = chunk_rows_for(n, threads);
    const std::size_t n_chunks = chunk_count(n, chunk_rows);
    std::vector<detail::NearDupChunk> nd_chunks(n_chunks);
    std::vector<detail::SpanChunk> sp_chunks(n_chunks);
    std::vector<detail::SelfIdChunk> sid_chunks(n_chunks);

    parallel_chunks(n_chunks, threads, [&](std::size_t c) {
        detail::NearDupScratch ndw;
        detail::SpanScratch spw;
        detail::SelfIdScratch sidw;
        NormalizedText nt;
        const std::int64_t lo = static_cast<std::int64_t>(c) * chunk_rows, hi = std::min(n, lo + chunk_rows);
        const std::size_t rows = static_cast<std::size_t>(hi - lo);
        nd_chunks[c].counts.assign(rows, 0);
        sp_chunks[c].counts.assign(rows, 0);
        sid_chunks[c].counts.assign(rows, 0);
        for (std::int64_t r = lo; r < hi; ++r) {
            const std::size_t ur = static_cast<std::size_t>(r), k = static_cast<std::size_t>(r - lo);
            if (!docs.is_valid(r)) { res.near_dup.status[ur] = kNull; continue; }
            const ByteSpan text = docs.row(r);
            if (text.size >= kMaxDocumentBytes) { res.near_dup.status[ur] = kTooLarge; continue; }
            normalize_into<false>(text, nt);
            nd_chunks[c].counts[k] =
                detail::near_dup_document(nd, o.near_dup, o.near_dup_match, r, text, &nt, ndw, nd_chunks[c], res.near_dup);
            if (o.spans != nullptr)
                sp_chunks[c].counts[k] = detail::span_document(*o.spans, o.control, o.span, text, nt, spw, sp_chunks[c],
                                                               res.spans.copied_chars[ur], res.spans.truncated[ur]);
            if (o.self_id != nullptr)
                sid_chunks[c].counts[k] = detail::self_id_document(*o.self_id, o.self_id_options, text, &nt, sidw,
                                                                   sid_chunks[c], res.self_id.truncated[ur]);
        }
    });
    detail::near_dup_merge(nd_chunks, n, res.near_dup);
    detail::span_merge(sp_chunks, n, res.spans);
    detail::self_id_merge(sid_chunks, n, res.self_id);
    return res;
}

}  // namespace scanner
