// Issue 11, class 6: tokenizer sections that would make the runtime use another token
// than the file names, or drop text, are refused at load with a message naming the key.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace vatp::tokenizer {
namespace {

std::string load_error(gguf::GgufWriter& w) {
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto f = gguf::GgufFile::parse(bytes);
  if (!f.is_ok()) return "parse: " + f.status().to_string();
  auto t = Tokenizer::from_gguf(*f);
  return t.is_ok() ? "" : t.status().to_string();
}

gguf::GgufWriter spm_vocab() {
  gguf::GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b"});
  return w;
}

TEST(VocabErrors, SpecialIdsOutsideTheVocabulary) {
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"}) {
    gguf::GgufWriter w = spm_vocab();
    EXPECT_EQ(load_error(w), "");
    w.set_u32(key, 4294967295u);
    EXPECT_EQ(load_error(w), std::string("invalid argument: GGUF key '") + key +
                                 "' = 4294967295 is outside the vocabulary of 5 tokens");
  }
}

TEST(VocabErrors, BpeWithoutByteTokens) {
  gguf::GgufWriter w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string_array("tokenizer.ggml.tokens", {"hello", "world"});
  w.set_string_array("tokenizer.ggml.merges", {});
  EXPECT_EQ(
      load_error(w),
      "invalid argument: the BPE vocabulary lacks 95 of the 95 printable ASCII byte tokens (first: byte "
      "0x20, token '\xC4\xA0'), so text with those bytes could not be tokenized");
}

// Found by vocab_fuzz: a BYTE-typed SPM token whose text is not <0xHH> made std::stoi
// throw inside token_to_piece, terminating the process. It renders as its text now.
TEST(VocabErrors, MalformedByteTokenDoesNotThrow) {
  gguf::GgufWriter w = spm_vocab();
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<0xZZ>", "<0x41>"});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 6, 6});
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto f = gguf::GgufFile::parse(bytes);
  ASSERT_TRUE(f.is_ok());
  auto t = Tokenizer::from_gguf(*f);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(t->token_to_piece(3, false), "<0xZZ>");
  EXPECT_EQ(t->token_to_piece(4, false), "A");
}

}  // namespace
}  // namespace vatp::tokenizer
