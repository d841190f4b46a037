// Attention microbenchmarks: decode (1 query token) and prefill (a block of query tokens)
// over an f16 KV cache at several depths, with and without the eviction statistics
// (the column sums and last-row probabilities that H2O/VATP/TOVA need, gathered in the
// same pass). Shapes: SmolLM2-135M's layer (3 KV heads × group 3, head_dim 64) and a
// Llama-2-7B layer (32 KV heads, head_dim 128). One layer per call.
//   build-*/attention_bench [--benchmark_filter=decode]
// Threads: VATP_BENCH_THREADS (default 1).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "kvcache/kv_cache.h"
#include "model/attention.h"

namespace {

using namespace vatp;

int bench_threads() {
  const char* s = std::getenv("VATP_BENCH_THREADS");
  return s ? std::max(1, std::atoi(s)) : 1;
}

struct Shape {
  const char* name;
  int n_kv, group, head_dim;
};

// depth tokens already cached, then m query tokens (also in the cache, causal).
void bm_attention(benchmark::State& state, Shape sh, int depth, int m, bool stats) {
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  const int cap = depth + m, n_heads = sh.n_kv * sh.group;
  auto cache = kvcache::KvCache::create({1, sh.n_kv, sh.head_dim, cap, kvcache::KvType::F16, 1});
  if (!cache.is_ok()) {
    state.SkipWithError(cache.status().to_string().c_str());
    return;
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> k(static_cast<size_t>(sh.n_kv * sh.head_dim)), v(k.size());
  for (int p = 0; p < cap; ++p) {
    for (float& x : k) x = nd(rng);
    for (float& x : v) x = nd(rng);
    if (!cache->append(0, k.data(), v.data(), p).is_ok()) {
      state.SkipWithError("append failed");
      return;
    }
  }
  std::vector<float> q(static_cast<size_t>(m) * n_heads * sh.head_dim), out(q.size());
  for (float& x : q) x = nd(rng);
  std::vector<int32_t> pos(static_cast<size_t>(m));
  for (int i = 0; i < m; ++i) pos[static_cast<size_t>(i)] = depth + i;
  ThreadPool pool(bench_threads());
  model::AttentionScratch scratch;
  scratch.reserve(pool.size(), sh.n_kv, cap, sh.head_dim, sh.group);
  model::AttentionStatsRequest req;
  req.accumulate = true;
  req.last = true;
  req.window_start = depth + m - 32;
  for (auto _ : state) {
    model::attention(kt, *cache, 0, q.data(), pos.data(), m, n_heads, out.data(), stats ? &req : nullptr,
                     scratch, pool);
    benchmark::DoNotOptimize(out.data());
  }
  // Query-slot pairs per second (each query head sees depth + its index + 1 slots).
  const double pairs = static_cast<double>(n_heads) * (static_cast<double>(m) * depth + m * (m + 1) / 2.0);
  state.counters["pairs/s"] = benchmark::Counter(pairs, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  const Shape shapes[] = {{"smollm2", 3, 3, 64}, {"llama7b", 32, 1, 128}};
  for (const Shape& sh : shapes) {
    for (bool stats : {false, true}) {
      const std::string suffix = std::string("/") + sh.name + (stats ? "/stats" : "/plain");
      for (int depth : {512, 2048, 8192}) {
        benchmark::RegisterBenchmark(("decode" + suffix + "/d" + std::to_string(depth)).c_str(), bm_attention,
                                     sh, depth, 1, stats)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
      benchmark::RegisterBenchmark(("prefill" + suffix + "/m256_d0").c_str(), bm_attention, sh, 0, 256, stats)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("prefill" + suffix + "/m256_d2048").c_str(), bm_attention, sh, 2048, 256,
                                   stats)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
