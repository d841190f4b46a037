// ISA detection and the kernel table (which implementation serves each type).
#include "kernels/kernel_table.h"

#include <cpuid.h>

#include "core/check.h"
#include "kernels/ops.h"
#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace vatp::kernels {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

std::optional<Isa> isa_from_name(std::string_view name) {
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (name == isa_name(i)) return i;
  }
  return std::nullopt;
}

// F16C is CPUID leaf 1, ECX bit 29; read directly because clang 14's
// __builtin_cpu_supports does not know "f16c" (the fuzz build uses clang).
namespace {
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1u << 29)) != 0;
}
}  // namespace

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case Isa::Avx512:
      return isa_supported(Isa::Avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni") &&
             __builtin_cpu_supports("avx512bf16");
  }
  return false;
}

Isa detect_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

const TypeKernels& KernelTable::at(DType t) const {
  VATP_CHECK(supports(t));
  return types[static_cast<size_t>(t)];
}

namespace {

void set(KernelTable& kt, DType t, DType vdt, DequantRowFn dq, QuantizeRowFn q, VecDotFn vd) {
  TypeKernels& k = kt.types[static_cast<size_t>(t)];
  const DTypeInfo& info = dtype_info(t);
  k.type = t;
  k.vec_dot_type = vdt;
  k.block_size = info.block_size;
  k.block_bytes = info.block_bytes;
  k.dequant_row = dq;
  k.quantize_row = q;
  k.vec_dot = vd;
  k.vec_dot4 = nullptr;
  k.vec_dot4x4 = nullptr;
  k.vec_dot_rows4 = nullptr;
  k.packed_tile = nullptr;
  k.vec_dot_isa = Isa::Scalar;
  k.quantize_isa = Isa::Scalar;
  kt.type_supported[static_cast<size_t>(t)] = true;
}

TypeKernels& entry(KernelTable& kt, DType t) { return kt.types[static_cast<size_t>(t)]; }

void use_dot(KernelTable& kt, DType t, Isa isa, VecDotFn vd, VecDot4Fn vd4 = nullptr) {
  entry(kt, t).vec_dot = vd;
  entry(kt, t).vec_dot4 = vd4;
  entry(kt, t).vec_dot4x4 = nullptr;
  entry(kt, t).vec_dot_rows4 = nullptr;
  entry(kt, t).vec_dot_isa = isa;
}

void use_quant(KernelTable& kt, DType t, Isa isa, QuantizeRowFn q) {
  entry(kt, t).quantize_row = q;
  entry(kt, t).quantize_isa = isa;
}

}  // namespace

KernelTable make_kernel_table(Isa isa) {
  VATP_CHECK(isa_supported(isa));
  KernelTable kt;
  kt.isa = isa;
  // The reference for everything (§3.3 vec_dot_type mapping).
  set(kt, DType::F32, DType::F32, ref::dequant_f32, ref::quantize_f32, ref::vec_dot_f32);
  set(kt, DType::F16, DType::F16, ref::dequant_f16, ref::quantize_f16, ref::vec_dot_f16);
  set(kt, DType::BF16, DType::BF16, ref::dequant_bf16, ref::quantize_bf16, ref::vec_dot_bf16);
  set(kt, DType::Q4_0, DType::Q8_0, ref::dequant_q4_0, nullptr, ref::vec_dot_q4_0_q8_0);
  set(kt, DType::Q4_1, DType::Q8_1, ref::dequant_q4_1, nullptr, ref::vec_dot_q4_1_q8_1);
  set(kt, DType::Q5_0, DType::Q8_0, ref::dequant_q5_0, nullptr, ref::vec_dot_q5_0_q8_0);
  set(kt, DType::Q5_1, DType::Q8_1, ref::dequant_q5_1, nullptr, ref::vec_dot_q5_1_q8_1);
  set(kt, DType::Q8_0, DType::Q8_0, ref::dequant_q8_0, ref::quantize_q8_0, ref::vec_dot_q8_0_q8_0);
  set(kt, DType::Q8_1, DType::Q8_1, ref::dequant_q8_1, ref::quantize_q8_1, nullptr);
  set(kt, DType::Q2_K, DType::Q8_K, ref::dequant_q2_k, nullptr, ref::vec_dot_q2_k_q8_k);
  set(kt, DType::Q3_K, DType::Q8_K, ref::dequant_q3_k, nullptr, ref::vec_dot_q3_k_q8_k);
  set(kt, DType::Q4_K, DType::Q8_K, ref::dequant_q4_k, nullptr, ref::vec_dot_q4_k_q8_k);
  set(kt, DType::Q5_K, DType::Q8_K, ref::dequant_q5_k, nullptr, ref::vec_dot_q5_k_q8_k);
  set(kt, DType::Q6_K, DType::Q8_K, ref::dequant_q6_k, nullptr, ref::vec_dot_q6_k_q8_k);
  set(kt, DType::Q8_K, DType::Q8_K, ref::dequant_q8_k, ref::quantize_q8_k, nullptr);
  kt.swiglu = swiglu_ref;
  kt.fp16_to_f32_row = fp16_to_f32_row_ref;
  kt.f32_to_fp16_row = f32_to_fp16_row_ref;
  if (isa == Isa::Scalar) return kt;

  // AVX2 (also the base of the AVX-512 table for what has no AVX-512 version).
  const Isa a2 = Isa::Avx2;
  use_dot(kt, DType::F32, a2, avx2::vec_dot_f32);
  use_dot(kt, DType::F16, a2, avx2::vec_dot_f16);
  use_dot(kt, DType::Q4_0, a2, avx2::vec_dot_q4_0_q8_0, avx2::vec_dot4_q4_0_q8_0);
  use_dot(kt, DType::Q4_1, a2, avx2::vec_dot_q4_1_q8_1, avx2::vec_dot4_q4_1_q8_1);
  use_dot(kt, DType::Q5_0, a2, avx2::vec_dot_q5_0_q8_0);
  use_dot(kt, DType::Q5_1, a2, avx2::vec_dot_q5_1_q8_1);
  use_dot(kt, DType::Q8_0, a2, avx2::vec_dot_q8_0_q8_0, avx2::vec_dot4_q8_0_q8_0);
  use_dot(kt, DType::Q4_K, a2, avx2::vec_dot_q4_k_q8_k);
  use_dot(kt, DType::Q5_K, a2, avx2::vec_dot_q5_k_q8_k);
  use_dot(kt, DType::Q6_K, a2, avx2::vec_dot_q6_k_q8_k);
  use_quant(kt, DType::F16, a2, avx2::quantize_f16);
  use_quant(kt, DType::Q8_0, a2, avx2::quantize_q8_0);
  use_quant(kt, DType::Q8_1, a2, avx2::quantize_q8_1);
  use_quant(kt, DType::Q8_K, a2, avx2::quantize_q8_k);
  kt.swiglu = avx2::swiglu;
  kt.fp16_to_f32_row = avx2::fp16_to_f32_row;
  kt.f32_to_fp16_row = avx2::f32_to_fp16_row;
  if (isa == Isa::Avx2) return kt;

  const Isa a5 = Isa::Avx512;
  use_dot(kt, DType::F32, a5, avx512::vec_dot_f32);
  use_dot(kt, DType::F16, a5, avx512::vec_dot_f16);
  use_dot(kt, DType::Q4_0, a5, avx512::vec_dot_q4_0_q8_0, avx512::vec_dot4_q4_0_q8_0);
  entry(kt, DType::Q4_0).vec_dot4x4 = avx512::vec_dot4x4_q4_0_q8_0;
  entry(kt, DType::Q4_0).vec_dot_rows4 = avx512::vec_dot_rows4_q4_0_q8_0;
  entry(kt, DType::Q4_0).packed_tile = avx512::tile_q4_0x16;
  use_dot(kt, DType::Q4_1, a5, avx512::vec_dot_q4_1_q8_1, avx512::vec_dot4_q4_1_q8_1);
  entry(kt, DType::Q4_1).vec_dot4x4 = avx512::vec_dot4x4_q4_1_q8_1;
  entry(kt, DType::Q4_1).vec_dot_rows4 = avx512::vec_dot_rows4_q4_1_q8_1;
  entry(kt, DType::Q4_1).packed_tile = avx512::tile_q4_1x16;
  use_dot(kt, DType::Q5_0, a5, avx512::vec_dot_q5_0_q8_0);
  use_dot(kt, DType::Q5_1, a5, avx512::vec_dot_q5_1_q8_1);
  use_dot(kt, DType::Q8_0, a5, avx512::vec_dot_q8_0_q8_0, avx512::vec_dot4_q8_0_q8_0);
  entry(kt, DType::Q8_0).vec_dot4x4 = avx512::vec_dot4x4_q8_0_q8_0;
  entry(kt, DType::Q8_0).vec_dot_rows4 = avx512::vec_dot_rows4_q8_0_q8_0;
  entry(kt, DType::Q8_0).packed_tile = avx512::tile_q8_0x16;
  use_dot(kt, DType::Q6_K, a5, avx512::vec_dot_q6_k_q8_k);
  kt.swiglu = avx512::swiglu;
  return kt;
}

}  // namespace vatp::kernels
