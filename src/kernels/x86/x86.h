// SIMD kernels (internal). Each namespace's functions live in *_avx2.cc / *_avx512.cc
// files compiled with that ISA's flags; call them only when isa_supported() says so.
// Same signatures and semantics as the references in ref/ref.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vatp::kernels {

#define VATP_X86_KERNELS                                                                               \
  void vec_dot_f32(int64_t n, const void* w, const void* a, float* out);                               \
  void vec_dot_f16(int64_t n, const void* w, const void* a, float* out);                               \
  void vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a, float* out);                         \
  void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out);                         \
  void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out);                         \
  void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out);                         \
  void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out);                         \
  void vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a, float* out);                         \
  void vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a, float* out);                         \
  void vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a, float* out);                         \
  void vec_dot4_q4_1_q8_1(int64_t n, const void* w, const void* a, size_t stride, float* out);         \
  void vec_dot4_q8_0_q8_0(int64_t n, const void* w, const void* a, size_t stride, float* out);         \
  void vec_dot4_q4_0_q8_0(int64_t n, const void* w, const void* a, size_t stride, float* out);         \
  void vec_dot4x4_q4_0_q8_0(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out, \
                            size_t os);                                                                \
  void vec_dot4x4_q4_1_q8_1(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out, \
                            size_t os);                                                                \
  void vec_dot4x4_q8_0_q8_0(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out, \
                            size_t os);                                                                \
  void vec_dot_rows4_q4_0_q8_0(int64_t n, const void* w, size_t ws, const void* a, float* out);        \
  void vec_dot_rows4_q4_1_q8_1(int64_t n, const void* w, size_t ws, const void* a, float* out);        \
  void vec_dot_rows4_q8_0_q8_0(int64_t n, const void* w, size_t ws, const void* a, float* out);        \
  void quantize_q8_0(const float* src, void* dst, int64_t n);                                          \
  void quantize_q8_1(const float* src, void* dst, int64_t n);                                          \
  void quantize_q8_k(const float* src, void* dst, int64_t n);                                          \
  void quantize_f16(const float* src, void* dst, int64_t n);                                           \
  void swiglu(const float* gate, const float* up, float* out, int64_t n);                              \
  void fp16_to_f32_row(const uint16_t* src, float* dst, int64_t n);                                    \
  void f32_to_fp16_row(const float* src, uint16_t* dst, int64_t n);

namespace avx2 {
VATP_X86_KERNELS
}  // namespace avx2
namespace avx512 {
VATP_X86_KERNELS
}  // namespace avx512

#undef VATP_X86_KERNELS

namespace avx512 {
// Q4_0x16 packed tile (kernels/packed.h).
void tile_q4_0x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t* bsums,
                  size_t bsums_stride, int nc, float* out, size_t out_stride);
// Q8_0x16 packed tile (bsums unused), bit-identical to vec_dot_q8_0_q8_0.
void tile_q8_0x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t* bsums,
                  size_t bsums_stride, int nc, float* out, size_t out_stride);
// Q4_1x16 packed tile (bsums unused), bit-identical to vec_dot_q4_1_q8_1.
void tile_q4_1x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t* bsums,
                  size_t bsums_stride, int nc, float* out, size_t out_stride);
}  // namespace avx512

}  // namespace vatp::kernels
