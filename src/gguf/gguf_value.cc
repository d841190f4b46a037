// Value accessors (typed views into the file bytes) and display helpers.
#include <limits>
#include <sstream>

#include "gguf/gguf.h"
#include "gguf/gguf_internal.h"

namespace vatp::gguf {
namespace {

using detail::IntVal;
using detail::is_integer;
using detail::load;
using detail::load_int;
using detail::scalar_size;

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "u8";
    case ValueType::INT8: return "i8";
    case ValueType::UINT16: return "u16";
    case ValueType::INT16: return "i16";
    case ValueType::UINT32: return "u32";
    case ValueType::INT32: return "i32";
    case ValueType::FLOAT32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "u64";
    case ValueType::INT64: return "i64";
    case ValueType::FLOAT64: return "f64";
  }
  return "?";
}

Status Value::type_error(const char* wanted) const {
  std::string found = value_type_name(type_);
  if (type_ == ValueType::ARRAY) found += std::string(" of ") + value_type_name(array_type_);
  return invalid_argument("GGUF key " + quoted(key_) + " has type " + found + ", expected " + wanted);
}

Result<uint64_t> Value::as_uint() const {
  if (!is_integer(type_)) return type_error("an integer");
  const IntVal v = load_int(type_, data_);
  if (v.negative) return invalid_argument("GGUF key " + quoted(key_) + " is negative, expected >= 0");
  return v.magnitude;
}

Result<int64_t> Value::as_int() const {
  if (!is_integer(type_)) return type_error("an integer");
  const IntVal v = load_int(type_, data_);
  if (!v.negative && v.magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return invalid_argument("GGUF key " + quoted(key_) + " does not fit in int64");
  }
  return v.negative ? static_cast<int64_t>(0 - v.magnitude) : static_cast<int64_t>(v.magnitude);
}

Result<double> Value::as_float() const {
  if (type_ == ValueType::FLOAT32) return static_cast<double>(load<float>(data_));
  if (type_ == ValueType::FLOAT64) return load<double>(data_);
  return type_error("f32 or f64");
}

Result<bool> Value::as_bool() const {
  if (type_ != ValueType::BOOL) return type_error("bool");
  return data_[0] != 0;
}

Result<std::string_view> Value::as_string() const {
  if (type_ != ValueType::STRING) return type_error("string");
  return std::string_view(reinterpret_cast<const char*>(data_), static_cast<size_t>(size_));
}

Result<std::vector<std::string_view>> Value::as_string_array() const {
  if (type_ != ValueType::ARRAY || array_type_ != ValueType::STRING) return type_error("array of string");
  std::vector<std::string_view> out;
  out.reserve(static_cast<size_t>(count_));
  // Strings were validated at parse time; walk them again.
  const uint8_t* p = data_;
  for (uint64_t i = 0; i < count_; ++i) {
    const uint64_t len = load<uint64_t>(p);
    out.emplace_back(reinterpret_cast<const char*>(p + 8), static_cast<size_t>(len));
    p += 8 + len;
  }
  return out;
}

Result<std::vector<float>> Value::as_f32_array() const {
  if (type_ != ValueType::ARRAY || array_type_ != ValueType::FLOAT32) return type_error("array of f32");
  std::vector<float> out(static_cast<size_t>(count_));
  if (count_ > 0) std::memcpy(out.data(), data_, static_cast<size_t>(count_) * 4);
  return out;
}

Result<std::vector<int32_t>> Value::as_i32_array() const {
  if (type_ != ValueType::ARRAY || (array_type_ != ValueType::INT32 && array_type_ != ValueType::UINT32)) {
    return type_error("array of i32");
  }
  std::vector<int32_t> out(static_cast<size_t>(count_));
  for (uint64_t i = 0; i < count_; ++i) {
    const uint32_t u = load<uint32_t>(data_ + 4 * i);
    if (array_type_ == ValueType::UINT32 && u > static_cast<uint32_t>(std::numeric_limits<int32_t>::max())) {
      return invalid_argument("GGUF key " + quoted(key_) + " element " + std::to_string(i) +
                              " does not fit in i32");
    }
    out[static_cast<size_t>(i)] = static_cast<int32_t>(u);
  }
  return out;
}

Result<std::vector<uint64_t>> Value::as_uint_array() const {
  if (type_ != ValueType::ARRAY || !is_integer(array_type_)) return type_error("array of integers");
  const size_t es = scalar_size(array_type_);
  std::vector<uint64_t> out(static_cast<size_t>(count_));
  for (uint64_t i = 0; i < count_; ++i) {
    const IntVal v = load_int(array_type_, data_ + es * i);
    if (v.negative) return invalid_argument("GGUF key " + quoted(key_) + " has a negative element");
    out[static_cast<size_t>(i)] = v.magnitude;
  }
  return out;
}

std::string Value::to_display_string(size_t max_items) const {
  auto scalar = [](ValueType t, const uint8_t* p, uint64_t size) -> std::string {
    std::ostringstream os;
    if (is_integer(t)) {
      const IntVal v = load_int(t, p);
      os << (v.negative ? "-" : "") << v.magnitude;
    } else if (t == ValueType::FLOAT32) {
      os << load<float>(p);
    } else if (t == ValueType::FLOAT64) {
      os << load<double>(p);
    } else if (t == ValueType::BOOL) {
      os << (p[0] ? "true" : "false");
    } else if (t == ValueType::STRING) {
      os << std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(size));
    }
    return os.str();
  };
  if (type_ != ValueType::ARRAY) return scalar(type_, data_, size_);
  std::ostringstream os;
  os << "[";
  const uint8_t* p = data_;
  for (uint64_t i = 0; i < count_ && i < max_items; ++i) {
    if (i) os << ", ";
    if (array_type_ == ValueType::STRING) {
      const uint64_t len = load<uint64_t>(p);
      os << "'" << std::string_view(reinterpret_cast<const char*>(p + 8), static_cast<size_t>(len)) << "'";
      p += 8 + len;
    } else {
      os << scalar(array_type_, p, 0);
      p += scalar_size(array_type_);
    }
  }
  if (count_ > max_items) os << ", ... (" << count_ << " items)";
  os << "]";
  return os.str();
}

std::string TensorInfo::shape_string() const {
  std::string s = "{";
  for (int i = 0; i < std::max(1, n_dims); ++i) {
    if (i) s += ", ";
    s += std::to_string(ne[static_cast<size_t>(i)]);
  }
  return s + "}";
}

}  // namespace vatp::gguf
