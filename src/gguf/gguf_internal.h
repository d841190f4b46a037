// Internal to the gguf module: scalar sizes and little-endian loads shared by the
// reader (gguf_reader.cc) and the value accessors (gguf_value.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gguf/gguf.h"

namespace vatp::gguf::detail {

inline size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL: return 1;
    case ValueType::UINT16:
    case ValueType::INT16: return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32: return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64: return 8;
    case ValueType::STRING:
    case ValueType::ARRAY: return 0;
  }
  return 0;
}

inline bool is_known_type(uint32_t t) { return t <= 12; }

inline bool is_integer(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::UINT16:
    case ValueType::INT16:
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::UINT64:
    case ValueType::INT64: return true;
    default: return false;
  }
}

template <typename T>
inline T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// One integer element as sign + magnitude, so every width (u64 and i64) fits.
struct IntVal {
  bool negative;
  uint64_t magnitude;
};

inline IntVal load_int(ValueType t, const uint8_t* p) {
  auto s = [](int64_t v) {
    return IntVal{v < 0, v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v)};
  };
  switch (t) {
    case ValueType::UINT8: return {false, load<uint8_t>(p)};
    case ValueType::INT8: return s(load<int8_t>(p));
    case ValueType::UINT16: return {false, load<uint16_t>(p)};
    case ValueType::INT16: return s(load<int16_t>(p));
    case ValueType::UINT32: return {false, load<uint32_t>(p)};
    case ValueType::INT32: return s(load<int32_t>(p));
    case ValueType::UINT64: return {false, load<uint64_t>(p)};
    case ValueType::INT64: return s(load<int64_t>(p));
    default: return {false, 0};
  }
}

}  // namespace vatp::gguf::detail
