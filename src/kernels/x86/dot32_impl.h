// The 32-element-block dot-product loop shared by the AVX2 and AVX-512 files (each
// instantiates it with its own integer-dot policy and flags; internal linkage, see
// avx2_util.h). Include after avx2_util.h.
//
// Per block: lanes = P::isum(weight quants, activation quants) (8 int32, the exact
// reference integer sum split over lanes); [dx·dy, mx·sy] come from one f16→f32
// conversion of each block's first 4 bytes (d and m/s are adjacent in every 32-block
// type); acc += (dx·dy)·lanes; the min term is a separate scalar chain in block order,
// summs = fma(mx, sy, summs), and the result is hsum(acc) + summs: exactly the float
// operations of llama.cpp's x86 ggml_vec_dot_q4_1_q8_1 (as compiled: the min product is
// fused), so vatp's Q4_1/Q5_1/Q8_0 dot products are bit-identical to llama.cpp's.
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

// The first two f16 fields of two blocks as [a0 b0 a1 b1].
inline __m128 load_4xf16(const void* p0, const void* p1) {
  int32_t v0, v1;
  std::memcpy(&v0, p0, 4);
  std::memcpy(&v1, p1, 4);
  return _mm_cvtph_ps(_mm_unpacklo_epi32(_mm_cvtsi32_si128(v0), _mm_cvtsi32_si128(v1)));
}

// The min chain of a block pair in lane 1: fma(mx0, sy0, ·), then fma(mx1, sy1, ·), from
// wx = [dx0 mx0 dx1 mx1] and wy = [dy0 sy0 dy1 sy1].
inline __m128 min_pair(__m128 wx, __m128 wy, __m128 summ) {
  summ = _mm_fmadd_ps(wx, wy, summ);
  return _mm_fmadd_ps(_mm_movehl_ps(wx, wx), _mm_movehl_ps(wy, wy), summ);
}

// NT activation rows at once (1 for vec_dot, 4 for vec_dot4); each row sees the same
// sequence of float operations either way (and in dot32_4x4), so all give identical
// results. (A second accumulator chain measured no faster: the loop is uop-bound.)
template <typename P, int NT>
inline void dot32(int64_t n, const void* w, const void* a, size_t stride, float* out) {
  using W = typename P::W;
  using A = typename P::A;
  const auto* x = static_cast<const W*>(w);
  const A* y[NT];
  for (int t = 0; t < NT; ++t) y[t] = reinterpret_cast<const A*>(static_cast<const uint8_t*>(a) + t * stride);
  __m256 acc[NT];
  __m128 summ[NT];
  for (int t = 0; t < NT; ++t) {
    acc[t] = _mm256_setzero_ps();
    summ[t] = _mm_setzero_ps();
  }
  const int64_t nb = n / QK;
  int64_t b = 0;
  // Blocks in pairs: one f16→f32 conversion yields [dx0 mx0 dx1 mx1] (and [dy0 sy0 dy1
  // sy1]); the min chain lives in lane 1: fma with lanes 1 (block b), then with lanes 3
  // moved down (block b + 1).
  for (; b + 2 <= nb; b += 2) {
    const __m256i q0 = P::load(x[b]), q1 = P::load(x[b + 1]);
    const __m128 wx = load_4xf16(&x[b], &x[b + 1]);
    for (int t = 0; t < NT; ++t) {
      const __m128 wy = load_4xf16(&y[t][b], &y[t][b + 1]);
      const __m128 p = _mm_mul_ps(wx, wy);  // [dx·dy, mx·sy] × 2
      acc[t] = _mm256_fmadd_ps(_mm256_broadcastss_ps(p), _mm256_cvtepi32_ps(P::isum(q0, y[t][b].qs)), acc[t]);
      acc[t] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(p), _mm256_set1_epi32(2)),
                               _mm256_cvtepi32_ps(P::isum(q1, y[t][b + 1].qs)), acc[t]);
      if constexpr (P::kHasMin) summ[t] = min_pair(wx, wy, summ[t]);
    }
  }
  if (b < nb) {
    const __m256i q = P::load(x[b]);
    const __m128 wx = load_2xf16(&x[b]);
    for (int t = 0; t < NT; ++t) {
      const __m128 wy = load_2xf16(&y[t][b]);
      const __m128 p = _mm_mul_ps(wx, wy);
      acc[t] = _mm256_fmadd_ps(_mm256_broadcastss_ps(p), _mm256_cvtepi32_ps(P::isum(q, y[t][b].qs)), acc[t]);
      if constexpr (P::kHasMin) summ[t] = _mm_fmadd_ps(wx, wy, summ[t]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    float s = hsum_f32x8(acc[t]);
    if constexpr (P::kHasMin) {
      s += _mm_cvtss_f32(_mm_shuffle_ps(summ[t], summ[t], 1));
    }
    out[t] = s;
  }
}

// 4 weight rows × 1 activation row (decode GEMV): out[r] = dot(w row r, act), each row
// with exactly dot32<P, 1>'s float operations (so bit-identical to it and to the 4×4
// tile); the activation's loads, scale conversions and weight-independent integer terms
// are shared by the four rows.
template <typename P>
inline void dot32_rows4(int64_t n, const void* w, size_t w_stride, const void* a, float* out) {
  using W = typename P::W;
  using A = typename P::A;
  const W* x[4];
  for (int r = 0; r < 4; ++r)
    x[r] = reinterpret_cast<const W*>(static_cast<const uint8_t*>(w) + r * w_stride);
  const A* y = static_cast<const A*>(a);
  __m256 acc[4];
  __m128 summ[4];
  for (int r = 0; r < 4; ++r) {
    acc[r] = _mm256_setzero_ps();
    summ[r] = _mm_setzero_ps();
  }
  const int64_t nb = n / QK;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const __m128 wy = load_4xf16(&y[b], &y[b + 1]);
    for (int r = 0; r < 4; ++r) {
      const __m256i q0 = P::load(x[r][b]), q1 = P::load(x[r][b + 1]);
      const __m128 wx = load_4xf16(&x[r][b], &x[r][b + 1]);
      const __m128 p = _mm_mul_ps(wx, wy);
      acc[r] = _mm256_fmadd_ps(_mm256_broadcastss_ps(p), _mm256_cvtepi32_ps(P::isum(q0, y[b].qs)), acc[r]);
      acc[r] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(p), _mm256_set1_epi32(2)),
                               _mm256_cvtepi32_ps(P::isum(q1, y[b + 1].qs)), acc[r]);
      if constexpr (P::kHasMin) summ[r] = min_pair(wx, wy, summ[r]);
    }
  }
  if (b < nb) {
    const __m128 wy = load_2xf16(&y[b]);
    for (int r = 0; r < 4; ++r) {
      const __m256i q = P::load(x[r][b]);
      const __m128 wx = load_2xf16(&x[r][b]);
      const __m128 p = _mm_mul_ps(wx, wy);
      acc[r] = _mm256_fmadd_ps(_mm256_broadcastss_ps(p), _mm256_cvtepi32_ps(P::isum(q, y[b].qs)), acc[r]);
      if constexpr (P::kHasMin) summ[r] = _mm_fmadd_ps(wx, wy, summ[r]);
    }
  }
  for (int r = 0; r < 4; ++r) {
    float s = hsum_f32x8(acc[r]);
    if constexpr (P::kHasMin) {
      s += _mm_cvtss_f32(_mm_shuffle_ps(summ[r], summ[r], 1));
    }
    out[r] = s;
  }
}

// 4 weight rows × 4 activation rows (prefill tile; needs 32 vector registers, i.e.
// AVX-512 builds). out[t·out_stride + r] = dot(w row r, act row t), bit-identical to
// dot32 for each pair: the same products dx·dy and mx·sy, added in the same order.
template <typename P>
inline void dot32_4x4(int64_t n, const void* w, size_t w_stride, const void* a, size_t a_stride, float* out,
                      size_t out_stride) {
  using W = typename P::W;
  using A = typename P::A;
  const W* x[4];
  const A* y[4];
  for (int i = 0; i < 4; ++i) {
    x[i] = reinterpret_cast<const W*>(static_cast<const uint8_t*>(w) + i * w_stride);
    y[i] = reinterpret_cast<const A*>(static_cast<const uint8_t*>(a) + i * a_stride);
  }
  __m256 acc[4][4];  // [row][token]
  __m128 summ[4];    // [token], lane = row: each lane dot32's min chain
  for (int t = 0; t < 4; ++t) {
    summ[t] = _mm_setzero_ps();
    for (int r = 0; r < 4; ++r) acc[r][t] = _mm256_setzero_ps();
  }
  const int64_t nb = n / QK;
  for (int64_t b = 0; b < nb; ++b) {
    __m256i q[4];
    for (int r = 0; r < 4; ++r) q[r] = P::load(x[r][b]);
    const __m128 w01 = _mm_unpacklo_ps(load_2xf16(&x[0][b]), load_2xf16(&x[1][b]));  // [d0 d1 m0 m1]
    const __m128 w23 = _mm_unpacklo_ps(load_2xf16(&x[2][b]), load_2xf16(&x[3][b]));  // [d2 d3 m2 m3]
    const __m128 dx = _mm_movelh_ps(w01, w23);                                       // [d0 d1 d2 d3]
    const __m128 mx = _mm_movehl_ps(w23, w01);                                       // [m0 m1 m2 m3]
    for (int t = 0; t < 4; ++t) {
      const __m128 wy = load_2xf16(&y[t][b]);  // [dy, sy]
      const __m256 d = _mm256_castps128_ps256(_mm_mul_ps(dx, _mm_shuffle_ps(wy, wy, 0)));
      if constexpr (P::kHasMin) summ[t] = _mm_fmadd_ps(mx, _mm_shuffle_ps(wy, wy, 0x55), summ[t]);
      for (int r = 0; r < 4; ++r) {
        const __m256 dr = _mm256_permutevar8x32_ps(d, _mm256_set1_epi32(r));
        acc[r][t] = _mm256_fmadd_ps(dr, _mm256_cvtepi32_ps(P::isum(q[r], y[t][b].qs)), acc[r][t]);
      }
    }
  }
  for (int t = 0; t < 4; ++t) {
    alignas(16) float m[4];
    _mm_store_ps(m, summ[t]);
    for (int r = 0; r < 4; ++r) {
      float s = hsum_f32x8(acc[r][t]);
      if constexpr (P::kHasMin) s += m[r];
      out[t * out_stride + r] = s;
    }
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
