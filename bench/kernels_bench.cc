// Kernel microbenchmarks per ISA: GEMV (m=1) and GEMM (m=64) per weight type (and over
// repacked weights where the table has a packed tile: gemv-packed/, gemm64-packed/), and
// the activation quantizers. bytes_per_second = weight bytes streamed per second (GEMV
// figure of merit; for GEMM it is the weight bytes per call over the call time).
//   build-*/kernels_bench --benchmark_filter=gemv
// Threads: VATP_BENCH_THREADS (default 1, i.e. one core).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"
#include "kernels/quant.h"

namespace {

using namespace vatp;
using namespace vatp::kernels;

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

int bench_threads() {
  const char* s = std::getenv("VATP_BENCH_THREADS");
  return s ? std::max(1, std::atoi(s)) : 1;
}

struct Weights {
  std::vector<uint8_t> data;
  std::vector<uint8_t> packed;  // 64 bytes of slack to align the start
  WeightView view;
};

Weights make_weights(DType t, int64_t rows, int64_t cols) {
  Weights w;
  const size_t rb = row_bytes(t, cols);
  w.data.resize(rb * static_cast<size_t>(rows));
  const auto f = randn(static_cast<size_t>(cols), 1);  // one random row, repeated (speed only)
  std::vector<uint8_t> row(rb);
  quantize_row_ref(t, f.data(), row.data(), cols);
  for (int64_t r = 0; r < rows; ++r) std::copy(row.begin(), row.end(), w.data.begin() + r * rb);
  w.view = WeightView{t, w.data.data(), rows, cols, rb};
  return w;
}

void pack(Weights& w) {
  w.packed.resize(packed_bytes(w.view) + 64);
  uint8_t* p = w.packed.data();
  p += (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64;
  pack_groups(w.view, p, 0, w.view.rows / kPackRows);
  w.view.packed = p;
  w.view.packed_rows = w.view.rows / kPackRows * kPackRows;
}

// packed: over the repacked copy. one_row: without the 4-row GEMV kernel (one vec_dot per weight row), to
// show its gain in the same run.
void bm_matmul(benchmark::State& state, Isa isa, DType t, int64_t rows, int64_t cols, int64_t m,
               bool one_row = false, bool packed = false) {
  KernelTable kt = make_kernel_table(isa);
  if (one_row) kt.types[static_cast<size_t>(t)].vec_dot_rows4 = nullptr;
  Weights w = make_weights(t, rows, cols);
  if (packed) pack(w);
  const auto x = randn(static_cast<size_t>(m * cols), 2);  // m × cols
  std::vector<float> y(static_cast<size_t>(m * rows));     // m × rows
  ThreadPool pool(bench_threads());
  MatmulScratch scratch;
  scratch.reserve(m, cols);
  for (auto _ : state) {
    matmul(kt, w.view, x.data(), m, y.data(), scratch, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.data.size()));
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * static_cast<double>(rows * cols * m),
                         benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::OneK::kIs1000);
  state.SetLabel(std::string(isa_name(isa)) + " vec_dot=" + isa_name(kt.at(t).vec_dot_isa));
}

void bm_quantize(benchmark::State& state, Isa isa, DType t, int64_t n) {
  const KernelTable kt = make_kernel_table(isa);
  const auto x = randn(static_cast<size_t>(n), 3);
  std::vector<uint8_t> out(row_bytes(t, n));
  for (auto _ : state) {
    kt.at(t).quantize_row(x.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n * 4);
  state.SetLabel(isa_name(kt.at(t).quantize_isa));
}

void register_all() {
  const DType types[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                         DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::F16,  DType::F32};
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (DType t : types) {
      const bool k = dtype_info(t).block_size == 256;
      // The SmolLM2 FFN shape (out 1536 × in 576; K-quants need in % 256 == 0: 576 × 1536)
      // and a 7B-class square projection.
      const int64_t shapes[2][2] = {{k ? 576 : 1536, k ? 1536 : 576}, {4096, 4096}};
      for (const auto& s : shapes) {
        for (int64_t m : {1, 64}) {
          if (isa == Isa::Scalar && m == 64 && s[0] == 4096) continue;  // minutes per run
          const std::string name = std::string(m == 1 ? "gemv/" : "gemm64/") + isa_name(isa) + "/" +
                                   std::string(dtype_name(t)) + "/" + std::to_string(s[0]) + "x" +
                                   std::to_string(s[1]);
          benchmark::RegisterBenchmark(name.c_str(), bm_matmul, isa, t, s[0], s[1], m, false, false)
              ->Unit(benchmark::kMicrosecond)
              ->MinTime(0.2)
              ->UseRealTime();
          if (make_kernel_table(isa).at(t).packed_tile != nullptr) {
            const std::string pname =
                std::string(m == 1 ? "gemv-packed/" : "gemm64-packed/") + name.substr(m == 1 ? 5 : 7);
            benchmark::RegisterBenchmark(pname.c_str(), bm_matmul, isa, t, s[0], s[1], m, false, true)
                ->Unit(benchmark::kMicrosecond)
                ->MinTime(0.2)
                ->UseRealTime();
          }
          if (m == 1 && make_kernel_table(isa).at(t).vec_dot_rows4 != nullptr) {
            benchmark::RegisterBenchmark(("gemv-1row/" + name.substr(5)).c_str(), bm_matmul, isa, t, s[0],
                                         s[1], m, true, false)
                ->Unit(benchmark::kMicrosecond)
                ->MinTime(0.2)
                ->UseRealTime();
          }
        }
      }
    }
    // A GEMV over a matrix far larger than the caches (a 7B output projection): the DRAM
    // rate, to set against `vatp bench`'s bandwidth test.
    if (isa == Isa::Avx512) {
      for (bool packed : {false, true}) {
        const std::string name = std::string(packed ? "gemv-packed/" : "gemv/") + "avx512/Q4_0/32768x4096";
        benchmark::RegisterBenchmark(name.c_str(), bm_matmul, isa, DType::Q4_0, int64_t{32768}, int64_t{4096},
                                     int64_t{1}, false, packed)
            ->Unit(benchmark::kMicrosecond)
            ->MinTime(0.5)
            ->UseRealTime();
      }
    }
    for (DType t : {DType::Q8_0, DType::Q8_1, DType::Q8_K, DType::F16}) {
      const std::string name =
          std::string("quantize/") + isa_name(isa) + "/" + std::string(dtype_name(t)) + "/4096";
      benchmark::RegisterBenchmark(name.c_str(), bm_quantize, isa, t, int64_t{4096})
          ->Unit(benchmark::kNanosecond);
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
