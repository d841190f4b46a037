// Every SIMD kernel in the table vs the scalar reference, on every ISA this machine
// runs. Tolerance for dot products: the integer block sums are identical, only the
// float summation order differs, so |simd − ref| ≤ 1e-5 · Σ|w_i·a_i| (+1e-6).
// Quantizers and f16 conversion must be bit-identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "kernels/kernel_table.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "kernels/test_util.h"

namespace vatp::kernels {
namespace {

using testing::random_floats;
using testing::simd_isas;

const DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                              DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                              DType::Q4_K, DType::Q5_K, DType::Q6_K};

TEST(KernelTable, ScalarAlwaysAvailableAndComplete) {
  EXPECT_TRUE(isa_supported(Isa::Scalar));
  const KernelTable kt = make_kernel_table(Isa::Scalar);
  for (DType t : kWeightTypes) {
    ASSERT_TRUE(kt.supports(t)) << dtype_name(t);
    EXPECT_NE(kt.at(t).vec_dot, nullptr);
    EXPECT_NE(kt.at(t).dequant_row, nullptr);
    EXPECT_EQ(kt.at(t).vec_dot_isa, Isa::Scalar);
  }
  EXPECT_EQ(kt.at(DType::Q4_1).vec_dot_type, DType::Q8_1);
  EXPECT_EQ(kt.at(DType::Q5_1).vec_dot_type, DType::Q8_1);
  EXPECT_EQ(kt.at(DType::Q4_0).vec_dot_type, DType::Q8_0);
  EXPECT_EQ(kt.at(DType::Q5_0).vec_dot_type, DType::Q8_0);
  EXPECT_EQ(kt.at(DType::Q8_0).vec_dot_type, DType::Q8_0);
  EXPECT_EQ(kt.at(DType::F16).vec_dot_type, DType::F16);
  EXPECT_EQ(kt.at(DType::BF16).vec_dot_type, DType::BF16);
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    EXPECT_EQ(kt.at(t).vec_dot_type, DType::Q8_K);
  }
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q8_1, DType::Q8_K}) {
    EXPECT_NE(kt.at(t).quantize_row, nullptr) << dtype_name(t);
  }
  EXPECT_FALSE(kt.supports(static_cast<DType>(20)));  // IQ4_NL
}

TEST(KernelTable, IsaNamesRoundTrip) {
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) EXPECT_EQ(isa_from_name(isa_name(i)), i);
  EXPECT_EQ(isa_from_name("sse9"), std::nullopt);
}

TEST(KernelTable, DetectedIsaIsSupported) {
  const Isa isa = detect_isa();
  EXPECT_TRUE(isa_supported(isa));
  EXPECT_EQ(make_kernel_table(isa).isa, isa);
}

// A row of `n` elements of type t at a misaligned address inside `buf`.
struct Row {
  std::vector<uint8_t> buf;
  uint8_t* p;
  Row(size_t bytes, size_t misalign) : buf(bytes + 64), p(buf.data() + misalign) {}
};

double abs_dot(DType wt, const void* w, DType at, const void* a, int64_t n) {
  std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
  dequant_row_ref(wt, w, wf.data(), n);
  dequant_row_ref(at, a, af.data(), n);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(wf[i]) * af[i]);
  return s;
}

TEST(SimdVsRef, VecDotAllTypesSizesAndMisalignments) {
  const KernelTable ref = make_kernel_table(Isa::Scalar);
  for (Isa isa : simd_isas()) {
    const KernelTable kt = make_kernel_table(isa);
    for (DType wt : kWeightTypes) {
      const TypeKernels& k = kt.at(wt);
      const DType at = k.vec_dot_type;
      const int64_t blk = std::max(k.block_size, dtype_info(at).block_size);
      for (int64_t nb : {1, 2, 3, 5, 16, 17}) {
        const int64_t n =
            nb * std::max<int64_t>(blk, wt == DType::F32 || wt == DType::F16 || wt == DType::BF16 ? 37 : 1);
        for (size_t mis : {0, 1, 3}) {
          const uint32_t seed = static_cast<uint32_t>(n * 31 + mis);
          const auto wf = random_floats(static_cast<size_t>(n), seed);
          const auto af = random_floats(static_cast<size_t>(n), seed + 1, 3.0f);
          Row w(row_bytes(wt, n), mis), a(row_bytes(at, n), (mis * 5) % 7);
          quantize_row_ref(wt, wf.data(), w.p, n);
          quantize_row_ref(at, af.data(), a.p, n);
          float want = 0.0f, got = 0.0f;
          ref.at(wt).vec_dot(n, w.p, a.p, &want);
          k.vec_dot(n, w.p, a.p, &got);
          const double tol = 1e-5 * abs_dot(wt, w.p, at, a.p, n) + 1e-6;
          EXPECT_NEAR(got, want, tol)
              << isa_name(isa) << " " << dtype_name(wt) << " n=" << n << " mis=" << mis;
          // The vec_dot must really compute something (catches an all-zero result).
          EXPECT_GT(std::fabs(want), 0.0f);
        }
      }
    }
  }
}

TEST(SimdVsRef, VecDot4EqualsFourVecDots) {
  for (Isa isa : testing::supported_isas()) {
    const KernelTable kt = make_kernel_table(isa);
    for (DType wt : kWeightTypes) {
      const TypeKernels& k = kt.at(wt);
      if (k.vec_dot4 == nullptr) continue;
      for (int64_t n : {32, 64, 96, 576, 1536}) {
        const auto wf = random_floats(static_cast<size_t>(n), 3);
        const size_t arb = row_bytes(k.vec_dot_type, n);
        const size_t stride = arb + 5;  // rows need not be adjacent or aligned
        Row w(row_bytes(wt, n), 1), a(4 * stride, 3);
        quantize_row_ref(wt, wf.data(), w.p, n);
        for (int t = 0; t < 4; ++t) {
          const auto af = random_floats(static_cast<size_t>(n), 10 + t);
          quantize_row_ref(k.vec_dot_type, af.data(), a.p + t * stride, n);
        }
        float out4[4];
        k.vec_dot4(n, w.p, a.p, stride, out4);
        for (int t = 0; t < 4; ++t) {
          float one;
          k.vec_dot(n, w.p, a.p + t * stride, &one);
          EXPECT_EQ(out4[t], one) << isa_name(isa) << " " << dtype_name(wt) << " n=" << n << " t=" << t;
        }
      }
    }
  }
}

TEST(SimdVsRef, VecDot4x4EqualsSixteenVecDots) {
  int tested = 0;
  for (Isa isa : testing::supported_isas()) {
    const KernelTable kt = make_kernel_table(isa);
    for (DType wt : kWeightTypes) {
      const TypeKernels& k = kt.at(wt);
      if (k.vec_dot4x4 == nullptr) continue;
      for (int64_t n : {32, 96, 576}) {
        const size_t ws = row_bytes(wt, n) + 3, as = row_bytes(k.vec_dot_type, n) + 7;
        Row w(4 * ws, 1), a(4 * as, 2);
        for (int i = 0; i < 4; ++i) {
          const auto wf = random_floats(static_cast<size_t>(n), 20 + i);
          const auto af = random_floats(static_cast<size_t>(n), 30 + i);
          quantize_row_ref(wt, wf.data(), w.p + i * ws, n);
          quantize_row_ref(k.vec_dot_type, af.data(), a.p + i * as, n);
        }
        float out[4 * 6];  // 4 tokens × stride 6
        k.vec_dot4x4(n, w.p, ws, a.p, as, out, 6);
        for (int t = 0; t < 4; ++t) {
          for (int r = 0; r < 4; ++r) {
            float one;
            k.vec_dot(n, w.p + r * ws, a.p + t * as, &one);
            EXPECT_EQ(out[t * 6 + r], one) << isa_name(isa) << " " << dtype_name(wt) << " n=" << n;
          }
        }
        ++tested;
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no ISA with a 4x4 tile on this machine (AVX-512 only)";
}

// The float operations of llama.cpp's x86 vec_dot for the 32-blocks (its AVX2 path, as
// built with FMA), spelled out in scalar code: per block, eight int32 lanes of four
// products each, acc[l] = fma(dx·dy, lane, acc[l]); the min term as one chain
// summs = fma(mx, sy, summs); result = ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)) + summs.
// vatp's SIMD vec_dot follows the same order, so its results equal llama.cpp's bit for
// bit (checked against llama.cpp itself with a tensor dump, docs/llamacpp-agreement.md).
float llamacpp_order_dot(DType wt, const uint8_t* w, const uint8_t* a, int64_t n) {
  const size_t wb = dtype_info(wt).block_bytes, ab = wt == DType::Q4_1 || wt == DType::Q5_1 ? 36 : 34;
  const bool has_min = wt == DType::Q4_1 || wt == DType::Q5_1;
  float acc[8] = {}, summs = 0.0f;
  for (int64_t b = 0; b < n / QK; ++b) {
    const uint8_t* x = w + b * wb;
    const uint8_t* y = a + b * ab;
    uint16_t dx, mx = 0, dy, sy = 0;
    std::memcpy(&dx, x, 2);
    std::memcpy(&dy, y, 2);
    if (has_min) {
      std::memcpy(&mx, x + 2, 2);
      std::memcpy(&sy, y + 2, 2);
    }
    const auto* yq = reinterpret_cast<const int8_t*>(y + (has_min ? 4 : 2));
    int q[QK];
    for (int j = 0; j < QK; ++j) {
      if (wt == DType::Q8_0) {
        q[j] = reinterpret_cast<const int8_t*>(x + 2)[j];
        continue;
      }
      const uint8_t* qs = x + wb - 16;  // the nibbles are the block's last 16 bytes
      int v = j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;
      if (wt == DType::Q5_0 || wt == DType::Q5_1) {
        uint32_t qh;
        std::memcpy(&qh, x + (has_min ? 4 : 2), 4);
        v |= static_cast<int>((qh >> j) & 1) << 4;
      }
      q[j] = v - (wt == DType::Q4_0 ? 8 : wt == DType::Q5_0 ? 16 : 0);
    }
    const float d = fp16_to_f32(dx) * fp16_to_f32(dy);
    for (int l = 0; l < 8; ++l) {
      int lane = 0;
      for (int j = 4 * l; j < 4 * l + 4; ++j) lane += q[j] * yq[j];
      acc[l] = std::fma(d, static_cast<float>(lane), acc[l]);
    }
    if (has_min) summs = std::fma(fp16_to_f32(mx), fp16_to_f32(sy), summs);
  }
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])) + summs;
}

TEST(SimdVsRef, BlockDotsFollowLlamaCppFloatOrder) {
  int tested = 0;
  for (Isa isa : simd_isas()) {
    const KernelTable kt = make_kernel_table(isa);
    for (DType wt : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0}) {
      const TypeKernels& k = kt.at(wt);
      if (k.vec_dot_isa == Isa::Scalar) continue;
      for (int64_t n : {32, 64, 96, 576, 4096}) {
        Row w(row_bytes(wt, n), 3), a(row_bytes(k.vec_dot_type, n), 1);
        const auto wf = random_floats(static_cast<size_t>(n), 60);
        const auto af = random_floats(static_cast<size_t>(n), 61, 4.0f);
        quantize_row_ref(wt, wf.data(), w.p, n);
        quantize_row_ref(k.vec_dot_type, af.data(), a.p, n);
        float got;
        k.vec_dot(n, w.p, a.p, &got);
        EXPECT_EQ(got, llamacpp_order_dot(wt, w.p, a.p, n))
            << isa_name(isa) << " " << dtype_name(wt) << " n=" << n;
        ++tested;
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no SIMD ISA on this machine";
}

// The decode GEMV over four weight rows equals four vec_dot calls bit for bit (and so
// the reference within vec_dot's tolerance, tested above).
TEST(SimdVsRef, VecDotRows4EqualsFourVecDots) {
  int tested = 0;
  for (Isa isa : testing::supported_isas()) {
    const KernelTable kt = make_kernel_table(isa);
    for (DType wt : kWeightTypes) {
      const TypeKernels& k = kt.at(wt);
      if (k.vec_dot_rows4 == nullptr) continue;
      for (int64_t n : {32, 64, 96, 576, 4096}) {
        const size_t ws = row_bytes(wt, n) + 5;
        Row w(4 * ws, 1), a(row_bytes(k.vec_dot_type, n), 2);
        for (int i = 0; i < 4; ++i) {
          const auto wf = random_floats(static_cast<size_t>(n), 40 + i);
          quantize_row_ref(wt, wf.data(), w.p + i * ws, n);
        }
        const auto af = random_floats(static_cast<size_t>(n), 50);
        quantize_row_ref(k.vec_dot_type, af.data(), a.p, n);
        float out[4];
        k.vec_dot_rows4(n, w.p, ws, a.p, out);
        for (int r = 0; r < 4; ++r) {
          float one;
          k.vec_dot(n, w.p + r * ws, a.p, &one);
          EXPECT_EQ(out[r], one) << isa_name(isa) << " " << dtype_name(wt) << " n=" << n << " row " << r;
        }
        ++tested;
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no ISA with a 4-row GEMV on this machine (AVX-512 only)";
}

TEST(SimdVsRef, ActivationQuantizersBitExact) {
  const KernelTable ref = make_kernel_table(Isa::Scalar);
  for (Isa isa : simd_isas()) {
    const KernelTable kt = make_kernel_table(isa);
    for (DType at : {DType::Q8_0, DType::Q8_1, DType::Q8_K, DType::F16, DType::BF16, DType::F32}) {
      for (int64_t nb : {1, 2, 7}) {
        const int64_t n = nb * 256;
        for (size_t mis : {0, 2}) {
          auto x = random_floats(static_cast<size_t>(n) + 1, static_cast<uint32_t>(nb + mis), 2.0f);
          // Exercise ties, zero blocks and sign ties on the largest magnitude.
          for (int64_t i = 0; i < 32; ++i) x[static_cast<size_t>(i)] = 0.0f;
          x[40] = -5.0f;
          x[41] = 5.0f;
          const float* src = x.data() + (mis ? 1 : 0);
          Row want(row_bytes(at, n), 0), got(row_bytes(at, n), mis);
          ref.at(at).quantize_row(src, want.p, n);
          kt.at(at).quantize_row(src, got.p, n);
          EXPECT_EQ(std::memcmp(want.p, got.p, row_bytes(at, n)), 0)
              << isa_name(isa) << " " << dtype_name(at) << " n=" << n;
        }
      }
    }
  }
}

TEST(SimdVsRef, Fp16RowConversionsExact) {
  const KernelTable ref = make_kernel_table(Isa::Scalar);
  for (Isa isa : simd_isas()) {
    const KernelTable kt = make_kernel_table(isa);
    auto x = random_floats(1003, 5, 100.0f);
    x[0] = 1e-7f;    // f16 subnormal
    x[1] = 70000.f;  // overflow to inf
    x[2] = -0.0f;
    std::vector<uint16_t> h1(x.size()), h2(x.size());
    ref.f32_to_fp16_row(x.data(), h1.data(), static_cast<int64_t>(x.size()));
    kt.f32_to_fp16_row(x.data(), h2.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(h1, h2) << isa_name(isa);
    std::vector<float> f1(x.size()), f2(x.size());
    ref.fp16_to_f32_row(h1.data(), f1.data(), static_cast<int64_t>(x.size()));
    kt.fp16_to_f32_row(h1.data(), f2.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(std::memcmp(f1.data(), f2.data(), f1.size() * 4), 0) << isa_name(isa);
  }
}

// SIMD swiglu uses a polynomial exp: relative error ≤ 2e-6 of |silu(g)·u| + 1e-30.
TEST(SimdVsRef, SwigluWithinTolerance) {
  for (Isa isa : simd_isas()) {
    const KernelTable kt = make_kernel_table(isa);
    auto g = random_floats(4099, 1, 6.0f);
    const auto u = random_floats(4099, 2);
    g[0] = -100.0f;
    g[1] = 100.0f;
    g[2] = 0.0f;
    g[3] = -88.5f;
    std::vector<float> want(g.size()), got(g.size());
    swiglu_ref(g.data(), u.data(), want.data(), static_cast<int64_t>(g.size()));
    kt.swiglu(g.data(), u.data(), got.data(), static_cast<int64_t>(g.size()));
    for (size_t i = 0; i < g.size(); ++i) {
      EXPECT_NEAR(got[i], want[i], 2e-6 * std::fabs(want[i]) + 1e-30) << isa_name(isa) << " g=" << g[i];
    }
  }
}

}  // namespace
}  // namespace vatp::kernels
