// llama-bench-style throughput measurement on the Session API.
//   pp<P> @ d<D>: a D-token prefill (untimed), then a timed prefill of P tokens.
//   tg<N> @ d<D>: a D-token prefill (untimed, the KV policy evicting as in `vatp run`),
//                 then N timed decode_step calls (eviction included).
// Tokens are random ids (fixed seed), as llama-bench does; the text does not matter to
// the speed. Each test runs once untimed (warm-up) and then `reps` times.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "kvcache/kv_cache.h"
#include "model/model.h"
#include "policy/policy.h"
#include "tokenizer/tokenizer.h"

namespace vatp::runtime {

struct MeanSd {
  double mean = 0.0;
  double sd = 0.0;  // sample standard deviation (n - 1); 0 for fewer than two values
};
MeanSd mean_sd(std::span<const double> v);

// "0,2048,8192" → {0, 2048, 8192}. Each value a non-negative integer; no empty items.
Result<std::vector<int>> parse_depths(std::string_view s);

struct BenchOptions {
  int n_prompt = 512;  // pp test size; 0 skips the pp tests
  int n_gen = 128;     // tg test size; 0 skips the tg tests
  std::vector<int> depths{0};
  int reps = 5;
  int n_batch = 512;  // prefill rows per forward call
  kvcache::KvType kv_type = kvcache::KvType::F16;
  policy::PolicyConfig kv_policy;  // applies to tg tests at depth > 0
  uint64_t seed = 1234;
};

// Errors name the flag (-p, -n, -r, -b, --depth).
Status validate(const BenchOptions& o);

struct BenchResult {
  std::string test;  // "pp512", "tg128"
  int n_prompt = 0;
  int n_gen = 0;
  int depth = 0;
  bool policy = false;            // the KV policy was active (tg at depth > 0)
  std::vector<double> tok_per_s;  // one per rep
  MeanSd ts;                      // over tok_per_s
  double bytes_per_token = 0.0;   // tg: weights + live KV read per decoded token (mean)
  std::vector<double> gb_per_s;   // tg: bytes_per_token * tok/s / 1e9, one per rep
  MeanSd gbs;
  int64_t kv_bytes_used = 0;  // tg: live K/V at the end of the last rep
};

// Bytes of weights a decode step reads: every matmul weight of every layer, the output
// head and the norms, plus one embedding row.
double decode_weight_bytes(const model::Model& m);

// Runs every (test × depth) and returns one result per row; `progress` (may be empty)
// is told before each test starts. Sessions are created here: the full-cache one for
// pp tests and depth 0, one under the policy for tg at depth > 0.
Result<std::vector<BenchResult>> run_bench(const model::Model& m, const tokenizer::Tokenizer& tok,
                                           ThreadPool& pool, const BenchOptions& o,
                                           const std::function<void(const std::string&)>& progress);

}  // namespace vatp::runtime
