// Resumed sweeps end to end (the built binary, on tiny synthetic models): a runs.jsonl
// made with another configuration is refused with what differs, a busy output directory
// is refused at once, duplicated and malformed records are errors naming their lines,
// and LongBench files that mix or mistype "dataset" are refused (issue 11, classes 1, 2, 5).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/cli_run.h"

namespace vatp::eval {
namespace {

namespace fs = std::filesystem;

using vatp::testing_util::CliRun;
using vatp::testing_util::run_vatp;

const std::string kVocab = std::string(VATP_SHARED_DIR) + "/fixtures/tokenizer/ggml-vocab-llama-spm.gguf";

// A directory per test process (ctest runs each test in its own process, maybe in parallel).
fs::path test_dir() {
  const fs::path d = fs::temp_directory_path() / ("vatp_sweep_cli_" + std::to_string(getpid()));
  fs::create_directories(d);
  return d;
}

std::string write_file(const std::string& name, const std::string& text) {
  const fs::path path = test_dir() / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void write_lines(const fs::path& p, const std::vector<std::string>& lines) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  for (const std::string& l : lines) out << l << "\n";
}

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

class SweepCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(std::string(VATP_BINARY_DIR) + "/vatp")) GTEST_SKIP() << "the vatp binary is not built";
    if (!fs::exists(kVocab)) GTEST_SKIP() << kVocab << " not found (the vocab fixtures need ../shared)";
    for (int seed : {1, 2}) {
      const std::string m = (test_dir() / ("tiny" + std::to_string(seed) + ".gguf")).string();
      const CliRun r = run_vatp("synth --shape tiny --type Q4_0 --seed " + std::to_string(seed) +
                                " --vocab-from " + kVocab + " -o " + m);
      ASSERT_EQ(r.exit_code, 0) << r.out;
      models_.push_back(m);
    }
    std::string a, b;
    for (int i = 0; i < 40; ++i) {
      a += "The keeper of shelf " + std::to_string(i) + " counted the letters twice. ";
      b += "A river of " + std::to_string(i) + " stones ran quietly to the sea. ";
    }
    text_a_ = write_file("a.txt", a);
    text_b_ = write_file("b.txt", b);
  }
  void TearDown() override { fs::remove_all(test_dir()); }

  // eval fidelity on the tiny model `model` into `out`, with extra flags.
  CliRun fidelity(const std::string& model, const std::string& text, const fs::path& out,
                  const std::string& extra = "") {
    return run_vatp("eval fidelity -m " + model + " -f " + text +
                    " --context 64 --tokens 8 --policies full,vatp --budgets 40 -q -t 1 -o " + out.string() +
                    " " + extra);
  }

  std::vector<std::string> models_;
  std::string text_a_, text_b_;
};

// Class 1: a resumed sweep reused the results of another model, text or flags.
TEST_F(SweepCli, ResumeRefusesRecordsOfAnotherConfiguration) {
  const fs::path out = test_dir() / "fid";
  CliRun r = fidelity(models_[0], text_a_, out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ASSERT_EQ(read_lines(out / "runs.jsonl").size(), 2u);
  const std::string stale = (out / "runs.jsonl").string() + " line 1 was made with a different ";
  const std::string advice = "; use --no-resume to start over";

  r = fidelity(models_[1], text_a_, out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, stale + "model file (xxh64 ")) << r.out;
  EXPECT_TRUE(contains(r.out, advice)) << r.out;

  r = fidelity(models_[0], text_b_, out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, stale + "text file (xxh64 ")) << r.out;

  r = run_vatp("eval fidelity -m " + models_[0] + " -f " + text_a_ +
               " --context 64 --tokens 4 --policies full,vatp --budgets 40 -q -o " + out.string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, stale + "--tokens (8; now 4)" + advice)) << r.out;

  r = fidelity(models_[0], text_a_, out, "--kv-value-norm l2");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, stale + "--kv-value-norm (default; now l2)")) << r.out;

  // ppl-stream has the same keys as fidelity: the command tells them apart.
  r = run_vatp("eval ppl-stream -m " + models_[0] + " -f " + text_a_ +
               " --tokens 8 --policies full --budgets 4 -q -o " + out.string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, stale + "command (eval fidelity; now eval ppl-stream)")) << r.out;

  // The same configuration, spelled differently (defaults typed out, other threads), resumes.
  r = fidelity(models_[0], text_a_, out, "--kv-type f16 --segments 1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(read_lines(out / "runs.jsonl").size(), 2u);

  // --no-resume starts over and keeps the old log aside.
  r = fidelity(models_[1], text_a_, out, "--no-resume");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "moved the previous")) << r.out;
  EXPECT_EQ(read_lines(out / "runs.jsonl.prev").size(), 2u);
  EXPECT_EQ(read_lines(out / "runs.jsonl").size(), 2u);
  EXPECT_EQ(fidelity(models_[1], text_a_, out).exit_code, 0);
}

// Class 1 for the generation sweep: LongBench's --max-length and the data file count.
TEST_F(SweepCli, LongBenchResumeRefusesAnotherMaxLengthOrDataFile) {
  const std::string rec =
      R"J({"input": "", "context": "def f(x):\n    return x + 1\n", "answers": ["print(f(2))"], )J"
      R"("length": 9, "dataset": "lcc", "all_classes": null, "_id": "c1"})";
  const std::string data = write_file("lcc.jsonl", rec + "\n");
  const fs::path out = test_dir() / "lb";
  auto longbench = [&](const std::string& extra) {
    return run_vatp("eval longbench -m " + models_[0] + " --data " + data +
                    " --policies full,streaming --budgets 0.5 -q -t 1 -o " + out.string() + " " + extra);
  };
  CliRun r = longbench("--max-length 100");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "2 runs done, 0 skipped")) << r.out;
  r = longbench("--max-length 100");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "0 runs done, 2 skipped")) << r.out;
  r = longbench("--max-length 50");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "line 1 was made with a different --max-length (100; now 50)")) << r.out;
  write_file("lcc.jsonl", rec + "\n" + rec.substr(0, rec.size() - 3) + "2\"}\n");
  r = longbench("--max-length 100");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "line 1 was made with a different data file (xxh64 ")) << r.out;
}

// Class 2: two sweeps into one directory, and records counted twice.
TEST_F(SweepCli, BusyDirectoryAndDuplicatedRecordsAreRefused) {
  const fs::path out = test_dir() / "busy";
  ASSERT_EQ(fidelity(models_[0], text_a_, out).exit_code, 0);
  {
    // Another vatp holds the directory (here: this test, with the same flock).
    const int fd = ::open((out / ".vatp.lock").c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    const CliRun r = fidelity(models_[0], text_a_, out);
    ::close(fd);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_TRUE(contains(r.out, out.string() + " is in use by another vatp")) << r.out;
    EXPECT_TRUE(contains(r.out, "wait for it to finish or use another output directory")) << r.out;
  }
  std::vector<std::string> lines = read_lines(out / "runs.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  lines.push_back(lines[0]);
  write_lines(out / "runs.jsonl", lines);
  const CliRun r = fidelity(models_[0], text_a_, out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, (out / "runs.jsonl").string() + " lines 1 and 3 hold the same run (segment=0 " +
                                  "policy=full budget=1), which would be counted twice"))
      << r.out;
}

// Class 5: a malformed middle line of runs.jsonl is invalid JSON (not "not a run record").
TEST_F(SweepCli, MalformedRunRecordSaysInvalidJsonWithFileAndLine) {
  const fs::path out = test_dir() / "bad";
  ASSERT_EQ(fidelity(models_[0], text_a_, out).exit_code, 0);
  std::vector<std::string> lines = read_lines(out / "runs.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  const std::string whole = lines[1];
  lines[0] = lines[0].substr(0, lines[0].size() / 2);  // a truncated record, not the last line
  write_lines(out / "runs.jsonl", lines);
  CliRun r = fidelity(models_[0], text_a_, out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, (out / "runs.jsonl").string() + ":1: invalid JSON at byte ")) << r.out;
  write_lines(out / "runs.jsonl", {whole, R"({"segment": "0", "policy": "vatp", "budget": "40"})"});
  r = fidelity(models_[0], text_a_, out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(
      contains(r.out, (out / "runs.jsonl").string() + ":2: field \"segment\" must be an integer, got string"))
      << r.out;
}

// Class 5: a LongBench file must hold one task, named by a string.
TEST_F(SweepCli, LongBenchDatasetFieldMustBeOneString) {
  const std::string a =
      R"({"input": "q", "context": "c", "answers": ["x"], "length": 1, "all_classes": null, )";
  const fs::path out = test_dir() / "lbd";
  auto run = [&](const std::string& text) {
    const std::string data = write_file("mixed.jsonl", text);
    return std::make_pair(data, run_vatp("eval longbench -m " + models_[0] + " --data " + data +
                                         " --policies full -q -o " + out.string()));
  };
  auto [mixed, r] = run(a +
                        R"("dataset": "lcc"})"
                        "\n" +
                        a +
                        R"("dataset": "trec"})"
                        "\n");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, mixed + ":2: field \"dataset\" is \"trec\" but line 1 has \"lcc\"")) << r.out;
  std::tie(mixed, r) = run(a + R"("dataset": 7})"
                               "\n");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, mixed + ":1: field \"dataset\" must be a string, got number")) << r.out;
  std::tie(mixed, r) = run(a +
                           R"("dataset": "lcc"})"
                           "\n" +
                           a.substr(0, a.size() - 2) + "}\n");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, mixed + ":2: missing field \"dataset\"")) << r.out;
  EXPECT_FALSE(fs::exists(out / "runs.jsonl"));
}

}  // namespace
}  // namespace vatp::eval
