// Text <-> token ids with llama.cpp's semantics (specs/gguf.md §4): special-token
// partition, SentencePiece bigram merging with byte fallback, byte-level BPE with the
// model's pre-tokenizer, and detokenization. Immutable and thread-safe after create().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

namespace vatp::tokenizer {

class Tokenizer {
 public:
  static Result<Tokenizer> create(Vocab vocab);
  static Result<Tokenizer> from_gguf(const gguf::GgufFile& f);

  // add_special: BOS (and EOS) as the vocabulary asks. parse_special: control tokens
  // written in the text become their ids (user-defined tokens always do).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // The bytes a token stands for. Control/unknown tokens give "" unless special.
  std::string token_to_piece(int32_t id, bool special) const;
  // Whole-sequence decoding with the leading-space and clean-up rules (§4.5).
  // invalid_argument for ids outside the vocabulary.
  Result<std::string> decode(const std::vector<int32_t>& ids, bool special) const {
    return detokenize(ids, /*remove_special=*/false, /*unparse_special=*/special);
  }
  // llama_detokenize: with remove_special, a leading BOS (when the vocabulary adds BOS) and
  // a trailing EOS (when it adds EOS) are dropped; a dropped BOS also keeps the next
  // token's leading space. unparse_special renders control tokens as their text.
  Result<std::string> detokenize(const std::vector<int32_t>& ids, bool remove_special,
                                 bool unparse_special) const;

  const Vocab& vocab() const { return vocab_; }
  int32_t n_vocab() const { return vocab_.n_tokens(); }
  int32_t bos() const { return vocab_.bos; }  // -1 when the vocabulary has none
  int32_t eos() const { return vocab_.eos; }
  bool is_eog(int32_t id) const { return vocab_.is_eog(id); }

 private:
  Tokenizer() = default;
  void encode_spm(std::string_view text, std::vector<int32_t>& out) const;
  void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
  void bpe_piece(const std::string& encoded, std::vector<int32_t>& out) const;
  Status check_byte_tokens() const;  // BPE: the printable ASCII byte tokens present

  Vocab vocab_;
  std::unique_ptr<PreTokenizer> pre_;
  std::vector<int32_t> specials_;  // special-token ids, longest text first
  std::string byte_to_cp_[256];    // GPT-2 byte -> UTF-8 of its code point
  std::unordered_map<uint32_t, uint8_t> cp_to_byte_;
};

// Feeds ids one at a time and returns only complete UTF-8: a character split across
// byte tokens is held back until its last byte arrives. flush() returns the rest.
// By default the pieces are a continuation (generated text after a prompt): nothing is
// stripped, as llama.cpp prints tokens while it generates. With strip_leading_space the
// first token is treated like decode() treats it (one leading space removed when the
// vocabulary adds a space prefix), so the concatenated output equals decode(ids) except
// for clean_spaces, which needs the whole text.
class StreamingDetokenizer {
 public:
  StreamingDetokenizer(const Tokenizer& tok, bool special, bool strip_leading_space = false)
      : tok_(tok), special_(special), first_(strip_leading_space) {}
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool special_;
  bool first_;  // the next token is the first one and its leading space is stripped
  std::string pending_;
};

}  // namespace vatp::tokenizer
