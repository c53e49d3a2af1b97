// The whole scan of a batch in one pass over its text: each document is normalized once, and that
// buffer feeds the three detectors (near-duplicates read their tokens from it, copied spans search it,
// self-identification runs its automaton over it). Work goes by chunks of rows: a chunk's documents are
// normalized into one arena (a few hundred kB, which stays in the core's cache), then each detector
// takes the whole chunk in turn, so its own index structures (LSH tables, k-gram filter, suffix array,
// automaton: megabytes to gigabytes) stay hot across the chunk instead of evicting one another at every
// document. Chunks are concatenated in row order, so the output does not depend on the thread count and
// equals what the three separate scans give (the tests hold it so).
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

    // One set of scratch buffers per thread, reused across its chunks (sized by the first few, they are
    // not allocated and grown again for every chunk).
    struct Worker {
        detail::NearDupScratch ndw;
        detail::SpanScratch spw;
        detail::SelfIdScratch sidw;
        NormalizedText arena;               // the chunk's normalized documents, each followed by kPad zeros
        std::vector<std::size_t> at, size;  // where each row's bytes start in the arena; SIZE_MAX: not scanned
    };
    std::vector<Worker> workers(static_cast<std::size_t>(worker_count(n_chunks, threads)));

    parallel_chunks_by_worker(n_chunks, threads, [&](std::size_t c, int wi) {
        Worker& W = workers[static_cast<std::size_t>(wi)];
        detail::NearDupScratch& ndw = W.ndw;
        detail::SpanScratch& spw = W.spw;
        detail::SelfIdScratch& sidw = W.sidw;
        std::vector<std::size_t>&at = W.at, &size = W.size;
        const std::int64_t lo = static_cast<std::int64_t>(c) * chunk_rows, hi = std::min(n, lo + chunk_rows);
        const std::size_t rows = static_cast<std::size_t>(hi - lo);
        constexpr std::size_t kSkip = static_cast<std::size_t>(-1);
        at.assign(rows, kSkip);
        size.assign(rows, 0);
        std::size_t used = 0;
        for (std::int64_t r = lo; r < hi; ++r) {
            const std::size_t ur = static_cast<std::size_t>(r), k = static_cast<std::size_t>(r - lo);
            if (!docs.is_valid(r)) { res.near_dup.status[ur] = kNull; continue; }
            const ByteSpan text = docs.row(r);
            if (text.size >= kMaxDocumentBytes) { res.near_dup.status[ur] = kTooLarge; continue; }
            at[k] = used;
            size[k] = normalize_at(text, W.arena, used);
            used += size[k] + NormalizedText::kPad;
        }
        const std::uint8_t* arena = W.arena.data();
        auto each = [&](auto&& f) {
            for (std::size_t k = 0; k < rows; ++k)
                if (at[k] != kSkip) {
                    const std::int64_t r = lo + static_cast<std::int64_t>(k);
                    const ByteSpan norm{arena + at[k], size[k]};
                    f(r, static_cast<std::size_t>(r), k, docs.row(r), norm);
                }
        };
        detail::NearDupChunk& ndc = nd_chunks[c];
        ndc.counts.assign(rows, 0);
        each([&](std::int64_t r, std::size_t, std::size_t k, ByteSpan text, const ByteSpan& norm) {
            ndc.counts[k] = detail::near_dup_document(nd, o.near_dup, o.near_dup_match, r, text, &norm, ndw, ndc,
                                                      res.near_dup);
        });
        detail::SpanChunk& spc = sp_chunks[c];
        spc.counts.assign(rows, 0);
        if (o.spans != nullptr) {
            spw.docs.clear();  // the k-gram filter's answers for the whole chunk's windows first
            each([&](std::int64_t, std::size_t, std::size_t, ByteSpan, const ByteSpan& norm) { spw.docs.push_back(norm); });
            detail::test_windows(*o.spans, o.span.min_chars, spw.docs.data(), spw.docs.size(), spw.tested,
                                 spw.first_window);
            std::size_t d = 0;
            each([&](std::int64_t, std::size_t ur, std::size_t k, ByteSpan text, const ByteSpan& norm) {
                const std::uint8_t* tested = spw.tested.data() + spw.first_window[d++];
                spc.counts[k] = detail::span_document(*o.spans, o.control, o.span, text, norm, tested, spw, spc,
                                                      res.spans.copied_chars[ur], res.spans.truncated[ur]);
            });
        }
        detail::SelfIdChunk& sic = sid_chunks[c];
        sic.counts.assign(rows, 0);
        if (o.self_id != nullptr)
            each([&](std::int64_t, std::size_t ur, std::size_t k, ByteSpan text, const ByteSpan& norm) {
                sic.counts[k] = detail::self_id_document(*o.self_id, o.self_id_options, text, &norm, sidw, sic,
                                                         res.self_id.truncated[ur]);
            });
    });
    detail::near_dup_merge(nd_chunks, res.near_dup);
    detail::span_merge(sp_chunks, res.spans);
    detail::self_id_merge(sid_chunks, res.self_id);
    return res;
}

}  // namespace scanner
