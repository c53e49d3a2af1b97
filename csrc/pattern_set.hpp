// PatternSet: every occurrence of a set of byte-string patterns in a text,
// in one left-to-right pass (Aho-Corasick).
//
// Layout. The patterns form a trie; states are numbered breadth-first, so
// shallow states have small numbers. Bytes are first mapped to classes (one
// class per byte value that occurs in some pattern, one for all the others).
// The shallow states, where a scan spends nearly all its time, get dense rows
// of n_classes complete transitions (failure links already folded in): one
// table load per byte. The deep states, reached only while the text follows a
// pattern for several bytes, keep just their trie edges and a failure link,
// which bounds memory by the pattern bytes instead of states x classes
// (a catalogue of 50,000 phrases would otherwise need hundreds of MB). A
// transition entry carries, in its top bit, whether some pattern ends at the
// target state.
//
// Contract:
//   - patterns are non-empty byte strings (the caller normalizes them as the
//     text is normalized); duplicates are allowed and each is reported.
//   - find() / step() call hit(pattern_id, end) for every occurrence, end
//     being the offset just past its last byte, in increasing end order (ties:
//     longer patterns first, then lower id). Cost O(text bytes + occurrences):
//     failure links followed from deep states are paid for by the bytes that
//     led there.
//   - Memory: 4 * n_dense * n_classes bytes of dense rows (n_dense <= 4096)
//     plus about 12 bytes per state and 4 per output.
// Deterministic: the automaton depends only on the pattern list.
#pragma once
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "common.hpp"

namespace scanner {

class PatternSet {
public:
    static constexpr std::size_t kDenseDepth = 3;
    static constexpr std::size_t kMaxDense = 4096;

    PatternSet() { build({}); }

    explicit PatternSet(const std::vector<ByteSpan>& patterns) { build(patterns); }

    std::size_t n_patterns() const { return lengths_.size(); }
    std::size_t n_states() const { return out_off_.size() - 1; }
    std::size_t n_dense() const { return n_dense_; }
    std::size_t n_classes() const { return n_classes_; }
    std::size_t pattern_length(std::size_t id) const { return lengths_[id]; }
    std::size_t memory_bytes() const {
        return 4 * (dense_.size() + fail_.size() + edge_off_.size() + edge_to_.size() + out_off_.size() +
                    out_ids_.size()) + 2 * edge_cls_.size() + 8 * lengths_.size();
    }

    // The streaming form of find(): feed bytes one at a time from state 0. States are passed around
    // as codes: a dense state's row offset (state * n_classes), or dense_size + k for the k-th deep
    // state, so the hot path indexes the dense table without a multiplication.
    template <class Hit>
    std::uint32_t step(std::uint32_t code, std::uint8_t byte, std::size_t end, Hit&& hit) const {
        const std::uint32_t c = cls_[byte];
        std::uint32_t t;
        for (;;) {
            if (code < dense_size_) {
                t = dense_[code + c];
                break;
            }
            const std::size_t j = code - dense_size_;
            std::uint32_t e = edge_off_[j];
            const std::uint32_t e1 = edge_off_[j + 1];
            while (e < e1 && edge_cls_[e] != c) ++e;
            if (e < e1) {
                t = edge_to_[e];
                break;
            }
            code = fail_[j];
        }
        code = t & kIdMask;
        if (t & kOutBit) report(code, end, hit);
        return code;
    }

    template <class Hit>
    void find(const std::uint8_t* text, std::size_t n, Hit&& hit) const {
        std::uint32_t s = 0;
        for (std::size_t i = 0; i < n; ++i) s = step(s, text[i], i + 1, hit);
    }

private:
    static constexpr std::uint32_t kOutBit = 0x80000000u, kIdMask = 0x7fffffffu;

    template <class Hit>
    void report(std::uint32_t code, std::size_t end, Hit& hit) const {
        const std::size_t state = code < dense_size_ ? code / n_classes_ : n_dense_ + (code - dense_size_);
        for (std::uint32_t j = out_off_[state]; j < out_off_[state + 1]; ++j) hit(out_ids_[j], end);
    }

    void build(const std::vector<ByteSpan>& patterns) {
        for (const ByteSpan& p : patterns)
            if (p.size == 0) throw InvalidArgument("pattern set: empty pattern");
        std::fill(cls_, cls_ + 256, 0);
        n_classes_ = 1;
        bool used[256] = {};
        for (const ByteSpan& p : patterns)
            for (std::size_t i = 0; i < p.size; ++i) used[p.data[i]] = true;
        for (int b = 0; b < 256; ++b)
            if (used[b]) cls_[b] = static_cast<std::uint16_t>(n_classes_++);
        const std::size_t C = n_classes_;

        // Trie from the patterns in byte order (class order is byte order): each pattern shares its
        // longest common prefix with the one before it and adds nodes for the rest, so a node's children
        // are created in increasing class order. Flat arrays, no allocation per node.
        lengths_.assign(patterns.size(), 0);
        for (std::size_t id = 0; id < patterns.size(); ++id) lengths_[id] = patterns[id].size;
        std::vector<std::uint32_t> by_bytes(patterns.size());
        for (std::size_t i = 0; i < by_bytes.size(); ++i) by_bytes[i] = static_cast<std::uint32_t>(i);
        auto less = [&](std::uint32_t x, std::uint32_t y) {
            const ByteSpan &a = patterns[x], &b = patterns[y];
            const int c = std::memcmp(a.data, b.data, std::min(a.size, b.size));
            return c != 0 ? c < 0 : a.size < b.size;
        };
        std::stable_sort(by_bytes.begin(), by_bytes.end(), less);  // equal patterns keep id order
        std::vector<std::uint32_t> parent{0}, node_end{0};  // per node; node_end: pattern ends here (count)
        std::vector<std::uint16_t> label{0};
        std::vector<std::uint32_t> path{0};  // path[d]: the node at depth d along the previous pattern
        std::vector<std::uint32_t> end_node(patterns.size(), 0);
        const ByteSpan* prev = nullptr;
        for (const std::uint32_t id : by_bytes) {
            const ByteSpan& p = patterns[id];
            std::size_t common = 0;
            if (prev != nullptr) {
                const std::size_t lim = std::min(prev->size, p.size);
                while (common < lim && prev->data[common] == p.data[common]) ++common;
            }
            path.resize(common + 1);
            for (std::size_t i = common; i < p.size; ++i) {
                const std::size_t t = parent.size();
                if (t > static_cast<std::size_t>(kIdMask))
                    throw InvalidArgument("pattern set: too many patterns for one automaton");
                parent.push_back(path.back());
                label.push_back(cls_[p.data[i]]);
                node_end.push_back(0);
                path.push_back(static_cast<std::uint32_t>(t));
            }
            end_node[id] = path[p.size];
            ++node_end[path[p.size]];
            prev = &p;
        }
        const std::size_t n = parent.size();
        // Children as CSR (kid_off / kid), in class order within a parent: nodes were created so.
        std::vector<std::uint32_t> kid_off(n + 1, 0), kid(n > 0 ? n - 1 : 0);
        for (std::size_t t = 1; t < n; ++t) ++kid_off[parent[t] + 1];
        for (std::size_t s = 0; s < n; ++s) kid_off[s + 1] += kid_off[s];
        {
            std::vector<std::uint32_t> fill(kid_off.begin(), kid_off.end() - 1);
            for (std::size_t t = 1; t < n; ++t) kid[fill[parent[t]]++] = static_cast<std::uint32_t>(t);
        }
        auto child = [&](std::uint32_t s, std::uint16_t c) -> std::int64_t {
            const std::uint32_t* b = kid.data() + kid_off[s];
            const std::uint32_t* e = kid.data() + kid_off[s + 1];
            const std::uint32_t* it = std::lower_bound(b, e, c, [&](std::uint32_t t, std::uint16_t v) { return label[t] < v; });
            return it != e && label[*it] == c ? static_cast<std::int64_t>(*it) : -1;
        };
        // Own outputs per node, by id (CSR).
        std::vector<std::uint32_t> own_off(n + 1, 0), own(patterns.size());
        for (std::size_t s = 0; s < n; ++s) own_off[s + 1] = own_off[s] + node_end[s];
        {
            std::vector<std::uint32_t> fill(own_off.begin(), own_off.end() - 1);
            for (std::size_t id = 0; id < patterns.size(); ++id) own[fill[end_node[id]]++] = static_cast<std::uint32_t>(id);
        }

        // Breadth-first order, depths and failure links.
        std::vector<std::uint32_t> order{0}, fail(n, 0), depth(n, 0);
        order.reserve(n);
        for (std::size_t q = 0; q < order.size(); ++q) {
            const std::uint32_t s = order[q];
            for (std::uint32_t k = kid_off[s]; k < kid_off[s + 1]; ++k) {
                const std::uint32_t t = kid[k];
                const std::uint16_t c = label[t];
                depth[t] = depth[s] + 1;
                std::uint32_t f = fail[s];
                std::int64_t g = -1;
                if (s != 0) {
                    for (;;) {
                        g = child(f, c);
                        if (g >= 0 || f == 0) break;
                        f = fail[f];
                    }
                }
                fail[t] = g >= 0 && static_cast<std::uint32_t>(g) != t ? static_cast<std::uint32_t>(g) : 0;
                order.push_back(t);
            }
        }

        // Renumber breadth-first; the first n_dense states (depth <= kDenseDepth) get dense rows.
        std::vector<std::uint32_t> rank(n);
        for (std::size_t r = 0; r < n; ++r) rank[order[r]] = static_cast<std::uint32_t>(r);
        n_dense_ = 0;
        while (n_dense_ < n && n_dense_ < kMaxDense && depth[order[n_dense_]] <= kDenseDepth) ++n_dense_;
        dense_size_ = static_cast<std::uint32_t>(n_dense_ * C);
        if (static_cast<std::uint64_t>(dense_size_) + n > kIdMask)
            throw InvalidArgument("pattern set: too many patterns for one automaton");
        auto code_of_rank = [&](std::size_t r) {
            return static_cast<std::uint32_t>(r < n_dense_ ? r * C : dense_size_ + (r - n_dense_));
        };
        auto has_out = [&](std::uint32_t s) { return out_off_[rank[s] + 1] != out_off_[rank[s]]; };
        auto encode = [&](std::uint32_t s) { return code_of_rank(rank[s]) | (has_out(s) ? kOutBit : 0u); };

        // Outputs in breadth-first order: a state's own patterns (one length, by id), then its failure
        // state's whole list (shorter patterns, already in order): longer first, then lower id.
        fail_.assign(n - n_dense_, 0);
        out_off_.assign(n + 1, 0);
        out_ids_.clear();
        for (std::size_t r = 0; r < n; ++r) {
            const std::uint32_t s = order[r];
            if (r >= n_dense_) fail_[r - n_dense_] = code_of_rank(rank[fail[s]]);
            out_ids_.insert(out_ids_.end(), own.begin() + own_off[s], own.begin() + own_off[s + 1]);
            if (s != 0) {
                const std::uint32_t fr = rank[fail[s]];
                for (std::uint32_t j = out_off_[fr]; j < out_off_[fr + 1]; ++j) {
                    const std::uint32_t id = out_ids_[j];
                    out_ids_.push_back(id);
                }
            }
            out_off_[r + 1] = static_cast<std::uint32_t>(out_ids_.size());
        }
        // Dense rows in breadth-first order: a missing edge goes where the failure state's row goes
        // (the failure state is shallower, so its row is already complete).
        dense_.assign(n_dense_ * C, 0);
        for (std::size_t r = 0; r < n_dense_; ++r) {
            const std::uint32_t s = order[r];
            std::uint32_t* row = &dense_[r * C];
            if (r == 0) {
                for (std::size_t c = 0; c < C; ++c) row[c] = 0;
            } else {
                const std::uint32_t* frow = &dense_[static_cast<std::size_t>(rank[fail[s]]) * C];
                std::copy(frow, frow + C, row);
            }
            for (std::uint32_t k = kid_off[s]; k < kid_off[s + 1]; ++k) row[label[kid[k]]] = encode(kid[k]);
        }
        edge_off_.assign(n - n_dense_ + 1, 0);
        edge_cls_.clear();
        edge_to_.clear();
        for (std::size_t r = n_dense_; r < n; ++r) {
            const std::uint32_t s = order[r];
            for (std::uint32_t k = kid_off[s]; k < kid_off[s + 1]; ++k) {
                edge_cls_.push_back(label[kid[k]]);
                edge_to_.push_back(encode(kid[k]));
            }
            edge_off_[r - n_dense_ + 1] = static_cast<std::uint32_t>(edge_to_.size());
        }
    }

    std::uint16_t cls_[256] = {};
    std::size_t n_classes_ = 1, n_dense_ = 0;
    std::uint32_t dense_size_ = 0;
    std::vector<std::uint32_t> dense_;
    std::vector<std::uint32_t> fail_;  // per deep state, the code of its failure state
    std::vector<std::uint32_t> edge_off_;
    std::vector<std::uint16_t> edge_cls_;
    std::vector<std::uint32_t> edge_to_;
    std::vector<std::uint32_t> out_off_, out_ids_;
    std::vector<std::size_t> lengths_;
};

}  // namespace scanner
