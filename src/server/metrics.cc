#include "server/metrics.h"

#include <cstdio>

namespace vatp::server {
namespace {

std::string num(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", x);
  return buf;
}

std::string header(const std::string& name, const std::string& type, const std::string& help) {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::string scalar(const std::string& name, const std::string& type, const std::string& help, double v) {
  return header(name, type, help) + name + " " + num(v) + "\n";
}

template <typename K>
void bump(std::vector<std::pair<K, int64_t>>& counts, const K& key) {
  for (auto& [k, n] : counts) {
    if (k == key) {
      ++n;
      return;
    }
  }
  counts.emplace_back(key, 1);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double x) {
  size_t i = 0;
  while (i < bounds_.size() && x > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += x;
  ++n_;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::string out = header(name, "histogram", help);
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(n_) + "\n";
  out += name + "_sum " + num(sum_) + "\n" + name + "_count " + std::to_string(n_) + "\n";
  return out;
}

Metrics::Metrics()
    : ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
             40.0, 80.0}),
      itl_({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0}),
      e2e_({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0}) {
}

void Metrics::set_gauges(const EngineGauges& g) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_ = g;
}
void Metrics::add_prompt_tokens(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  prompt_tokens_ += n;
}
void Metrics::add_generation_tokens(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  generation_tokens_ += n;
}
void Metrics::add_prefix_cache(int64_t queried, int64_t hit) {
  std::lock_guard<std::mutex> lock(mu_);
  prefix_queries_ += queried;
  prefix_hits_ += hit;
}
void Metrics::observe_first_token(double s) {
  std::lock_guard<std::mutex> lock(mu_);
  ttft_.observe(s);
}
void Metrics::observe_inter_token(double s) {
  std::lock_guard<std::mutex> lock(mu_);
  itl_.observe(s);
}
void Metrics::finish(const std::string& reason, int64_t evicted, int64_t held, int64_t full, double e2e) {
  std::lock_guard<std::mutex> lock(mu_);
  bump(finished_, reason);
  evicted_ += evicted;
  kv_held_sum_ += held;
  kv_full_sum_ += full;
  e2e_.observe(e2e);
}
void Metrics::add_rejected(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  bump(rejected_, status);
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  const EngineGauges& g = gauges_;
  std::string out;
  out += scalar("vllm:num_requests_running", "gauge", "Requests in the running batch.",
                static_cast<double>(g.running));
  out += scalar("vllm:num_requests_waiting", "gauge", "Requests waiting for admission.",
                static_cast<double>(g.waiting));
  const double usage =
      g.kv_pool_limit > 0 ? static_cast<double>(g.kv_pool_used) / static_cast<double>(g.kv_pool_limit) : 0.0;
  out += scalar("vllm:kv_cache_usage_perc", "gauge",
                "KV pool usage, reserved bytes / --kv-memory (0 without a bound; 1 = 100 %).", usage);
  out += scalar("vatp:kv_pool_reserved_bytes", "gauge",
                "KV bytes reserved by admitted requests (their caches' peaks).",
                static_cast<double>(g.kv_pool_used));
  out += scalar("vatp:kv_pool_limit_bytes", "gauge", "The --kv-memory bound (0: none).",
                static_cast<double>(g.kv_pool_limit));
  out += scalar("vatp:kv_allocated_bytes", "gauge",
                "Bytes the running and held requests' KV caches allocate now.",
                static_cast<double>(g.kv_allocated));
  out += scalar("vatp:held_sequences", "gauge",
                "Finished requests whose KV caches are held for prompt reuse (--prompt-cache).",
                static_cast<double>(g.held));
  out += scalar("vllm:prompt_tokens_total", "counter",
                "Prompt tokens of accepted requests (cached ones too).", static_cast<double>(prompt_tokens_));
  out += scalar("vllm:prefix_cache_queries_total", "counter",
                "Prompt tokens of finished requests that asked for prompt reuse.",
                static_cast<double>(prefix_queries_));
  out += scalar("vllm:prefix_cache_hits_total", "counter",
                "Of those, tokens continued from a held cache instead of prefilled.",
                static_cast<double>(prefix_hits_));
  out += scalar("vllm:generation_tokens_total", "counter", "Tokens generated.",
                static_cast<double>(generation_tokens_));
  out += scalar("vatp:tokens_evicted_total", "counter",
                "KV slots evicted by requests' policies (summed over layers and heads).",
                static_cast<double>(evicted_));
  out += scalar("vatp:kv_bytes_held_total", "counter",
                "Finished requests' KV bytes held at their end, summed.", static_cast<double>(kv_held_sum_));
  out += scalar("vatp:kv_bytes_full_cache_total", "counter",
                "What a full cache of the same requests would have held, summed.",
                static_cast<double>(kv_full_sum_));
  out += scalar("vllm:num_preemptions_total", "counter",
                "Requests preempted (vatp never preempts; see vatp:kv_pressure_compressions_total).", 0.0);
  out += scalar(
      "vatp:kv_pressure_compressions_total", "counter",
      "Running requests compressed to their kv.min_budget so that a newcomer fit (--kv-pressure compress).",
      static_cast<double>(g.compressions));
  out += header("vllm:request_success_total", "counter", "Finished requests by finish reason.");
  for (const auto& [reason, n] : finished_)
    out += "vllm:request_success_total{finished_reason=\"" + reason + "\"} " + std::to_string(n) + "\n";
  out += header("vatp:requests_rejected_total", "counter", "Requests refused, by HTTP status.");
  for (const auto& [status, n] : rejected_)
    out +=
        "vatp:requests_rejected_total{status=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  out += ttft_.render("vllm:time_to_first_token_seconds", "Time from arrival to the first generated token.");
  out += itl_.render("vllm:inter_token_latency_seconds", "Time between consecutive generated tokens.");
  out += e2e_.render("vllm:e2e_request_latency_seconds", "Time from arrival to the end of a request.");
  return out;
}

}  // namespace vatp::server
