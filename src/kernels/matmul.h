// y = x · Wᵀ for quantized weights, llama.cpp style: activations are quantized once to
// the weight type's vec_dot_type, then every output element is one vec_dot over a
// whole row; rows are split across threads in chunks. The per-element arithmetic does
// not depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"

namespace vatp::kernels {

// A non-owning view of a 2-D weight tensor as GGUF stores it: `rows` rows (out
// features) of `cols` elements (in features, ne0), each row `row_bytes` apart.
struct WeightView {
  DType type = DType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;  // normally vatp::row_bytes(type, cols)
  // Optional repacked copy (kernels/packed.h) of rows [0, packed_rows), used when the
  // kernel table has a packed_tile for `type`; rows past packed_rows come from data.
  const uint8_t* packed = nullptr;
  int64_t packed_rows = 0;
};

// Activations already converted to a vec_dot_type: m rows of `cols` elements.
struct ActView {
  DType type = DType::F32;
  const void* data = nullptr;
  int64_t m = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
  // Q8_0 only: Σ of each block's quants, m × cols/32 (the packed Q4_0 tile's −8 offset).
  const int32_t* bsums = nullptr;
};

// Holds the quantized activations. Preallocate once (reserve) for the largest batch
// and width; matmul never allocates.
class MatmulScratch {
 public:
  MatmulScratch() = default;
  // Room for max_m rows of max_cols elements in any activation type (4 bytes/elem
  // worst case, F32), 64-byte aligned.
  void reserve(int64_t max_m, int64_t max_cols);
  int64_t max_m() const { return max_m_; }
  int64_t max_cols() const { return max_cols_; }
  void* data() { return buf_.get(); }
  int32_t* bsums() { return bsums_.data(); }
  size_t capacity_bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> buf_;
  std::vector<int32_t> bsums_;  // max_m × max_cols/32
  size_t bytes_ = 0;
  int64_t max_m_ = 0;
  int64_t max_cols_ = 0;
};

// Converts x (m × cols f32, row-major) to `act_type` in scratch. The view stays valid
// until the next quantize_acts/matmul on that scratch (for act_type F32 it points at x
// itself, no copy); use it for several weights with the same vec_dot_type and cols
// (Q/K/V, gate/up). VATP_CHECKs that m × cols fits the reserve and that cols is a
// multiple of the activation block (256 for Q8_K: validate K-quant shapes at load).
ActView quantize_acts(const KernelTable& kt, DType act_type, const float* x, int64_t m, int64_t cols,
                      MatmulScratch& scratch, ThreadPool& pool);

// y (a.m × w.rows f32, row-major): y[i][r] = dot(w row r, act row i).
// VATP_CHECKs a.type == vec_dot_type of w.type and a.cols == w.cols.
void matmul_acts(const KernelTable& kt, const WeightView& w, const ActView& a, float* y, ThreadPool& pool);

// Several weights that share the activations (same vec_dot_type and cols), in one
// parallel_for: jobs[j].y = a · jobs[j].wᵀ. Same results as matmul_acts per job.
struct MatmulJob {
  const WeightView* w = nullptr;
  float* y = nullptr;
};
inline constexpr int kMaxMatmulJobs = 4;
void matmul_acts_multi(const KernelTable& kt, const MatmulJob* jobs, int n_jobs, const ActView& a,
                       ThreadPool& pool);

// quantize_acts + matmul_acts. x: m × w.cols f32; y: m × w.rows f32.
void matmul(const KernelTable& kt, const WeightView& w, const float* x, int64_t m, float* y,
            MatmulScratch& scratch, ThreadPool& pool);

}  // namespace vatp::kernels
