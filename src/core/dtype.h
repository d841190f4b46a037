// Tensor element types. Ids are ggml's (they are what GGUF stores); block sizes and
// byte sizes from ggml-common.h (specs/gguf.md §1.3, §3.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vatp {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

struct DTypeInfo {
  DType type;
  const char* name;
  int block_size;     // elements per block
  size_t block_bytes;  // bytes per block
  bool quantized;
};

// Layout facts for a ggml type id; nullopt for ids vatp does not know (including
// ids that exist in ggml but whose layout vatp does not implement, e.g. IQ*).
std::optional<DTypeInfo> dtype_info(uint32_t ggml_type_id);
const DTypeInfo& dtype_info(DType type);  // for known enumerators only
std::string_view dtype_name(DType type);
std::optional<DType> dtype_from_name(std::string_view name);  // "Q4_0", "f16", ...

// Bytes of one row of `n` elements; n must be a multiple of the block size.
inline size_t row_bytes(DType type, int64_t n) {
  const DTypeInfo& i = dtype_info(type);
  return static_cast<size_t>(n / i.block_size) * i.block_bytes;
}

}  // namespace vatp
