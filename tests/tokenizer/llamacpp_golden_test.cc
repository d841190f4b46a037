// Exact agreement with llama.cpp (llama-cpp-python 0.3.36) beyond the fixture .out
// files: tokenize with all flag combinations and detokenize with and without special,
// for the six fixture vocabularies (tests/tokenizer/data, made by
// gen_llamacpp_golden.py) and SmolLM2 (tests/data/smollm2_detokenize.jsonl); plus the
// special ids and end-of-generation sets llama.cpp derives at load time.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace vatp::tokenizer {
namespace {

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

Result<Tokenizer> load(const std::string& path) {
  VATP_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::open(path));
  return Tokenizer::from_gguf(f);
}

std::string fixture(const std::string& name) {
  return std::string(VATP_SHARED_DIR) + "/fixtures/tokenizer/ggml-vocab-" + name + ".gguf";
}

class LlamaCppGolden : public ::testing::TestWithParam<const char*> {};

// Checks every line of tests/tokenizer/data/llamacpp_<golden>.jsonl against `tok`.
void check_golden(const Tokenizer& tok, const std::string& golden) {
  const std::string path =
      std::string(VATP_SOURCE_DIR) + "/tests/tokenizer/data/llamacpp_" + golden + ".jsonl";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  std::ifstream in(path);
  std::string line;
  int n_enc = 0, ok_enc = 0, n_dec = 0, ok_dec = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("text_hex")) {
      const std::string text = unhex(j.at("text_hex"));
      const std::vector<int32_t> want = j.at("ids");
      const auto got = tok.encode(text, j.at("add_special"), j.at("parse_special"));
      EXPECT_EQ(got, want) << golden << " add_special=" << j.at("add_special")
                           << " parse_special=" << j.at("parse_special") << " text '" << text << "'";
      ++n_enc;
      ok_enc += got == want;
    } else {
      const std::vector<int32_t> ids = j.at("ids");
      const std::string want = unhex(j.at("detok_hex"));
      auto got = tok.decode(ids, j.at("special"));
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      EXPECT_EQ(*got, want) << golden << " special=" << j.at("special") << " ids " << j.at("ids").dump();
      ++n_dec;
      ok_dec += *got == want;
    }
  }
  std::printf("[ %s vs llama.cpp: tokenize %d/%d, detokenize %d/%d ]\n", golden.c_str(), ok_enc, n_enc,
              ok_dec, n_dec);
  EXPECT_GE(n_enc, 100);
  EXPECT_GE(n_dec, 100);
}

TEST_P(LlamaCppGolden, TokenizeAndDetokenizeMatch) {
  const std::string vocab = fixture(GetParam());
  if (!std::filesystem::exists(vocab)) GTEST_SKIP() << vocab << " not found: these tests need ../shared";
  auto tok = load(vocab);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  check_golden(*tok, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Vocabs, LlamaCppGolden,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "mpt", "starcoder", "refact"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) ch = (ch == '-') ? '_' : ch;
                           return n;
                         });

// Pre-tokenizers without a fixture vocabulary (llama3 family, qwen2, tekken, default,
// command-r, stablelm2): the gpt-2 vocabulary with only `tokenizer.ggml.pre` changed.
class RelabelledGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(RelabelledGolden, TokenizeAndDetokenizeMatch) {
  const std::string vocab = fixture("gpt-2");
  if (!std::filesystem::exists(vocab)) GTEST_SKIP() << vocab << " not found: these tests need ../shared";
  auto src = gguf::GgufFile::open(vocab);
  ASSERT_TRUE(src.is_ok()) << src.status().to_string();
  gguf::GgufWriter w;
  for (const gguf::Value& v : src->values()) {
    if (v.key() == "tokenizer.ggml.pre") {
      w.set_string("tokenizer.ggml.pre", GetParam());
    } else {
      w.copy_value(v);
    }
  }
  const std::vector<uint8_t> bytes = w.to_bytes();  // must outlive the parsed file
  auto f = gguf::GgufFile::parse(bytes);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  auto tok = Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  check_golden(*tok, std::string("gpt-2-as-") + GetParam());
}

INSTANTIATE_TEST_SUITE_P(PreTokenizers, RelabelledGolden,
                         ::testing::Values("llama-bpe", "qwen2", "tekken", "default", "command-r",
                                           "stablelm2"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) ch = (ch == '-') ? '_' : ch;
                           return n;
                         });

TEST(RelabelledGolden, UnknownPreTokenizerIsAnError) {
  const std::string vocab = fixture("gpt-2");
  if (!std::filesystem::exists(vocab)) GTEST_SKIP() << vocab << " not found: these tests need ../shared";
  auto src = gguf::GgufFile::open(vocab);
  ASSERT_TRUE(src.is_ok());
  for (const char* pre : {"gpt2", "no-such-pre"}) {  // llama.cpp refuses both
    gguf::GgufWriter w;
    for (const gguf::Value& v : src->values()) {
      if (v.key() == "tokenizer.ggml.pre") {
        w.set_string("tokenizer.ggml.pre", pre);
      } else {
        w.copy_value(v);
      }
    }
    const std::vector<uint8_t> bytes = w.to_bytes();
    auto f = gguf::GgufFile::parse(bytes);
    ASSERT_TRUE(f.is_ok());
    auto tok = Tokenizer::from_gguf(*f);
    ASSERT_FALSE(tok.is_ok()) << pre;
    EXPECT_NE(tok.status().message().find(pre), std::string::npos) << tok.status().to_string();
  }
}

// llama_vocab_is_eog / eot / fim ids as llama.cpp 0.3.36 reports them.
TEST(LlamaCppSpecialIds, EndOfGenerationSets) {
  struct Want {
    const char* name;
    std::vector<int32_t> eog;
    int32_t eot, fim_pre, fim_pad, fim_rep;
  };
  const Want wants[] = {
      {"llama-spm", {2}, -1, -1, -1, -1},    {"phi-3", {2, 32000, 32007}, 32007, -1, -1, -1},
      {"gpt-2", {50256}, 50256, -1, -1, -1}, {"mpt", {0}, 0, -1, -1, -1},
      {"starcoder", {0, 4}, 0, 1, 4, -1},    {"refact", {0, 4, 18}, 0, 1, 4, 18},
  };
  for (const Want& w : wants) {
    if (!std::filesystem::exists(fixture(w.name)))
      GTEST_SKIP() << fixture(w.name) << " not found: needs ../shared";
    auto tok = load(fixture(w.name));
    ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
    const Vocab& v = tok->vocab();
    EXPECT_EQ(v.eog, w.eog) << w.name;
    EXPECT_EQ(v.eot, w.eot) << w.name;
    EXPECT_EQ(v.fim_pre, w.fim_pre) << w.name;
    EXPECT_EQ(v.fim_pad, w.fim_pad) << w.name;
    EXPECT_EQ(v.fim_rep, w.fim_rep) << w.name;
  }
}

// Phi-3's "</s>" is USER_DEFINED in the file, but llama.cpp makes it CONTROL (it is an
// end-of-generation text), so it is not split out without parse_special; its specials
// strip whitespace on their right (RSTRIP, set by general.name).
TEST(LlamaCppSpecialIds, Phi3ControlAndRstrip) {
  if (!std::filesystem::exists(fixture("phi-3")))
    GTEST_SKIP() << fixture("phi-3") << " not found: needs ../shared";
  auto tok = load(fixture("phi-3"));
  ASSERT_TRUE(tok.is_ok());
  EXPECT_EQ(tok->encode("</s>", false, false), (std::vector<int32_t>{1533, 29879, 29958}));
  EXPECT_EQ(tok->encode("</s>", false, true), (std::vector<int32_t>{2}));
  EXPECT_EQ(tok->encode("<|end|>\n", false, true), (std::vector<int32_t>{32007}));
  EXPECT_EQ(tok->token_to_piece(2, false), "");
}

// U+180E is whitespace for PCRE2's \s but not for llama.cpp.
TEST(LlamaCppSpecialIds, MongolianVowelSeparatorIsNotWhitespace) {
  if (!std::filesystem::exists(fixture("gpt-2")))
    GTEST_SKIP() << fixture("gpt-2") << " not found: needs ../shared";
  auto tok = load(fixture("gpt-2"));
  ASSERT_TRUE(tok.is_ok());
  EXPECT_EQ(tok->encode(" \u180e\u2013", false, false), (std::vector<int32_t>{28053, 254, 236, 1906}));
  EXPECT_EQ(tok->encode(" \u202f\u180e", false, false), (std::vector<int32_t>{220, 447, 107, 157, 254, 236}));
}

std::string model_path() {
  if (const char* p = std::getenv("VATP_MODEL")) return p;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/vatp/SmolLM2-135M-Instruct.Q4_1.gguf";
}

TEST(SmolLM2Golden, DetokenizeMatchesLlamaCpp) {
  const std::string golden = std::string(VATP_SOURCE_DIR) + "/tests/data/smollm2_detokenize.jsonl";
  if (!std::filesystem::exists(model_path())) GTEST_SKIP() << "model not found at " << model_path();
  if (!std::filesystem::exists(golden))
    GTEST_SKIP() << golden << " not found (scripts/ref/gen_tokenizer_golden.py)";
  auto tok = load(model_path());
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  // llama.cpp 0.3.36 reports EOG {0, 2, 4}: <|endoftext|>, <|im_end|> (= eos), <reponame> (fim_rep).
  EXPECT_EQ(tok->vocab().eog, (std::vector<int32_t>{0, 2, 4}));
  std::ifstream in(golden);
  std::string line;
  int n = 0, ok = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    const std::vector<int32_t> ids = j.at("ids");
    auto got = tok->decode(ids, j.at("special"));
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    const std::string want = unhex(j.at("detok_hex"));
    EXPECT_EQ(*got, want) << "ids " << j.at("ids").dump() << " special=" << j.at("special");
    ++n;
    ok += *got == want;
  }
  std::printf("[ SmolLM2 detokenize: %d/%d match llama.cpp ]\n", ok, n);
  EXPECT_GE(n, 100);
}

}  // namespace
}  // namespace vatp::tokenizer
