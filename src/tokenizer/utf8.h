// Minimal UTF-8 helpers with llama.cpp's decoding rules: an invalid byte decodes to
// U+FFFD and consumes one byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vatp::tokenizer {

// Length of the UTF-8 sequence that starts with byte b (1 for invalid lead bytes).
inline size_t utf8_len(uint8_t b) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[b >> 4];
}

// Decodes the code point at s[i], advancing i. Invalid sequences give 0xFFFD.
uint32_t utf8_decode(std::string_view s, size_t& i);
void utf8_append(std::string& out, uint32_t cp);
// Re-encodes s canonically, replacing invalid sequences and surrogates by U+FFFD, so
// that PCRE2's UTF check always passes.
std::string utf8_sanitize(std::string_view s);
// llama.cpp's byte-level BPE input: invalid sequences become U+FFFD, but surrogate code
// points (ED A0..BF xx) are kept and re-encoded as they were. PCRE2 rejects those, so
// `match` gets a stand-in of the same length and regex class (U+E000, private use: not a
// letter, digit or space) and pieces cut from `match` map byte-for-byte onto `real`.
void utf8_sanitize_for_bpe(std::string_view s, std::string& real, std::string& match);

}  // namespace vatp::tokenizer
