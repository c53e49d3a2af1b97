// parallel_chunks: run f(chunk) for chunk in [0, n_chunks) on up to `threads`
// std::threads, handing out chunks through an atomic counter. The first
// exception thrown by any worker stops the others from taking new chunks and
// is rethrown in the caller after all threads have joined, so no exception
// escapes a thread (which would terminate the process). Results are made
// independent of the thread count by the callers, who write per-chunk
// buffers and merge them in chunk order.
#pragma once
#include <algorithm>
#include <cstdint>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace scanner {

inline int resolve_threads(int threads) {
    if (threads > 0) return threads;
    const unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : static_cast<int>(hc);
}

// Rows per chunk for a batch of n rows on `threads` threads: about 8 chunks per thread, at most 256 rows
// each, so a slow document delays little and per-chunk buffers stay small.
inline std::int64_t chunk_rows_for(std::int64_t n, int threads) {
    return std::max<std::int64_t>(1, std::min<std::int64_t>(256, n / (threads * 8) + 1));
}

inline std::size_t chunk_count(std::int64_t n, std::int64_t chunk_rows) {
    return static_cast<std::size_t>((n + chunk_rows - 1) / chunk_rows);
}

// Threads parallel_chunks runs for n_chunks chunks: worker numbers are 0 .. this - 1.
inline int worker_count(std::size_t n_chunks, int threads) {
    return std::max(1, std::min<int>(resolve_threads(threads), static_cast<int>(std::min<std::size_t>(n_chunks, 1024))));
}

// f(chunk, worker): worker (< worker_count) is the same for every chunk one thread runs, so a caller can
// keep one set of scratch buffers per worker and reuse it across chunks, instead of allocating and
// growing fresh ones (and page-faulting their memory in again) for each chunk.
template <class F>
void parallel_chunks_by_worker(std::size_t n_chunks, int threads, F&& f) {
    threads = worker_count(n_chunks, threads);
    if (threads <= 1) {
        for (std::size_t c = 0; c < n_chunks; ++c) f(c, 0);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto worker = [&](int id) {
        while (!failed.load(std::memory_order_relaxed)) {
            const std::size_t c = next.fetch_add(1);
            if (c >= n_chunks) break;
            try {
                f(c, id);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (!error) error = std::current_exception();
                failed.store(true);
            }
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(static_cast<std::size_t>(threads - 1));
    try {
        for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
    } catch (...) {
        failed.store(true);
        for (auto& th : pool) th.join();
        throw;
    }
    worker(0);
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
}

template <class F>
void parallel_chunks(std::size_t n_chunks, int threads, F&& f) {
    parallel_chunks_by_worker(n_chunks, threads, [&](std::size_t c, int) { f(c); });
}

// A batch of n rows cut into chunks of chunk_rows_for(n, threads) rows; f(out, lo, hi, scratch) fills one
// chunk's output `out` (whose per-row `counts` come sized to hi - lo, zeroed) from rows [lo, hi), on up to
// `threads` threads; `scratch` is the running thread's own Scratch, reused across its chunks. Returns the
// outputs in row order, for the caller to concatenate.
template <class Chunk, class Scratch, class F>
std::vector<Chunk> row_chunks(std::int64_t n, int threads, F&& f) {
    threads = resolve_threads(threads);
    const std::int64_t rows = chunk_rows_for(n, threads);
    std::vector<Chunk> chunks(chunk_count(n, rows));
    std::vector<Scratch> scratch(static_cast<std::size_t>(worker_count(chunks.size(), threads)));
    parallel_chunks_by_worker(chunks.size(), threads, [&](std::size_t c, int w) {
        const std::int64_t lo = static_cast<std::int64_t>(c) * rows, hi = std::min(n, lo + rows);
        chunks[c].counts.assign(static_cast<std::size_t>(hi - lo), 0);
        f(chunks[c], lo, hi, scratch[static_cast<std::size_t>(w)]);
    });
    return chunks;
}

// CSR row offsets (one more than the rows) from the per-row counts of chunks in row order.
template <class Chunk>
void row_offsets_of(const std::vector<Chunk>& chunks, std::vector<std::int64_t>& offsets) {
    offsets.assign(1, 0);
    for (const Chunk& ch : chunks)
        for (std::int64_t cnt : ch.counts) offsets.push_back(offsets.back() + cnt);
}

}  // namespace scanner
