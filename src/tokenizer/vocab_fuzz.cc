// libFuzzer target for the tokenizer's vocabulary loading: the input describes a GGUF
// tokenizer section (model, pre-tokenizer, tokens, merges, token types, special ids),
// which is written with GgufWriter, parsed and loaded like a model file's; a vocabulary
// that loads must then tokenize and detokenize any text without crashing, and every id
// it produces must lie in the vocabulary.
//
// Input layout: byte 0 = flags, byte 1 = pre-tokenizer index, then sections separated by
// '\0': tokens ('\n'-separated), merges ('\n'-separated), texts to tokenize
// ('\n'-separated), token types (one byte per token), special ids (2 bytes each).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= s.size()) {
    const size_t end = s.find(sep, begin);
    out.emplace_back(s.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) break;
    begin = end + 1;
  }
  return out;
}

// GPT-2's bytes_to_unicode, so that a BPE vocabulary can carry its 256 byte tokens.
std::string gpt2_byte_token(int b) {
  static uint32_t map[256];
  static bool init = false;
  if (!init) {
    uint32_t extra = 256;
    for (int i = 0; i < 256; ++i) {
      const bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255);
      map[i] = printable ? static_cast<uint32_t>(i) : extra++;
    }
    init = true;
  }
  const uint32_t cp = map[b];
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

std::vector<uint8_t> build_gguf(const uint8_t* data, size_t size, std::vector<std::string>& texts) {
  const uint8_t flags = size > 0 ? data[0] : 0;
  const uint8_t pre = size > 1 ? data[1] : 0;
  const std::string_view rest =
      size > 2 ? std::string_view(reinterpret_cast<const char*>(data) + 2, size - 2) : std::string_view();
  std::vector<std::string> sec = split(rest, '\0');
  sec.resize(std::max<size_t>(sec.size(), 5));
  const bool bpe = flags & 1;
  std::vector<std::string> tokens = split(sec[0], '\n');
  if (flags & 2) {  // the byte tokens a real vocabulary has
    for (int b = 0; b < 256; ++b) {
      if (bpe) {
        tokens.push_back(gpt2_byte_token(b));
      } else {
        char hex[8];
        std::snprintf(hex, sizeof hex, "<0x%02X>", b);
        tokens.push_back(hex);
      }
    }
  }
  texts = split(sec[2], '\n');
  vatp::gguf::GgufWriter w;
  w.set_string("tokenizer.ggml.model", bpe ? "gpt2" : "llama");
  static const char* kPre[] = {"default", "gpt-2", "llama-bpe", "qwen2", "smollm",
                               "tekken",  "mpt",   "refact",    "bogus"};
  if (bpe) w.set_string("tokenizer.ggml.pre", kPre[pre % (sizeof kPre / sizeof kPre[0])]);
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  if (bpe || (flags & 32)) w.set_string_array("tokenizer.ggml.merges", split(sec[1], '\n'));
  if (flags & 4) w.set_bool("tokenizer.ggml.add_bos_token", (flags & 64) != 0);
  if (flags & 8) w.set_bool("tokenizer.ggml.add_space_prefix", (flags & 64) == 0);
  if (flags & 16) {
    std::vector<int32_t> types(tokens.size(), 1);
    for (size_t i = 0; i < types.size() && i < sec[3].size(); ++i)
      types[i] = static_cast<int8_t>(sec[3][i]) % 8;
    if (flags & 2) {
      for (size_t i = tokens.size() - 256; i < tokens.size(); ++i) types[i] = bpe ? 1 : 6;  // BYTE for SPM
    }
    w.set_i32_array("tokenizer.ggml.token_type", types);
    std::vector<float> scores(tokens.size());
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i % 97);
    w.set_f32_array("tokenizer.ggml.scores", scores);
  }
  static const char* kIds[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                               "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
                               "tokenizer.ggml.eot_token_id"};
  for (size_t i = 0; i < 5 && 2 * i + 1 < sec[4].size(); ++i) {
    const auto id = static_cast<uint32_t>(static_cast<uint8_t>(sec[4][2 * i]) |
                                          (static_cast<uint8_t>(sec[4][2 * i + 1]) << 8));
    w.set_u32(kIds[i], id);
  }
  return w.to_bytes();
}

void check_ids(const vatp::tokenizer::Tokenizer& tok, const std::vector<int32_t>& ids) {
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.n_vocab()) std::abort();  // a finding: encode produced a foreign id
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> texts;
  const std::vector<uint8_t> bytes = build_gguf(data, size, texts);
  auto f = vatp::gguf::GgufFile::parse(std::span<const uint8_t>(bytes.data(), bytes.size()));
  if (!f.is_ok()) return 0;
  auto tok = vatp::tokenizer::Tokenizer::from_gguf(*f);
  if (!tok.is_ok()) return 0;
  texts.push_back("Hello world! 123 \xC3\xA9\xE2\x82\xAC  \n\t<s></s><|im_start|>");
  for (const std::string& text : texts) {
    for (int mode = 0; mode < 4; ++mode) {
      const std::vector<int32_t> ids = tok->encode(text, mode & 1, mode & 2);
      check_ids(*tok, ids);
      (void)tok->decode(ids, mode & 1);
      (void)tok->detokenize(ids, /*remove_special=*/true, mode & 2);
      vatp::tokenizer::StreamingDetokenizer sd(*tok, mode & 1, mode & 2);
      size_t n = 0;
      for (int32_t id : ids) n += sd.push(id).size() + tok->token_to_piece(id, mode & 1).size();
      n += sd.flush().size();
      if (n == SIZE_MAX) std::abort();  // keeps the work observable
    }
  }
  return 0;
}
