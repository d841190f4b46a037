// `vatp eval ruler` and `vatp eval passkey` end to end (the built binary).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/cli_run.h"
#include "common/model_path.h"

namespace vatp::eval {
namespace {

using vatp::testing_util::CliRun;
using vatp::testing_util::run_vatp;

std::filesystem::path test_dir() {
  const auto d = std::filesystem::temp_directory_path() / "vatp_ruler_cli";
  std::filesystem::create_directories(d);
  return d;
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Skips (with the reason) when the binary or the model is missing.
bool ready(std::string* why) {
  if (!std::filesystem::exists(std::string(VATP_BINARY_DIR) + "/vatp")) {
    *why = "vatp binary not built";
    return false;
  }
  if (!std::filesystem::exists(testing_util::default_model_path())) {
    *why = "model not found: " + testing_util::default_model_path();
    return false;
  }
  return true;
}

TEST(RulerCli, DumpWritesFittedSamples) {
  std::string why;
  if (!ready(&why)) GTEST_SKIP() << why;
  const auto out = test_dir() / "ruler.jsonl";
  std::filesystem::remove(out);
  const CliRun r =
      run_vatp("eval ruler -m " + testing_util::default_model_path() +
               " --tasks niah_single_1,vt,fwe --length 1024 --samples 2 --seed 5 --dump " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto rows = read_jsonl(out);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0]["task"], "niah_single_1");
  EXPECT_EQ(rows[2]["task"], "vt");
  EXPECT_EQ(rows[5]["task"], "fwe");
  EXPECT_EQ(rows[5]["id"], "1");
  for (const auto& j : rows) {
    EXPECT_LE(j["tokens"].get<int>(), 1024) << j["task"];
    EXPECT_GT(j["tokens"].get<int>(), 800) << j["task"];
    EXPECT_TRUE(j["chat"].get<bool>());
    EXPECT_FALSE(j["answers"].empty());
  }
  EXPECT_EQ(rows[0]["max_new_tokens"], 128);
  // The same seed gives the same file.
  const auto again = test_dir() / "ruler2.jsonl";
  ASSERT_EQ(
      run_vatp("eval ruler -m " + testing_util::default_model_path() +
               " --tasks niah_single_1,vt,fwe --length 1024 --samples 2 --seed 5 --dump " + again.string())
          .exit_code,
      0);
  EXPECT_EQ(read_jsonl(again), rows);
}

TEST(RulerCli, PasskeyDumpPlainAndChat) {
  std::string why;
  if (!ready(&why)) GTEST_SKIP() << why;
  const auto out = test_dir() / "passkey.jsonl";
  CliRun r = run_vatp("eval passkey -m " + testing_util::default_model_path() +
                      " --garbage 300 --samples 3 --dump " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto rows = read_jsonl(out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["answer_prefix"], " The pass key is");
  EXPECT_FALSE(rows[0]["chat"].get<bool>());
  EXPECT_EQ(rows[0]["max_new_tokens"], 10);
  r = run_vatp("eval passkey -m " + testing_util::default_model_path() +
               " --length 700 --chat --samples 2 --dump " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  rows = read_jsonl(out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["answer_prefix"], "The pass key is");
  EXPECT_TRUE(rows[0]["chat"].get<bool>());
  EXPECT_LE(rows[0]["tokens"].get<int>(), 700);
  EXPECT_GE(rows[0]["tokens"].get<int>(), 650);
}

TEST(RulerCli, BadFlagsAreClearErrors) {
  std::string why;
  if (!ready(&why)) GTEST_SKIP() << why;
  const std::string m = " -m " + testing_util::default_model_path();
  CliRun r = run_vatp("eval ruler" + m + " --tasks niah_single_1,qa_1 --dump /dev/null");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("unknown RULER task 'qa_1'"), std::string::npos) << r.out;
  r = run_vatp("eval ruler" + m);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("-o OUTDIR is required"), std::string::npos) << r.out;
  r = run_vatp("eval ruler" + m + " --length 50 --tasks niah_single_1 --dump /dev/null");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("does not fit in a length of 50"), std::string::npos) << r.out;
  r = run_vatp("eval passkey" + m + " --garbage 10 --length 100 -o " + (test_dir() / "x").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("exactly one of --garbage"), std::string::npos) << r.out;
  r = run_vatp("eval ruler -m /nonexistent.gguf --dump /dev/null");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("model file not found"), std::string::npos) << r.out;
}

TEST(RulerCli, SlowPasskeySweepScoresTheRuns) {
  std::string why;
  if (!ready(&why)) GTEST_SKIP() << why;
  const auto dir = test_dir() / "sweep";
  std::filesystem::remove_all(dir);
  const CliRun r = run_vatp("eval passkey -m " + testing_util::default_model_path() +
                            " -t 2 --length 400 --samples 2 --policies full --quiet -o " + dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto runs = read_jsonl(dir / "runs.jsonl");
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& j : runs) {
    EXPECT_EQ(j["task"], "passkey");
    const double s = j["score"].get<double>();
    EXPECT_TRUE(s == 0.0 || s == 1.0);
    // The score is the first number of the prediction against the key.
    const std::string pred = j["pred"];
    const std::string key = j["answers"][0];
    const size_t d = pred.find_first_of("0123456789");
    const bool right =
        d != std::string::npos && pred.substr(d, key.size()) == key &&
        (d + key.size() == pred.size() || !isdigit(static_cast<unsigned char>(pred[d + key.size()])));
    EXPECT_EQ(s, right ? 1.0 : 0.0) << pred;
  }
  EXPECT_NE(r.out.find("passkey"), std::string::npos);
}

}  // namespace
}  // namespace vatp::eval
