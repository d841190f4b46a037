// Reference quantizers. Activation quantizers follow specs/gguf.md §3.3 exactly (x86
// semantics); weight quantizers are plain round-to-nearest, described per type below.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"

namespace vatp::kernels::ref {
namespace {

// Round half to even (the default FP rounding mode), as _mm256_round_ps(.., NEAREST)
// and ggml's nearest_int do.
inline int rne(float x) { return static_cast<int>(std::nearbyint(x)); }

inline int clampi(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// The value with the largest magnitude (sign kept; first one on ties).
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

}  // namespace

void quantize_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void quantize_f16(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_fp16(src[i]);
    std::memcpy(d + 2 * i, &h, 2);
  }
}

void quantize_bf16(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_bf16(src[i]);
    std::memcpy(d + 2 * i, &h, 2);
  }
}

// x86 Q8_0: d = amax/127 (stored f16), id = 127/amax, quants rounded half-to-even.
void quantize_q8_0(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / QK; ++b, src += QK) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[b].d = f32_to_fp16(d);
    for (int j = 0; j < QK; ++j) y[b].qs[j] = static_cast<int8_t>(rne(src[j] * id));
  }
}

// As Q8_0 plus s = f16(d * Σqs) with the float d.
void quantize_q8_1(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / QK; ++b, src += QK) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[b].d = f32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < QK; ++j) {
      const int q = rne(src[j] * id);
      y[b].qs[j] = static_cast<int8_t>(q);
      sum += q;
    }
    y[b].s = f32_to_fp16(d * static_cast<float>(sum));
  }
}

// quantize_row_q8_K_ref: iscale = −127/max (max = signed largest-magnitude value),
// q = min(127, rne(iscale·x)), d = 1/iscale as f32, bsums per 16.
void quantize_q8_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / QK_K; ++b, src += QK_K) {
    const float max = signed_absmax(src, QK_K);
    if (max == 0.0f) {
      std::memset(&y[b], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < QK_K; ++j) y[b].qs[j] = static_cast<int8_t>(std::min(127, rne(iscale * src[j])));
    for (int g = 0; g < QK_K / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[b].qs[16 * g + l];
      y[b].bsums[g] = static_cast<int16_t>(sum);
    }
    y[b].d = 1.0f / iscale;
  }
}

// ---- Weight quantizers -------------------------------------------------------------
// Symmetric types (Q4_0, Q5_0): d = max/−2^(bits−1) with max the signed
// largest-magnitude value (so it maps exactly to the most negative level), q =
// clamp(rne(x/d)) + offset. Asymmetric (Q4_1, Q5_1): m = min, d = (max−min)/(2^bits−1).
// The quants are computed from the f16-rounded d and m actually stored.

void quantize_w_q4_0(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ4_0*>(dst);
  for (int64_t b = 0; b < n / QK; ++b, src += QK) {
    const float max = signed_absmax(src, QK);
    y[b].d = f32_to_fp16(max / -8.0f);
    const float d = fp16_to_f32(y[b].d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK / 2; ++j) {
      const int q0 = clampi(rne(src[j] * id) + 8, 0, 15);
      const int q1 = clampi(rne(src[j + 16] * id) + 8, 0, 15);
      y[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quantize_w_q5_0(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ5_0*>(dst);
  for (int64_t b = 0; b < n / QK; ++b, src += QK) {
    const float max = signed_absmax(src, QK);
    y[b].d = f32_to_fp16(max / -16.0f);
    const float d = fp16_to_f32(y[b].d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; ++j) {
      const int q0 = clampi(rne(src[j] * id) + 16, 0, 31);
      const int q1 = clampi(rne(src[j + 16] * id) + 16, 0, 31);
      y[b].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; ++k) y[b].qh[k] = static_cast<uint8_t>(qh >> (8 * k));
  }
}

template <typename Block, int kLevels>
static void quantize_asym(const float* src, Block* y, int64_t n) {
  for (int64_t b = 0; b < n / QK; ++b, src += QK) {
    float mn = src[0], mx = src[0];
    for (int j = 1; j < QK; ++j) {
      mn = std::min(mn, src[j]);
      mx = std::max(mx, src[j]);
    }
    y[b].d = f32_to_fp16((mx - mn) / static_cast<float>(kLevels));
    y[b].m = f32_to_fp16(mn);
    const float d = fp16_to_f32(y[b].d);
    const float m = fp16_to_f32(y[b].m);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; ++j) q[j] = clampi(rne((src[j] - m) * id), 0, kLevels);
    for (int j = 0; j < QK / 2; ++j)
      y[b].qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
    if constexpr (requires { y[b].qh; }) {
      uint32_t qh = 0;
      for (int j = 0; j < QK; ++j) qh |= static_cast<uint32_t>(q[j] >> 4) << j;
      for (int k = 0; k < 4; ++k) y[b].qh[k] = static_cast<uint8_t>(qh >> (8 * k));
    }
  }
}

void quantize_w_q4_1(const float* src, void* dst, int64_t n) {
  quantize_asym<BlockQ4_1, 15>(src, static_cast<BlockQ4_1*>(dst), n);
}
void quantize_w_q5_1(const float* src, void* dst, int64_t n) {
  quantize_asym<BlockQ5_1, 31>(src, static_cast<BlockQ5_1*>(dst), n);
}

// ---- K-quants ----------------------------------------------------------------------
// Q4_K/Q5_K/Q2_K (asymmetric): per sub-block, min' = min(0, min x) and scale =
// (max − min')/levels; the super-block d = max(scale)/smax and dmin = max(−min')/smax
// (smax = 63 for 6-bit, 15 for 4-bit scales); sub-block scales/mins are rne(scale/d)
// and rne(−min'/dmin). Quants = clamp(rne((x + dmin·m)/(d·s))) with the stored values.
// Q6_K/Q3_K (symmetric): per 16-group, sc = max/−2^(bits−1) (signed largest value);
// d = max|sc|/(127 resp. 31); scales = rne(sc/d); quants = clamp(rne(x/(d·s))).

void pack_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>((ls[j] & 63) | ((ls[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>((lm[j] & 63) | ((lm[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
  }
}

namespace {

// Per-sub-block asymmetric scales for a super-block: fills quants q[256] in
// [0, levels], the packed d/dmin (f16 bits) and 6- or 4-bit scale/min codes.
void kquant_asym(const float* x, int sub, int levels, int smax, uint16_t* d_out, uint16_t* dmin_out,
                 uint8_t* ls, uint8_t* lm, int* q) {
  const int nsub = QK_K / sub;
  float scale[16], mins[16];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int s = 0; s < nsub; ++s) {
    float mn = 0.0f, mx = x[s * sub];
    for (int l = 0; l < sub; ++l) {
      mn = std::min(mn, x[s * sub + l]);
      mx = std::max(mx, x[s * sub + l]);
    }
    mx = std::max(mx, mn);
    scale[s] = (mx - mn) / static_cast<float>(levels);
    mins[s] = -mn;
    max_scale = std::max(max_scale, scale[s]);
    max_min = std::max(max_min, mins[s]);
  }
  *d_out = f32_to_fp16(max_scale / static_cast<float>(smax));
  *dmin_out = f32_to_fp16(max_min / static_cast<float>(smax));
  const float d = fp16_to_f32(*d_out), dmin = fp16_to_f32(*dmin_out);
  for (int s = 0; s < nsub; ++s) {
    ls[s] = static_cast<uint8_t>(d > 0.0f ? clampi(rne(scale[s] / d), 0, smax) : 0);
    lm[s] = static_cast<uint8_t>(dmin > 0.0f ? clampi(rne(mins[s] / dmin), 0, smax) : 0);
    const float ds = d * ls[s];
    const float dm = dmin * lm[s];
    for (int l = 0; l < sub; ++l) {
      const int e = s * sub + l;
      q[e] = ds > 0.0f ? clampi(rne((x[e] + dm) / ds), 0, levels) : 0;
    }
  }
}

// Symmetric: q[256] in [−2^(bits−1), 2^(bits−1)−1] per 16-group with int scales.
void kquant_sym(const float* x, int half_levels, int smax, float* d_out, int* ls, int* q) {
  float sc[16];
  float amax = 0.0f;
  for (int s = 0; s < 16; ++s) {
    sc[s] = signed_absmax(x + 16 * s, 16) / static_cast<float>(-half_levels);
    amax = std::max(amax, std::fabs(sc[s]));
  }
  const float d = fp16_to_f32(f32_to_fp16(amax / static_cast<float>(smax)));
  *d_out = d;
  for (int s = 0; s < 16; ++s) {
    ls[s] = d > 0.0f ? clampi(rne(sc[s] / d), -smax, smax) : 0;
    const float ds = d * static_cast<float>(ls[s]);
    for (int l = 0; l < 16; ++l) {
      q[16 * s + l] = ds != 0.0f ? clampi(rne(x[16 * s + l] / ds), -half_levels, half_levels - 1) : 0;
    }
  }
}

}  // namespace

void quantize_w_q4_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ4_K*>(dst);
  for (int64_t b = 0; b < n / QK_K; ++b, src += QK_K) {
    uint8_t ls[8], lm[8];
    int q[QK_K];
    uint16_t d, dmin;  // packed fields: no pointers to them
    kquant_asym(src, 32, 15, 63, &d, &dmin, ls, lm, q);
    y[b].d = d;
    y[b].dmin = dmin;
    pack_scale_min_k4(ls, lm, y[b].scales);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        y[b].qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
      }
    }
  }
}

void quantize_w_q5_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ5_K*>(dst);
  for (int64_t b = 0; b < n / QK_K; ++b, src += QK_K) {
    uint8_t ls[8], lm[8];
    int q[QK_K];
    uint16_t d, dmin;  // packed fields: no pointers to them
    kquant_asym(src, 32, 31, 63, &d, &dmin, ls, lm, q);
    y[b].d = d;
    y[b].dmin = dmin;
    pack_scale_min_k4(ls, lm, y[b].scales);
    std::memset(y[b].qh, 0, sizeof(y[b].qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
        y[b].qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        y[b].qh[l] = static_cast<uint8_t>(y[b].qh[l] | ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
    }
  }
}

void quantize_w_q2_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ2_K*>(dst);
  for (int64_t b = 0; b < n / QK_K; ++b, src += QK_K) {
    uint8_t ls[16], lm[16];
    int q[QK_K];
    uint16_t d, dmin;  // packed fields: no pointers to them
    kquant_asym(src, 16, 3, 15, &d, &dmin, ls, lm, q);
    y[b].d = d;
    y[b].dmin = dmin;
    for (int s = 0; s < 16; ++s) y[b].scales[s] = static_cast<uint8_t>(ls[s] | (lm[s] << 4));
    std::memset(y[b].qs, 0, sizeof(y[b].qs));
    // Element e of half h: byte qs[32h + e%32], shift 2·(e/32) (within the half).
    for (int e = 0; e < QK_K; ++e) {
      const int h = e / 128, eh = e % 128;
      y[b].qs[32 * h + eh % 32] = static_cast<uint8_t>(y[b].qs[32 * h + eh % 32] | (q[e] << (2 * (eh / 32))));
    }
  }
}

void quantize_w_q3_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ3_K*>(dst);
  for (int64_t b = 0; b < n / QK_K; ++b, src += QK_K) {
    float d;
    int ls[16], q[QK_K];
    kquant_sym(src, 4, 31, &d, ls, q);
    y[b].d = f32_to_fp16(d);
    std::memset(y[b].scales, 0, sizeof(y[b].scales));
    for (int j = 0; j < 16; ++j) {
      const int v = ls[j] + 32;  // 6-bit code
      if (j < 8) {
        y[b].scales[j] = static_cast<uint8_t>(y[b].scales[j] | (v & 0xF));
      } else {
        y[b].scales[j - 8] = static_cast<uint8_t>(y[b].scales[j - 8] | ((v & 0xF) << 4));
      }
      y[b].scales[8 + j % 4] = static_cast<uint8_t>(y[b].scales[8 + j % 4] | ((v >> 4) << (2 * (j / 4))));
    }
    std::memset(y[b].qs, 0, sizeof(y[b].qs));
    std::memset(y[b].hmask, 0, sizeof(y[b].hmask));
    for (int e = 0; e < QK_K; ++e) {
      // q in [−4, 3]: a set hmask bit means "nothing subtracted" (q = low bits).
      const int low = q[e] >= 0 ? q[e] : q[e] + 4;
      if (q[e] >= 0) y[b].hmask[e % 32] = static_cast<uint8_t>(y[b].hmask[e % 32] | (1 << (e / 32)));
      const int h = e / 128, eh = e % 128;
      y[b].qs[32 * h + eh % 32] = static_cast<uint8_t>(y[b].qs[32 * h + eh % 32] | (low << (2 * (eh / 32))));
    }
  }
}

void quantize_w_q6_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ6_K*>(dst);
  for (int64_t b = 0; b < n / QK_K; ++b, src += QK_K) {
    float d;
    int ls[16], q[QK_K];
    kquant_sym(src, 32, 127, &d, ls, q);
    y[b].d = f32_to_fp16(d);
    for (int s = 0; s < 16; ++s) y[b].scales[s] = static_cast<int8_t>(ls[s]);
    std::memset(y[b].qh, 0, sizeof(y[b].qh));
    for (int half = 0; half < 2; ++half) {
      const int* qq = q + 128 * half;
      uint8_t* ql = y[b].ql + 64 * half;
      uint8_t* qh = y[b].qh + 32 * half;
      for (int l = 0; l < 32; ++l) {
        const int q1 = qq[l] + 32, q2 = qq[l + 32] + 32, q3 = qq[l + 64] + 32, q4 = qq[l + 96] + 32;
        ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
}

}  // namespace vatp::kernels::ref
