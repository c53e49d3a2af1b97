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
    // Optional: the references normalized end to end, reference d at [norm_starts[d], norm_starts[d + 1] - 1)
    // (a span index's text, validated there); verification then tokenizes these bytes instead of
    // normalizing each reference again.
    const std::uint8_t* norm_text = nullptr;
    std::size_t norm_size = 0;
    const std::uint64_t* norm_starts = nullptr;

    // Fills s with the shingles of reference `ref` (valid, under kMaxDocumentBytes).
    void shingle_reference(std::uint32_t ref, ShingleScratch& s, std::vector<std::uint8_t>& pad) const {
        if (norm_text == nullptr) {
            shingle_document(refs.row(ref), mh.k, mh.mode, false, s);
            return;
        }
        const std::size_t a = static_cast<std::size_t>(norm_starts[ref]);
        const std::size_t b = static_cast<std::size_t>(norm_starts[ref + 1]) - 1;  // before the separator
        const std::uint8_t* p = norm_text + a;
        if (b + NormalizedText::kPad > norm_size) {  // the text's last bytes: token loads need readable slack
            pad.assign(p, p + (b - a));
            pad.resize(b - a + NormalizedText::kPad, 0);
            p = pad.data();
        }
        shingle_normalized(ByteSpan{p, b - a}, mh.k, mh.mode, false, s);
    }
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

// Per-thread buffers of near_dup_document, reused across documents.
struct NearDupScratch {
    ShingleScratch s, rs;
    std::vector<std::uint32_t> sig;
    ShingleSet doc_set, ref_set;
    std::vector<std::uint8_t> pad;
    std::vector<std::uint32_t> cand;
    LshScratch lsh_scratch;
    std::vector<std::pair<double, std::uint32_t>> passed;
    struct Found { double jaccard, estimate; std::uint32_t ref; };
    std::vector<Found> found;
};

// Row r of a batch (valid, under kMaxDocumentBytes): its code point and token counts and status into res,
// its matches appended to out (when `match`; otherwise only the counts). norm: the document's normalized
// bytes if the caller has them (see shingle_normalized; its tokens are read from there), else null.
// Returns the number of matches.
inline std::int64_t near_dup_document(const NearDupIndex& idx, const NearDupOptions& o, bool match, std::int64_t r,
                                      ByteSpan text, const ByteSpan* norm, NearDupScratch& w, NearDupChunk& out,
                                      NearDupResult& res) {
    const int P = idx.mh.num_perm;
    const std::size_t ur = static_cast<std::size_t>(r);
    ShingleScratch& s = w.s;
    res.n_codepoints[ur] = count_codepoints(text);
    std::size_t n_tok;
    if (!match) {  // only the counts: the tokens, no shingle hashes
        if (norm != nullptr) tokenize_normalized(norm->data, norm->size, s.tok.tokens);
        else tokenize(text, s.tok);
        n_tok = s.tok.tokens.size();
    } else {
        n_tok = norm != nullptr ? shingle_normalized(*norm, idx.mh.k, idx.mh.mode, true, s)
                                : shingle_document(text, idx.mh.k, idx.mh.mode, true, s);
    }
    res.n_tokens[ur] = static_cast<std::int64_t>(n_tok);
    if (n_tok == 0) {
        res.status[ur] = kNoTokens;
        return 0;
    }
    if (!match || idx.lsh.n == 0) return 0;
    w.sig.resize(static_cast<std::size_t>(P));
    minhash_signature(s.h32, idx.mh, w.sig.data());
    idx.lsh.candidates(w.sig.data(), w.cand, w.lsh_scratch);
    out.candidates += static_cast<std::int64_t>(w.cand.size());
    // Candidates' signatures lie anywhere in a table of num_perm * 4 bytes per reference (512 MB at a
    // million references): each is asked for kAhead candidates before it is compared, so the cache
    // misses of several candidates overlap.
    constexpr std::size_t kAhead = 8;
    const std::size_t sig_bytes = static_cast<std::size_t>(P) * sizeof(std::uint32_t);
    auto prefetch_sig = [&](std::size_t c) {
        const char* rs = reinterpret_cast<const char*>(idx.sigs + static_cast<std::size_t>(w.cand[c]) * P);
        for (std::size_t off = 0; off < sig_bytes; off += 64) __builtin_prefetch(rs + off);
    };
    for (std::size_t c = 0; c < std::min(kAhead, w.cand.size()); ++c) prefetch_sig(c);
    w.passed.clear();
    for (std::size_t c = 0; c < w.cand.size(); ++c) {
        if (c + kAhead < w.cand.size()) prefetch_sig(c + kAhead);
        const std::uint32_t ref = w.cand[c];
        const std::uint32_t* rsig = idx.sigs + static_cast<std::size_t>(ref) * P;
        int eq = 0;
        for (int i = 0; i < P; ++i) eq += rsig[i] == w.sig[i];
        const double est = static_cast<double>(eq) / P;
        if (est >= o.prefilter) w.passed.emplace_back(est, ref);
    }
    out.prefilter_passed += static_cast<std::int64_t>(w.passed.size());
    if (w.passed.empty()) return 0;
    std::sort(w.passed.begin(), w.passed.end(), [](const auto& x, const auto& y) {
        return x.first != y.first ? x.first > y.first : x.second < y.second;
    });
    if (o.max_verify > 0 && w.passed.size() > o.max_verify) {
        out.verify_truncated += static_cast<std::int64_t>(w.passed.size() - o.max_verify);
        w.passed.resize(o.max_verify);
    }
    w.doc_set.reset(s.h64.size());
    for (const std::uint64_t h : s.h64) w.doc_set.insert(h);
    w.found.clear();
    for (const auto& pe : w.passed) {
        const ByteSpan rt = idx.refs.is_valid(pe.second) ? idx.refs.row(pe.second) : ByteSpan{};
        if (rt.size >= kMaxDocumentBytes) continue;
        idx.shingle_reference(pe.second, w.rs, w.pad);
        ++out.verified;
        const double j = jaccard_with_set(w.doc_set, w.rs.h64, w.ref_set);
        if (j >= o.threshold) w.found.push_back(NearDupScratch::Found{j, pe.first, pe.second});
    }
    std::sort(w.found.begin(), w.found.end(), [](const NearDupScratch::Found& x, const NearDupScratch::Found& y) {
        return x.jaccard != y.jaccard ? x.jaccard > y.jaccard : x.ref < y.ref;
    });
    if (o.max_matches > 0 && w.found.size() > o.max_matches) {
        out.matches_truncated += static_cast<std::int64_t>(w.found.size() - o.max_matches);
        w.found.resize(o.max_matches);
    }
    for (const auto& f : w.found) {
        out.ref.push_back(f.ref);
        out.score.push_back(f.jaccard);
        out.estimate.push_back(f.estimate);
    }
    return static_cast<std::int64_t>(w.found.size());
}

// A result for n rows, every row `scanned` until a document says otherwise.
inline void near_dup_init(NearDupResult& res, std::int64_t n) {
    res.status.assign(static_cast<std::size_t>(n), kScanned);
    res.n_codepoints.assign(static_cast<std::size_t>(n), 0);
    res.n_tokens.assign(static_cast<std::size_t>(n), 0);
}

// Concatenates the chunks, in row order, into res.
inline void near_dup_merge(const std::vector<NearDupChunk>& chunks, NearDupResult& res) {
    row_offsets_of(chunks, res.row_offsets);
    for (const auto& ch : chunks) {
        res.ref.insert(res.ref.end(), ch.ref.begin(), ch.ref.end());
        res.score.insert(res.score.end(), ch.score.begin(), ch.score.end());
        res.estimate.insert(res.estimate.end(), ch.estimate.begin(), ch.estimate.end());
        res.candidates += ch.candidates;
        res.prefilter_passed += ch.prefilter_passed;
        res.verified += ch.verified;
        res.verify_truncated += ch.verify_truncated;
        res.matches_truncated += ch.matches_truncated;
    }
}
}  // namespace detail

inline NearDupResult near_dup_scan(const TextColumn& docs, const NearDupIndex& idx, const NearDupOptions& o) {
    NearDupResult res;
    detail::near_dup_init(res, docs.length);
    const auto chunks = row_chunks<detail::NearDupChunk, detail::NearDupScratch>(
        docs.length, o.threads, [&](auto& out, std::int64_t lo, std::int64_t hi, detail::NearDupScratch& w) {
        for (std::int64_t r = lo; r < hi; ++r) {
            const std::size_t ur = static_cast<std::size_t>(r);
            if (!docs.is_valid(r)) { res.status[ur] = kNull; continue; }
            const ByteSpan text = docs.row(r);
            if (text.size >= kMaxDocumentBytes) { res.status[ur] = kTooLarge; continue; }
            out.counts[static_cast<std::size_t>(r - lo)] =
                detail::near_dup_document(idx, o, true, r, text, nullptr, w, out, res);
        }
    });
    detail::near_dup_merge(chunks, res);
    return res;
}

}  // namespace scanner
