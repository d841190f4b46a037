// AVX2 dot products. Integer block sums are exactly the reference's; the float
// combination runs in 8 lanes (per block: acc += (dx·dy) · lane sums) and is summed
// horizontally at the end, so results differ from ref/ only by float rounding.
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels/quant.h"
#include "kernels/x86/avx2_util.h"
#include "kernels/x86/dot32_impl.h"
#include "kernels/x86/x86.h"

namespace vatp::kernels::avx2 {
namespace {

using namespace x86;

// 32-block policies: load() gives 32 quant bytes, isum() the 8 int32 lane sums with
// one activation block's quants (maddubs + madd; no int16 overflow for |q| ≤ 31).
struct Q4_0P : LoadQ4 {
  using W = BlockQ4_0;
  using A = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static __m256i load(const W& x) { return _mm256_sub_epi8(LoadQ4::load(x), _mm256_set1_epi8(8)); }
  static __m256i isum(__m256i q, const int8_t* y) { return dot_s8s8(q, loadu256(y)); }
};
struct Q4_1P : LoadQ4 {
  using W = BlockQ4_1;
  using A = BlockQ8_1;
  static constexpr bool kHasMin = true;
  static __m256i isum(__m256i q, const int8_t* y) { return dot_u8s8(q, loadu256(y)); }
};
struct Q5_0P : LoadQ5 {
  using W = BlockQ5_0;
  using A = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static __m256i load(const W& x) { return _mm256_sub_epi8(LoadQ5::load(x), _mm256_set1_epi8(16)); }
  static __m256i isum(__m256i q, const int8_t* y) { return dot_s8s8(q, loadu256(y)); }
};
struct Q5_1P : LoadQ5 {
  using W = BlockQ5_1;
  using A = BlockQ8_1;
  static constexpr bool kHasMin = true;
  static __m256i isum(__m256i q, const int8_t* y) { return dot_u8s8(q, loadu256(y)); }
};
struct Q8_0P {
  using W = BlockQ8_0;
  using A = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static __m256i load(const W& x) { return loadu256(x.qs); }
  static __m256i isum(__m256i q, const int8_t* y) { return dot_s8s8(q, loadu256(y)); }
};

}  // namespace

void vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  dot32<Q4_0P, 1>(n, w, a, 0, out);
}
void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  dot32<Q4_1P, 1>(n, w, a, 0, out);
}
void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  dot32<Q5_0P, 1>(n, w, a, 0, out);
}
void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  dot32<Q5_1P, 1>(n, w, a, 0, out);
}
void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  dot32<Q8_0P, 1>(n, w, a, 0, out);
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

void vec_dot_f32(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
  }
  float s = hsum_f32x8(_mm256_add_ps(acc0, acc1));
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
  const auto ld = [](const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  };
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(ld(x + 2 * i), ld(y + 2 * i), acc0);
    acc1 = _mm256_fmadd_ps(ld(x + 2 * i + 16), ld(y + 2 * i + 16), acc1);
  }
  float s = hsum_f32x8(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) {
    uint16_t hx, hy;
    std::memcpy(&hx, x + 2 * i, 2);
    std::memcpy(&hy, y + 2 * i, 2);
    s += _cvtsh_ss(hx) * _cvtsh_ss(hy);
  }
  *out = s;
}

// ---- K-quants: 256-element super-blocks, Q8_K activations ---------------------------

namespace {

// Σ over the 8 sub-blocks of scale[j] · (q·q8 over sub-block j), for 4-/5-bit
// quants; q4 holds 32 bytes per 64-element chunk (low nibble first 32, high next).
template <bool kFiveBit, typename Block>
inline void dot_q45_k(int64_t n, const Block* x, const BlockQ8_K* y, float* out) {
  __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const __m128i sm = unpack_k4_scales_mins(x[b].scales);
    const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));  // scales as int16, both lanes
    acc_min = _mm256_fmadd_ps(_mm256_set1_ps(load_f16(x[b].dmin) * y[b].d),
                              _mm256_cvtepi32_ps(k4_min_products(
                                  sm, reinterpret_cast<const uint8_t*>(&y[b]) + offsetof(BlockQ8_K, bsums))),
                              acc_min);

    __m256i isum = _mm256_setzero_si256();
    __m256i hbits;
    if constexpr (kFiveBit) hbits = loadu256(x[b].qh);
    for (int c = 0; c < 4; ++c) {
      const __m256i q = loadu256(x[b].qs + 32 * c);
      __m256i lo = _mm256_and_si256(q, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if constexpr (kFiveBit) {
        const __m256i one = _mm256_set1_epi8(1);
        lo =
            _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c), one), 4));
        hi = _mm256_or_si256(
            hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c + 1), one), 4));
      }
      const __m256i plo = _mm256_maddubs_epi16(lo, loadu256(y[b].qs + 64 * c));
      const __m256i phi = _mm256_maddubs_epi16(hi, loadu256(y[b].qs + 64 * c + 32));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, bcast_word(sc16, 2 * c)));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, bcast_word(sc16, 2 * c + 1)));
    }
    const __m256 d = _mm256_set1_ps(load_f16(x[b].d) * y[b].d);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(isum), acc);
  }
  *out = hsum_f32x8(_mm256_sub_ps(acc, acc_min));
}

}  // namespace

void vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  dot_q45_k<false>(n, static_cast<const BlockQ4_K*>(w), static_cast<const BlockQ8_K*>(a), out);
}

void vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  dot_q45_k<true>(n, static_cast<const BlockQ5_K*>(w), static_cast<const BlockQ8_K*>(a), out);
}

// Q6_K: the unsigned 6-bit quants (0..63) are dotted directly and 32·Σ sc·bsums is
// subtracted afterwards — the same integer as Σ sc·q8·(q − 32).
void vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int bias = 0;
    for (int j = 0; j < 16; ++j) bias += x[b].scales[j] * y[b].bsums[j];
    __m256i isum = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x[b].ql + 64 * half;
      const __m256i qh = loadu256(x[b].qh + 32 * half);
      const __m256i l0 = loadu256(ql), l1 = loadu256(ql + 32);
      const int8_t* sc = x[b].scales + 8 * half;
      const int8_t* q8 = y[b].qs + 128 * half;
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
      for (int k = 0; k < 4; ++k) {
        const __m256i p = _mm256_maddubs_epi16(q[k], loadu256(q8 + 32 * k));
        const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, s));
      }
    }
    const int total = hsum_i32x8(isum) - 32 * bias;
    sumf += (load_f16(x[b].d) * y[b].d) * static_cast<float>(total);
  }
  *out = sumf;
}

}  // namespace vatp::kernels::avx2
