// Exact Jaccard similarity of shingle sets.
//
// Sets are of 64-bit shingle identities; "exact" means exact over those
// identities (two different shingles collide with probability about 2^-64).
// Cost: O(|x| + |y|) expected, no allocation once the scratch has grown.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace scanner {

// A set of shingle identities (already well mixed, so their low bits are the slot) by open addressing
// with linear probing, at most half full, emptied in O(1) by moving to the next generation. The
// verification of near-duplicates fills one per document and one per candidate reference: a few
// hundred entries that stay in L1, where sorting them cost O(m log m) with a branch miss per step.
class ShingleSet {
  public:
    // Empties the set and makes room for n keys.
    void reset(std::size_t n) {
        std::size_t cap = 16;
        while (cap < 2 * n) cap <<= 1;
        if (cap > keys_.size()) {
            keys_.assign(cap, 0);
            stamp_.assign(cap, 0);
            gen_ = 0;
        }
        if (++gen_ == 0) {  // the stamps wrapped around: clear them once every 2^32 resets
            std::fill(stamp_.begin(), stamp_.end(), 0u);
            gen_ = 1;
        }
        mask_ = cap - 1;
        count_ = 0;
    }
    // Adds h; true if it was not there yet.
    bool insert(std::uint64_t h) {
        std::size_t i = static_cast<std::size_t>(h) & mask_;
        while (stamp_[i] == gen_) {
            if (keys_[i] == h) return false;
            i = (i + 1) & mask_;
        }
        stamp_[i] = gen_;
        keys_[i] = h;
        ++count_;
        return true;
    }
    bool contains(std::uint64_t h) const {
        std::size_t i = static_cast<std::size_t>(h) & mask_;
        while (stamp_[i] == gen_) {
            if (keys_[i] == h) return true;
            i = (i + 1) & mask_;
        }
        return false;
    }
    std::size_t size() const { return count_; }

  private:
    std::vector<std::uint64_t> keys_;
    std::vector<std::uint32_t> stamp_;
    std::uint32_t gen_ = 0;
    std::size_t mask_ = 0, count_ = 0;
};

// Exact Jaccard of the distinct shingles of `ref` and the set `doc`: |intersection| / |union| from the
// same integer counts a merge of the two sorted, de-duplicated lists would give; `seen` is scratch.
inline double jaccard_with_set(const ShingleSet& doc, const std::vector<std::uint64_t>& ref, ShingleSet& seen) {
    seen.reset(ref.size());
    std::size_t inter = 0;
    for (const std::uint64_t h : ref)
        if (seen.insert(h) && doc.contains(h)) ++inter;
    const std::size_t total = doc.size() + seen.size() - inter;
    return total == 0 ? 0.0 : static_cast<double>(inter) / static_cast<double>(total);
}

}  // namespace scanner
