// Byte-level BPE pre-tokenization: the regex lists of specs/gguf.md §4.4, run with
// PCRE2 (UTF + Unicode properties). Regexes apply in sequence; each one re-splits
// every current piece into [gap][match][gap]..., keeping the gaps as pieces.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/vocab.h"

namespace vatp::tokenizer {

class PreTokenizer {
 public:
  static Result<PreTokenizer> create(PreType type);
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // text must be valid UTF-8 (see utf8_sanitize). Pieces are byte ranges of text.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  PreTokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vatp::tokenizer
