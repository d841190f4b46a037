// Server metrics in the Prometheus text format (GET /metrics). The names of what vLLM
// also measures are vLLM's (vllm:num_requests_running, vllm:kv_cache_usage_perc,
// vllm:time_to_first_token_seconds, ...) so existing dashboards work; what only vatp has
// (KV bytes held vs a full cache, tokens evicted) is under vatp:. docs/server.md lists them.
// Written by the scheduler thread, read by HTTP threads: one mutex.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace vatp::server {

// A cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double x);
  // The # TYPE line and the _bucket/_sum/_count series of `name`.
  std::string render(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bound, not cumulative; the last is +Inf
  double sum_ = 0.0;
  uint64_t n_ = 0;
};

struct EngineGauges {
  int64_t running = 0, waiting = 0;
  int64_t kv_pool_used = 0, kv_pool_limit = 0;  // reserved bytes, --kv-memory (0: none)
  int64_t kv_allocated = 0;                     // bytes the live caches allocate
  int64_t held = 0;                             // finished sequences held for prompt reuse
  int64_t compressions = 0;                     // running sequences compressed under KV pressure (so far)
};

class Metrics {
 public:
  Metrics();
  void set_gauges(const EngineGauges& g);
  void add_prompt_tokens(int64_t n);
  void add_generation_tokens(int64_t n);
  // Prompt reuse: a request that could continue a held sequence had `queried` prompt
  // tokens, of which `hit` came from the held cache.
  void add_prefix_cache(int64_t queried, int64_t hit);
  void observe_first_token(double seconds);
  void observe_inter_token(double seconds);
  // A finished request: why it ended ("stop", "length", "abort", "error") and its KV figures.
  void finish(const std::string& reason, int64_t tokens_evicted, int64_t kv_bytes_held, int64_t kv_bytes_full,
              double e2e_seconds);
  void add_rejected(int http_status);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  EngineGauges gauges_;
  int64_t prompt_tokens_ = 0, generation_tokens_ = 0, evicted_ = 0;
  int64_t prefix_queries_ = 0, prefix_hits_ = 0;
  int64_t kv_held_sum_ = 0, kv_full_sum_ = 0;
  std::vector<std::pair<std::string, int64_t>> finished_;  // reason → count
  std::vector<std::pair<int, int64_t>> rejected_;          // HTTP status → count
  Histogram ttft_, itl_, e2e_;
};

}  // namespace vatp::server
