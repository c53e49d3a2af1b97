// TextColumn: a non-owning view of an Arrow utf8 / large_utf8 array.
//
// Arrow lays a string array out as a validity bitmap (may be absent), an
// offsets buffer (int32 for utf8, int64 for large_utf8) with length+1 entries
// starting at the array's `offset`, and one data buffer. Slices share the
// buffers and differ only in `offset` and `length`, so the view takes both.
// validate() checks every offset once, in O(rows), so that a malformed buffer
// becomes an InvalidArgument here instead of an out-of-bounds read later.
#pragma once
#include <string>

#include "common.hpp"

namespace scanner {

// What happened to a row; the Python side names these in the manifest.
enum RowStatus : std::uint8_t { kScanned = 0, kNull = 1, kNoTokens = 2, kTooLarge = 3 };

// Documents of 4 GiB or more cannot be addressed by the 32-bit offsets of the normalizer.
inline constexpr std::size_t kMaxDocumentBytes = 0xffffffffULL;

struct TextColumn {
    const std::uint8_t* data = nullptr;
    std::size_t data_size = 0;
    const void* offsets = nullptr;
    std::size_t offsets_size = 0;  // bytes
    const std::uint8_t* validity = nullptr;  // null: all valid
    std::size_t validity_size = 0;            // bytes
    bool large = false;                       // int64 offsets
    std::int64_t offset = 0;
    std::int64_t length = 0;

    std::int64_t raw_offset(std::int64_t j) const {
        return large ? static_cast<const std::int64_t*>(offsets)[j]
                     : static_cast<std::int64_t>(static_cast<const std::int32_t*>(offsets)[j]);
    }

    bool is_valid(std::int64_t i) const {
        if (validity == nullptr) return true;
        const std::int64_t j = i + offset;
        return (validity[j >> 3] >> (j & 7)) & 1;
    }

    ByteSpan row(std::int64_t i) const {
        const std::int64_t b = raw_offset(i + offset), e = raw_offset(i + offset + 1);
        return ByteSpan{data + b, static_cast<std::size_t>(e - b)};
    }

    void validate() const {
        if (offset < 0 || length < 0) throw InvalidArgument("text column: negative offset or length");
        const std::size_t width = large ? 8 : 4;
        const std::size_t needed = static_cast<std::size_t>(offset + length + 1) * width;
        if (length > 0 && (offsets == nullptr || offsets_size < needed))
            throw InvalidArgument("text column: offsets buffer holds " + std::to_string(offsets_size) +
                                  " bytes, the array needs " + std::to_string(needed));
        if (validity != nullptr && validity_size * 8 < static_cast<std::size_t>(offset + length))
            throw InvalidArgument("text column: validity bitmap too short");
        if (length == 0) return;
        std::int64_t prev = raw_offset(offset);
        if (prev < 0) throw InvalidArgument("text column: negative first offset");
        for (std::int64_t j = offset + 1; j <= offset + length; ++j) {
            const std::int64_t cur = raw_offset(j);
            if (cur < prev)
                throw InvalidArgument("text column: offsets decrease at row " + std::to_string(j - offset - 1));
            prev = cur;
        }
        if (static_cast<std::size_t>(prev) > data_size)
            throw InvalidArgument("text column: offsets point past the data buffer (" + std::to_string(prev) +
                                  " > " + std::to_string(data_size) + " bytes)");
    }
};

}  // namespace scanner
