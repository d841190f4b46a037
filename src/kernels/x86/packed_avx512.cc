// AVX-512 VNNI tile for Q4_0x16 packed weights (layout and semantics in packed.h):
// 16 rows in the 16 int32 lanes, so no horizontal sums; per block and column eight
// vpdpbusd with broadcast activation quads, then one fma into the row accumulators.
// The nibble expansion and the scale conversion are shared by up to 8 columns.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "kernels/packed.h"
#include "kernels/quant.h"
#include "kernels/x86/x86.h"

namespace vatp::kernels::avx512 {
namespace {

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// One block of a Q4_0x16/Q4_1x16 group (256 bytes) as eight u8 quads × 16 rows: w[j]
// the low nibbles of quad j (elements 4j..4j+3), w[j + 4] the high ones (16 + 4j..).
inline void unpack_nibbles16(const uint8_t* q, __m512i w[8]) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  for (int j = 0; j < 4; ++j) {
    const __m512i z = _mm512_loadu_si512(q + 64 * j);
    w[j] = _mm512_and_si512(z, m4);
    w[j + 4] = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
  }
}

template <int NC>
void tile(int64_t nb, const uint8_t* group, const uint8_t* act, size_t act_stride, const int32_t* bsums,
          size_t bsums_stride, float* out, size_t out_stride) {
  const uint8_t* qs = group;
  const uint8_t* dp = group + static_cast<size_t>(nb) * 256;
  const BlockQ8_0* y[NC];
  __m512 acc[NC];
  for (int c = 0; c < NC; ++c) {
    y[c] = reinterpret_cast<const BlockQ8_0*>(act + c * act_stride);
    acc[c] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    if constexpr (NC <= 2) {  // GEMV is memory-bound: fetch across 4 KiB pages, where the
      // hardware streamer stops (reads past the group's end land in the next group).
      for (int j = 0; j < 4; ++j)
        _mm_prefetch(reinterpret_cast<const char*>(qs + 256 * (b + 8) + 64 * j), _MM_HINT_T0);
      if (b % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(dp + 32 * (b + 8)), _MM_HINT_T0);
    }
    __m512i w[8];
    unpack_nibbles16(qs + 256 * b, w);
    const __m512 dw = _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dp + static_cast<size_t>(b) * 32)));
    for (int c = 0; c < NC; ++c) {
      const BlockQ8_0& a = y[c][b];
      // Two independent chains (low / high nibbles); integer sums, so the split does
      // not change the result.
      __m512i s0 = _mm512_set1_epi32(-8 * bsums[c * bsums_stride + b]);
      __m512i s1 = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        s0 = _mm512_dpbusd_epi32(s0, w[j], bcast4(a.qs + 4 * j));
        s1 = _mm512_dpbusd_epi32(s1, w[j + 4], bcast4(a.qs + 16 + 4 * j));
      }
      const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(_cvtsh_ss(a.d)));
      acc[c] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), acc[c]);
    }
  }
  for (int c = 0; c < NC; ++c) _mm512_storeu_ps(out + c * out_stride, acc[c]);
}

// vec_dot's reduction of its eight lane accumulators, lane-wise over 16 rows:
// ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
inline __m512 reduce8(const __m512* a) {
  const __m512 lo = _mm512_add_ps(_mm512_add_ps(a[0], a[4]), _mm512_add_ps(a[2], a[6]));
  const __m512 hi = _mm512_add_ps(_mm512_add_ps(a[1], a[5]), _mm512_add_ps(a[3], a[7]));
  return _mm512_add_ps(lo, hi);
}

// Q4_1x16 × Q8_1: eight accumulators per column (lane sums of 4 products, as vec_dot
// and llama.cpp keep them), the min chain, and vec_dot's final reduction order; so
// each row's result is bit-identical to vec_dot_q4_1_q8_1 (packed.h).
template <int NC>
void tile41(int64_t nb, const uint8_t* group, const uint8_t* act, size_t act_stride, float* out,
            size_t out_stride) {
  const uint8_t* qs = group;
  const uint8_t* dp = group + static_cast<size_t>(nb) * 256;
  const uint8_t* mp = dp + static_cast<size_t>(nb) * 32;
  const BlockQ8_1* y[NC];
  __m512 acc[NC][8], summs[NC];
  for (int c = 0; c < NC; ++c) {
    y[c] = reinterpret_cast<const BlockQ8_1*>(act + c * act_stride);
    summs[c] = _mm512_setzero_ps();
    for (int l = 0; l < 8; ++l) acc[c][l] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    for (int j = 0; j < 4; ++j)
      _mm_prefetch(reinterpret_cast<const char*>(qs + 256 * (b + 8) + 64 * j), _MM_HINT_T0);
    if (b % 2 == 0) {
      _mm_prefetch(reinterpret_cast<const char*>(dp + 32 * (b + 8)), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(mp + 32 * (b + 8)), _MM_HINT_T0);
    }
    __m512i w[8];
    unpack_nibbles16(qs + 256 * b, w);
    const __m512 dw = _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dp + static_cast<size_t>(b) * 32)));
    const __m512 mw = _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mp + static_cast<size_t>(b) * 32)));
    for (int c = 0; c < NC; ++c) {
      const BlockQ8_1& a = y[c][b];
      const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(_cvtsh_ss(a.d)));
      for (int l = 0; l < 8; ++l) {
        const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[l], bcast4(a.qs + 4 * l));
        acc[c][l] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(s), acc[c][l]);
      }
      summs[c] = _mm512_fmadd_ps(mw, _mm512_set1_ps(_cvtsh_ss(a.s)), summs[c]);
    }
  }
  for (int c = 0; c < NC; ++c) {
    _mm512_storeu_ps(out + c * out_stride, _mm512_add_ps(reduce8(acc[c]), summs[c]));
  }
}

// Q8_0x16 × Q8_0: as tile41 without the min chain; the quants are stored + 128, so
// each lane sum is dpbusd(w + 128, a) − dpbusd(128, a) (exact), as vec_dot's lanes.
template <int NC>
void tile80(int64_t nb, const uint8_t* group, const uint8_t* act, size_t act_stride, float* out,
            size_t out_stride) {
  const uint8_t* qs = group;
  const uint8_t* dp = group + static_cast<size_t>(nb) * 512;
  const BlockQ8_0* y[NC];
  __m512 acc[NC][8];
  for (int c = 0; c < NC; ++c) {
    y[c] = reinterpret_cast<const BlockQ8_0*>(act + c * act_stride);
    for (int l = 0; l < 8; ++l) acc[c][l] = _mm512_setzero_ps();
  }
  const __m512i k128 = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; ++b) {
    for (int j = 0; j < 8; ++j)
      _mm_prefetch(reinterpret_cast<const char*>(qs + 512 * (b + 4) + 64 * j), _MM_HINT_T0);
    if (b % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(dp + 32 * (b + 4)), _MM_HINT_T0);
    const __m512 dw = _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dp + static_cast<size_t>(b) * 32)));
    for (int l = 0; l < 8; ++l) {
      const __m512i w = _mm512_loadu_si512(qs + 512 * b + 64 * l);
      for (int c = 0; c < NC; ++c) {
        const BlockQ8_0& a = y[c][b];
        const __m512i ab = bcast4(a.qs + 4 * l);
        const __m512i s = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), w, ab),
                                           _mm512_dpbusd_epi32(_mm512_setzero_si512(), k128, ab));
        const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(_cvtsh_ss(a.d)));
        acc[c][l] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(s), acc[c][l]);
      }
    }
  }
  for (int c = 0; c < NC; ++c) {
    _mm512_storeu_ps(out + c * out_stride, reduce8(acc[c]));
  }
}

}  // namespace

void tile_q8_0x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t*,
                  size_t, int nc, float* out, size_t out_stride) {
  const auto* a = static_cast<const uint8_t*>(act);
  for (; nc >= 2; nc -= 2, a += 2 * act_stride, out += 2 * out_stride)
    tile80<2>(nb, group, a, act_stride, out, out_stride);
  if (nc == 1) tile80<1>(nb, group, a, act_stride, out, out_stride);
}

void tile_q4_1x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t*,
                  size_t, int nc, float* out, size_t out_stride) {
  const auto* a = static_cast<const uint8_t*>(act);
  for (; nc >= 2; nc -= 2, a += 2 * act_stride, out += 2 * out_stride)
    tile41<2>(nb, group, a, act_stride, out, out_stride);
  if (nc == 1) tile41<1>(nb, group, a, act_stride, out, out_stride);
}

void tile_q4_0x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t* bsums,
                  size_t bsums_stride, int nc, float* out, size_t out_stride) {
  const auto* a = static_cast<const uint8_t*>(act);
  switch (nc) {
#define VATP_TILE_CASE(N) \
  case N: return tile<N>(nb, group, a, act_stride, bsums, bsums_stride, out, out_stride);
    VATP_TILE_CASE(1)
    VATP_TILE_CASE(2)
    VATP_TILE_CASE(3)
    VATP_TILE_CASE(4)
    VATP_TILE_CASE(5)
    VATP_TILE_CASE(6)
    VATP_TILE_CASE(7)
    VATP_TILE_CASE(8)
#undef VATP_TILE_CASE
    default: break;
  }
}

}  // namespace vatp::kernels::avx512
