// Aggregate decode throughput of N sequences decoding together on the batched engine
// (`vatp bench --parallel 1,4,16`): for each depth D and each N, N random prompts of D
// tokens are prefilled (untimed, the KV policy evicting as in `vatp batch`), then the
// engine steps until every sequence has decoded n_gen tokens; tok/s = decoded tokens
// summed over the sequences / the time of those steps (sampling included).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "runtime/bench.h"
#include "tokenizer/tokenizer.h"

namespace vatp::runtime {

struct ParallelBenchOptions {
  std::vector<int> parallel{1, 4, 16};
  std::vector<int> depths{0};
  int n_gen = 32;
  int reps = 3;
  int n_batch = 512;
  kvcache::KvType kv_type = kvcache::KvType::F16;
  policy::PolicyConfig kv_policy;  // at depth > 0
  uint64_t seed = 1234;
};

struct ParallelBenchResult {
  int parallel = 0;
  int depth = 0;
  bool policy = false;
  std::vector<double> tok_per_s;  // aggregate, one per rep
  MeanSd ts;
  int64_t kv_bytes = 0;  // the caches' allocation with all N live (last rep)
};

Status validate(const ParallelBenchOptions& o);

Result<std::vector<ParallelBenchResult>> run_parallel_bench(
    const model::Model& m, const tokenizer::Tokenizer& tok, ThreadPool& pool, const ParallelBenchOptions& o,
    const std::function<void(const std::string&)>& progress);

}  // namespace vatp::runtime
