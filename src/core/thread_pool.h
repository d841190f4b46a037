// A persistent pool of worker threads. parallel_for splits [0, n) into chunks taken
// from an atomic counter; the calling thread works too. No allocation per call.
// Decode issues a few hundred small parallel_for calls per token, so waking sleeping
// workers through a condition variable each time costs a good part of the work:
// workers and caller first poll the atomics for a short while, and only then sleep.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace vatp {

class ThreadPool {
 public:
  // n_threads counts the caller: ThreadPool(2) starts one extra worker.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // A non-owning reference to a callable fn(begin, end, thread): unlike std::function
  // it never allocates, which keeps the decode path (hundreds of calls per token, most
  // with lambdas capturing more than std::function stores inline) allocation-free.
  // Only as a parameter: it must not outlive the callable it was made from.
  class RangeFn {
   public:
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, RangeFn>>>
    RangeFn(F&& f)  // NOLINT(google-explicit-constructor): lambdas convert implicitly
        : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* o, int64_t b, int64_t e, int t) {
            (*static_cast<std::remove_reference_t<F>*>(o))(b, e, t);
          }) {}
    void operator()(int64_t b, int64_t e, int t) const { call_(obj_, b, e, t); }

   private:
    void* obj_;
    void (*call_)(void*, int64_t, int64_t, int);
  };

  // Calls fn(begin, end, thread_index) over disjoint ranges covering [0, n), each of
  // at most `grain` items. Returns when all are done. thread_index < size().
  void parallel_for(int64_t n, int64_t grain, const RangeFn& fn);

  // Calls fn(i) once for each i in [0, size()), spread over the threads.
  void run_on_all(const std::function<void(int thread)>& fn);

 private:
  void worker_loop(int index);
  void work(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_start_;
  std::condition_variable cv_done_;
  // Published with release by the caller, read with acquire by the workers: a new
  // generation means a new job in fn_/n_/grain_ (or stop_).
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};   // workers still busy with the current job
  std::atomic<int> sleeping_{0};  // workers blocked on cv_start_
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};

  // The job of the current generation.
  const RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  std::atomic<int64_t> next_{0};
};

}  // namespace vatp
