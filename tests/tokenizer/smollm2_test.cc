// The SmolLM2 vocabulary: tokenization against llama.cpp's golden file (when present),
// round trips, special tokens, streaming detokenization and the chat template.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/model_path.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace vatp::tokenizer {
namespace {

std::string model_path() { return testing_util::default_model_path(); }

class SmolLM2Vocab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(model_path())) GTEST_SKIP() << "model not found at " << model_path();
    auto f = gguf::GgufFile::open(model_path());
    ASSERT_TRUE(f.is_ok()) << f.status().to_string();
    auto t = Tokenizer::from_gguf(*f);
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    tok_ = std::make_unique<Tokenizer>(std::move(*t));
    auto ct = f->get_string("tokenizer.chat_template");
    ASSERT_TRUE(ct.is_ok());
    jinja_ = *ct;
  }
  std::unique_ptr<Tokenizer> tok_;
  std::string jinja_;
};

TEST_F(SmolLM2Vocab, GoldenFileFromLlamaCpp) {
  const std::string path = std::string(VATP_SOURCE_DIR) + "/tests/data/smollm2_tokenize.jsonl";
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << path << " not found (made by scripts/ref/gen_tokenizer_golden.py)";
  std::ifstream in(path);
  std::string line;
  int n = 0, ok = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    const std::string text = j.at("text");
    const std::vector<int32_t> want = j.at("ids");
    const auto got = tok_->encode(text, j.at("add_special").get<bool>(), j.at("parse_special").get<bool>());
    EXPECT_EQ(got, want) << "text: '" << text << "'";
    ++n;
    ok += got == want;
  }
  std::printf("[ SmolLM2 golden: %d/%d strings match llama.cpp ]\n", ok, n);
  EXPECT_GE(n, 200);
}

TEST_F(SmolLM2Vocab, VocabularyFacts) {
  const Vocab& v = tok_->vocab();
  EXPECT_EQ(v.type, VocabType::Bpe);
  EXPECT_EQ(v.pre_name, "smollm");
  EXPECT_FALSE(v.add_bos);
  EXPECT_FALSE(v.clean_spaces);
  EXPECT_TRUE(tok_->is_eog(v.find("<|im_end|>")));
  EXPECT_TRUE(tok_->is_eog(v.eos));
  // Digits are isolated by the smollm pre-tokenizer.
  const auto ids = tok_->encode(" 123abc", false, false);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(tok_->token_to_piece(ids[1], false), "1");
}

TEST_F(SmolLM2Vocab, RoundTrips) {
  for (const char* s : {"Hello world", "  leading and trailing  ", "tabs\tand\nnewlines\n\n",
                        "Ünïcödé ßtrings", "日本語のテキスト", "emoji 👋🏽 and 👨‍👩‍👧",
                        "code: for (int i = 0; i < n; ++i) { x[i] = 1; }", "numbers 3.14159 and 1,000,000",
                        "it's, they're, we've, I'm"}) {
    const auto ids = tok_->encode(s, false, false);
    auto back = tok_->decode(ids, false);
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(*back, s);
  }
}

TEST_F(SmolLM2Vocab, SpecialTokensParsedOnlyWhenAsked) {
  const int32_t im_start = tok_->vocab().find("<|im_start|>");
  ASSERT_GE(im_start, 0);
  const auto parsed = tok_->encode("<|im_start|>user", false, true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed[0], im_start);
  const auto plain = tok_->encode("<|im_start|>user", false, false);
  EXPECT_NE(plain[0], im_start);
  EXPECT_GT(plain.size(), parsed.size());
  EXPECT_EQ(tok_->token_to_piece(im_start, false), "");
  EXPECT_EQ(tok_->token_to_piece(im_start, true), "<|im_start|>");
}

TEST_F(SmolLM2Vocab, StreamingNeverSplitsACharacter) {
  const std::string text = "a😀b日本ç";
  const auto ids = tok_->encode(text, false, false);
  StreamingDetokenizer st(*tok_, false);
  std::string all;
  for (int32_t id : ids) {
    const std::string piece = st.push(id);
    // Every emitted piece is valid UTF-8 on its own.
    size_t i = 0;
    while (i < piece.size()) {
      const auto c = static_cast<unsigned char>(piece[i]);
      const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      ASSERT_LE(i + len, piece.size()) << "partial character emitted";
      i += len;
    }
    all += piece;
  }
  all += st.flush();
  EXPECT_EQ(all, text);
}

TEST_F(SmolLM2Vocab, InvalidUtf8DoesNotCrash) {
  const std::string bad = "ok \xFF\xFE broken \xE2\x82";
  const auto ids = tok_->encode(bad, false, false);
  EXPECT_FALSE(ids.empty());
  EXPECT_FALSE(tok_->decode({-1}, false).is_ok());
  EXPECT_FALSE(tok_->decode({tok_->n_vocab()}, false).is_ok());
}

TEST_F(SmolLM2Vocab, ChatTemplateDetectedWithDefaultSystemPrompt) {
  auto fmt = detect_chat_template(jinja_);
  ASSERT_TRUE(fmt.is_ok()) << fmt.status().to_string();
  EXPECT_EQ(fmt->kind, ChatTemplate::ChatML);
  EXPECT_EQ(fmt->default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  EXPECT_EQ(
      apply_chat_template(*fmt, {{"user", "Hi"}}, true),
      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(
      apply_chat_template(*fmt, {{"system", "Be brief."}, {"user", "Hi"}}, true),
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplates, ExactStrings) {
  const std::vector<ChatMessage> conv = {
      {"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}};
  EXPECT_EQ(apply_chat_template({ChatTemplate::Llama3, ""}, conv, true),
            "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|"
            ">\n\nU1"
            "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|><|start_header_id|>user<|"
            "end_header_"
            "id|>\n\nU2<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(apply_chat_template({ChatTemplate::Llama2, ""}, conv, true),
            "[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST]A1</s>[INST] U2 [/INST]");
  EXPECT_EQ(apply_chat_template({ChatTemplate::Mistral, ""}, conv, true),
            "[INST] S\nU1 [/INST]A1</s>[INST] U2 [/INST]");
  EXPECT_EQ(apply_chat_template({ChatTemplate::Vicuna, ""}, conv, true),
            "S\n\nUSER: U1\nASSISTANT: A1</s>\nUSER: U2\nASSISTANT:");
  EXPECT_EQ(*chat_template_from_name("llama3"), ChatTemplate::Llama3);
  EXPECT_FALSE(chat_template_from_name("alpaca").is_ok());
  EXPECT_FALSE(detect_chat_template("{{ messages }}").is_ok());
  EXPECT_EQ(detect_chat_template("[INST] <<SYS>>")->kind, ChatTemplate::Llama2);
  EXPECT_EQ(detect_chat_template("{% ... %}[INST]")->kind, ChatTemplate::Mistral);
}

}  // namespace
}  // namespace vatp::tokenizer
