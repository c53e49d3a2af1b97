// Snippets: the text of a finding as a report shows it, cut out of the original document by code points
// and put on one line, exactly as this Python would (findings.py used to run it per finding):
//
//     s = doc.decode("utf-8", "surrogateescape")[start:end]        # an invalid byte is one code point
//     s = s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
//     " ".join(s.split())
//
// so the slice's bytes are decoded with Python's "replace" handler (one U+FFFD per maximal invalid
// subpart, as Unicode recommends), and runs of what str.isspace() calls whitespace become one space,
// none at either end. The tests hold the two to the same text.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "common.hpp"
#include "normalize.hpp"
#include "text_column.hpp"

namespace scanner {

namespace detail {

// The code point at p (n > 0 bytes), or U+FFFD for the maximal subpart of an ill-formed sequence
// there; len gets the bytes consumed (>= 1).
inline std::uint32_t decode_utf8_replace(const std::uint8_t* p, std::size_t n, std::size_t& len) {
    const std::uint8_t c = p[0];
    len = 1;
    if (c < 0x80) return c;
    std::size_t need;
    std::uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0xFFFD;
    }
    for (std::size_t i = 1; i <= need; ++i) {
        if (i >= n) return 0xFFFD;  // truncated: the bytes so far are one subpart
        const std::uint8_t b = p[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return 0xFFFD;
        cp = (cp << 6) | (b & 0x3F);
        len = i + 1;
    }
    return cp;
}

// Python's str.isspace() (Unicode 14, CPython 3.11).
inline bool is_python_space(std::uint32_t cp) {
    if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

inline void put_utf8(std::uint32_t cp, std::vector<std::uint8_t>& out) {
    if (cp < 0x80) {
        out.push_back(static_cast<std::uint8_t>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<std::uint8_t>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<std::uint8_t>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<std::uint8_t>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<std::uint8_t>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<std::uint8_t>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<std::uint8_t>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<std::uint8_t>(0x80 | (cp & 0x3F)));
    }
}

}  // namespace detail

// Appends the one-line form of the bytes s (see the header comment) to out.
inline void append_snippet(ByteSpan s, std::vector<std::uint8_t>& out) {
    bool space = false, any = false;
    std::size_t len;
    for (std::size_t i = 0; i < s.size; i += len) {
        // A run of printable ASCII other than the space (most of any text) is copied as it is.
        std::size_t j = i;
        while (j < s.size && s.data[j] > 0x20 && s.data[j] < 0x80) ++j;
        if (j > i) {
            if (space) out.push_back(' ');
            space = false;
            any = true;
            out.insert(out.end(), s.data + i, s.data + j);
            len = j - i;
            continue;
        }
        const std::uint32_t cp = detail::decode_utf8_replace(s.data + i, s.size - i, len);
        if (detail::is_python_space(cp)) {
            space = any;
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        any = true;
        if (cp < 0x80) out.push_back(static_cast<std::uint8_t>(cp));
        else detail::put_utf8(cp, out);
    }
}

// Where code points [start[i], end[i]) of row rows[i] of col lie, as byte offsets from the start of
// col.data (an invalid UTF-8 byte counts as one code point; offsets past a row's end stop there; an
// end below its start is taken as the start). One pass over each row for all its slices.
inline void slice_byte_ranges(const TextColumn& col, const std::int64_t* rows, const std::int64_t* start,
                              const std::int64_t* end, std::size_t n, std::int64_t* a, std::int64_t* b) {
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (rows[i] < 0 || rows[i] >= col.length)
            throw InvalidArgument("snippets: row " + std::to_string(rows[i]) + " is outside the batch");
        if (start[i] < 0 || end[i] < 0) throw InvalidArgument("snippets: negative code point offset");
        order[i] = i;
    }
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return rows[x] < rows[y]; });
    std::vector<std::int64_t> cps;
    std::vector<std::size_t> got;
    for (std::size_t g = 0; g < n;) {
        std::size_t h = g;
        while (h < n && rows[order[h]] == rows[order[g]]) ++h;
        const std::int64_t row = rows[order[g]];
        const ByteSpan text = col.is_valid(row) ? col.row(row) : ByteSpan{};
        cps.clear();
        for (std::size_t t = g; t < h; ++t) {
            cps.push_back(start[order[t]]);
            cps.push_back(std::max(start[order[t]], end[order[t]]));
        }
        bytes_at_codepoints(text, cps, got);
        const std::int64_t base = text.data != nullptr ? text.data - col.data : 0;
        for (std::size_t t = g; t < h; ++t) {
            a[order[t]] = base + static_cast<std::int64_t>(got[2 * (t - g)]);
            b[order[t]] = base + static_cast<std::int64_t>(got[2 * (t - g) + 1]);
        }
        g = h;
    }
}

// The snippets of code points [start[i], end[i]) of rows rows[i], as a string column: offsets (n + 1)
// into data.
inline void snippets(const TextColumn& col, const std::int64_t* rows, const std::int64_t* start,
                     const std::int64_t* end, std::size_t n, std::vector<std::int32_t>& offsets,
                     std::vector<std::uint8_t>& data) {
    std::vector<std::int64_t> a(n), b(n);
    slice_byte_ranges(col, rows, start, end, n, a.data(), b.data());
    offsets.assign(1, 0);
    offsets.reserve(n + 1);
    data.clear();
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < n; ++i) bytes += static_cast<std::size_t>(b[i] - a[i]);
    data.reserve(bytes);  // at most this, but for invalid bytes (each 3 as U+FFFD)
    for (std::size_t i = 0; i < n; ++i) {
        append_snippet(ByteSpan{col.data + a[i], static_cast<std::size_t>(b[i] - a[i])}, data);
        if (data.size() > 0x7fffffffu) throw InvalidArgument("snippets: more than 2 GiB of snippet text in one batch");
        offsets.push_back(static_cast<std::int32_t>(data.size()));
    }
}

}  // namespace scanner
