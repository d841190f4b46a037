#include "core/hash.h"

#include <xxhash.h>

#include "core/mmap_file.h"

namespace vatp {

uint64_t xxh64(std::span<const uint8_t> data, uint64_t seed) { return XXH64(data.data(), data.size(), seed); }

std::string hex64(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = kDigits[v & 15];
  return s;
}

Result<std::string> file_digest(const std::string& path) {
  VATP_ASSIGN_OR_RETURN(MappedFile f, MappedFile::open(path));
  return "xxh64 " + hex64(xxh64(f.bytes())) + ", " + std::to_string(f.size()) + " bytes";
}

}  // namespace vatp
