// matmul vs a naive float reference (dequantized weights × quantized-then-dequantized
// activations, in double); threaded vs single-thread; m = 1, 3, 7, 64.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "kernels/quant.h"
#include "kernels/test_util.h"

namespace vatp::kernels {
namespace {

using testing::random_floats;

// Q4_1/Q5_1 · Q8_1 use the block's s = f16(d·Σq) (not f16(d)·Σq) for the min term
// (§3.4): the difference, Σ_b m_b·(s_b − d_b·Σq_b), is part of llama.cpp's math.
double q8_1_min_correction(DType wt, const uint8_t* wrow, const uint8_t* arow, int64_t cols) {
  const size_t wb = dtype_info(wt).block_bytes;  // Q4_1 and Q5_1 both hold m at byte 2
  const auto* a = reinterpret_cast<const BlockQ8_1*>(arow);
  double c = 0.0;
  for (int64_t b = 0; b < cols / QK; ++b) {
    uint16_t m;
    std::memcpy(&m, wrow + static_cast<size_t>(b) * wb + 2, 2);
    int sum = 0;
    for (int j = 0; j < QK; ++j) sum += a[b].qs[j];
    c += static_cast<double>(fp16_to_f32(m)) *
         (static_cast<double>(fp16_to_f32(a[b].s)) - static_cast<double>(fp16_to_f32(a[b].d)) * sum);
  }
  return c;
}

struct Case {
  DType type;
  int64_t rows;
  int64_t cols;
};

class MatmulTest : public ::testing::TestWithParam<Case> {};

TEST_P(MatmulTest, MatchesNaiveReferenceAndIsThreadIndependent) {
  const Case c = GetParam();
  const size_t rb = row_bytes(c.type, c.cols);
  std::vector<uint8_t> w(rb * static_cast<size_t>(c.rows));  // rows × rb bytes
  const auto wf = random_floats(static_cast<size_t>(c.rows * c.cols), 11);
  for (int64_t r = 0; r < c.rows; ++r)
    quantize_row_ref(c.type, wf.data() + r * c.cols, w.data() + r * rb, c.cols);
  const WeightView wv{c.type, w.data(), c.rows, c.cols, rb};
  std::vector<float> wdq(static_cast<size_t>(c.rows * c.cols));  // rows × cols
  for (int64_t r = 0; r < c.rows; ++r)
    dequant_row_ref(c.type, w.data() + r * rb, wdq.data() + r * c.cols, c.cols);

  ThreadPool pool1(1), pool4(4);
  MatmulScratch scratch;
  scratch.reserve(64, c.cols);
  for (Isa isa : testing::supported_isas()) {
    const KernelTable kt = make_kernel_table(isa);
    const DType at = kt.at(c.type).vec_dot_type;
    std::vector<float> y1_single;  // y for m = 1 of token 0, to compare with batched rows
    for (int64_t m : {1, 3, 7, 64}) {
      const auto x = random_floats(static_cast<size_t>(m * c.cols), 100);     // m × cols
      std::vector<float> y1(static_cast<size_t>(m * c.rows)), y4(y1.size());  // m × rows
      matmul(kt, wv, x.data(), m, y1.data(), scratch, pool1);
      matmul(kt, wv, x.data(), m, y4.data(), scratch, pool4);
      EXPECT_EQ(y1, y4) << "thread count changed the result: " << isa_name(isa) << " m=" << m;
      if (m == 1) {
        y1_single = y1;
      } else {
        for (int64_t r = 0; r < c.rows; ++r)
          ASSERT_EQ(y1[r], y1_single[r]) << "m changed token 0's result, row " << r;
      }

      std::vector<uint8_t> xq(row_bytes(at, c.cols));
      std::vector<float> xdq(static_cast<size_t>(c.cols));
      for (int64_t i = 0; i < m; ++i) {
        quantize_row_ref(at, x.data() + i * c.cols, xq.data(), c.cols);
        dequant_row_ref(at, xq.data(), xdq.data(), c.cols);
        for (int64_t r = 0; r < c.rows; ++r) {
          double s = 0.0, sa = 0.0;
          for (int64_t j = 0; j < c.cols; ++j) {
            const double p = static_cast<double>(wdq[r * c.cols + j]) * xdq[j];
            s += p;
            sa += std::fabs(p);
          }
          if (at == DType::Q8_1) s += q8_1_min_correction(c.type, w.data() + r * rb, xq.data(), c.cols);
          const double tol = 2e-5 * sa + 1e-5;
          ASSERT_NEAR(y1[i * c.rows + r], s, tol) << isa_name(isa) << " m=" << m << " i=" << i << " r=" << r;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, MatmulTest,
                         ::testing::Values(Case{DType::Q4_1, 100, 576}, Case{DType::Q8_0, 77, 576},
                                           Case{DType::Q4_0, 130, 512}, Case{DType::Q5_0, 33, 256},
                                           Case{DType::Q5_1, 33, 256}, Case{DType::Q4_K, 70, 768},
                                           Case{DType::Q5_K, 19, 512}, Case{DType::Q6_K, 70, 768},
                                           Case{DType::Q3_K, 9, 256}, Case{DType::Q2_K, 9, 256},
                                           Case{DType::F16, 65, 200}, Case{DType::BF16, 17, 96},
                                           Case{DType::F32, 65, 200}),
                         [](const auto& info) { return std::string(dtype_name(info.param.type)); });

TEST(Matmul, SharedActivationsForSeveralWeights) {
  const KernelTable kt = make_kernel_table(detect_isa());
  ThreadPool pool(2);
  MatmulScratch scratch;
  scratch.reserve(3, 256);
  const int64_t cols = 256;
  std::vector<uint8_t> wa(row_bytes(DType::Q4_1, cols) * 5), wb(row_bytes(DType::Q4_1, cols) * 7);
  const auto fa = random_floats(5 * cols, 1), fb = random_floats(7 * cols, 2);
  const size_t rb = row_bytes(DType::Q4_1, cols);
  for (int r = 0; r < 5; ++r) quantize_row_ref(DType::Q4_1, fa.data() + r * cols, wa.data() + r * rb, cols);
  for (int r = 0; r < 7; ++r) quantize_row_ref(DType::Q4_1, fb.data() + r * cols, wb.data() + r * rb, cols);
  const WeightView va{DType::Q4_1, wa.data(), 5, cols, rb}, vb{DType::Q4_1, wb.data(), 7, cols, rb};
  const auto x = random_floats(3 * cols, 3);
  std::vector<float> ya(15), yb(21), ya2(15), yb2(21);
  const ActView a = quantize_acts(kt, DType::Q8_1, x.data(), 3, cols, scratch, pool);
  matmul_acts(kt, va, a, ya.data(), pool);
  matmul_acts(kt, vb, a, yb.data(), pool);
  matmul(kt, va, x.data(), 3, ya2.data(), scratch, pool);
  matmul(kt, vb, x.data(), 3, yb2.data(), scratch, pool);
  EXPECT_EQ(ya, ya2);
  EXPECT_EQ(yb, yb2);
}

// matmul_acts_multi: several weights (of different row counts, one large enough to be
// split into several chunks) in one call give exactly the per-weight results.
TEST(Matmul, MultiWeightCallMatchesSeparateCalls) {
  const KernelTable kt = make_kernel_table(detect_isa());
  ThreadPool pool(2);
  MatmulScratch scratch;
  const int64_t cols = 256, m = 5;
  scratch.reserve(m, cols);
  const size_t rb = row_bytes(DType::Q4_0, cols);
  const int64_t rows[3] = {300, 7, 64};
  std::vector<std::vector<uint8_t>> w(3);
  std::vector<WeightView> v(3);
  for (int j = 0; j < 3; ++j) {
    w[j].resize(rb * static_cast<size_t>(rows[j]));
    const auto f = random_floats(rows[j] * cols, 10 + j);
    for (int64_t r = 0; r < rows[j]; ++r)
      quantize_row_ref(DType::Q4_0, f.data() + r * cols, w[j].data() + r * rb, cols);
    v[j] = WeightView{DType::Q4_0, w[j].data(), rows[j], cols, rb};
  }
  const auto x = random_floats(m * cols, 4);
  for (int64_t mm : {int64_t{1}, m}) {
    const ActView a = quantize_acts(kt, kt.at(DType::Q4_0).vec_dot_type, x.data(), mm, cols, scratch, pool);
    std::vector<std::vector<float>> one(3), multi(3);
    MatmulJob jobs[3];
    for (int j = 0; j < 3; ++j) {
      one[j].assign(static_cast<size_t>(mm * rows[j]), 0.0f);
      multi[j].assign(static_cast<size_t>(mm * rows[j]), -1.0f);
      matmul_acts(kt, v[j], a, one[j].data(), pool);
      jobs[j] = MatmulJob{&v[j], multi[j].data()};
    }
    matmul_acts_multi(kt, jobs, 3, a, pool);
    for (int j = 0; j < 3; ++j) EXPECT_EQ(one[j], multi[j]) << "weight " << j << ", m " << mm;
  }
}

}  // namespace
}  // namespace vatp::kernels
