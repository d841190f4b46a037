// Byte accounting for the KV caches of all live sequences (`--kv-memory`). A sequence
// reserves what its cache will hold at its peak before it is admitted and returns it
// when it finishes, fails or is cancelled, so the caches together never exceed the
// limit. Pure bookkeeping: the caches themselves are allocated by each sequence.
#pragma once

#include <cstdint>

namespace vatp::runtime {

class KvPool {
 public:
  explicit KvPool(int64_t limit_bytes) : limit_(limit_bytes) {}  // 0: no limit

  bool fits_ever(int64_t bytes) const { return limit_ == 0 || bytes <= limit_; }
  bool try_reserve(int64_t bytes) {
    if (limit_ != 0 && used_ + bytes > limit_) return false;
    used_ += bytes;
    if (used_ > peak_) peak_ = used_;
    return true;
  }
  void release(int64_t bytes) { used_ -= bytes; }

  int64_t limit() const { return limit_; }
  int64_t used() const { return used_; }
  int64_t peak() const { return peak_; }
  double usage() const { return limit_ > 0 ? static_cast<double>(used_) / static_cast<double>(limit_) : 0.0; }

 private:
  int64_t limit_;
  int64_t used_ = 0;
  int64_t peak_ = 0;
};

}  // namespace vatp::runtime
