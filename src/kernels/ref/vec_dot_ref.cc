// Reference dot products (specs/gguf.md §3.4): the integer block sums and the float
// combination of each type, in ggml's generic order.
#include <cstring>

#include "core/fp16.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"

namespace vatp::kernels::ref {
namespace {

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // little-endian host
  return v;
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

void vec_dot_f32(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const uint8_t*>(w);
  const auto* y = static_cast<const uint8_t*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    float xf, yf;
    std::memcpy(&xf, x + 4 * i, 4);
    std::memcpy(&yf, y + 4 * i, 4);
    sum += static_cast<double>(xf * yf);
  }
  *out = static_cast<float>(sum);
}

void vec_dot_f16(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const uint8_t*>(w);
  const auto* y = static_cast<const uint8_t*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(fp16_to_f32(load_u16(x + 2 * i)) * fp16_to_f32(load_u16(y + 2 * i)));
  }
  *out = static_cast<float>(sum);
}

void vec_dot_bf16(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const uint8_t*>(w);
  const auto* y = static_cast<const uint8_t*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(bf16_to_f32(load_u16(x + 2 * i)) * bf16_to_f32(load_u16(y + 2 * i)));
  }
  *out = static_cast<float>(sum);
}

void vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / QK; ++b) {
    int sumi = 0;
    for (int j = 0; j < QK / 2; ++j) {
      sumi += ((x[b].qs[j] & 0xF) - 8) * y[b].qs[j] + ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + 16];
    }
    sumf += static_cast<float>(sumi) * fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d);
  }
  *out = sumf;
}

void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / QK; ++b) {
    int sumi = 0;
    for (int j = 0; j < QK / 2; ++j) {
      sumi += (x[b].qs[j] & 0xF) * y[b].qs[j] + (x[b].qs[j] >> 4) * y[b].qs[j + 16];
    }
    sumf += (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d)) * static_cast<float>(sumi) +
            fp16_to_f32(x[b].m) * fp16_to_f32(y[b].s);
  }
  *out = sumf;
}

void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / QK; ++b) {
    const uint32_t qh = load_u32(x[b].qh);
    int sumi = 0;
    for (int j = 0; j < QK / 2; ++j) {
      const int lo = ((x[b].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4)) - 16;
      const int hi = ((x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4)) - 16;
      sumi += lo * y[b].qs[j] + hi * y[b].qs[j + 16];
    }
    sumf += (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d)) * static_cast<float>(sumi);
  }
  *out = sumf;
}

void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / QK; ++b) {
    const uint32_t qh = load_u32(x[b].qh);
    int sumi = 0;
    for (int j = 0; j < QK / 2; ++j) {
      const int lo = (x[b].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      sumi += lo * y[b].qs[j] + hi * y[b].qs[j + 16];
    }
    sumf += (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d)) * static_cast<float>(sumi) +
            fp16_to_f32(x[b].m) * fp16_to_f32(y[b].s);
  }
  *out = sumf;
}

void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / QK; ++b) {
    int sumi = 0;
    for (int j = 0; j < QK; ++j) sumi += x[b].qs[j] * y[b].qs[j];
    sumf += static_cast<float>(sumi) * (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d));
  }
  *out = sumf;
}

void vec_dot_q2_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int summs = 0;
    for (int j = 0; j < 16; ++j) summs += y[b].bsums[j] * (x[b].scales[j] >> 4);
    const float dall = y[b].d * fp16_to_f32(x[b].d);
    const float dmin = y[b].d * fp16_to_f32(x[b].dmin);
    int isum = 0, is = 0;
    const int8_t* q8 = y[b].qs;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q2 = x[b].qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2, q8 += 32) {
        for (int g = 0; g < 2; ++g) {
          const int d = x[b].scales[is++] & 0xF;
          int isuml = 0;
          for (int l = 16 * g; l < 16 * g + 16; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
          isum += d * isuml;
        }
      }
    }
    sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  *out = sumf;
}

// The K-quant kernels with 8 int lanes (q3/q4/q5/q6): `a` holds the 256 signed quants,
// `scale_of(e)` the integer scale of element e; lanes l accumulate elements ≡ l mod 8.
namespace {

struct LaneSums {
  float sums[8] = {};
  void add_block(const int8_t* a, const int8_t* q8, const int* scales, int group, float d) {
    int aux32[8] = {};
    for (int e0 = 0; e0 < QK_K; e0 += 8) {
      const int sc = scales[e0 / group];
      for (int l = 0; l < 8; ++l) aux32[l] += sc * (q8[e0 + l] * a[e0 + l]);
    }
    for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux32[l]);
  }
  float total() const {
    float s = 0.0f;
    for (float v : sums) s += v;
    return s;
  }
};

}  // namespace

void vec_dot_q3_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  LaneSums acc;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int8_t q[QK_K];
    for (int e = 0; e < QK_K; ++e) {
      const int h = e / 128, eh = e % 128;
      const int low = (x[b].qs[32 * h + eh % 32] >> (2 * (eh / 32))) & 3;
      q[e] = static_cast<int8_t>(low - (((x[b].hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4));
    }
    int8_t sc8[16];
    unpack_q3_k_scales(x[b].scales, sc8);
    int sc[16];
    for (int j = 0; j < 16; ++j) sc[j] = sc8[j];
    acc.add_block(q, y[b].qs, sc, 16, fp16_to_f32(x[b].d) * y[b].d);
  }
  *out = acc.total();
}

template <bool kFiveBit, typename Block>
static void vec_dot_q45_k(int64_t n, const Block* x, const BlockQ8_K* y, float* out) {
  LaneSums acc;
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int8_t q[QK_K];
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        int lo = x[b].qs[32 * c + l] & 0xF, hi = x[b].qs[32 * c + l] >> 4;
        if constexpr (kFiveBit) {
          lo += ((x[b].qh[l] >> (2 * c)) & 1) << 4;
          hi += ((x[b].qh[l] >> (2 * c + 1)) & 1) << 4;
        }
        q[64 * c + l] = static_cast<int8_t>(lo);
        q[64 * c + 32 + l] = static_cast<int8_t>(hi);
      }
    }
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) {
      uint8_t s, m;
      get_scale_min_k4(j, x[b].scales, &s, &m);
      sc[j] = s;
      mn[j] = m;
    }
    int sumi_min = 0;
    for (int j = 0; j < 16; ++j) sumi_min += y[b].bsums[j] * mn[j / 2];
    sumf -= fp16_to_f32(x[b].dmin) * y[b].d * static_cast<float>(sumi_min);
    acc.add_block(q, y[b].qs, sc, 32, fp16_to_f32(x[b].d) * y[b].d);
  }
  *out = sumf + acc.total();
}

void vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  vec_dot_q45_k<false>(n, static_cast<const BlockQ4_K*>(w), static_cast<const BlockQ8_K*>(a), out);
}

void vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  vec_dot_q45_k<true>(n, static_cast<const BlockQ5_K*>(w), static_cast<const BlockQ8_K*>(a), out);
}

void vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  LaneSums acc;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int8_t q[QK_K];
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x[b].ql + 64 * half;
      const uint8_t* qh = x[b].qh + 32 * half;
      int8_t* qq = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        qq[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        qq[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        qq[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        qq[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int sc[16];
    for (int j = 0; j < 16; ++j) sc[j] = x[b].scales[j];
    acc.add_block(q, y[b].qs, sc, 16, fp16_to_f32(x[b].d) * y[b].d);
  }
  *out = acc.total();
}

}  // namespace vatp::kernels::ref
