// The 32-element-block dot-product loop shared by the AVX2 and AVX-512 files (each
// instantiates it with its own integer-dot policy and flags; internal linkage, see
// avx2_util.h). Include after avx2_util.h.
//
// Per block: lanes = P::isum(weight quants, activation quants) (8 int32, the exact
// reference integer sum split over lanes); [dx·dy, mx·sy] come from one f16→f32
// conversion of each block's first 4 bytes (d and m/s are adjacent in every 32-block
// type); acc += (dx·dy)·lanes; the min term mx·sy is summed separately.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/quant.h"

namespace vatp::kernels::x86 {
namespace {

// The block's first two f16 fields as floats in lanes 0 and 1.
inline __m128 load_2xf16(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(v));
}

// NT activation rows at once (1 for vec_dot, 4 for vec_dot4); each row sees the same
// sequence of float operations either way, so both give identical results.
template <typename P, int NT>
inline void dot32(int64_t n, const void* w, const void* a, size_t stride, float* out) {
  using W = typename P::W;
  using A = typename P::A;
  const auto* x = static_cast<const W*>(w);
  const A* y[NT];
  for (int t = 0; t < NT; ++t) y[t] = reinterpret_cast<const A*>(static_cast<const uint8_t*>(a) + t * stride);
  // Two accumulator chains per row (even / odd blocks) so consecutive blocks do not
  // wait on each other's fmadd latency.
  __m256 acc[2][NT];
  __m128 summ[2][NT];
  for (int c = 0; c < 2; ++c) {
    for (int t = 0; t < NT; ++t) {
      acc[c][t] = _mm256_setzero_ps();
      summ[c][t] = _mm_setzero_ps();
    }
  }
  const int64_t nb = n / QK;
  const auto step = [&](int64_t b, int c) {
    const __m256i q = P::load(x[b]);
    const __m128 wx = load_2xf16(&x[b]);
    for (int t = 0; t < NT; ++t) {
      const __m128 p = _mm_mul_ps(wx, load_2xf16(&y[t][b]));  // [dx·dy, mx·sy]
      acc[c][t] =
          _mm256_fmadd_ps(_mm256_broadcastss_ps(p), _mm256_cvtepi32_ps(P::isum(q, y[t][b].qs)), acc[c][t]);
      if constexpr (P::kHasMin) summ[c][t] = _mm_add_ps(summ[c][t], p);
    }
  };
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    step(b, 0);
    step(b + 1, 1);
  }
  if (b < nb) step(b, 0);
  for (int t = 0; t < NT; ++t) {
    float s = hsum_f32x8(_mm256_add_ps(acc[0][t], acc[1][t]));
    if constexpr (P::kHasMin) {
      const __m128 m = _mm_add_ps(summ[0][t], summ[1][t]);
      s += _mm_cvtss_f32(_mm_shuffle_ps(m, m, 1));
    }
    out[t] = s;
  }
}

// Weight-block unpackers: 32 quant bytes in activation order (j, then j+16).
struct LoadQ4 {
  template <typename B>
  static __m256i load(const B& x) {
    return unpack_nibbles(x.qs);
  }
};
struct LoadQ5 {  // 5-bit: nibble | (qh bit << 4), unsigned 0..31
  template <typename B>
  static __m256i load(const B& x) {
    return _mm256_or_si256(unpack_nibbles(x.qs),
                           _mm256_and_si256(bits_to_bytes(x.qh), _mm256_set1_epi8(0x10)));
  }
};

}  // namespace
}  // namespace vatp::kernels::x86
