// Element-wise and row ops with llama.cpp's numerics (specs/gguf.md §2.3, §3.6).
// Plain scalar code; SIMD variants of the hot ones are in KernelTable (swiglu,
// f16 row conversion) and reached through the wrappers at the bottom.
#pragma once

#include <cstdint>

#include "kernels/kernel_table.h"

namespace vatp::kernels {

// y = x * (1/sqrtf(mean(x²) + eps)) * w  (sum of squares in double; w may be nullptr
// for no weight). x, y, w: n floats; y may alias x.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

enum class RopeLayout { Normal, Neox };  // Normal: pairs (2i, 2i+1) (llama); Neox: (i, i+n_rot/2) (qwen2)

struct RopeParams {
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;   // 1 / scaling factor
  float ext_factor = 0.0f;   // YaRN: 1 when scaling type is yarn, else 0
  float attn_factor = 1.0f;  // mscale
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int32_t n_ctx_orig = 0;  // rope.scaling.original_context_length (only used when ext_factor != 0)
  const float* freq_factors = nullptr;  // rope_freqs.weight, n_rot/2 floats, or nullptr
};

// YaRN correction dims [low, high] for n_dims rotated dims (§2.3).
void rope_yarn_corr_dims(int n_dims, int32_t n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                         float dims[2]);

// Rotation cache for one position: cs[i0] = cos, cs[i0+1] = sin for even i0 < n_rot
// (n_rot floats), with the exact ggml iteration (float theta product, YaRN step).
void rope_cache(int32_t pos, int n_rot, const RopeParams& p, float* cs);

// Rotates x (n_heads × head_dim, row-major) in place with a cache from rope_cache;
// dims >= n_rot are left unchanged.
void rope_apply(float* x, int n_heads, int head_dim, int n_rot, RopeLayout layout, const float* cs);

// rope_cache + rope_apply (n_rot <= 512).
void rope(float* x, int n_heads, int head_dim, int n_rot, int32_t pos, const RopeParams& p,
          RopeLayout layout);

// out = silu(gate) * up with silu(g) = g / (1 + expf(-g)). out may alias gate or up.
void swiglu_ref(const float* gate, const float* up, float* out, int64_t n);

// In-place softmax over x (n floats): max-subtracted expf, sum in double, times 1/sum.
void softmax(float* x, int64_t n);

void add(const float* a, const float* b, float* y, int64_t n);  // y = a + b (y may alias)
void mul(const float* a, const float* b, float* y, int64_t n);  // y = a * b
void scale(float* x, float s, int64_t n);                       // x *= s

void fp16_to_f32_row_ref(const uint16_t* src, float* dst, int64_t n);
void f32_to_fp16_row_ref(const float* src, uint16_t* dst, int64_t n);  // RNE

// Dispatching wrappers (SIMD where the table has it).
inline void swiglu(const KernelTable& kt, const float* gate, const float* up, float* out, int64_t n) {
  kt.swiglu(gate, up, out, n);
}
inline void fp16_to_f32_row(const KernelTable& kt, const uint16_t* src, float* dst, int64_t n) {
  kt.fp16_to_f32_row(src, dst, n);
}
inline void f32_to_fp16_row(const KernelTable& kt, const float* src, uint16_t* dst, int64_t n) {
  kt.f32_to_fp16_row(src, dst, n);
}

}  // namespace vatp::kernels
