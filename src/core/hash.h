// XXH64, the 64-bit xxHash (libxxhash, Debian libxxhash-dev): a fast non-cryptographic
// content hash. vatp uses it to fingerprint the files a result depends on (eval/fingerprint.h),
// where it must be fast enough to hash a multi-GB model on every sweep; it is no defence
// against a deliberately forged file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vatp {

uint64_t xxh64(std::span<const uint8_t> data, uint64_t seed = 0);
inline uint64_t xxh64(std::string_view s, uint64_t seed = 0) {
  return xxh64(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()), seed);
}

// "xxh64 0123456789abcdef, 1234 bytes" for a whole file's content (memory-mapped), or
// the error of opening it (naming the path).
Result<std::string> file_digest(const std::string& path);

// 16 lower-case hex digits.
std::string hex64(uint64_t v);

}  // namespace vatp
