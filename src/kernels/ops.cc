// Reference element-wise ops with llama.cpp's numerics (specs/gguf.md §2.3, §3.6).
#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"
#include "core/fp16.h"

namespace vatp::kernels {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float s = 1.0f / std::sqrt(mean + eps);
  if (w == nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * s) * w[i];
  }
}

void rope_yarn_corr_dims(int n_dims, int32_t n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                         float dims[2]) {
  const auto corr_dim = [&](float n_rot) {
    return static_cast<float>(n_dims) *
           std::log(static_cast<float>(n_ctx_orig) / (n_rot * 2.0f * std::numbers::pi_v<float>)) /
           (2.0f * std::log(freq_base));
  };
  const float start = std::floor(corr_dim(beta_fast));
  const float end = std::ceil(corr_dim(beta_slow));
  dims[0] = std::max(0.0f, start);
  dims[1] = std::min(static_cast<float>(n_dims - 1), end);
}

void rope_cache(int32_t pos, int n_rot, const RopeParams& p, float* cs) {
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(n_rot));
  float corr[2];
  rope_yarn_corr_dims(n_rot, p.n_ctx_orig, p.freq_base, p.beta_fast, p.beta_slow, corr);
  float theta = static_cast<float>(pos);
  for (int i0 = 0; i0 < n_rot; i0 += 2) {
    const float ff = p.freq_factors != nullptr ? p.freq_factors[i0 / 2] : 1.0f;
    // YaRN step: interpolate between the extrapolated and interpolated angle.
    const float theta_extrap = theta / ff;
    const float theta_interp = p.freq_scale * theta_extrap;
    float th = theta_interp;
    float mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {
      const float y = static_cast<float>(i0 / 2 - corr[0]) / std::max(0.001f, corr[1] - corr[0]);
      const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
      th = theta_interp * (1.0f - ramp) + theta_extrap * ramp;
      mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
    }
    cs[i0] = std::cos(th) * mscale;
    cs[i0 + 1] = std::sin(th) * mscale;
    theta *= theta_scale;
  }
}

void rope_apply(float* x, int n_heads, int head_dim, int n_rot, RopeLayout layout, const float* cs) {
  VATP_DCHECK(n_rot <= head_dim && n_rot % 2 == 0);
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    for (int i0 = 0; i0 < n_rot; i0 += 2) {
      const float c = cs[i0], s = cs[i0 + 1];
      const int a = layout == RopeLayout::Normal ? i0 : i0 / 2;
      const int b = layout == RopeLayout::Normal ? i0 + 1 : i0 / 2 + n_rot / 2;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

void rope(float* x, int n_heads, int head_dim, int n_rot, int32_t pos, const RopeParams& p,
          RopeLayout layout) {
  VATP_CHECK(n_rot <= 512);
  float cs[512];  // n_rot floats: (cos, sin) pairs
  rope_cache(pos, n_rot, p, cs);
  rope_apply(x, n_heads, head_dim, n_rot, layout, cs);
}

void swiglu_ref(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void add(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void mul(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
void scale(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void fp16_to_f32_row_ref(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(src[i]);
}
void f32_to_fp16_row_ref(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_fp16(src[i]);
}

}  // namespace vatp::kernels
