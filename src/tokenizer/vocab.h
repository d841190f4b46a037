// The vocabulary of a model, read from GGUF `tokenizer.*` keys with llama.cpp's load
// defaults (specs/gguf.md §4.1). Immutable once built.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"

namespace vatp::tokenizer {

enum class VocabType { Spm, Bpe };
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6
};

// Hash for string-keyed maps that can be searched with a string_view (no temporary
// std::string per lookup; the BPE merge loop does many lookups per word).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// Pre-tokenizer regex families (§4.4 table).
enum class PreType { Default, Gpt2, Llama3, Qwen2, StarCoder, Tekken };

struct Vocab {
  VocabType type = VocabType::Spm;
  std::string pre_name;  // tokenizer.ggml.pre as written
  PreType pre = PreType::Default;
  std::vector<std::string> tokens;  // id -> text
  std::vector<float> scores;        // id -> score (SPM merge priority)
  std::vector<TokenType> types;     // id -> type (turn-marker tokens forced to Control, §4.1)
  StringMap<int32_t> token_to_id;
  // BPE: "left right" (the merge string as stored, split at its first space at index >= 1)
  // -> rank (its index; the first occurrence wins). Byte-level symbols never contain a
  // raw space, so the joined key is unambiguous for lookups.
  StringMap<int32_t> merge_rank;

  int32_t bos = -1, eos = -1, unk = -1, pad = -1, eot = -1, eom = -1;
  // Fill-in-the-middle ids (from the file, else found by their text as llama.cpp does).
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  // id -> kLstrip | kRstrip: whitespace next to a matched special token is dropped
  // (llama.cpp sets these only for Phi-3, by general.name).
  static constexpr uint8_t kLstrip = 1, kRstrip = 2;
  std::vector<uint8_t> strip;
  bool add_bos = false, add_eos = false, add_space_prefix = false;
  bool clean_spaces = false, ignore_merges = false;
  std::vector<int32_t> eog;  // end-of-generation ids

  int32_t n_tokens() const { return static_cast<int32_t>(tokens.size()); }
  int32_t find(std::string_view text) const {
    auto it = token_to_id.find(text);
    return it == token_to_id.end() ? -1 : it->second;
  }
  bool is_eog(int32_t id) const;

  // Errors: unknown tokenizer model, unknown pre-tokenizer, missing merges for gpt2,
  // arrays of mismatched length.
  static Result<Vocab> from_gguf(const gguf::GgufFile& f);
};

}  // namespace vatp::tokenizer
