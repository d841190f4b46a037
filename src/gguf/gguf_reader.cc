#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>
#include <unordered_set>

#include "gguf/gguf.h"

namespace vatp::gguf {
namespace {

constexpr uint64_t kMaxStringBytes = 1ull << 30;  // ggml's cap
constexpr uint64_t kMaxArrayCount = 1ull << 30;
constexpr uint32_t kMaxNameBytes = 63;  // GGML_MAX_NAME - 1

size_t scalar_size(ValueType t) {
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

bool is_known_type(uint32_t t) { return t <= 12; }

bool is_integer(ValueType t) {
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
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Reads one integer element of type t at p as a signed 128-bit-safe pair.
struct IntVal {
  bool negative;
  uint64_t magnitude;
};

IntVal load_int(ValueType t, const uint8_t* p) {
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

// Bounds-checked cursor over the file bytes.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> b) : b_(b) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return b_.size() - pos_; }
  const uint8_t* here() const { return b_.data() + pos_; }

  Status need(uint64_t n, const char* what) const {
    if (n > remaining()) {
      std::ostringstream os;
      os << "truncated file: " << what << " needs " << n << " bytes at offset " << pos_ << " but only "
         << remaining() << " remain";
      return data_loss(os.str());
    }
    return Status::ok();
  }
  template <typename T>
  Result<T> read(const char* what) {
    VATP_RETURN_IF_ERROR(need(sizeof(T), what));
    T v = load<T>(here());
    pos_ += sizeof(T);
    return v;
  }
  Result<std::string_view> read_string(const char* what) {
    const size_t at = pos_;
    VATP_ASSIGN_OR_RETURN(uint64_t len, read<uint64_t>(what));
    if (len > kMaxStringBytes) {
      std::ostringstream os;
      os << what << " at offset " << at << " has absurd length " << len;
      return data_loss(os.str());
    }
    VATP_RETURN_IF_ERROR(need(len, what));
    std::string_view s(reinterpret_cast<const char*>(here()), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }
  Status skip(uint64_t n, const char* what) {
    VATP_RETURN_IF_ERROR(need(n, what));
    pos_ += static_cast<size_t>(n);
    return Status::ok();
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

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

Result<GgufFile> GgufFile::open(const std::string& path) {
  VATP_ASSIGN_OR_RETURN(MappedFile mf, MappedFile::open(path));
  GgufFile f;
  f.file_ = std::move(mf);
  f.bytes_ = f.file_.bytes();
  Status st = f.parse_all();
  if (!st.is_ok()) return st.with_context("reading GGUF '" + path + "'");
  return f;
}

Result<GgufFile> GgufFile::parse(std::span<const uint8_t> bytes) {
  GgufFile f;
  f.bytes_ = bytes;
  VATP_RETURN_IF_ERROR(f.parse_all());
  return f;
}

Status GgufFile::parse_all() {
  Cursor c(bytes_);
  if (bytes_.size() < 4 || std::memcmp(bytes_.data(), "GGUF", 4) != 0) {
    return data_loss("not a GGUF file (bad magic; expected 'GGUF' at offset 0)");
  }
  VATP_RETURN_IF_ERROR(c.skip(4, "magic"));
  VATP_ASSIGN_OR_RETURN(version_, c.read<uint32_t>("version"));
  if ((version_ & 0xFFFFu) == 0 && version_ != 0) {
    return data_loss("GGUF version " + std::to_string(version_) +
                     " looks byte-swapped: big-endian GGUF files are not supported");
  }
  if (version_ != 2 && version_ != 3) {
    return unimplemented("unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  }
  VATP_ASSIGN_OR_RETURN(uint64_t n_tensors, c.read<uint64_t>("tensor count"));
  VATP_ASSIGN_OR_RETURN(uint64_t n_kv, c.read<uint64_t>("metadata count"));
  // Every KV needs >= 12 bytes (key length + type), every tensor info >= 28 bytes.
  if (n_kv > c.remaining() / 12) {
    return data_loss("metadata count " + std::to_string(n_kv) + " is impossible for a file of " +
                     std::to_string(bytes_.size()) + " bytes");
  }
  if (n_tensors > c.remaining() / 28) {
    return data_loss("tensor count " + std::to_string(n_tensors) + " is impossible for a file of " +
                     std::to_string(bytes_.size()) + " bytes");
  }

  values_.clear();
  values_.reserve(static_cast<size_t>(n_kv));
  std::unordered_set<std::string_view> seen_keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const size_t at = c.pos();
    VATP_ASSIGN_OR_RETURN(std::string_view key, c.read_string("metadata key"));
    if (key.empty())
      return data_loss("metadata key #" + std::to_string(i) + " at offset " + std::to_string(at) +
                       " is empty");
    if (!seen_keys.insert(key).second) return data_loss("duplicate metadata key " + quoted(key));
    VATP_ASSIGN_OR_RETURN(uint32_t type, c.read<uint32_t>("metadata value type"));
    if (!is_known_type(type)) {
      return data_loss("metadata key " + quoted(key) + " has unknown value type " + std::to_string(type));
    }
    Value v;
    v.key_ = key;
    v.type_ = static_cast<ValueType>(type);
    if (v.type_ == ValueType::STRING) {
      VATP_ASSIGN_OR_RETURN(std::string_view s, c.read_string("metadata string value"));
      v.data_ = reinterpret_cast<const uint8_t*>(s.data());
      v.size_ = s.size();
    } else if (v.type_ == ValueType::ARRAY) {
      VATP_ASSIGN_OR_RETURN(uint32_t et, c.read<uint32_t>("array element type"));
      if (!is_known_type(et)) {
        return data_loss("array " + quoted(key) + " has unknown element type " + std::to_string(et));
      }
      if (static_cast<ValueType>(et) == ValueType::ARRAY) {
        return data_loss("array " + quoted(key) + " contains arrays (nested arrays are not supported)");
      }
      VATP_ASSIGN_OR_RETURN(uint64_t count, c.read<uint64_t>("array length"));
      if (count > kMaxArrayCount) {
        return data_loss("array " + quoted(key) + " has absurd length " + std::to_string(count));
      }
      v.array_type_ = static_cast<ValueType>(et);
      v.count_ = count;
      v.data_ = c.here();
      const size_t start = c.pos();
      if (v.array_type_ == ValueType::STRING) {
        for (uint64_t k = 0; k < count; ++k) {
          Result<std::string_view> s = c.read_string("array string element");
          if (!s.is_ok())
            return s.status().with_context("array " + quoted(key) + " element " + std::to_string(k));
        }
      } else {
        const uint64_t es = scalar_size(v.array_type_);
        if (count > c.remaining() / es) {
          return data_loss("truncated file: array " + quoted(key) + " of " + std::to_string(count) +
                           " elements runs past the end of the file");
        }
        VATP_RETURN_IF_ERROR(c.skip(count * es, "array data"));
      }
      v.size_ = c.pos() - start;
    } else {
      const size_t sz = scalar_size(v.type_);
      VATP_RETURN_IF_ERROR(c.need(sz, "metadata scalar value"));
      v.data_ = c.here();
      v.size_ = sz;
      VATP_RETURN_IF_ERROR(c.skip(sz, "metadata scalar value"));
    }
    values_.push_back(v);
  }

  alignment_ = 32;
  if (const Value* a = find("general.alignment")) {
    if (a->type() != ValueType::UINT32) {
      return data_loss(std::string("general.alignment has type ") + value_type_name(a->type()) +
                       ", expected u32");
    }
    const uint32_t al = load<uint32_t>(a->data_);
    if (al == 0 || (al & (al - 1)) != 0) {
      return data_loss("general.alignment " + std::to_string(al) + " is not a non-zero power of two");
    }
    alignment_ = al;
  }

  tensors_.clear();
  tensors_.reserve(static_cast<size_t>(n_tensors));
  std::unordered_set<std::string_view> seen_names;
  std::vector<std::string_view> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    VATP_ASSIGN_OR_RETURN(std::string_view name, c.read_string("tensor name"));
    if (name.size() > kMaxNameBytes) {
      return data_loss("tensor #" + std::to_string(i) + " name is " + std::to_string(name.size()) +
                       " bytes long (max " + std::to_string(kMaxNameBytes) + ")");
    }
    if (!seen_names.insert(name).second) return data_loss("duplicate tensor name " + quoted(name));
    TensorInfo t;
    t.name = std::string(name);
    VATP_ASSIGN_OR_RETURN(uint32_t n_dims, c.read<uint32_t>("tensor dimension count"));
    if (n_dims > 4) {
      return data_loss("tensor " + quoted(name) + " has " + std::to_string(n_dims) + " dimensions (max 4)");
    }
    t.n_dims = static_cast<int>(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      VATP_ASSIGN_OR_RETURN(int64_t ne, c.read<int64_t>("tensor dimension"));
      if (ne < 0)
        return data_loss("tensor " + quoted(name) + " has negative dimension " + std::to_string(ne));
      t.ne[d] = ne;
    }
    VATP_ASSIGN_OR_RETURN(uint32_t type_id, c.read<uint32_t>("tensor type"));
    const std::optional<DTypeInfo> ti = dtype_info(type_id);
    if (!ti) {
      return unimplemented("tensor " + quoted(name) + " has unsupported ggml type id " +
                           std::to_string(type_id));
    }
    t.type = ti->type;
    VATP_ASSIGN_OR_RETURN(t.offset, c.read<uint64_t>("tensor data offset"));
    if (t.ne[0] % ti->block_size != 0) {
      return data_loss("tensor " + quoted(name) + ": first dimension " + std::to_string(t.ne[0]) +
                       " is not a multiple of the " + ti->name + " block size " +
                       std::to_string(ti->block_size));
    }
    // Byte size without overflow: rows * row_bytes, each factor checked.
    const uint64_t limit = bytes_.size();
    const uint64_t blocks0 = static_cast<uint64_t>(t.ne[0] / ti->block_size);
    if (blocks0 > limit / ti->block_bytes) {
      return data_loss("tensor " + quoted(name) + " of shape " + t.shape_string() + " (" + ti->name +
                       ") is larger than the file");
    }
    uint64_t nbytes = blocks0 * ti->block_bytes;
    for (int d = 1; d < 4; ++d) {
      const uint64_t ne = static_cast<uint64_t>(t.ne[static_cast<size_t>(d)]);
      if (ne != 0 && nbytes > limit / ne) {
        return data_loss("tensor " + quoted(name) + " of shape " + t.shape_string() + " (" + ti->name +
                         ") is larger than the file");
      }
      nbytes *= ne;
    }
    if (nbytes > limit) {
      return data_loss("tensor " + quoted(name) + " of shape " + t.shape_string() +
                       " is larger than the file");
    }
    t.nbytes = static_cast<size_t>(nbytes);
    if (t.offset % alignment_ != 0) {
      return data_loss("tensor " + quoted(name) + " data offset " + std::to_string(t.offset) +
                       " is not a multiple of the alignment " + std::to_string(alignment_));
    }
    tensors_.push_back(std::move(t));
  }

  // The data blob starts at the next aligned offset; vocab-only files may end right here.
  const uint64_t pos = c.pos();
  const uint64_t data_start = pos + (alignment_ - pos % alignment_) % alignment_;
  if (tensors_.empty()) {
    data_offset_ = static_cast<size_t>(std::min<uint64_t>(data_start, bytes_.size()));
    return Status::ok();
  }
  if (data_start > bytes_.size()) return data_loss("truncated file: tensor data section is missing");
  data_offset_ = static_cast<size_t>(data_start);
  const uint64_t blob = bytes_.size() - data_start;
  std::vector<std::pair<uint64_t, size_t>> spans;  // (offset, index)
  for (size_t i = 0; i < tensors_.size(); ++i) {
    TensorInfo& t = tensors_[i];
    if (t.offset > blob || t.nbytes > blob - t.offset) {
      return data_loss("truncated file: tensor " + quoted(t.name) + " data [" + std::to_string(t.offset) +
                       ", +" + std::to_string(t.nbytes) +
                       ") runs past the end of the file (data section is " + std::to_string(blob) +
                       " bytes)");
    }
    t.data = bytes_.data() + data_start + t.offset;
    spans.emplace_back(t.offset, i);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t k = 1; k < spans.size(); ++k) {
    const TensorInfo& prev = tensors_[spans[k - 1].second];
    const TensorInfo& cur = tensors_[spans[k].second];
    if (prev.offset + prev.nbytes > cur.offset) {
      return data_loss("tensors " + quoted(prev.name) + " and " + quoted(cur.name) + " overlap");
    }
  }
  return Status::ok();
}

const Value* GgufFile::find(std::string_view key) const {
  for (const Value& v : values_) {
    if (v.key() == key) return &v;
  }
  return nullptr;
}

std::vector<std::string_view> GgufFile::keys() const {
  std::vector<std::string_view> k;
  for (const Value& v : values_) k.push_back(v.key());
  return k;
}

Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found("GGUF key " + quoted(key) + " is missing");
  return v->as_uint();
}

Result<float> GgufFile::get_f32(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found("GGUF key " + quoted(key) + " is missing");
  VATP_ASSIGN_OR_RETURN(double d, v->as_float());
  return static_cast<float>(d);
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found("GGUF key " + quoted(key) + " is missing");
  return v->as_bool();
}

Result<std::string> GgufFile::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found("GGUF key " + quoted(key) + " is missing");
  VATP_ASSIGN_OR_RETURN(std::string_view s, v->as_string());
  return std::string(s);
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const TensorInfo& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace vatp::gguf
