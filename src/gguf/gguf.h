// GGUF reader and writer (specs/gguf.md §1).
//
// File layout (all little-endian, no implicit alignment between fields):
//   char[4] magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
//   KV[n_kv]:        string key | u32 value_type | value
//   TensorInfo[n_tensors]: string name | u32 n_dims (<= 4) | i64 ne[n_dims] | u32 ggml_type | u64 offset
//   zero padding to `general.alignment` (default 32), then the tensor data blob.
// A string is u64 length + bytes (no NUL). An ARRAY value is u32 elem_type + u64 count +
// elements; arrays of arrays are rejected (as ggml does). A tensor's bytes live at
// data_start + offset; offsets must be aligned, in bounds, and tensors must not overlap.
//
// The reader checks every length, count and offset against the buffer before use;
// malformed input gives a Status naming what was expected, what was found and where.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/mmap_file.h"
#include "core/status.h"

namespace vatp::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

const char* value_type_name(ValueType t);

// One metadata value: a view into the file bytes (valid while the GgufFile lives).
class Value {
 public:
  ValueType type() const { return type_; }
  ValueType array_type() const { return array_type_; }  // only for ARRAY
  uint64_t array_size() const { return count_; }        // only for ARRAY
  std::string_view key() const { return key_; }

  Result<uint64_t> as_uint() const;  // any integer type, value must be >= 0
  Result<int64_t> as_int() const;    // any integer type, value must fit
  Result<double> as_float() const;   // FLOAT32 or FLOAT64
  Result<bool> as_bool() const;
  Result<std::string_view> as_string() const;
  Result<std::vector<std::string_view>> as_string_array() const;
  Result<std::vector<float>> as_f32_array() const;
  Result<std::vector<int32_t>> as_i32_array() const;    // INT32 or UINT32 elements (must fit)
  Result<std::vector<uint64_t>> as_uint_array() const;  // any integer elements, >= 0
  // Short human-readable rendering (arrays abbreviated), for `vatp info`.
  std::string to_display_string(size_t max_items = 8) const;

 private:
  friend class GgufFile;
  friend class GgufWriter;
  Status type_error(const char* wanted) const;
  std::string_view key_;
  ValueType type_ = ValueType::UINT8;
  ValueType array_type_ = ValueType::UINT8;
  uint64_t count_ = 0;
  const uint8_t* data_ = nullptr;  // scalar bytes, string bytes, or first array element
  uint64_t size_ = 0;              // bytes at data_ (string length for STRING)
};

struct TensorInfo {
  std::string name;
  DType type = DType::F32;
  int n_dims = 0;
  std::array<int64_t, 4> ne = {1, 1, 1, 1};  // ne[0] is the fastest-varying dimension
  uint64_t offset = 0;                       // relative to the data blob
  size_t nbytes = 0;
  const uint8_t* data = nullptr;
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;  // "{576, 49152}"
};

class GgufFile {
 public:
  // Maps the file and parses it; the mapping lives as long as the GgufFile.
  static Result<GgufFile> open(const std::string& path);
  // Parses bytes the caller keeps alive.
  static Result<GgufFile> parse(std::span<const uint8_t> bytes);

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  size_t file_size() const { return bytes_.size(); }
  const std::string& path() const { return file_.path(); }
  // Releases the pages of a range of the mapping (see MappedFile::drop_pages).
  void drop_pages(const void* p, size_t n) const { file_.drop_pages(p, n); }

  const Value* find(std::string_view key) const;  // nullptr if absent
  // Typed getters; errors name the key and what was expected vs found.
  Result<uint64_t> get_uint(std::string_view key) const;
  Result<float> get_f32(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string> get_string(std::string_view key) const;
  const std::vector<Value>& values() const { return values_; }  // file order
  std::vector<std::string_view> keys() const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  Status parse_all();

  MappedFile file_;  // empty when parsed from caller-owned bytes
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<Value> values_;
  std::vector<TensorInfo> tensors_;
};

// Builds GGUF v3 files exactly as ggml writes them (keys in insertion order, tensor
// data aligned to `general.alignment` (32 unless set), zero padding after each tensor).
class GgufWriter {
 public:
  void set_u8(std::string key, uint8_t v);
  void set_u32(std::string key, uint32_t v);
  void set_i32(std::string key, int32_t v);
  void set_u64(std::string key, uint64_t v);
  void set_f32(std::string key, float v);
  void set_bool(std::string key, bool v);
  void set_string(std::string key, std::string_view v);
  void set_string_array(std::string key, const std::vector<std::string>& v);
  void set_f32_array(std::string key, const std::vector<float>& v);
  void set_i32_array(std::string key, const std::vector<int32_t>& v);
  void set_u32_array(std::string key, const std::vector<uint32_t>& v);
  // Copies a key (any type) from another file, e.g. the tokenizer of a real model.
  void copy_value(const Value& v);
  // Same, stored under another key (e.g. renaming an architecture prefix).
  void copy_value(std::string key, const Value& v);
  // Raw access for tests that need malformed values: appends the encoded value bytes.
  void set_raw(std::string key, ValueType type, std::vector<uint8_t> encoded_value);

  // ne[0] is the fastest dimension; bytes.size() must equal the type's byte size.
  Status add_tensor(std::string name, DType type, std::vector<int64_t> ne, std::vector<uint8_t> bytes);

  std::vector<uint8_t> to_bytes() const;
  Status write(const std::string& path) const;

 private:
  struct Kv {
    std::string key;
    ValueType type;
    std::vector<uint8_t> encoded;  // the value bytes after the type field
  };
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> bytes;
  };
  void put(std::string key, ValueType type, std::vector<uint8_t> encoded);
  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace vatp::gguf
