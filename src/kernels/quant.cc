// Type dispatch for the reference quantizers/dequantizers (tests, `vatp synth`).
#include "kernels/quant.h"

#include "core/check.h"
#include "kernels/ref/ref.h"

namespace vatp::kernels {
namespace {

using QuantFn = void (*)(const float*, void*, int64_t);
using DequantFn = void (*)(const void*, float*, int64_t);

QuantFn quantizer(DType t) {
  switch (t) {
    case DType::F32: return ref::quantize_f32;
    case DType::F16: return ref::quantize_f16;
    case DType::BF16: return ref::quantize_bf16;
    case DType::Q4_0: return ref::quantize_w_q4_0;
    case DType::Q4_1: return ref::quantize_w_q4_1;
    case DType::Q5_0: return ref::quantize_w_q5_0;
    case DType::Q5_1: return ref::quantize_w_q5_1;
    case DType::Q8_0: return ref::quantize_q8_0;
    case DType::Q8_1: return ref::quantize_q8_1;
    case DType::Q2_K: return ref::quantize_w_q2_k;
    case DType::Q3_K: return ref::quantize_w_q3_k;
    case DType::Q4_K: return ref::quantize_w_q4_k;
    case DType::Q5_K: return ref::quantize_w_q5_k;
    case DType::Q6_K: return ref::quantize_w_q6_k;
    case DType::Q8_K: return ref::quantize_q8_k;
    default: return nullptr;
  }
}

DequantFn dequantizer(DType t) {
  switch (t) {
    case DType::F32: return ref::dequant_f32;
    case DType::F16: return ref::dequant_f16;
    case DType::BF16: return ref::dequant_bf16;
    case DType::Q4_0: return ref::dequant_q4_0;
    case DType::Q4_1: return ref::dequant_q4_1;
    case DType::Q5_0: return ref::dequant_q5_0;
    case DType::Q5_1: return ref::dequant_q5_1;
    case DType::Q8_0: return ref::dequant_q8_0;
    case DType::Q8_1: return ref::dequant_q8_1;
    case DType::Q2_K: return ref::dequant_q2_k;
    case DType::Q3_K: return ref::dequant_q3_k;
    case DType::Q4_K: return ref::dequant_q4_k;
    case DType::Q5_K: return ref::dequant_q5_k;
    case DType::Q6_K: return ref::dequant_q6_k;
    case DType::Q8_K: return ref::dequant_q8_k;
    default: return nullptr;
  }
}

}  // namespace

bool can_quantize(DType type) { return quantizer(type) != nullptr; }

void quantize_row_ref(DType type, const float* src, void* dst, int64_t n) {
  const QuantFn f = quantizer(type);
  VATP_CHECK(f != nullptr);
  VATP_CHECK(n % dtype_info(type).block_size == 0);
  f(src, dst, n);
}

void dequant_row_ref(DType type, const void* src, float* dst, int64_t n) {
  const DequantFn f = dequantizer(type);
  VATP_CHECK(f != nullptr);
  VATP_CHECK(n % dtype_info(type).block_size == 0);
  f(src, dst, n);
}

}  // namespace vatp::kernels
