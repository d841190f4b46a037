// AVX2 activation quantizers and element-wise ops. The quantizers are bit-exact with
// ref/ (same float ops per element, RNE rounding); swiglu uses exp_f32x8.
#include <immintrin.h>

#include <cmath>

#include "kernels/quant.h"
#include "kernels/x86/avx2_util.h"
#include "kernels/x86/x86.h"

namespace vatp::kernels::avx2 {

using namespace x86;

namespace {

// (No namespace-scope vector constants: their static initialisation would run AVX
// code on machines without it.)
// One float to IEEE half bits, round to nearest even. (_cvtss_sh is a macro built on a
// compound literal in clang's headers, which -Wpedantic refuses in C++.)
inline uint16_t f32_to_f16(float x) {
  return static_cast<uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(x), _MM_FROUND_TO_NEAREST_INT), 0));
}

inline __m256 absf(__m256 v) { return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF))); }

inline float hmax_f32x8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// rne(v · id) as int32 lanes.
inline __m256i round_mul(__m256 v, __m256 id) {
  return _mm256_cvtps_epi32(
      _mm256_round_ps(_mm256_mul_ps(v, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Four int32x8 vectors (in [-128, 127]) -> 32 int8 in order, stored at dst.
inline void pack_store(__m256i a, __m256i b, __m256i c, __m256i d, int8_t* dst) {
  const __m256i ab = _mm256_packs_epi32(a, b);
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);
  const __m256i fixed = _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), fixed);
}

// One 32-block with the x86 Q8_0 rule; returns Σ quants (for Q8_1).
inline __m256i quant32(const float* x, uint16_t* d_out, int8_t* qs, float* d_float) {
  const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
  const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
  const __m256 m = _mm256_max_ps(_mm256_max_ps(absf(v0), absf(v1)), _mm256_max_ps(absf(v2), absf(v3)));
  const float amax = hmax_f32x8(m);
  const float d = amax / 127.0f;
  *d_float = d;
  *d_out = f32_to_f16(d);
  const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
  const __m256i i0 = round_mul(v0, id), i1 = round_mul(v1, id), i2 = round_mul(v2, id),
                i3 = round_mul(v3, id);
  pack_store(i0, i1, i2, i3, qs);
  return _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
}

}  // namespace

void quantize_q8_0(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / QK; ++b) {
    uint16_t d16;
    float d;
    quant32(src + b * QK, &d16, y[b].qs, &d);
    y[b].d = d16;
  }
}

void quantize_q8_1(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / QK; ++b) {
    uint16_t d16;
    float d;
    const int sum = hsum_i32x8(quant32(src + b * QK, &d16, y[b].qs, &d));
    y[b].d = d16;
    y[b].s = f32_to_f16(d * static_cast<float>(sum));
  }
}

void quantize_q8_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const float* x = src + b * QK_K;
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < QK_K; i += 8) m = _mm256_max_ps(m, absf(_mm256_loadu_ps(x + i)));
    const float amax = hmax_f32x8(m);
    if (amax == 0.0f) {
      std::memset(&y[b], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The reference keeps the first element of largest magnitude, with its sign.
    float max = 0.0f;
    const __m256 am = _mm256_set1_ps(amax);
    for (int i = 0; i < QK_K; i += 8) {
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(absf(_mm256_loadu_ps(x + i)), am, _CMP_EQ_OQ));
      if (hit != 0) {
        max = x[i + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 is = _mm256_set1_ps(iscale);
    const __m256i lim = _mm256_set1_epi32(127);
    for (int g = 0; g < QK_K; g += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) q[k] = _mm256_min_epi32(round_mul(_mm256_loadu_ps(x + g + 8 * k), is), lim);
      pack_store(q[0], q[1], q[2], q[3], y[b].qs + g);
      y[b].bsums[g / 16] = static_cast<int16_t>(hsum_i32x8(_mm256_add_epi32(q[0], q[1])));
      y[b].bsums[g / 16 + 1] = static_cast<int16_t>(hsum_i32x8(_mm256_add_epi32(q[2], q[3])));
    }
    y[b].d = 1.0f / iscale;
  }
}

void f32_to_fp16_row(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}

void quantize_f16(const float* src, void* dst, int64_t n) {
  // dst may be unaligned; f32_to_fp16_row stores with unaligned stores only.
  f32_to_fp16_row(src, static_cast<uint16_t*>(dst), n);
}

void fp16_to_f32_row(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp_f32x8(_mm256_sub_ps(_mm256_setzero_ps(), g));
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace vatp::kernels::avx2
