// libFuzzer target for the GGUF reader: any byte string must parse or fail cleanly.
#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = vatp::gguf::GgufFile::parse(std::span<const uint8_t>(data, size));
  if (!f.is_ok()) return 0;
  // Touch every value and tensor the way consumers do.
  size_t sink = 0;
  for (const vatp::gguf::Value& v : f->values()) {
    sink += v.to_display_string(4).size();
    if (auto s = v.as_string_array(); s.is_ok()) sink += s->size();
    if (auto a = v.as_f32_array(); a.is_ok()) sink += a->size();
    if (auto a = v.as_i32_array(); a.is_ok()) sink += a->size();
    if (auto a = v.as_uint_array(); a.is_ok()) sink += a->size();
    if (auto u = v.as_uint(); u.is_ok()) sink += *u;
  }
  for (const vatp::gguf::TensorInfo& t : f->tensors()) {
    if (t.nbytes > 0) sink += t.data[0] + t.data[t.nbytes - 1];
  }
  return sink == 42 ? 0 : 0;
}
