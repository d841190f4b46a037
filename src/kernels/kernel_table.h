// The per-dtype kernel table: dtype is dispatched once, here, outside the hot loops.
// Build it once with make_kernel_table(detect_isa()) and pass it to whoever computes
// (no global). Each entry names the ISA its vec_dot really uses (types without a
// SIMD version use the scalar reference even in an AVX-512 table).
//
// Numerics (specs/gguf.md §3.3–3.4), tested in tests/kernels/simd_test.cc:
// - activation quantizers (Q8_0/Q8_1 with x86 rules, Q8_K, F16, BF16) and f16 row
//   conversion: bit-identical across ISAs;
// - vec_dot: every ISA computes the reference's integer block sums exactly; only the
//   float accumulation order differs: |simd − ref| ≤ 1e-5·Σ|w_i·a_i| + 1e-6;
// - vec_dot4 / vec_dot4x4 give bit-identical results to vec_dot of the same table, so
//   matmul output does not depend on the batch size m or on the thread count;
// - swiglu: SIMD uses a polynomial exp, relative error ≤ 2e-6 vs expf.
// SIMD coverage — AVX2: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
// AVX-512 (+VNNI): F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (4×4 prefill tiles for
// Q4_0/Q4_1/Q8_0), Q6_K; Q4_K/Q5_K from AVX2. BF16, Q2_K, Q3_K: scalar everywhere.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/dtype.h"

namespace vatp::kernels {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

const char* isa_name(Isa isa);                            // "scalar", "avx2", "avx512"
std::optional<Isa> isa_from_name(std::string_view name);  // inverse of isa_name (for flags)
bool isa_supported(Isa isa);  // cpuid: Avx2 needs AVX2+FMA+F16C; Avx512 needs F/BW/VL/DQ/VNNI/BF16 too
Isa detect_isa();             // the best supported ISA

// src (n elements of the type) -> dst (n floats).
using DequantRowFn = void (*)(const void* src, float* dst, int64_t n);
// src (n floats) -> dst (row_bytes(type, n) bytes). n a multiple of the block size.
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);
// *out = dot(w_row, act_row) over n elements; w_row is the weight type, act_row its
// vec_dot_type. No alignment required.
using VecDotFn = void (*)(int64_t n, const void* w_row, const void* act_row, float* out);
// out[t] = dot(w_row, act row t) for t < 4, act row t at act + t*act_stride bytes.
// Reads the weight row once for 4 tokens (prefill). Optional (nullptr = not provided).
using VecDot4Fn = void (*)(int64_t n, const void* w_row, const void* act, size_t act_stride, float* out);

// Prefill tile: out[t*out_stride + r] = dot(w row r, act row t) for r, t < 4; weight
// row r at w + r*w_stride bytes, act row t at act + t*act_stride. Optional.
using VecDot4x4Fn = void (*)(int64_t n, const void* w, size_t w_stride, const void* act, size_t act_stride,
                             float* out, size_t out_stride);

// Decode GEMV: out[r] = dot(w row r, act) for r < 4, weight row r at w + r*w_stride
// bytes. Optional.
using VecDotRows4Fn = void (*)(int64_t n, const void* w, size_t w_stride, const void* act, float* out);

// Tile over repacked weights (semantics in kernels/packed.h).
using PackedTileKernel = void (*)(int64_t nb, const uint8_t* group, const void* act, size_t act_stride,
                                  const int32_t* bsums, size_t bsums_stride, int nc, float* out,
                                  size_t out_stride);

struct TypeKernels {
  DType type = DType::F32;
  DType vec_dot_type = DType::F32;  // what activations are converted to (§3.3)
  int block_size = 1;               // elements per block of `type`
  size_t block_bytes = 4;
  DequantRowFn dequant_row = nullptr;
  QuantizeRowFn quantize_row = nullptr;   // set for activation types (F32, F16, BF16, Q8_0, Q8_1, Q8_K)
  VecDotFn vec_dot = nullptr;             // set for weight types
  VecDot4Fn vec_dot4 = nullptr;           // optional; results identical to vec_dot
  VecDot4x4Fn vec_dot4x4 = nullptr;       // optional; results identical to vec_dot
  VecDotRows4Fn vec_dot_rows4 = nullptr;  // optional; results identical to vec_dot
  // Optional: a tile over 16-row interleaved repacked weights, used for every batch
  // size (AVX-512: Q4_0, results close to vec_dot's, another float summation order;
  // Q4_1 and Q8_0, bit-identical to vec_dot). When set, Model repacks the type's
  // matrices at load unless told not to.
  PackedTileKernel packed_tile = nullptr;
  Isa vec_dot_isa = Isa::Scalar;   // which implementation vec_dot is
  Isa quantize_isa = Isa::Scalar;  // which implementation quantize_row is
};

// Element-wise ops that have SIMD versions (references in ops.h).
using SwigluFn = void (*)(const float* gate, const float* up, float* out, int64_t n);
using F16ToF32Fn = void (*)(const uint16_t* src, float* dst, int64_t n);
using F32ToF16Fn = void (*)(const float* src, uint16_t* dst, int64_t n);

struct KernelTable {
  Isa isa = Isa::Scalar;
  // Indexed by the ggml type id; unsupported ids have type_supported == false.
  static constexpr size_t kMaxTypeId = 31;
  std::array<TypeKernels, kMaxTypeId> types{};
  std::array<bool, kMaxTypeId> type_supported{};

  SwigluFn swiglu = nullptr;  // out = silu(gate) * up
  F16ToF32Fn fp16_to_f32_row = nullptr;
  F32ToF16Fn f32_to_fp16_row = nullptr;  // round-to-nearest-even

  bool supports(DType t) const {
    const auto id = static_cast<size_t>(t);
    return id < kMaxTypeId && type_supported[id];
  }
  // VATP_CHECKs supports(t): callers validate tensor types at load time (Status there).
  const TypeKernels& at(DType t) const;
};

// The table for `isa`; VATP_CHECKs isa_supported(isa). Isa::Scalar gives the pure
// reference kernels (the spec) on any machine.
KernelTable make_kernel_table(Isa isa);

}  // namespace vatp::kernels
