// Exact Jaccard similarity of shingle sets.
//
// Sets are vectors of 64-bit shingle identities, sorted and de-duplicated;
// "exact" means exact over those identities (two different shingles collide
// with probability about 2^-64). Cost: O(|x| + |y|), no allocation.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace scanner {

// Exact Jaccard of two shingle sets given as sorted, de-duplicated hash vectors.
inline double jaccard_sorted(const std::vector<std::uint64_t>& x, const std::vector<std::uint64_t>& y) {
    if (x.empty() && y.empty()) return 0.0;
    std::size_t i = 0, j = 0, inter = 0;
    while (i < x.size() && j < y.size()) {
        if (x[i] < y[j]) ++i;
        else if (y[j] < x[i]) ++j;
        else { ++inter; ++i; ++j; }
    }
    return static_cast<double>(inter) / static_cast<double>(x.size() + y.size() - inter);
}

inline void sort_unique(std::vector<std::uint64_t>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace scanner
