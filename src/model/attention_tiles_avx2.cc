#include <immintrin.h>

#include <cmath>

#include "kernels/x86/avx2_util.h"
#include "model/attention_tiles.h"

namespace vatp::model::tiles_avx2 {
#include "model/attention_tiles.inc"

double exp_sum(float* x, int n, float mx) {
  const __m256 vmx = _mm256_set1_ps(mx);
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    // The polynomial exp clamps its input (exp(−inf) would be ~1e-38): masked slots
    // (−inf) are forced to exactly 0 so they carry no probability at all.
    const __m256 xi = _mm256_loadu_ps(x + i);
    const __m256 masked = _mm256_cmp_ps(xi, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ);
    const __m256 e = _mm256_andnot_ps(masked, kernels::x86::exp_f32x8(_mm256_sub_ps(xi, vmx)));
    _mm256_storeu_ps(x + i, e);
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  if (i < n) {
    // The tail goes through the same polynomial, padded with −inf: element i gets the
    // same value and the same summation lane whatever n is (batching-independent).
    alignas(32) float tail[8];
    for (int j = 0; j < 8; ++j) tail[j] = i + j < n ? x[i + j] : -INFINITY;
    const __m256 xi = _mm256_load_ps(tail);
    const __m256 masked = _mm256_cmp_ps(xi, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ);
    const __m256 e = _mm256_andnot_ps(masked, kernels::x86::exp_f32x8(_mm256_sub_ps(xi, vmx)));
    _mm256_store_ps(tail, e);
    for (int j = 0; i + j < n; ++j) x[i + j] = tail[j];
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double t[4];
  _mm256_store_pd(t, _mm256_add_pd(s0, s1));
  return t[0] + t[1] + t[2] + t[3];
}

extern const TileKernels kKernels = {scores, pv, exp_sum};

}  // namespace vatp::model::tiles_avx2
