// A short multi-threaded streaming-read test: the memory bandwidth that decode, which
// reads every weight once per token, can at best reach on this machine.
#pragma once

#include <cstddef>

#include "core/status.h"
#include "core/thread_pool.h"

namespace vatp::runtime {

struct BandwidthOptions {
  size_t bytes = size_t{1} << 30;  // buffer size: larger than the last-level cache (480 MiB here)
  int reps = 5;                    // passes over the buffer; the fastest one counts
};

struct BandwidthResult {
  double gb_per_s = 0.0;  // 1e9 bytes per second, fastest pass
  size_t bytes = 0;
  int threads = 0;
};

// Fills a buffer once (so its pages are resident), then times `reps` passes in which
// every pool thread sums its own contiguous slice. Allocates the buffer; errors when
// the sizes are unusable or the allocation fails.
Result<BandwidthResult> measure_read_bandwidth(ThreadPool& pool, const BandwidthOptions& opts = {});

}  // namespace vatp::runtime
