#include "kernels/matmul.h"

#include <algorithm>
#include <cstdlib>

#include "core/check.h"
#include "kernels/packed.h"
#include "kernels/quant.h"

namespace vatp::kernels {

void MatmulScratch::Free::operator()(void* p) const { std::free(p); }

void MatmulScratch::reserve(int64_t max_m, int64_t max_cols) {
  VATP_CHECK(max_m > 0 && max_cols > 0);
  // 4 bytes/element covers every activation type (F32 is the widest; Q8_K is 292/256).
  size_t bytes = static_cast<size_t>(max_m) * static_cast<size_t>(max_cols) * 4 + 64;
  bytes = (bytes + 63) / 64 * 64;
  if (bytes > bytes_) {
    buf_.reset(std::aligned_alloc(64, bytes));
    VATP_CHECK(buf_ != nullptr);
    bytes_ = bytes;
  }
  max_m_ = std::max(max_m_, max_m);
  max_cols_ = std::max(max_cols_, max_cols);
  bsums_.resize(
      std::max(bsums_.size(), static_cast<size_t>(max_m_) * static_cast<size_t>(max_cols_ / QK + 1)));
}

ActView quantize_acts(const KernelTable& kt, DType act_type, const float* x, int64_t m, int64_t cols,
                      MatmulScratch& scratch, ThreadPool& pool) {
  const TypeKernels& k = kt.at(act_type);
  VATP_CHECK(k.quantize_row != nullptr);
  VATP_CHECK(cols % k.block_size == 0);
  ActView a{act_type, nullptr, m, cols, row_bytes(act_type, cols)};
  if (act_type == DType::F32) {  // nothing to convert: read x in place
    a.data = x;
    return a;
  }
  VATP_CHECK(a.row_bytes * static_cast<size_t>(m) <= scratch.capacity_bytes());
  auto* dst = static_cast<uint8_t*>(scratch.data());
  const size_t rb = a.row_bytes;
  int32_t* bsums = act_type == DType::Q8_0 ? scratch.bsums() : nullptr;
  const int64_t nb = cols / QK;
  const auto rows = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      uint8_t* row = dst + static_cast<size_t>(i) * rb;
      k.quantize_row(x + i * cols, row, cols);
      if (bsums == nullptr) continue;
      const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
      for (int64_t j = 0; j < nb; ++j) {
        int32_t sum = 0;
        for (int e2 = 0; e2 < QK; ++e2) sum += blocks[j].qs[e2];
        bsums[i * nb + j] = sum;
      }
    }
  };
  if (m == 1) {
    rows(0, 1);
  } else {
    pool.parallel_for(m, 1, [&](int64_t b, int64_t e, int) { rows(b, e); });
  }
  a.data = dst;
  a.bsums = bsums;
  return a;
}

namespace {

bool use_packed(const TypeKernels& k, const WeightView& w) {
  return k.packed_tile != nullptr && w.packed != nullptr;
}

// Output rows [r0, r1) of y = a · wᵀ: each weight row is read once per 4 tokens (4×4
// tiles where the table has them) and the rows stay in cache across the token blocks;
// repacked weights go through the packed tiles.
void rows_range(const TypeKernels& k, const WeightView& w, const ActView& a, float* y, int64_t r0,
                int64_t r1) {
  if (use_packed(k, w) && r0 < w.packed_rows) {
    // Groups of 16 interleaved rows × up to 8 tokens; a column tile (≤ 8 activation
    // rows) stays in L1 while the chunk's groups (L2) pass under it.
    VATP_CHECK(r0 % kPackRows == 0 && (w.type != DType::Q4_0 || a.bsums != nullptr));
    const int64_t pend = std::min(r1, w.packed_rows);
    const int64_t nb = w.cols / QK;
    const size_t gb = packed_group_bytes(w.type, w.cols);
    const auto* abase = static_cast<const uint8_t*>(a.data);
    for (int64_t t = 0; t < a.m; t += kPackMaxCols) {
      const int nc = static_cast<int>(std::min<int64_t>(kPackMaxCols, a.m - t));
      for (int64_t g = r0; g < pend; g += kPackRows) {
        k.packed_tile(nb, w.packed + static_cast<size_t>(g / kPackRows) * gb,
                      abase + static_cast<size_t>(t) * a.row_bytes, a.row_bytes,
                      a.bsums != nullptr ? a.bsums + t * nb : nullptr, static_cast<size_t>(nb), nc,
                      &y[t * w.rows + g], static_cast<size_t>(w.rows));
      }
    }
    r0 = pend;
    if (r0 >= r1) return;
  }
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  const auto* abase = static_cast<const uint8_t*>(a.data);
  const int64_t rows = w.rows, m = a.m;
  int64_t t = 0;
  if (k.vec_dot4 != nullptr || k.vec_dot4x4 != nullptr) {
    for (; t + 4 <= m; t += 4) {
      const uint8_t* at = abase + static_cast<size_t>(t) * a.row_bytes;
      int64_t r = r0;
      if (k.vec_dot4x4 != nullptr) {
        for (; r + 4 <= r1; r += 4) {
          k.vec_dot4x4(w.cols, wbase + static_cast<size_t>(r) * w.row_bytes, w.row_bytes, at, a.row_bytes,
                       &y[t * rows + r], static_cast<size_t>(rows));
        }
      }
      for (; r < r1; ++r) {
        const uint8_t* wr = wbase + static_cast<size_t>(r) * w.row_bytes;
        if (k.vec_dot4 != nullptr) {
          float out[4];
          k.vec_dot4(w.cols, wr, at, a.row_bytes, out);
          for (int64_t j = 0; j < 4; ++j) y[(t + j) * rows + r] = out[j];
        } else {
          for (int64_t j = 0; j < 4; ++j) k.vec_dot(w.cols, wr, at + j * a.row_bytes, &y[(t + j) * rows + r]);
        }
      }
    }
  }
  for (; t < m; ++t) {
    const uint8_t* at = abase + static_cast<size_t>(t) * a.row_bytes;
    int64_t r = r0;
    if (k.vec_dot_rows4 != nullptr) {  // decode: four weight rows share the activation's loads
      for (; r + 4 <= r1; r += 4) {
        k.vec_dot_rows4(w.cols, wbase + static_cast<size_t>(r) * w.row_bytes, w.row_bytes, at,
                        &y[t * rows + r]);
      }
    }
    for (; r < r1; ++r) {
      k.vec_dot(w.cols, wbase + static_cast<size_t>(r) * w.row_bytes, at, &y[t * rows + r]);
    }
  }
}

// Chunks of rows, small enough to balance the threads, large enough to amortize the
// scheduling; whole 4×4 tiles, or whole packed groups where the weight has them.
int64_t row_grain(int64_t rows, int n_threads, bool packed) {
  const int64_t per_thread = rows / (4 * static_cast<int64_t>(n_threads));
  const int64_t unit = packed ? kPackRows : 4;
  return (std::clamp<int64_t>(per_thread, 8, 64) + unit - 1) / unit * unit;
}

}  // namespace

void matmul_acts_multi(const KernelTable& kt, const MatmulJob* jobs, int n_jobs, const ActView& a,
                       ThreadPool& pool) {
  VATP_CHECK(n_jobs >= 1 && n_jobs <= kMaxMatmulJobs);
  int64_t grain[kMaxMatmulJobs], first[kMaxMatmulJobs + 1];
  first[0] = 0;
  for (int j = 0; j < n_jobs; ++j) {
    const WeightView& w = *jobs[j].w;
    const TypeKernels& k = kt.at(w.type);
    VATP_CHECK(k.vec_dot != nullptr);
    VATP_CHECK(k.vec_dot_type == a.type && a.cols == w.cols);
    grain[j] = row_grain(w.rows, pool.size(), use_packed(k, w));
    first[j + 1] = first[j] + (w.rows + grain[j] - 1) / grain[j];
  }
  // One parallel_for over the chunks of all the weights: one wake-up of the workers
  // instead of one per weight (decode runs Q, K, V and gate, up this way).
  pool.parallel_for(first[n_jobs], 1, [&](int64_t u0, int64_t u1, int) {
    for (int64_t u = u0; u < u1; ++u) {
      int j = 0;
      while (first[j + 1] <= u) ++j;
      const WeightView& w = *jobs[j].w;
      const int64_t r0 = (u - first[j]) * grain[j];
      rows_range(kt.at(w.type), w, a, jobs[j].y, r0, std::min(w.rows, r0 + grain[j]));
    }
  });
}

void matmul_acts(const KernelTable& kt, const WeightView& w, const ActView& a, float* y, ThreadPool& pool) {
  const MatmulJob job{&w, y};
  matmul_acts_multi(kt, &job, 1, a, pool);
}

void matmul(const KernelTable& kt, const WeightView& w, const float* x, int64_t m, float* y,
            MatmulScratch& scratch, ThreadPool& pool) {
  const ActView a = quantize_acts(kt, kt.at(w.type).vec_dot_type, x, m, w.cols, scratch, pool);
  matmul_acts(kt, w, a, y, pool);
}

}  // namespace vatp::kernels
