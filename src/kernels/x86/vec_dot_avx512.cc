// AVX-512 (+VNNI) dot products: vpdpbusd for the integer products with 256-bit
// registers for the 32-blocks, 512-bit registers for Q6_K. (A 512-bit Q4_K measured
// slower than the AVX2 one, which the AVX-512 table therefore keeps.) Integer block sums equal the
// reference's; floats accumulate in 16 lanes (per block: acc += (dx·dy) · lane sums).
// Anything not here uses the AVX2 version (see kernel_table.cc).
// gcc 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_*()
// placeholders (casts, reductions); the warning is about the header, not this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "kernels/quant.h"
#include "kernels/x86/avx2_util.h"
#include "kernels/x86/dot32_impl.h"
#include "kernels/x86/x86.h"

namespace vatp::kernels::avx512 {
namespace {

using namespace x86;

inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

// u8 × s8 dot, 4 products per int32 lane.
inline __m256i dpbusd(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }

// 32-block policies with 256-bit VNNI (AVX512VL): one vpdpbusd per block instead of
// maddubs + madd; offsets (−8, −16) are subtracted as offset·Σy, signed Q8_0 weights
// use |x| × sign(y, x). 512-bit registers would need cross-lane inserts per block
// (two 18–24-byte blocks are not contiguous 32-byte vectors), which measured slower.
struct Q4_0P : LoadQ4 {
  using W = BlockQ4_0;
  using A = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static __m256i isum(__m256i q, const int8_t* y) {
    const __m256i yq = loadu256(y);
    return _mm256_sub_epi32(dpbusd(q, yq), dpbusd(_mm256_set1_epi8(8), yq));
  }
};
struct Q4_1P : LoadQ4 {
  using W = BlockQ4_1;
  using A = BlockQ8_1;
  static constexpr bool kHasMin = true;
  static __m256i isum(__m256i q, const int8_t* y) { return dpbusd(q, loadu256(y)); }
};
struct Q5_0P : LoadQ5 {
  using W = BlockQ5_0;
  using A = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static __m256i isum(__m256i q, const int8_t* y) {
    const __m256i yq = loadu256(y);
    return _mm256_sub_epi32(dpbusd(q, yq), dpbusd(_mm256_set1_epi8(16), yq));
  }
};
struct Q5_1P : LoadQ5 {
  using W = BlockQ5_1;
  using A = BlockQ8_1;
  static constexpr bool kHasMin = true;
  static __m256i isum(__m256i q, const int8_t* y) { return dpbusd(q, loadu256(y)); }
};
struct Q8_0P {
  using W = BlockQ8_0;
  using A = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static __m256i load(const W& x) { return loadu256(x.qs); }
  static __m256i isum(__m256i q, const int8_t* y) {
    return dpbusd(_mm256_sign_epi8(q, q), _mm256_sign_epi8(loadu256(y), q));
  }
};

}  // namespace

void vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  dot32<Q4_0P, 1>(n, w, a, 0, out);
}
void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  dot32<Q4_1P, 1>(n, w, a, 0, out);
}
void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  dot32<Q8_0P, 1>(n, w, a, 0, out);
}
void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  dot32<Q5_0P, 1>(n, w, a, 0, out);
}
void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  dot32<Q5_1P, 1>(n, w, a, 0, out);
}
void vec_dot4_q4_0_q8_0(int64_t n, const void* w, const void* a, size_t stride, float* out) {
  dot32<Q4_0P, 4>(n, w, a, stride, out);
}
void vec_dot4_q4_1_q8_1(int64_t n, const void* w, const void* a, size_t stride, float* out) {
  dot32<Q4_1P, 4>(n, w, a, stride, out);
}
void vec_dot4_q8_0_q8_0(int64_t n, const void* w, const void* a, size_t stride, float* out) {
  dot32<Q8_0P, 4>(n, w, a, stride, out);
}

void vec_dot4x4_q4_0_q8_0(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out,
                          size_t os) {
  dot32_4x4<Q4_0P>(n, w, ws, a, as, out, os);
}
void vec_dot4x4_q4_1_q8_1(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out,
                          size_t os) {
  dot32_4x4<Q4_1P>(n, w, ws, a, as, out, os);
}
void vec_dot4x4_q8_0_q8_0(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out,
                          size_t os) {
  dot32_4x4<Q8_0P>(n, w, ws, a, as, out, os);
}

void vec_dot_rows4_q4_0_q8_0(int64_t n, const void* w, size_t ws, const void* a, float* out) {
  dot32_rows4<Q4_0P>(n, w, ws, a, out);
}
void vec_dot_rows4_q4_1_q8_1(int64_t n, const void* w, size_t ws, const void* a, float* out) {
  dot32_rows4<Q4_1P>(n, w, ws, a, out);
}
void vec_dot_rows4_q8_0_q8_0(int64_t n, const void* w, size_t ws, const void* a, float* out) {
  dot32_rows4<Q8_0P>(n, w, ws, a, out);
}

void vec_dot_f32(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  for (; i < n; ++i) {  // rows need not be 4-byte aligned
    float xf, yf;
    std::memcpy(&xf, x + i, 4);
    std::memcpy(&yf, y + i, 4);
    s += xf * yf;
  }
  *out = s;
}

void vec_dot_f16(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const uint8_t*>(w);
  const auto* y = static_cast<const uint8_t*>(a);
  const auto ld = [](const uint8_t* p) { return _mm512_cvtph_ps(loadu256(p)); };
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(ld(x + 2 * i), ld(y + 2 * i), acc0);
    acc1 = _mm512_fmadd_ps(ld(x + 2 * i + 32), ld(y + 2 * i + 32), acc1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  for (; i < n; ++i) {
    uint16_t hx, hy;
    std::memcpy(&hx, x + 2 * i, 2);
    std::memcpy(&hy, y + 2 * i, 2);
    s += _cvtsh_ss(hx) * _cvtsh_ss(hy);
  }
  *out = s;
}

// Q6_K: per half, two registers of 64 quants (q1|q2 and q3|q4 of the §3.2 table);
// 8 int16 lanes per 16-element scale group. The −32 offset comes back as 32·Σ sc·bsums.
void vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int bias = 0;
    for (int j = 0; j < 16; ++j) bias += x[b].scales[j] * y[b].bsums[j];
    __m512i isum = _mm512_setzero_si512();
    for (int half = 0; half < 2; ++half) {
      const __m512i ql = _mm512_loadu_si512(x[b].ql + 64 * half);
      const __m256i qh = loadu256(x[b].qh + 32 * half);
      const __m512i h01 = join(qh, _mm256_srli_epi16(qh, 2));
      const __m512i h23 = join(_mm256_srli_epi16(qh, 4), _mm256_srli_epi16(qh, 6));
      const __m512i qa =
          _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(h01, m2), 4));
      const __m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                         _mm512_slli_epi16(_mm512_and_si512(h23, m2), 4));
      // int16 scale per lane: lanes 8g..8g+7 (16 quants) use scale g; qa covers
      // scales 0..3 of this half, qb scales 4..7.
      const __m512i sc16 = _mm512_cvtepi8_epi16(
          _mm256_zextsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x[b].scales + 8 * half))));
      const __m512i idx =
          _mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
                                             15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                            3);
      const __m512i sa = _mm512_permutexvar_epi16(idx, sc16);
      const __m512i sb = _mm512_permutexvar_epi16(_mm512_add_epi16(idx, _mm512_set1_epi16(4)), sc16);
      const int8_t* q8 = y[b].qs + 128 * half;
      isum = _mm512_add_epi32(isum, _mm512_madd_epi16(_mm512_maddubs_epi16(qa, _mm512_loadu_si512(q8)), sa));
      isum = _mm512_add_epi32(isum,
                              _mm512_madd_epi16(_mm512_maddubs_epi16(qb, _mm512_loadu_si512(q8 + 64)), sb));
    }
    const int total = _mm512_reduce_add_epi32(isum) - 32 * bias;
    sumf += (load_f16(x[b].d) * y[b].d) * static_cast<float>(total);
  }
  *out = sumf;
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) { avx2::swiglu(gate, up, out, n); }

}  // namespace vatp::kernels::avx512
