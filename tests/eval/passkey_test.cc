// Landmark passkey (specs/eval.md §3.1): prompt rebuilt from the spec's strings, length
// fitting with the real tokenizer, scoring by the first number.
#include "eval/passkey.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include "common/model_path.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace vatp::eval {
namespace {

const std::string kTask =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will "
    "quiz you "
    "about the important information there.";
const std::string kGarbage =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

std::string garbage_inf() {
  std::string s;
  for (int i = 0; i < 2000; ++i) s += (i ? " " : "") + kGarbage;
  return s;
}

// Landmark's generate_prompt with the sample's drawn prefix length and key.
std::string landmark_prompt(size_t n_garbage, size_t prefix, const std::string& key) {
  const std::string g = garbage_inf();
  return kTask + "\n" + g.substr(0, prefix) + "\n" + "The pass key is " + key + ". Remember it. " + key +
         " is the pass key." + "\n" + g.substr(0, n_garbage - prefix) + "\n" +
         "What is the pass key? The pass key is";
}

// The prefix length: what lies between the task line and the information line.
size_t prefix_len(const Sample& s) {
  const size_t start = kTask.size() + 1;
  return s.prompt.find("\nThe pass key is ", start) - start;
}

TEST(Passkey, PlainPromptIsLandmarksTextByteForByte) {
  PasskeyOptions o;
  o.n_garbage = 1000;
  o.n_samples = 5;
  o.seed = 3;
  Result<std::vector<Sample>> v = passkey_samples(o, nullptr);
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  ASSERT_EQ(v->size(), 5u);
  std::set<std::string> keys;
  for (const Sample& s : *v) {
    ASSERT_EQ(s.answers.size(), 1u);
    const std::string& key = s.answers[0];
    ASSERT_TRUE(std::regex_match(key, std::regex("[1-9][0-9]{0,4}"))) << key;
    EXPECT_LE(std::stoi(key), 50000);
    keys.insert(key);
    const size_t p = prefix_len(s);
    EXPECT_LE(p, 1000u);
    EXPECT_FALSE(s.chat);
    EXPECT_EQ(s.answer_prefix, " The pass key is");
    EXPECT_EQ(s.prompt + s.answer_prefix, landmark_prompt(1000, p, key));
    EXPECT_EQ(s.max_new_tokens, 10);
    EXPECT_EQ(s.task, "passkey");
  }
  EXPECT_GT(keys.size(), 1u);
}

TEST(Passkey, ChatPutsTheAnswerStartInTheAssistantTurn) {
  PasskeyOptions o;
  o.n_garbage = 0;
  o.n_samples = 1;
  o.chat = true;
  Result<std::vector<Sample>> v = passkey_samples(o, nullptr);
  ASSERT_TRUE(v.is_ok());
  const Sample& s = (*v)[0];
  EXPECT_TRUE(s.chat);
  EXPECT_EQ(s.answer_prefix, "The pass key is");
  const std::string& k = s.answers[0];
  EXPECT_EQ(s.prompt, kTask + "\n\nThe pass key is " + k + ". Remember it. " + k + " is the pass key.\n\n" +
                          "What is the pass key?");
}

TEST(Passkey, DeterministicPerSeed) {
  PasskeyOptions o;
  o.n_garbage = 5000;
  o.n_samples = 4;
  o.seed = 11;
  auto a = passkey_samples(o, nullptr), b = passkey_samples(o, nullptr);
  o.seed = 12;
  auto c = passkey_samples(o, nullptr);
  ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*a)[i].prompt, (*b)[i].prompt);
    EXPECT_EQ((*a)[i].answers, (*b)[i].answers);
  }
  EXPECT_NE((*a)[0].prompt, (*c)[0].prompt);
}

TEST(Passkey, BadLengthsAreErrors) {
  PasskeyOptions o;
  o.n_garbage = passkey_max_garbage() + 1;
  Result<std::vector<Sample>> r = passkey_samples(o, nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("179999"), std::string::npos) << r.status().message();
  o.n_garbage = -1;
  EXPECT_FALSE(passkey_samples(o, nullptr).is_ok());
  o.n_garbage = 0;
  o.target_tokens = 100;
  EXPECT_FALSE(passkey_samples(o, nullptr).is_ok());  // a target length needs a counter
  o.target_tokens = 5;
  EXPECT_FALSE(passkey_samples(o, [](std::string_view s) { return static_cast<int64_t>(s.size()); }).is_ok());
}

TEST(Passkey, TargetTokensFitWithTheSmolLM2Tokenizer) {
  const std::string path = testing_util::default_model_path();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "model not found: " << path;
  Result<gguf::GgufFile> f = gguf::GgufFile::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.is_ok());
  const TokenCounter count = [&](std::string_view s) {
    return static_cast<int64_t>(tok->encode(s, false, false).size());
  };
  for (bool chat : {false, true}) {
    PasskeyOptions o;
    o.target_tokens = 2000;
    o.n_samples = 5;
    o.chat = chat;
    Result<std::vector<Sample>> v = passkey_samples(o, count);
    ASSERT_TRUE(v.is_ok()) << v.status().to_string();
    for (const Sample& s : *v) {
      const int64_t total = count(s.prompt + s.answer_prefix) + s.max_new_tokens;
      EXPECT_LE(total, 2000);
      EXPECT_GE(total, 1970);
    }
  }
}

TEST(Passkey, ScoreIsTheFirstNumber) {
  EXPECT_TRUE(passkey_correct(" 12345. Remember it.", "12345"));
  EXPECT_TRUE(passkey_correct("0012345", "12345"));  // int("0012345")
  EXPECT_FALSE(passkey_correct(" 1234", "12345"));
  EXPECT_FALSE(passkey_correct(" 123456", "12345"));
  EXPECT_FALSE(passkey_correct("7 or 12345", "12345"));  // only the first number counts
  EXPECT_FALSE(passkey_correct("no digits", "12345"));
  EXPECT_TRUE(passkey_correct("is 42", "42"));
  Sample s;
  s.answers = {"321"};
  EXPECT_EQ(passkey_score_fn()(s, " 321."), 1.0);
  EXPECT_EQ(passkey_score_fn()(s, " 32 1"), 0.0);
}

}  // namespace
}  // namespace vatp::eval
