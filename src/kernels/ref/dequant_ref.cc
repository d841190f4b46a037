// Reference dequantization, one function per type, written from specs/gguf.md §3.2.
#include <cstring>

#include "core/fp16.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"

namespace vatp::kernels::ref {

void dequant_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void dequant_f16(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, s + 2 * i, 2);
    dst[i] = fp16_to_f32(h);
  }
}

void dequant_bf16(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, s + 2 * i, 2);
    dst[i] = bf16_to_f32(h);
  }
}

void dequant_q4_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / QK; ++b, dst += QK) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < QK / 2; ++j) {
      dst[j] = static_cast<float>((x[b].qs[j] & 0xF) - 8) * d;
      dst[j + 16] = static_cast<float>((x[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequant_q4_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  for (int64_t b = 0; b < n / QK; ++b, dst += QK) {
    const float d = fp16_to_f32(x[b].d);
    const float m = fp16_to_f32(x[b].m);
    for (int j = 0; j < QK / 2; ++j) {
      dst[j] = static_cast<float>(x[b].qs[j] & 0xF) * d + m;
      dst[j + 16] = static_cast<float>(x[b].qs[j] >> 4) * d + m;
    }
  }
}

static uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

void dequant_q5_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  for (int64_t b = 0; b < n / QK; ++b, dst += QK) {
    const float d = fp16_to_f32(x[b].d);
    const uint32_t qh = load_u32(x[b].qh);
    for (int j = 0; j < QK / 2; ++j) {
      const int lo = (x[b].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      dst[j] = static_cast<float>(lo - 16) * d;
      dst[j + 16] = static_cast<float>(hi - 16) * d;
    }
  }
}

void dequant_q5_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(src);
  for (int64_t b = 0; b < n / QK; ++b, dst += QK) {
    const float d = fp16_to_f32(x[b].d);
    const float m = fp16_to_f32(x[b].m);
    const uint32_t qh = load_u32(x[b].qh);
    for (int j = 0; j < QK / 2; ++j) {
      const int lo = (x[b].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + 16] = static_cast<float>(hi) * d + m;
    }
  }
}

void dequant_q8_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / QK; ++b, dst += QK) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < QK; ++j) dst[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

void dequant_q8_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ8_1*>(src);
  for (int64_t b = 0; b < n / QK; ++b, dst += QK) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < QK; ++j) dst[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

void dequant_q2_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ2_K*>(src);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    const float dmin = fp16_to_f32(x[b].dmin);
    int is = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = x[b].qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2) {
        for (int g = 0; g < 2; ++g) {  // two groups of 16 per shift
          const uint8_t sc = x[b].scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) *dst++ = dl * static_cast<float>((q[l + 16 * g] >> shift) & 3) - ml;
        }
      }
    }
  }
}

void unpack_q3_k_scales(const uint8_t* s, int8_t* out) {
  for (int j = 0; j < 16; ++j) {
    const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    const int hi = (s[8 + (j % 4)] >> (2 * (j / 4))) & 3;
    out[j] = static_cast<int8_t>((lo | (hi << 4)) - 32);
  }
}

void dequant_q3_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(src);
  for (int64_t b = 0; b < n / QK_K; ++b, dst += QK_K) {
    const float d = fp16_to_f32(x[b].d);
    int8_t sc[16];
    unpack_q3_k_scales(x[b].scales, sc);
    for (int e = 0; e < QK_K; ++e) {
      const int half = e / 128;
      const int eh = e % 128;
      const int low = (x[b].qs[32 * half + eh % 32] >> (2 * (eh / 32))) & 3;
      const bool high = (x[b].hmask[e % 32] >> (e / 32)) & 1;
      const int q = low - (high ? 0 : 4);
      dst[e] = (d * static_cast<float>(sc[e / 16])) * static_cast<float>(q);
    }
  }
}

void dequant_q4_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(src);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    const float dmin = fp16_to_f32(x[b].dmin);
    for (int c = 0; c < 4; ++c) {
      const uint8_t* q = x[b].qs + 32 * c;
      uint8_t sc, m;
      get_scale_min_k4(2 * c, x[b].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(2 * c + 1, x[b].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequant_q5_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ5_K*>(src);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    const float dmin = fp16_to_f32(x[b].dmin);
    for (int c = 0; c < 4; ++c) {
      const uint8_t* q = x[b].qs + 32 * c;
      uint8_t sc, m;
      get_scale_min_k4(2 * c, x[b].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(2 * c + 1, x[b].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      const int b1 = 1 << (2 * c), b2 = 1 << (2 * c + 1);
      for (int l = 0; l < 32; ++l) {
        *dst++ = d1 * static_cast<float>((q[l] & 0xF) + ((x[b].qh[l] & b1) ? 16 : 0)) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        *dst++ = d2 * static_cast<float>((q[l] >> 4) + ((x[b].qh[l] & b2) ? 16 : 0)) - m2;
      }
    }
  }
}

void dequant_q6_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  for (int64_t b = 0; b < n / QK_K; ++b, dst += QK_K) {
    const float d = fp16_to_f32(x[b].d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x[b].ql + 64 * half;
      const uint8_t* qh = x[b].qh + 32 * half;
      const int8_t* sc = x[b].scales + 8 * half;
      float* y = dst + 128 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is + 0] * static_cast<float>(q1);
        y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
        y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
        y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
      }
    }
  }
}

void dequant_q8_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ8_K*>(src);
  for (int64_t b = 0; b < n / QK_K; ++b, dst += QK_K) {
    const float d = x[b].d;
    for (int j = 0; j < QK_K; ++j) dst[j] = d * static_cast<float>(x[b].qs[j]);
  }
}

}  // namespace vatp::kernels::ref
