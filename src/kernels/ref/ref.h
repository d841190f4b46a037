// Scalar reference kernels (internal to the kernels module): the executable form of
// specs/gguf.md §3. Every SIMD kernel is tested against these.
#pragma once

#include <cstdint>

namespace vatp::kernels::ref {

// Dequantization: src (n elements) -> dst (n floats); §3.2.
void dequant_f32(const void* src, float* dst, int64_t n);
void dequant_f16(const void* src, float* dst, int64_t n);
void dequant_bf16(const void* src, float* dst, int64_t n);
void dequant_q4_0(const void* src, float* dst, int64_t n);
void dequant_q4_1(const void* src, float* dst, int64_t n);
void dequant_q5_0(const void* src, float* dst, int64_t n);
void dequant_q5_1(const void* src, float* dst, int64_t n);
void dequant_q8_0(const void* src, float* dst, int64_t n);
void dequant_q8_1(const void* src, float* dst, int64_t n);
void dequant_q2_k(const void* src, float* dst, int64_t n);
void dequant_q3_k(const void* src, float* dst, int64_t n);
void dequant_q4_k(const void* src, float* dst, int64_t n);
void dequant_q5_k(const void* src, float* dst, int64_t n);
void dequant_q6_k(const void* src, float* dst, int64_t n);
void dequant_q8_k(const void* src, float* dst, int64_t n);

// Activation quantizers (§3.3), x86 semantics: Q8_0/Q8_1 use id = 127/amax and
// round-half-to-even; Q8_K is quantize_row_q8_K_ref.
void quantize_f32(const float* src, void* dst, int64_t n);
void quantize_f16(const float* src, void* dst, int64_t n);
void quantize_bf16(const float* src, void* dst, int64_t n);
void quantize_q8_0(const float* src, void* dst, int64_t n);
void quantize_q8_1(const float* src, void* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n);

// Weight quantizers: round-to-nearest with a per-block range scale (see quant.cc).
void quantize_w_q4_0(const float* src, void* dst, int64_t n);
void quantize_w_q4_1(const float* src, void* dst, int64_t n);
void quantize_w_q5_0(const float* src, void* dst, int64_t n);
void quantize_w_q5_1(const float* src, void* dst, int64_t n);
void quantize_w_q2_k(const float* src, void* dst, int64_t n);
void quantize_w_q3_k(const float* src, void* dst, int64_t n);
void quantize_w_q4_k(const float* src, void* dst, int64_t n);
void quantize_w_q5_k(const float* src, void* dst, int64_t n);
void quantize_w_q6_k(const float* src, void* dst, int64_t n);

// Dot products (§3.4): *out = dot(w row, activation row).
void vec_dot_f32(int64_t n, const void* w, const void* a, float* out);
void vec_dot_f16(int64_t n, const void* w, const void* a, float* out);
void vec_dot_bf16(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q2_k_q8_k(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q3_k_q8_k(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a, float* out);
void vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a, float* out);

// Unpacked K-quant helpers shared by dequant and dot (quants as small ints).
// Q3_K: 16 signed scales (value − 32 already applied).
void unpack_q3_k_scales(const uint8_t* packed12, int8_t* scales16);
// Inverse of get_scale_min_k4: 8 six-bit scales and mins -> 12 bytes.
void pack_scale_min_k4(const uint8_t* scales8, const uint8_t* mins8, uint8_t* packed12);

}  // namespace vatp::kernels::ref
