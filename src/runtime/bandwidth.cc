#include "runtime/bandwidth.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "core/timer.h"

namespace vatp::runtime {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// Eight independent accumulators so that the adds are not one dependency chain; the
// compiler turns the loop into wide vector loads.
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t a[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) a[j] += p[i + j];
  }
  for (; i < n; ++i) a[0] += p[i];
  uint64_t s = 0;
  for (uint64_t v : a) s += v;
  return s;
}

}  // namespace

Result<BandwidthResult> measure_read_bandwidth(ThreadPool& pool, const BandwidthOptions& opts) {
  if (opts.reps < 1) return invalid_argument("bandwidth test: reps must be >= 1");
  const int nt = pool.size();
  const size_t words_per_thread = opts.bytes / sizeof(uint64_t) / static_cast<size_t>(nt) / 8 * 8;
  if (words_per_thread == 0) return invalid_argument("bandwidth test: buffer too small for the thread count");
  const size_t words = words_per_thread * static_cast<size_t>(nt);
  std::unique_ptr<void, FreeDeleter> buf(std::aligned_alloc(64, words * sizeof(uint64_t)));
  if (!buf) return internal_error("bandwidth test: cannot allocate " + std::to_string(words * 8) + " bytes");
  auto* data = static_cast<uint64_t*>(buf.get());
  // Each thread first-touches its own slice (NUMA placement follows the reader).
  pool.run_on_all([&](int t) {
    uint64_t* p = data + static_cast<size_t>(t) * words_per_thread;
    for (size_t i = 0; i < words_per_thread; ++i) p[i] = i * 0x9E3779B97F4A7C15ull;
  });
  std::vector<uint64_t> sums(static_cast<size_t>(nt), 0);
  double best = 0.0;
  for (int r = 0; r < opts.reps; ++r) {
    Timer t;
    pool.run_on_all([&](int th) {
      sums[static_cast<size_t>(th)] +=
          sum_words(data + static_cast<size_t>(th) * words_per_thread, words_per_thread);
    });
    const double s = t.seconds();
    if (s > 0) best = std::max(best, static_cast<double>(words * sizeof(uint64_t)) / s / 1e9);
  }
  // Keep the sums observable so the reads cannot be optimized away.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  volatile uint64_t sink = 0;
  for (uint64_t s : sums) sink = sink + s;
  (void)sink;
  BandwidthResult res;
  res.gb_per_s = best;
  res.bytes = words * sizeof(uint64_t);
  res.threads = nt;
  return res;
}

}  // namespace vatp::runtime
