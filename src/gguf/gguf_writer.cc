#include <cstring>
#include <string_view>

#include "core/output_file.h"
#include "gguf/gguf.h"

namespace vatp::gguf {
namespace {

template <typename T>
void append(std::vector<uint8_t>& out, T v) {
  // resize + memcpy rather than insert: gcc 12 warns falsely on insert into an empty vector.
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void append_string(std::vector<uint8_t>& out, std::string_view s) {
  append<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

template <typename T>
std::vector<uint8_t> encode_array(ValueType et, const std::vector<T>& v) {
  std::vector<uint8_t> e;
  append<uint32_t>(e, static_cast<uint32_t>(et));
  append<uint64_t>(e, v.size());
  for (const T& x : v) append<T>(e, x);
  return e;
}

}  // namespace

void GgufWriter::put(std::string key, ValueType type, std::vector<uint8_t> encoded) {
  if (key == "general.alignment" && type == ValueType::UINT32 && encoded.size() == 4) {
    uint32_t a;
    std::memcpy(&a, encoded.data(), 4);
    if (a != 0 && (a & (a - 1)) == 0) alignment_ = a;
  }
  for (Kv& kv : kvs_) {
    if (kv.key == key) {
      kv.type = type;
      kv.encoded = std::move(encoded);
      return;
    }
  }
  kvs_.push_back({std::move(key), type, std::move(encoded)});
}

void GgufWriter::set_u8(std::string key, uint8_t v) {
  std::vector<uint8_t> e;
  append(e, v);
  put(std::move(key), ValueType::UINT8, std::move(e));
}
void GgufWriter::set_u32(std::string key, uint32_t v) {
  std::vector<uint8_t> e;
  append(e, v);
  put(std::move(key), ValueType::UINT32, std::move(e));
}
void GgufWriter::set_i32(std::string key, int32_t v) {
  std::vector<uint8_t> e;
  append(e, v);
  put(std::move(key), ValueType::INT32, std::move(e));
}
void GgufWriter::set_u64(std::string key, uint64_t v) {
  std::vector<uint8_t> e;
  append(e, v);
  put(std::move(key), ValueType::UINT64, std::move(e));
}
void GgufWriter::set_f32(std::string key, float v) {
  std::vector<uint8_t> e;
  append(e, v);
  put(std::move(key), ValueType::FLOAT32, std::move(e));
}
void GgufWriter::set_bool(std::string key, bool v) {
  put(std::move(key), ValueType::BOOL, {static_cast<uint8_t>(v ? 1 : 0)});
}
void GgufWriter::set_string(std::string key, std::string_view v) {
  std::vector<uint8_t> e;
  append_string(e, v);
  put(std::move(key), ValueType::STRING, std::move(e));
}
void GgufWriter::set_string_array(std::string key, const std::vector<std::string>& v) {
  std::vector<uint8_t> e;
  append<uint32_t>(e, static_cast<uint32_t>(ValueType::STRING));
  append<uint64_t>(e, v.size());
  for (const std::string& s : v) append_string(e, s);
  put(std::move(key), ValueType::ARRAY, std::move(e));
}
void GgufWriter::set_f32_array(std::string key, const std::vector<float>& v) {
  put(std::move(key), ValueType::ARRAY, encode_array(ValueType::FLOAT32, v));
}
void GgufWriter::set_i32_array(std::string key, const std::vector<int32_t>& v) {
  put(std::move(key), ValueType::ARRAY, encode_array(ValueType::INT32, v));
}
void GgufWriter::set_u32_array(std::string key, const std::vector<uint32_t>& v) {
  put(std::move(key), ValueType::ARRAY, encode_array(ValueType::UINT32, v));
}

void GgufWriter::copy_value(const Value& v) { copy_value(std::string(v.key()), v); }

void GgufWriter::copy_value(std::string key, const Value& v) {
  std::vector<uint8_t> e;
  if (v.type() == ValueType::ARRAY) {
    append<uint32_t>(e, static_cast<uint32_t>(v.array_type()));
    append<uint64_t>(e, v.array_size());
  } else if (v.type() == ValueType::STRING) {
    append<uint64_t>(e, v.size_);
  }
  e.insert(e.end(), v.data_, v.data_ + v.size_);
  put(std::move(key), v.type(), std::move(e));
}

void GgufWriter::set_raw(std::string key, ValueType type, std::vector<uint8_t> encoded_value) {
  put(std::move(key), type, std::move(encoded_value));
}

Status GgufWriter::add_tensor(std::string name, DType type, std::vector<int64_t> ne,
                              std::vector<uint8_t> bytes) {
  if (ne.empty() || ne.size() > 4) return invalid_argument("tensor " + name + ": 1 to 4 dimensions required");
  const DTypeInfo& info = dtype_info(type);
  if (ne[0] % info.block_size != 0) {
    return invalid_argument("tensor " + name + ": first dimension not a multiple of the block size");
  }
  size_t expect = row_bytes(type, ne[0]);
  for (size_t i = 1; i < ne.size(); ++i) expect *= static_cast<size_t>(ne[i]);
  if (bytes.size() != expect) {
    return invalid_argument("tensor " + name + ": " + std::to_string(bytes.size()) + " bytes given, " +
                            std::to_string(expect) + " expected");
  }
  for (const Tensor& t : tensors_) {
    if (t.name == name) return invalid_argument("duplicate tensor " + name);
  }
  tensors_.push_back({std::move(name), type, std::move(ne), std::move(bytes)});
  return Status::ok();
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out;
  append<uint32_t>(out, 0x46554747u);  // "GGUF" little-endian
  append<uint32_t>(out, 3);
  append<uint64_t>(out, tensors_.size());
  append<uint64_t>(out, kvs_.size());
  for (const Kv& kv : kvs_) {
    append_string(out, kv.key);
    append<uint32_t>(out, static_cast<uint32_t>(kv.type));
    out.insert(out.end(), kv.encoded.begin(), kv.encoded.end());
  }
  const auto pad = [&](uint64_t n) { return (alignment_ - n % alignment_) % alignment_; };
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    append_string(out, t.name);
    append<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) append<int64_t>(out, d);
    append<uint32_t>(out, static_cast<uint32_t>(t.type));
    append<uint64_t>(out, offset);
    offset += t.bytes.size() + pad(t.bytes.size());
  }
  if (tensors_.empty()) return out;
  out.resize(out.size() + pad(out.size()), 0);
  for (const Tensor& t : tensors_) {
    out.insert(out.end(), t.bytes.begin(), t.bytes.end());
    out.resize(out.size() + pad(t.bytes.size()), 0);
  }
  return out;
}

Status GgufWriter::write(const std::string& path) const {
  const std::vector<uint8_t> bytes = to_bytes();
  // Temp file + rename: a failed write (full disk) leaves no truncated model behind.
  return write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace vatp::gguf
