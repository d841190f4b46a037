// Small AVX2 helpers; include only from *_avx2.cc / *_avx512.cc files (needs their flags).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace vatp::kernels::x86 {
// Internal linkage on purpose: this header is compiled with different ISA flags in
// different files, and a shared inline definition could let the linker pick an
// AVX-512 body for an AVX2 caller.
namespace {

inline float hsum_f32x8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32x8(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline float load_f16(uint16_t h) { return _cvtsh_ss(h); }

// 16 packed nibble bytes -> 32 bytes: low nibbles of bytes 0..15, then high nibbles.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 32 bits (u32 LE at p) -> 32 bytes, byte i = 0xFF where bit i is set.
inline __m256i bits_to_bytes(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  const __m256i v = _mm256_set1_epi32(static_cast<int>(bits));
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2,
                                        2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bytes = _mm256_shuffle_epi8(v, shuf);
  const __m256i mask = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  return _mm256_cmpeq_epi8(_mm256_and_si256(bytes, mask), mask);
}

// Σ of u8 × s8 products, as 8 int32 lanes (pairs summed in int16: no overflow for
// |u| ≤ 127 or u ≤ 63 with |s| ≤ 128).
inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Σ of s8 × s8 products as 8 int32 lanes (sign moved onto the second operand).
inline __m256i dot_s8s8(__m256i a, __m256i b) {
  return dot_u8s8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

inline __m256i loadu256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// The 8 six-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K/Q5_K block, from
// the 12 packed bytes with the §3.2 rules done four bytes at a time:
// j<4: scale = s[j]&63, min = s[j+4]&63; j≥4: scale = (s[j+4]&15) | (s[j−4]>>6)<<4,
// min = (s[j+4]>>4) | (s[j]>>6)<<4.
inline __m128i unpack_k4_scales_mins(const uint8_t* s) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, s, 4);
  std::memcpy(&u1, s + 4, 4);
  std::memcpy(&u2, s + 8, 4);
  const uint32_t sc_lo = u0 & 0x3F3F3F3Fu, mn_lo = u1 & 0x3F3F3F3Fu;
  const uint32_t sc_hi = (u2 & 0x0F0F0F0Fu) | (((u0 >> 6) & 0x03030303u) << 4);
  const uint32_t mn_hi = ((u2 >> 4) & 0x0F0F0F0Fu) | (((u1 >> 6) & 0x03030303u) << 4);
  return _mm_setr_epi32(static_cast<int>(sc_lo), static_cast<int>(sc_hi), static_cast<int>(mn_lo),
                        static_cast<int>(mn_hi));
}

// Σ_j bsums[j]·min[j/2] (the K-quant min term) as 8 int32 lanes.
inline __m256i k4_min_products(__m128i scales_mins, const void* bsums /* 16 × int16, unaligned */) {
  const __m128i dup = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(scales_mins, dup));
  return _mm256_madd_epi16(mins16, _mm256_loadu_si256(static_cast<const __m256i*>(bsums)));
}

// Word k of v (both 128-bit lanes hold the same 8 words) broadcast to all 16 words.
inline __m256i bcast_word(__m256i v, int k) {
  const char lo = static_cast<char>(2 * k), hi = static_cast<char>(2 * k + 1);
  return _mm256_shuffle_epi8(
      v, _mm256_setr_epi8(lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo,
                          hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi));
}

// exp(x) for float lanes: Cody–Waite reduction by ln2 and a degree-6 Taylor
// polynomial on |r| ≤ ln2/2; inputs clamped to [−86, 88.3] (results stay normal). Max rel error ~2e-7.
inline __m256 exp_f32x8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-86.0f)), _mm256_set1_ps(88.3f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
  return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
}

}  // namespace
}  // namespace vatp::kernels::x86
