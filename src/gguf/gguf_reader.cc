// GgufFile: the bounds-checked parser (layout and rules in gguf.h, specs/gguf.md §1).
#include <algorithm>
#include <cstring>
#include <sstream>
#include <unordered_set>
#include <utility>

#include "gguf/gguf.h"
#include "gguf/gguf_internal.h"

namespace vatp::gguf {
namespace {

using detail::is_known_type;
using detail::load;
using detail::scalar_size;

constexpr uint64_t kMaxStringBytes = 1ull << 30;  // ggml's cap
constexpr uint64_t kMaxArrayCount = 1ull << 30;
constexpr uint32_t kMaxNameBytes = 63;  // GGML_MAX_NAME - 1

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

// Names of ggml type ids vatp does not implement (specs/gguf.md §1.3), for errors.
std::string ggml_type_label(uint32_t id) {
  static constexpr std::pair<uint32_t, const char*> kNames[] = {
      {16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"}, {19, "IQ1_S"}, {20, "IQ4_NL"},
      {21, "IQ3_S"},   {22, "IQ2_S"},  {23, "IQ4_XS"},  {29, "IQ1_M"}, {34, "TQ1_0"},
      {35, "TQ2_0"},   {39, "MXFP4"},  {40, "NVFP4"},   {41, "Q1_0"},  {42, "Q2_0"},
  };
  for (const auto& [k, name] : kNames) {
    if (k == id) return std::string(name) + ", a type vatp does not support";
  }
  if (id == 4 || id == 5 || (id >= 31 && id <= 33) || (id >= 36 && id <= 38)) return "removed from ggml";
  return "unknown to ggml";
}

// Appends where a failing metadata entry / tensor info starts, keeping the code.
Status at_entry(const Status& st, const char* what, uint64_t i, size_t offset) {
  return Status(st.code(), st.message() + " (" + what + " #" + std::to_string(i) + " at offset " +
                               std::to_string(offset) + ")");
}

}  // namespace

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
    const Status st = [&]() -> Status {
      VATP_ASSIGN_OR_RETURN(std::string_view key, c.read_string("metadata key"));
      if (key.empty()) return data_loss("metadata key is empty");
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
      return Status::ok();
    }();
    if (!st.is_ok()) return at_entry(st, "metadata entry", i, at);
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
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const size_t at = c.pos();
    // The lambda lets every check return early; the caller adds where it happened.
    const Status st = [&]() -> Status {
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
                             std::to_string(type_id) + " (" + ggml_type_label(type_id) + ")");
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
      return Status::ok();
    }();
    if (!st.is_ok()) return at_entry(st, "tensor info", i, at);
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
