// Tokenizer conformance: the llama.cpp test vectors in ../shared/fixtures/tokenizer
// (ids from the reference Hugging Face tokenizers), matched exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace vatp::tokenizer {
namespace {

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Case> load_cases(const std::string& base) {
  const std::string inp = read_file(base + ".inp");
  const std::string outp = read_file(base + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t p = 0, q;
  while ((q = inp.find(sep, p)) != std::string::npos) {
    texts.push_back(inp.substr(p, q - p));
    p = q + sep.size();
  }
  std::vector<Case> cases;
  std::istringstream lines(outp);
  std::string line;
  for (const std::string& t : texts) {
    std::getline(lines, line);
    Case c{t, {}};
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

class Conformance : public ::testing::TestWithParam<const char*> {};

TEST_P(Conformance, MatchesReferenceIds) {
  const std::string dir = std::string(VATP_SHARED_DIR) + "/fixtures/tokenizer";
  if (!std::filesystem::exists(dir)) {
    GTEST_SKIP() << dir << " not found: the tokenizer conformance vectors need ../shared";
  }
  const std::string base = dir + "/ggml-vocab-" + GetParam() + ".gguf";
  auto f = gguf::GgufFile::open(base);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  auto tok = Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  const std::vector<Case> cases = load_cases(base);
  ASSERT_GE(cases.size(), 30u);
  int ok = 0;
  for (const Case& c : cases) {
    const std::vector<int32_t> got = tok->encode(c.text, /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(got, c.ids) << GetParam() << ": text '" << c.text << "'";
    ok += got == c.ids;
  }
  RecordProperty("matched", ok);
  std::printf("[ vocab %s: %d/%zu cases match ]\n", GetParam(), ok, cases.size());
}

INSTANTIATE_TEST_SUITE_P(Vocabs, Conformance,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "mpt", "starcoder", "refact"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) ch = (ch == '-') ? '_' : ch;
                           return n;
                         });

}  // namespace
}  // namespace vatp::tokenizer
