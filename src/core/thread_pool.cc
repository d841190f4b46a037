#include "core/thread_pool.h"

#include <algorithm>

namespace vatp {
namespace {

// Polls before blocking: enough to cover the gaps between the calls of one forward
// pass. Each poll yields rather than pauses: on a machine with more runnable threads
// than cores (CI, shared hosts) a pause-spinning waiter takes the core from the very
// thread it waits for, which measured 2x slower decode here (docs/benchmarks.md).
constexpr int kSpinIters = 1 << 10;

inline void cpu_relax() { std::this_thread::yield(); }

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_start_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::work(int thread) {
  for (;;) {
    const int64_t begin = next_.fetch_add(grain_, std::memory_order_relaxed);
    if (begin >= n_) break;
    (*fn_)(begin, std::min(n_, begin + grain_), thread);
  }
}

// Sleep/wake handshakes use seq_cst on both sides (Dekker style): a waiter announces
// itself (sleeping_ / caller_sleeping_) before its last check of the condition, the
// other side changes the condition before reading the announcement; so either the
// waiter sees the change or the other side sees the waiter and notifies under mu_.
void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int i = 0; g == seen && i < kSpinIters; ++i) {
      cpu_relax();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      sleeping_.fetch_add(1);
      cv_start_.wait(lock, [&] { return generation_.load() != seen; });
      sleeping_.fetch_sub(1);
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    work(index);
    if (pending_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const RangeFn& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  fn_ = &fn;
  n_ = n;
  grain_ = grain;
  next_.store(0, std::memory_order_relaxed);
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1);  // seq_cst: publishes the job (release) and orders the read below
  if (sleeping_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_start_.notify_all();
  }
  work(0);
  for (int i = 0; pending_.load(std::memory_order_acquire) != 0 && i < kSpinIters; ++i) cpu_relax();
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mu_);
    caller_sleeping_.store(true);
    cv_done_.wait(lock, [&] { return pending_.load() == 0; });
    caller_sleeping_.store(false);
  }
  fn_ = nullptr;
}

void ThreadPool::run_on_all(const std::function<void(int thread)>& fn) {
  parallel_for(n_threads_, 1, [&](int64_t begin, int64_t, int) { fn(static_cast<int>(begin)); });
}

}  // namespace vatp
