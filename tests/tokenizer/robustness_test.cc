// Tokenizer properties beyond the reference ids: round trips, streaming detokenization
// with byte-fallback tokens, special-token parsing, bad input, long input, threads.
// Uses the vocab-only GGUFs in ../shared/fixtures/tokenizer.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace vatp::tokenizer {
namespace {

std::unique_ptr<Tokenizer> load_fixture(const std::string& name) {
  const std::string path = std::string(VATP_SHARED_DIR) + "/fixtures/tokenizer/ggml-vocab-" + name + ".gguf";
  if (!std::filesystem::exists(path)) return nullptr;
  auto f = gguf::GgufFile::open(path);
  if (!f.is_ok()) return nullptr;
  auto t = Tokenizer::from_gguf(*f);
  if (!t.is_ok()) return nullptr;
  return std::make_unique<Tokenizer>(std::move(*t));
}

#define LOAD_OR_SKIP(var, name)                                                    \
  std::unique_ptr<Tokenizer> var = load_fixture(name);                             \
  if (!var) {                                                                      \
    GTEST_SKIP() << VATP_SHARED_DIR << "/fixtures/tokenizer/ggml-vocab-" << (name) \
                 << ".gguf not found or unreadable: these tests need ../shared";   \
  }

// True if s is well-formed UTF-8 (no partial or stray bytes).
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

const std::vector<std::string>& round_trip_texts() {
  static const std::vector<std::string> k = {
      "Hello world",
      "  two leading spaces, one trailing ",
      "tabs\tand\nnew\n\nlines\r\n",
      "Ünïcödé ßtrings and Äpfel",
      "日本語のテキストと中文",
      "emoji 😀 👋🏽 👨‍👩‍👧 🦙",
      "Кириллица и ελληνικά",
      "ខ្មែរ हिन्दी العربية עברית",
      "code: for (int i = 0; i < n; ++i) { x[i] = 1; }",
      "digits 3 33 333 3333 1234567890",
      "symbols €£¥©®™°±×÷∑∞≈≠←→",
      "\xE2\x96\x81 literal lower-one-eighth block",
      "",
      " ",
      "\n",
  };
  return k;
}

// decode(encode(text)) == text where the spec says it holds: SPM always (one leading
// space is added, then stripped); byte-level BPE when clean_spaces has nothing to clean.
TEST(TokenizerRoundTrip, SentencePieceVocabs) {
  for (const char* name : {"llama-spm", "phi-3"}) {
    LOAD_OR_SKIP(tok, name);
    for (const std::string& s : round_trip_texts()) {
      // A literal U+2581 is SentencePiece's space marker: it comes back as a space.
      if (s.find("\xE2\x96\x81") != std::string::npos) continue;
      const auto ids = tok->encode(s, /*add_special=*/false, /*parse_special=*/false);
      auto back = tok->decode(ids, false);
      ASSERT_TRUE(back.is_ok()) << back.status().to_string();
      EXPECT_EQ(*back, s) << name;
    }
  }
}

TEST(TokenizerRoundTrip, ByteLevelBpeVocabs) {
  for (const char* name : {"gpt-2", "mpt", "starcoder", "refact"}) {
    LOAD_OR_SKIP(tok, name);
    for (const std::string& s : round_trip_texts()) {
      const auto ids = tok->encode(s, false, false);
      auto back = tok->decode(ids, false);
      ASSERT_TRUE(back.is_ok()) << back.status().to_string();
      EXPECT_EQ(*back, s) << name;
    }
  }
}

TEST(TokenizerRoundTrip, CleanSpacesIsAppliedForGpt2) {
  LOAD_OR_SKIP(tok, "gpt-2");
  ASSERT_TRUE(tok->vocab().clean_spaces);
  auto back = tok->decode(tok->encode("Hi , you . Ok ? Yes ! it 's", false, false), false);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, "Hi, you. Ok? Yes! it's");
}

// Emoji and CJK that the Llama-2 vocabulary lacks are encoded as <0xXX> byte tokens: the
// streaming detokenizer must hold the lead bytes back until the character is complete.
TEST(StreamingDetokenizer, NeverEmitsPartialCharactersFromByteTokens) {
  LOAD_OR_SKIP(tok, "llama-spm");
  const std::string text = "a😀b🦙 c 𝄞 d";
  const auto ids = tok->encode(text, false, false);
  int byte_tokens = 0;
  for (int32_t id : ids) byte_tokens += tok->vocab().types[static_cast<size_t>(id)] == TokenType::Byte;
  ASSERT_GE(byte_tokens, 8) << "expected byte-fallback tokens for the emoji";
  StreamingDetokenizer st(*tok, /*special=*/false, /*strip_leading_space=*/true);
  std::string all;
  int held = 0;
  for (int32_t id : ids) {
    const std::string piece = st.push(id);
    EXPECT_TRUE(valid_utf8(piece)) << "partial UTF-8 emitted after id " << id;
    held += piece.empty();
    all += piece;
  }
  all += st.flush();
  EXPECT_GE(held, 6) << "lead bytes of 4-byte characters must be held back";
  auto whole = tok->decode(ids, false);
  ASSERT_TRUE(whole.is_ok());
  EXPECT_EQ(all, *whole);
  EXPECT_EQ(all, text);
}

TEST(StreamingDetokenizer, ContinuationKeepsTheLeadingSpace) {
  LOAD_OR_SKIP(tok, "llama-spm");
  // "▁Paris" generated after a prompt prints " Paris", as llama.cpp prints it.
  const auto ids = tok->encode("Paris", false, false);
  ASSERT_EQ(ids.size(), 1u);
  StreamingDetokenizer cont(*tok, false);
  EXPECT_EQ(cont.push(ids[0]) + cont.flush(), " Paris");
  StreamingDetokenizer from_start(*tok, false, /*strip_leading_space=*/true);
  EXPECT_EQ(from_start.push(ids[0]) + from_start.flush(), "Paris");
}

TEST(StreamingDetokenizer, FlushReturnsAnUnfinishedCharacter) {
  LOAD_OR_SKIP(tok, "llama-spm");
  const int32_t f0 = tok->vocab().find("<0xF0>");
  const int32_t x9f = tok->vocab().find("<0x9F>");
  ASSERT_GE(f0, 0);
  ASSERT_GE(x9f, 0);
  StreamingDetokenizer st(*tok, false);
  EXPECT_EQ(st.push(f0), "");
  EXPECT_EQ(st.push(x9f), "");
  EXPECT_EQ(st.flush(), "\xF0\x9F");
}

TEST(SpecialTokens, ControlTokensParsedOnlyWhenAsked) {
  LOAD_OR_SKIP(tok, "starcoder");
  const int32_t fim = tok->vocab().find("<fim_prefix>");
  ASSERT_GE(fim, 0);
  const std::string text = "x<fim_prefix>y";
  const auto parsed = tok->encode(text, false, /*parse_special=*/true);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[1], fim);
  const auto plain = tok->encode(text, false, /*parse_special=*/false);
  EXPECT_GT(plain.size(), 3u);
  for (int32_t id : plain) EXPECT_NE(id, fim);
  auto back = tok->decode(plain, false);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, text);
  // Control tokens render only with special = true.
  EXPECT_EQ(tok->token_to_piece(fim, false), "");
  EXPECT_EQ(tok->token_to_piece(fim, true), "<fim_prefix>");
}

TEST(SpecialTokens, UserDefinedTokensAlwaysSplit) {
  LOAD_OR_SKIP(tok, "mpt");
  // MPT's vocabulary has USER_DEFINED tokens for runs of 2..24 spaces.
  const int32_t two = tok->vocab().find("  ");
  ASSERT_GE(two, 0);
  ASSERT_EQ(tok->vocab().types[static_cast<size_t>(two)], TokenType::UserDefined);
  for (bool parse_special : {false, true}) {
    const auto ids = tok->encode("a  b", false, parse_special);
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[1], two);
  }
  EXPECT_EQ(tok->token_to_piece(two, false), "  ");
}

TEST(BadInput, InvalidUtf8NeverCrashes) {
  const std::vector<std::string> bad = {"\xFF",
                                        "\xC3",
                                        "a\x80"
                                        "b",
                                        "\xE2\x82",
                                        "\xF0\x9F\x98",
                                        "\xED\xA0\x80",
                                        "\xF4\x90\x80\x80",
                                        "\xC0\x80",
                                        "x \xFE y",
                                        std::string("nul\0byte", 8)};
  for (const char* name : {"llama-spm", "phi-3", "gpt-2", "mpt", "starcoder", "refact"}) {
    LOAD_OR_SKIP(tok, name);
    for (const std::string& s : bad) {
      for (bool ps : {false, true}) {
        const auto ids = tok->encode(s, true, ps);
        for (int32_t id : ids) {
          EXPECT_GE(id, 0);
          EXPECT_LT(id, tok->n_vocab());
        }
        EXPECT_TRUE(tok->decode(ids, true).is_ok());
      }
    }
  }
}

TEST(BadInput, ByteLevelBpeReadsInvalidBytesAsReplacementCharacter) {
  LOAD_OR_SKIP(tok, "gpt-2");
  // llama.cpp decodes an invalid byte to U+FFFD before pre-tokenizing.
  EXPECT_EQ(tok->encode("\xFF", false, false), tok->encode("\xEF\xBF\xBD", false, false));
  // ...but keeps a surrogate code point (CESU-8 bytes ED A0 80) and byte-encodes it as is.
  EXPECT_EQ(tok->encode("\xED\xA0\x80", false, false), (std::vector<int32_t>{169, 254, 222}));
  EXPECT_EQ(tok->encode("a\x80"
                        "b",
                        false, false),
            tok->encode("a\xEF\xBF\xBD"
                        "b",
                        false, false));
}

TEST(BadInput, OutOfRangeIdsAreAnError) {
  LOAD_OR_SKIP(tok, "gpt-2");
  EXPECT_FALSE(tok->decode({1, -1}, false).is_ok());
  EXPECT_FALSE(tok->decode({tok->n_vocab()}, false).is_ok());
  EXPECT_TRUE(tok->decode({tok->n_vocab() - 1}, true).is_ok());
  EXPECT_EQ(tok->token_to_piece(-5, true), "");
}

// One long "word" (a base64-like blob) is one pre-token: the merge loop must not be
// quadratic in its length.
TEST(LongInput, LongWordTokenizesQuickly) {
  LOAD_OR_SKIP(tok, "starcoder");
  std::mt19937 rng(7);
  std::string s;
  for (int i = 0; i < 50000; ++i) s += static_cast<char>('a' + rng() % 26);
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok->encode(s, false, false);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 5.0) << "50k-letter word took " << secs << " s";
  auto back = tok->decode(ids, false);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, s);
}

TEST(Threads, ConcurrentEncodeMatchesSerial) {
  LOAD_OR_SKIP(tok, "starcoder");
  const auto& texts = round_trip_texts();
  std::vector<std::vector<int32_t>> want;
  for (const std::string& s : texts) want.push_back(tok->encode(s, true, true));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> th;
  for (int t = 0; t < 4; ++t) {
    th.emplace_back([&, t] {
      for (int rep = 0; rep < 50; ++rep) {
        for (size_t i = 0; i < texts.size(); ++i)
          mismatches[static_cast<size_t>(t)] += tok->encode(texts[i], true, true) != want[i];
      }
    });
  }
  for (auto& x : th) x.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

// llama_detokenize's remove_special (values from llama.cpp 0.3.36): a removed BOS keeps the
// next token's space; EOS is removed only where the vocabulary adds EOS (Llama 2 does not).
TEST(Detokenize, RemoveSpecialAsLlamaCpp) {
  LOAD_OR_SKIP(tok, "llama-spm");
  const std::vector<int32_t> ids = {1, 15043, 2};  // <s> ▁Hello </s>
  EXPECT_EQ(*tok->detokenize(ids, /*remove_special=*/true, /*unparse_special=*/false), " Hello");
  EXPECT_EQ(*tok->detokenize(ids, true, true), " Hello</s>");
  EXPECT_EQ(*tok->detokenize(ids, false, true), "<s> Hello</s>");
  EXPECT_EQ(*tok->detokenize({15043, 2}, true, false), "Hello");
  EXPECT_FALSE(tok->detokenize({1, 32000}, true, false).is_ok());
}

// llama.cpp's built-in templates (llama_chat_apply_template, 0.3.36) for a conversation
// with a system prompt, history and padded content: ChatML, Llama 3 (content trimmed) and
// Vicuna agree exactly.
TEST(ChatTemplates, MatchLlamaCppBuiltins) {
  const std::vector<ChatMessage> conv = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", " How are you? "}};
  EXPECT_EQ(apply_chat_template({ChatTemplate::ChatML, ""}, conv, true),
            "<|im_start|>system\nBe "
            "brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|"
            "im_end|>\n<|im_start|>user\n How are you? <|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(apply_chat_template({ChatTemplate::Llama3, ""}, conv, true),
            "<|start_header_id|>system<|end_header_id|>\n\nBe "
            "brief.<|eot_id|><|start_header_id|>user<|end_header_id|>"
            "\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_"
            "id|>user<|"
            "end_header_id|>\n\nHow are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(apply_chat_template({ChatTemplate::Vicuna, ""}, conv, true),
            "Be brief.\n\nUSER: Hi\nASSISTANT: Hello!</s>\nUSER:  How are you? \nASSISTANT:");
}

}  // namespace
}  // namespace vatp::tokenizer
