// The only pybind11 file: thin shims that turn buffers into views, release
// the GIL, call the core and wrap results as numpy arrays. Defaults,
// validation and policy live in scanner/*.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "jaccard.hpp"
#include "lsh.hpp"
#include "minhash.hpp"
#include "near_dup.hpp"
#include "normalize.hpp"
#include "one_pass.hpp"
#include "pattern_set.hpp"
#include "self_id.hpp"
#include "snippet.hpp"
#include "span_match.hpp"
#include "suffix_array.hpp"
#include "text_column.hpp"

namespace py = pybind11;
using namespace scanner;

namespace {

// v as a numpy array that owns it: 1-D, or C-order 2-D of `cols` columns (v.size() a multiple of cols).
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::size_t cols = 0) {
    auto* owned = new std::vector<T>(std::move(v));
    py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    if (cols == 0) return py::array_t<T>({static_cast<py::ssize_t>(owned->size())}, owned->data(), owner);
    return py::array_t<T>({static_cast<py::ssize_t>(owned->size() / cols), static_cast<py::ssize_t>(cols)},
                          owned->data(), owner);
}

// Arrow string array as the tuple scanner.arrow_bridge.text_buffers() builds:
// (offsets, data, validity or None, offset, length, large_offsets).
struct ColumnArg {
    TextColumn col;
    std::vector<py::buffer_info> keep;  // views stay valid while these live
};

ColumnArg column_arg(const py::tuple& t) {
    if (t.size() != 6) throw InvalidArgument("text column tuple must have 6 items");
    ColumnArg a;
    auto view = [&](const py::object& o) -> const py::buffer_info& {
        a.keep.push_back(py::buffer(o).request());
        return a.keep.back();
    };
    a.keep.reserve(3);
    const auto& off = view(t[0]);
    a.col.offsets = off.ptr;
    a.col.offsets_size = static_cast<std::size_t>(off.size * off.itemsize);
    const auto& dat = view(t[1]);
    a.col.data = static_cast<const std::uint8_t*>(dat.ptr);
    a.col.data_size = static_cast<std::size_t>(dat.size * dat.itemsize);
    if (!t[2].is_none()) {
        const auto& val = view(t[2]);
        a.col.validity = static_cast<const std::uint8_t*>(val.ptr);
        a.col.validity_size = static_cast<std::size_t>(val.size * val.itemsize);
    }
    a.col.offset = t[3].cast<std::int64_t>();
    a.col.length = t[4].cast<std::int64_t>();
    a.col.large = t[5].cast<bool>();
    a.col.validate();
    return a;
}

ByteSpan bytes_span(const py::bytes& b) {
    char* p;
    py::ssize_t n;
    PyBytes_AsStringAndSize(b.ptr(), &p, &n);
    return ByteSpan{reinterpret_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n)};
}

MinHashParams minhash_params(int k, int mode, const py::array_t<std::uint32_t, py::array::c_style>& a,
                             const py::array_t<std::uint32_t, py::array::c_style>& b) {
    if (k < 1) throw InvalidArgument("k must be >= 1");
    if (a.ndim() != 1 || a.shape(0) != b.shape(0) || a.shape(0) < 1)
        throw InvalidArgument("permutation arrays a and b must be 1-D of equal, non-zero length");
    if (mode != 0 && mode != 1) throw InvalidArgument("hash mode must be 0 (fast) or 1 (sha1)");
    MinHashParams p;
    p.k = k;
    p.mode = static_cast<HashMode>(mode);
    p.a = a.data();
    p.b = b.data();
    p.num_perm = static_cast<int>(a.shape(0));
    return p;
}

using U32 = py::array_t<std::uint32_t, py::array::c_style>;
using U64 = py::array_t<std::uint64_t, py::array::c_style>;

// Owns the Python objects whose memory the index views point into.
struct PyNearDupIndex {
    NearDupIndex idx;
    std::vector<py::object> keep;
    ColumnArg refs;
};

// Owns the Python objects whose memory a span index views.
struct PySpanIndex {
    SpanIndex idx;
    std::vector<py::object> keep;
    ColumnArg refs;
};

template <class T>
const T* checked_data(const py::array_t<T, py::array::c_style>& a, std::size_t expect, const char* what) {
    if (a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != expect)
        throw FormatError(std::string("span index: ") + what + " has " + std::to_string(a.size()) +
                          " entries, expected " + std::to_string(expect));
    return a.data();
}

std::vector<ByteSpan> byte_spans(const std::vector<py::bytes>& items) {
    std::vector<ByteSpan> out;
    out.reserve(items.size());
    for (const auto& b : items) out.push_back(bytes_span(b));
    return out;
}

// Occurrences of a pattern set in every row, normalized first or as raw bytes.
struct PatternHits {
    std::vector<std::int64_t> row_offsets;
    std::vector<std::uint32_t> ids;
    std::vector<std::int64_t> ends;
};

PatternHits pattern_hits(const PatternSet& set, const TextColumn& col, bool normalized, int threads) {
    const std::int64_t n = col.length;
    const std::int64_t chunk = 256;
    const std::size_t n_chunks = static_cast<std::size_t>((n + chunk - 1) / chunk);
    std::vector<PatternHits> parts(n_chunks);
    parallel_chunks(n_chunks, threads, [&](std::size_t c) {
        PatternHits& out = parts[c];
        std::vector<detail::PatHit> hits;
        for (std::int64_t r = static_cast<std::int64_t>(c) * chunk; r < std::min(n, (static_cast<std::int64_t>(c) + 1) * chunk); ++r) {
            hits.clear();
            if (col.is_valid(r)) {
                const ByteSpan t = col.row(r);
                if (normalized) {
                    detail::MatchSink sink{set, hits};
                    normalize_walk(t, sink);
                } else {
                    set.find(t.data, t.size, [&](std::uint32_t id, std::size_t end) {
                        hits.push_back(detail::PatHit{id, static_cast<std::uint32_t>(end)});
                    });
                }
            }
            out.row_offsets.push_back(static_cast<std::int64_t>(hits.size()));
            for (const auto& h : hits) {
                out.ids.push_back(h.pat);
                out.ends.push_back(h.end);
            }
        }
    });
    PatternHits res;
    res.row_offsets.push_back(0);
    for (const auto& p : parts) {
        for (std::int64_t k : p.row_offsets) res.row_offsets.push_back(res.row_offsets.back() + k);
        res.ids.insert(res.ids.end(), p.ids.begin(), p.ids.end());
        res.ends.insert(res.ends.end(), p.ends.begin(), p.ends.end());
    }
    return res;
}

// The three detectors' results as dicts of numpy arrays and counters (the arrays are moved, not copied).
py::dict near_dup_dict(NearDupResult&& r) {
    py::dict d;
    d["row_offsets"] = to_numpy(std::move(r.row_offsets));
    d["ref"] = to_numpy(std::move(r.ref));
    d["score"] = to_numpy(std::move(r.score));
    d["estimate"] = to_numpy(std::move(r.estimate));
    d["status"] = to_numpy(std::move(r.status));
    d["n_codepoints"] = to_numpy(std::move(r.n_codepoints));
    d["n_tokens"] = to_numpy(std::move(r.n_tokens));
    d["candidates"] = r.candidates;
    d["prefilter_passed"] = r.prefilter_passed;
    d["verified"] = r.verified;
    d["verify_truncated"] = r.verify_truncated;
    d["matches_truncated"] = r.matches_truncated;
    return d;
}

py::dict span_dict(SpanResult&& r) {
    py::dict d;
    d["row_offsets"] = to_numpy(std::move(r.row_offsets));
    d["start"] = to_numpy(std::move(r.start));
    d["end"] = to_numpy(std::move(r.end));
    d["ref"] = to_numpy(std::move(r.ref));
    d["ref_start"] = to_numpy(std::move(r.ref_start));
    d["ref_end"] = to_numpy(std::move(r.ref_end));
    d["ref_count"] = to_numpy(std::move(r.ref_count));
    d["common"] = to_numpy(std::move(r.common));
    d["chars"] = to_numpy(std::move(r.chars));
    d["copied_chars"] = to_numpy(std::move(r.copied_chars));
    d["truncated"] = to_numpy(std::move(r.truncated));
    d["windows"] = r.windows;
    d["filter_hits"] = r.filter_hits;
    d["searches"] = r.searches;
    d["matches"] = r.matches;
    return d;
}

py::dict self_id_dict(SelfIdResult&& r) {
    py::dict d;
    d["row_offsets"] = to_numpy(std::move(r.row_offsets));
    d["rule"] = to_numpy(std::move(r.rule));
    d["start"] = to_numpy(std::move(r.start));
    d["end"] = to_numpy(std::move(r.end));
    d["sent_start"] = to_numpy(std::move(r.sent_start));
    d["sent_end"] = to_numpy(std::move(r.sent_end));
    d["precision"] = to_numpy(std::move(r.precision));
    d["quoted"] = to_numpy(std::move(r.quoted));
    d["truncated"] = to_numpy(std::move(r.truncated));
    d["pattern_hits"] = r.pattern_hits;
    d["anchor_hits"] = r.anchor_hits;
    d["confirmed"] = r.confirmed;
    d["below_precision"] = r.below_precision;
    return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "scanner native core (private; use the scanner package)";
    m.attr("UNICODE_VERSION") = unicode_data::kUnicodeVersion;

    auto errors = py::module_::import("scanner.errors");
    static py::object invalid_input = errors.attr("InvalidInput");
    static py::object index_format_error = errors.attr("IndexFormatError");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const InvalidArgument& e) {
            PyErr_SetString(invalid_input.ptr(), e.what());
        } catch (const FormatError& e) {
            PyErr_SetString(index_format_error.ptr(), e.what());
        }
    });

    m.def("hash_bytes", [](const py::bytes& data, std::uint64_t seed) {
        const ByteSpan s = bytes_span(data);
        return hash_bytes(s.data, s.size, seed);
    }, py::arg("data"), py::arg("seed"),
          "The core's seeded 64-bit byte-string hash (tokens, shingles, LSH band keys; indexes depend on it).");

    m.def("normalize", [](const py::bytes& text) {
        const ByteSpan s = bytes_span(text);
        NormalizedText out;
        normalize_into<true>(s, out);
        py::bytes nb(reinterpret_cast<const char*>(out.data()), out.size);
        out.src.resize(out.size);
        return py::make_tuple(nb, to_numpy(std::move(out.src)));
    }, py::arg("text"), "Normalized UTF-8 and the original byte offset of every normalized byte.");

    m.def("tokens", [](const py::bytes& text) {
        const ByteSpan s = bytes_span(text);
        TokenText tt;
        tokenize(s, tt);
        py::list out;
        for (const Token& t : tt.tokens)
            out.append(py::bytes(reinterpret_cast<const char*>(tt.data() + t.begin), t.end - t.begin));
        return out;
    }, py::arg("text"), "Word tokens of the normalized text, as UTF-8 bytes.");

    m.def("tokens_of_normalized", [](const py::bytes& text) {
        NormalizedText nt;
        normalize_into<false>(bytes_span(text), nt);
        std::vector<Token> toks;
        tokenize_normalized(nt.data(), nt.size, toks);
        py::list out;
        for (const Token& t : toks)
            out.append(py::bytes(reinterpret_cast<const char*>(nt.data() + t.begin), t.end - t.begin));
        return out;
    }, py::arg("text"), "tokens(text) computed the one-pass way, from the normalized text; for tests.");

    m.def("shingle_hashes", [](const py::bytes& text, int k, int mode) {
        if (k < 1) throw InvalidArgument("k must be >= 1");
        const ByteSpan s = bytes_span(text);
        ShingleScratch sc;
        shingle_document(s, k, static_cast<HashMode>(mode == 1 ? 1 : 0), true, sc);
        return py::make_tuple(to_numpy(std::move(sc.h64)), to_numpy(std::move(sc.h32)));
    }, py::arg("text"), py::arg("k"), py::arg("mode"),
       "Per-shingle 64-bit identities and the fmix32'd MinHash inputs of one document.");

    m.def("signatures", [](const py::tuple& column, int k, int mode, const U32& a, const U32& b, int threads) {
        ColumnArg c = column_arg(column);
        const MinHashParams p = minhash_params(k, mode, a, b);
        const auto n = static_cast<py::ssize_t>(c.col.length);
        U32 sigs({n, static_cast<py::ssize_t>(p.num_perm)});
        py::array_t<std::uint8_t> status({n});
        py::array_t<std::int64_t> n_tokens({n});
        std::uint32_t* sp = sigs.mutable_data();
        std::uint8_t* st = status.mutable_data();
        std::int64_t* nt = n_tokens.mutable_data();
        {
            py::gil_scoped_release release;
            batch_signatures(c.col, p, threads, sp, st, nt);
        }
        return py::make_tuple(sigs, status, n_tokens);
    }, py::arg("column"), py::arg("k"), py::arg("mode"), py::arg("a"), py::arg("b"), py::arg("threads"));

    m.def("lsh_build", [](const U32& sigs, int bands, int rows, int threads) {
        if (sigs.ndim() != 2) throw InvalidArgument("signatures must be a 2-D uint32 array");
        if (bands < 1) throw InvalidArgument("bands must be >= 1");
        const auto n = static_cast<std::size_t>(sigs.shape(0));
        const int P = static_cast<int>(sigs.shape(1));
        const std::uint32_t* sp = sigs.data();
        LshBuilt built;
        {
            py::gil_scoped_release release;
            built = lsh_build(sp, n, P, bands, rows, threads);
        }
        return py::make_tuple(to_numpy(std::move(built.table), kLshBucketWords), to_numpy(std::move(built.groups)),
                              to_numpy(std::move(built.group_offsets)));
    }, py::arg("signatures"), py::arg("bands"), py::arg("rows"), py::arg("threads"),
       "The banded LSH tables of the signatures (csrc/lsh.hpp): the table, (bands * buckets, 8) uint64; the "
       "groups, uint32; the groups' per-band offsets, (bands + 1) uint64.");

    m.def("lsh_bucket_count", &lsh_bucket_count, py::arg("entries"));
    m.attr("LSH_SLOTS") = kLshSlots;

    m.def("codepoint_counts", [](const py::tuple& column) {
        ColumnArg c = column_arg(column);
        std::vector<std::int64_t> out(static_cast<std::size_t>(c.col.length), 0);
        {
            py::gil_scoped_release release;
            for (std::int64_t r = 0; r < c.col.length; ++r)
                if (c.col.is_valid(r)) out[static_cast<std::size_t>(r)] = count_codepoints(c.col.row(r));
        }
        return to_numpy(std::move(out));
    }, py::arg("column"), "Code points per row, counting each invalid UTF-8 byte as one; 0 for nulls.");

    m.attr("SAMPLE_STEP") = kSampleStep;

    m.def("snippets", [](const py::tuple& column, const py::array_t<std::int64_t, py::array::c_style>& rows,
                         const py::array_t<std::int64_t, py::array::c_style>& start,
                         const py::array_t<std::int64_t, py::array::c_style>& end) {
        ColumnArg c = column_arg(column);
        const auto n = static_cast<std::size_t>(rows.size());
        if (static_cast<std::size_t>(start.size()) != n || static_cast<std::size_t>(end.size()) != n)
            throw InvalidArgument("snippets: rows, start and end differ in length");
        std::vector<std::int32_t> offsets;
        std::vector<std::uint8_t> data;
        {
            py::gil_scoped_release release;
            snippets(c.col, rows.data(), start.data(), end.data(), n, offsets, data);
        }
        return py::make_tuple(to_numpy(std::move(offsets)), to_numpy(std::move(data)));
    }, py::arg("column"), py::arg("rows"), py::arg("start"), py::arg("end"),
       "Code points [start, end) of the given rows on one line, as Python's "
       "' '.join(text[start:end].split()) with each invalid UTF-8 byte one code point and decoded with "
       "'replace' (csrc/snippet.hpp): (int32 offsets, UTF-8 bytes) of a string column.");

    py::class_<PyNearDupIndex>(m, "NearDupIndex")
        .def(py::init([](const U32& sigs, const U64& table, const U32& groups, const U64& group_offsets, int bands,
                         int rows, const py::tuple& ref_column, int k, int mode, const U32& a, const U32& b,
                         const py::object& spans) {
            auto self = std::make_unique<PyNearDupIndex>();
            self->idx.mh = minhash_params(k, mode, a, b);
            self->refs = column_arg(ref_column);
            self->idx.refs = self->refs.col;
            const auto n = static_cast<std::size_t>(self->refs.col.length);
            const int P = self->idx.mh.num_perm;
            if (sigs.ndim() != 2 || static_cast<std::size_t>(sigs.shape(0)) != n || sigs.shape(1) != P)
                throw FormatError("signature matrix shape does not match the reference count and num_perm");
            LshTables& t = self->idx.lsh;
            t.num_perm = P;
            t.bands = bands;
            t.rows = rows;
            t.n = n;
            if (bands < 1 || table.ndim() != 2 || table.shape(1) != static_cast<py::ssize_t>(kLshBucketWords) ||
                table.shape(0) < bands || table.shape(0) % bands != 0)
                throw FormatError("LSH table size does not match bands and references");
            t.buckets = static_cast<std::size_t>(table.shape(0) / bands);
            if (groups.ndim() != 1 || group_offsets.ndim() != 1 || group_offsets.shape(0) != bands + 1)
                throw FormatError("LSH group offsets do not match the bands");
            t.table = table.data();
            t.groups = groups.data();
            t.group_offsets = group_offsets.data();
            t.sigs = sigs.data();
            self->idx.sigs = sigs.data();
            t.open(static_cast<std::size_t>(groups.shape(0)));
            self->keep = {sigs, table, groups, group_offsets, a, b, ref_column, spans};
            if (!spans.is_none()) {  // verification reads the references' normalized bytes from the span index
                const SpanIndex& si = spans.cast<const PySpanIndex&>().idx;
                if (si.n_docs != n) throw FormatError("span index and signatures hold different reference counts");
                self->idx.norm_text = si.sa.text;
                self->idx.norm_size = si.sa.n;
                self->idx.norm_starts = si.doc_starts;
            }
            return self;
        }), py::arg("signatures"), py::arg("lsh_table"), py::arg("lsh_groups"), py::arg("lsh_group_offsets"),
            py::arg("bands"), py::arg("rows"),
            py::arg("ref_column"), py::arg("k"), py::arg("mode"),
            py::arg("a"), py::arg("b"), py::arg("spans") = py::none(),
            "spans: the SpanIndex of the same references, whose normalized text verification then reuses.")
        .def("candidates", [](const PyNearDupIndex& self, const U32& sigs, int threads) {
            if (sigs.ndim() != 2 || sigs.shape(1) != self.idx.mh.num_perm)
                throw InvalidArgument("signatures must be a 2-D uint32 array with num_perm columns");
            std::vector<std::int64_t> offsets;
            std::vector<std::uint32_t> ids;
            const std::uint32_t* sp = sigs.data();
            const auto rows = static_cast<std::size_t>(sigs.shape(0));
            {
                py::gil_scoped_release release;
                lsh_query_batch(self.idx.lsh, sp, rows, threads, offsets, ids);
            }
            return py::make_tuple(to_numpy(std::move(offsets)), to_numpy(std::move(ids)));
        }, py::arg("signatures"), py::arg("threads"), "LSH candidates of each signature row, as CSR (offsets, ids).")
        .def("scan", [](const PyNearDupIndex& self, const py::tuple& column, double threshold, double prefilter,
                        std::size_t max_verify, std::size_t max_matches, int threads) {
            ColumnArg c = column_arg(column);
            NearDupOptions o;
            o.threshold = threshold;
            o.prefilter = prefilter;
            o.max_verify = max_verify;
            o.max_matches = max_matches;
            o.threads = threads;
            NearDupResult r;
            {
                py::gil_scoped_release release;
                r = near_dup_scan(c.col, self.idx, o);
            }
            return near_dup_dict(std::move(r));
        }, py::arg("column"), py::arg("threshold"), py::arg("prefilter"), py::arg("max_verify"),
           py::arg("max_matches"), py::arg("threads"));

    m.def("suffix_array", [](const py::bytes& text) {
        const ByteSpan s = bytes_span(text);
        std::vector<std::uint8_t> packed;
        const int width = suffix_array_width(s.size);
        {
            py::gil_scoped_release release;
            build_suffix_array(s.data, s.size, width, packed);
        }
        SuffixArrayView v;
        v.text = s.data;
        v.n = s.size;
        v.sa = packed.data();
        v.width = width;
        std::vector<std::int64_t> out(s.size);
        for (std::size_t r = 0; r < s.size; ++r) out[r] = static_cast<std::int64_t>(v.at(r));
        return to_numpy(std::move(out));
    }, py::arg("text"), "Suffix array of a byte string (SA-IS), unpacked to int64; for tests and benchmarks.");

    m.def("span_index_build", [](const py::tuple& ref_column, std::size_t window, int bits, int threads) {
        if (window < 1 || window > 4096) throw InvalidArgument("span window must be in 1..4096 bytes");
        if (bits < 1 || bits > 64) throw InvalidArgument("filter bits per k-gram must be in 1..64");
        ColumnArg c = column_arg(ref_column);
        std::vector<std::uint8_t> text, sa;
        std::vector<std::uint64_t> starts, bucket(SuffixArrayView::kBucketSize), samples, words;
        int width;
        {
            py::gil_scoped_release release;
            const std::uint64_t kgrams = concat_normalized(c.col, window, text, starts);
            width = suffix_array_width(text.size());
            build_suffix_array(text.data(), text.size(), width, sa);
            SuffixArrayView v;
            v.text = text.data();
            v.n = text.size();
            v.sa = sa.data();
            v.width = width;
            build_prefix_table(v, bucket.data());
            samples.resize(sample_count(v.n));
            build_sample_table(v, samples.data());
            words.resize(kgram_filter_words(kgrams, bits));
            build_kgram_filter(text.data(), starts.data(), starts.size() - 1, window, words.data(), words.size(),
                               threads);
        }
        py::dict d;
        d["text"] = to_numpy(std::move(text));
        d["doc_starts"] = to_numpy(std::move(starts));
        d["sa"] = to_numpy(std::move(sa));
        d["width"] = width;
        d["bucket"] = to_numpy(std::move(bucket));
        d["samples"] = to_numpy(std::move(samples));
        d["filter"] = to_numpy(std::move(words));
        return d;
    }, py::arg("ref_column"), py::arg("window"), py::arg("bits"), py::arg("threads"),
       "Normalized reference text, document starts, packed suffix array, prefix and sample tables and k-gram "
       "filter.");

    using U8 = py::array_t<std::uint8_t, py::array::c_style>;
    py::class_<PySpanIndex>(m, "SpanIndex")
        .def(py::init([](const U8& text, const U64& doc_starts, const U8& sa, int width, const U64& bucket,
                         const U64& samples, const U64& filter, std::size_t window, const py::object& ref_column) {
            auto self = std::make_unique<PySpanIndex>();
            SpanIndex& x = self->idx;
            if (text.ndim() != 1 || doc_starts.ndim() != 1 || doc_starts.size() < 1 || filter.ndim() != 1 ||
                filter.size() < 1)
                throw FormatError("span index: text, doc_starts and filter must be non-empty 1-D arrays");
            x.sa.text = text.data();
            x.sa.n = static_cast<std::size_t>(text.size());
            x.sa.width = width;
            if (width < 1 || width > 8) throw FormatError("span index: suffix array width must be 1..8 bytes");
            x.sa.sa = checked_data(sa, x.sa.n * static_cast<std::size_t>(width) + kSuffixArrayPad,
                                   "suffix array bytes");
            x.sa.bucket = checked_data(bucket, SuffixArrayView::kBucketSize, "prefix table");
            x.sa.samples = checked_data(samples, sample_count(x.sa.n), "sample table");
            x.doc_starts = doc_starts.data();
            x.n_docs = static_cast<std::size_t>(doc_starts.size()) - 1;
            x.filter.words = filter.data();
            x.filter.n_words = static_cast<std::uint64_t>(filter.size());
            x.filter.k = window;
            if (!ref_column.is_none()) {
                self->refs = column_arg(ref_column.cast<py::tuple>());
                x.refs = self->refs.col;
            }
            x.validate();
            self->keep = {text, doc_starts, sa, bucket, samples, filter, ref_column};
            return self;
        }), py::arg("text"), py::arg("doc_starts"), py::arg("sa"), py::arg("width"), py::arg("bucket"),
            py::arg("samples"), py::arg("filter"), py::arg("window"), py::arg("ref_column"))
        .def_property_readonly("window", [](const PySpanIndex& s) { return s.idx.filter.k; })
        .def_property_readonly("size", [](const PySpanIndex& s) { return s.idx.sa.n; })
        .def("occurs", [](const PySpanIndex& s, const py::bytes& q) {
            const ByteSpan b = bytes_span(q);
            return s.idx.sa.occurs(b.data, b.size);
        }, py::arg("normalized"), "Whether the normalized bytes occur in the indexed text.")
        .def("scan", [](const PySpanIndex& self, const py::tuple& column, std::size_t min_chars,
                        std::size_t min_words, const PySpanIndex* control, int threads) {
            ColumnArg c = column_arg(column);
            SpanOptions o;
            o.min_chars = min_chars;
            o.min_words = min_words;
            o.threads = threads;
            SpanResult r;
            {
                py::gil_scoped_release release;
                r = span_scan(c.col, self.idx, control ? &control->idx : nullptr, o);
            }
            return span_dict(std::move(r));
        }, py::arg("column"), py::arg("min_chars"), py::arg("min_words"), py::arg("control"), py::arg("threads"));
    py::class_<PatternSet>(m, "PatternSet")
        .def(py::init([](const std::vector<py::bytes>& patterns) {
            return std::make_unique<PatternSet>(byte_spans(patterns));
        }), py::arg("patterns"))
        .def_property_readonly("n_states", &PatternSet::n_states)
        .def_property_readonly("n_classes", &PatternSet::n_classes)
        .def_property_readonly("memory_bytes", &PatternSet::memory_bytes)
        .def("find", [](const PatternSet& self, const py::tuple& column, bool normalized, int threads) {
            ColumnArg c = column_arg(column);
            PatternHits h;
            {
                py::gil_scoped_release release;
                h = pattern_hits(self, c.col, normalized, threads);
            }
            return py::make_tuple(to_numpy(std::move(h.row_offsets)), to_numpy(std::move(h.ids)),
                                  to_numpy(std::move(h.ends)));
        }, py::arg("column"), py::arg("normalized"), py::arg("threads"),
           "Every occurrence in every row as CSR (row_offsets, pattern ids, end byte offsets), in the "
           "normalized text (normalized=True) or the raw bytes.");

    m.def("char_kinds", [](const py::bytes& text) {
        const ByteSpan s = bytes_span(text);
        std::vector<std::uint8_t> kinds;
        std::size_t len;
        for (std::size_t i = 0; i < s.size; i += len) {
            const std::uint32_t cp = decode_utf8(s.data + i, s.size - i, len);
            kinds.push_back(static_cast<std::uint8_t>(unicode_entry(cp) & 7));
        }
        return to_numpy(std::move(kinds));
    }, py::arg("text"), "Character kind (0 other, 1 word, 2 single, 3 space, 4 drop) of every code point.");

    m.def("phrase_literals", [](const std::vector<py::bytes>& texts, std::size_t max_variants) {
        const std::vector<ByteSpan> spans = byte_spans(texts);
        std::vector<std::string> lits;
        std::int64_t empty = -1;
        {
            py::gil_scoped_release nogil;
            NormalizedText nt;
            std::unordered_set<std::string> seen;
            for (std::size_t i = 0; i < spans.size() && empty < 0; ++i)
                if (!phrase_variants(spans[i], max_variants, nt, lits, seen)) empty = static_cast<std::int64_t>(i);
        }
        py::list out;
        for (const std::string& l : lits) out.append(py::bytes(l));
        return py::make_tuple(out, empty);
    }, py::arg("texts"), py::arg("max_variants"),
       "The distinct literals of phrase texts, in first-seen order (phrase_variants in csrc/self_id.hpp), and "
       "the index of the first text that normalizes to nothing (-1: none; the texts after it are not read).");

    using U8A = py::array_t<std::uint8_t, py::array::c_style>;
    py::class_<SelfIdRules>(m, "SelfIdRules")
        .def(py::init([](const std::vector<py::bytes>& patterns, const U32& pat_rule, const U8A& pat_role,
                         const U8A& rule_precision, const U32& rule_within) {
            const auto n = patterns.size();
            if (static_cast<std::size_t>(pat_rule.size()) != n || static_cast<std::size_t>(pat_role.size()) != n)
                throw InvalidArgument("self-id: one rule and one role per pattern");
            if (rule_precision.size() != rule_within.size())
                throw InvalidArgument("self-id: one precision and one window per rule");
            return std::make_unique<SelfIdRules>(make_self_id_rules(
                byte_spans(patterns), pat_rule.data(), pat_role.data(), static_cast<std::size_t>(rule_precision.size()),
                rule_precision.data(), rule_within.data()));
        }), py::arg("patterns"), py::arg("pattern_rule"), py::arg("pattern_role"), py::arg("rule_precision"),
            py::arg("rule_within"))
        .def_property_readonly("n_states", [](const SelfIdRules& r) { return r.set.n_states(); })
        .def_property_readonly("memory_bytes", [](const SelfIdRules& r) { return r.set.memory_bytes(); })
        // Every position of normalized text that passes the anchor prefilter, by the AVX2 loop (where the
        // CPU has it) or the scalar one: for the tests that hold the two to the same positions.
        .def("prefilter_positions", [](const SelfIdRules& self, const py::bytes& text, bool vectorized) {
            if (!self.prefilter.enabled) throw InvalidArgument("self-id: the anchor prefilter is off for these rules");
            const std::string_view sv = text;
            std::vector<std::uint8_t> buf(sv.begin(), sv.end());
            const std::size_t N = buf.size();
            buf.resize(N + 16, 0);
            std::vector<std::int64_t> out;
            {
                py::gil_scoped_release release;
                const AnchorPrefilter& f = self.prefilter;
                auto next = [&](std::size_t p) {
                    return vectorized ? f.next(buf.data(), N, p) : f.next_scalar(buf.data(), N, p);
                };
                for (std::size_t p = next(0); p < N; p = next(p + 1)) out.push_back(static_cast<std::int64_t>(p));
            }
            return to_numpy(std::move(out));
        }, py::arg("text"), py::arg("vectorized") = true)
        .def("scan", [](const SelfIdRules& self, const py::tuple& column, int min_precision, int threads,
                        bool prefilter) {
            if (min_precision < kLow || min_precision > kHigh) throw InvalidArgument("min_precision must be 0..2");
            ColumnArg c = column_arg(column);
            SelfIdOptions o;
            o.min_precision = static_cast<std::uint8_t>(min_precision);
            o.threads = threads;
            o.prefilter = prefilter;
            SelfIdResult r;
            {
                py::gil_scoped_release release;
                r = self_id_scan(c.col, self, o);
            }
            return self_id_dict(std::move(r));
        }, py::arg("column"), py::arg("min_precision"), py::arg("threads"), py::arg("prefilter") = true);

    m.def("one_pass", [](const py::tuple& column, const PyNearDupIndex& nd, double threshold, double prefilter,
                         std::size_t max_verify, std::size_t max_matches, bool near_dup_match, const PySpanIndex* spans,
                         std::size_t min_chars, std::size_t min_words, const PySpanIndex* control,
                         const SelfIdRules* self_id, int min_precision, int threads) {
        if (min_precision < kLow || min_precision > kHigh) throw InvalidArgument("min_precision must be 0..2");
        ColumnArg c = column_arg(column);
        OnePassOptions o;
        o.near_dup.threshold = threshold;
        o.near_dup.prefilter = prefilter;
        o.near_dup.max_verify = max_verify;
        o.near_dup.max_matches = max_matches;
        o.near_dup_match = near_dup_match;
        o.spans = spans ? &spans->idx : nullptr;
        o.control = control ? &control->idx : nullptr;
        o.span.min_chars = min_chars;
        o.span.min_words = min_words;
        o.self_id = self_id;
        o.self_id_options.min_precision = static_cast<std::uint8_t>(min_precision);
        o.threads = threads;
        OnePassResult r;
        {
            py::gil_scoped_release release;
            r = one_pass_scan(c.col, nd.idx, o);
        }
        py::object sp = spans ? py::object(span_dict(std::move(r.spans))) : py::none();
        py::object sid = self_id ? py::object(self_id_dict(std::move(r.self_id))) : py::none();
        return py::make_tuple(near_dup_dict(std::move(r.near_dup)), sp, sid);
    }, py::arg("column"), py::arg("near_dup"), py::arg("threshold"), py::arg("prefilter"), py::arg("max_verify"),
       py::arg("max_matches"), py::arg("near_dup_match"), py::arg("spans"), py::arg("min_chars"), py::arg("min_words"),
       py::arg("control"), py::arg("self_id"), py::arg("min_precision"), py::arg("threads"),
       "All detectors over one batch, each document normalized once: (near_dup, spans or None, self_id or None), "
       "each the dict its own scan() returns.");
}
