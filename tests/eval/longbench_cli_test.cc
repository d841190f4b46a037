// `vatp eval score-longbench` and `vatp eval longbench` end to end (the built binary).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/cli_run.h"
#include "common/model_path.h"

namespace vatp::eval {
namespace {

using vatp::testing_util::CliRun;
using vatp::testing_util::run_vatp;

std::filesystem::path test_dir() {
  const auto d = std::filesystem::temp_directory_path() / "vatp_longbench_cli";
  std::filesystem::create_directories(d);
  return d;
}

std::string write_file(const std::string& name, const std::string& text) {
  const auto path = test_dir() / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

bool have_cli() { return std::filesystem::exists(std::string(VATP_BINARY_DIR) + "/vatp"); }

// Expected values: LongBench's eval.py scorer / scorer_e on the same lines.
const char* kQasper =
    R"({"pred": "The Eiffel Tower, in Paris.", "answers": ["Eiffel Tower", "the tower"], "all_classes": null, "length": 1200})"
    "\n"
    R"({"pred": "yes", "answers": ["no"], "all_classes": null, "length": 5000})"
    "\n"
    R"({"pred": "an apple a day", "answers": ["the apple"], "all_classes": null, "length": 9000})"
    "\n";
const char* kTrec =
    R"({"pred": "\nFood\nDate", "answers": ["Food"], "all_classes": ["Food", "Date", "Other"], "length": 100})"
    "\n"
    R"({"pred": "Date or Other", "answers": ["Other"], "all_classes": ["Food", "Date", "Other"], "length": 100})"
    "\n";

TEST(LongBenchCli, ScoresLikeEvalPy) {
  if (!have_cli()) GTEST_SKIP() << "the vatp binary is not built in " << VATP_BINARY_DIR;
  const std::string qasper = write_file("qasper.jsonl", kQasper);
  const std::string trec = write_file("trec.jsonl", kTrec);
  const CliRun text = run_vatp("eval score-longbench --pred " + qasper);
  EXPECT_EQ(text.exit_code, 0) << text.out;
  EXPECT_EQ(text.out, "qasper (n=3): 44.44\n");

  const CliRun js = run_vatp("eval score-longbench --json --pred " + qasper + " --pred " + trec);
  ASSERT_EQ(js.exit_code, 0) << js.out;
  const auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j.at("qasper").get<double>(), 44.44);
  EXPECT_EQ(j.at("trec").get<double>(), 75.0);

  const CliRun e = run_vatp("eval score-longbench --e --json --pred " + qasper);
  ASSERT_EQ(e.exit_code, 0) << e.out;
  const auto je = nlohmann::json::parse(e.out);
  EXPECT_EQ(je.at("qasper").at("0-4k").get<double>(), 66.67);
  EXPECT_EQ(je.at("qasper").at("4-8k").get<double>(), 0.0);
  EXPECT_EQ(je.at("qasper").at("8k+").get<double>(), 66.67);

  // --task overrides the file name.
  const CliRun named = run_vatp("eval score-longbench --task hotpotqa --pred " + qasper);
  EXPECT_EQ(named.out, "hotpotqa (n=3): 44.44\n");
}

TEST(LongBenchCli, BadInputNamesFileAndLine) {
  if (!have_cli()) GTEST_SKIP() << "the vatp binary is not built in " << VATP_BINARY_DIR;
  const std::string missing =
      write_file("hotpotqa.jsonl", R"({"pred": "a", "answers": ["b"], "all_classes": null})"
                                   "\n"
                                   R"({"pred": "a", "all_classes": null})"
                                   "\n");
  CliRun r = run_vatp("eval score-longbench --pred " + missing);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find(missing + ":2: missing field \"answers\""), std::string::npos) << r.out;

  const std::string broken = write_file("lcc.jsonl", R"({"pred": "a", "answers": ["b"], "all_classes": null})"
                                                     "\n\n"
                                                     R"({"pred": "a", "answers": ["b"])"
                                                     "\n");
  r = run_vatp("eval score-longbench --pred " + broken);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find(broken + ":3: invalid JSON"), std::string::npos) << r.out;

  const std::string no_length =
      write_file("samsum.jsonl", R"({"pred": "a", "answers": ["b"], "all_classes": null})");
  r = run_vatp("eval score-longbench --e --pred " + no_length);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find(no_length + ":1: missing field \"length\""), std::string::npos) << r.out;

  r = run_vatp("eval score-longbench --task vcsum --pred " + no_length);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("Chinese"), std::string::npos) << r.out;

  r = run_vatp("eval score-longbench --task lcc --pred " + (test_dir() / "absent.jsonl").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("cannot open"), std::string::npos) << r.out;
}

TEST(LongBenchCli, RunsTheSweepOnRecords) {
  if (!have_cli()) GTEST_SKIP() << "the vatp binary is not built in " << VATP_BINARY_DIR;
  const std::string model = testing_util::default_model_path();
  if (!std::filesystem::exists(model))
    GTEST_SKIP() << "model not found: " << model << " (scripts/fetch-model.sh)";
  const std::string data = write_file(
      "records.jsonl",
      R"({"input": "What is the capital of Germany?", "context": "Passage 1:\nBerlin is the capital of Germany.", )"
      R"("answers": ["Berlin"], "length": 12, "dataset": "hotpotqa", "language": "en", "all_classes": null, "_id": "q1"})"
      "\n"
      R"({"input": "unused", "context": "unused", "answers": ["x"], "length": 2, "dataset": "hotpotqa", )"
      R"("language": "en", "all_classes": null, "_id": "q2"})"
      "\n");
  const auto out = test_dir() / "sweep";
  std::filesystem::remove_all(out);
  const CliRun r = run_vatp("eval longbench -m " + model + " --data " + data +
                            " --limit 1 --policies full --quiet -t 2 -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("hotpotqa"), std::string::npos) << r.out;
  std::ifstream runs(out / "runs.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(runs, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("task"), "hotpotqa");
    EXPECT_EQ(j.at("id"), "q1");                    // --limit 1
    EXPECT_LE(j.at("n_generated").get<int>(), 32);  // dataset2maxlen for hotpotqa
    ++n;
  }
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace vatp::eval
