// Runs the built `vatp` binary: flag validation must fail with exit code 1 and a
// message on stderr; with the real model, run/ppl must produce sane output.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime_test_util.h"

namespace vatp::runtime {
namespace {

struct Ran {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Runs `vatp ARGS` through the shell, capturing stdout and stderr to temp files.
Ran run_vatp(const std::string& args) {
  const std::string dir = ::testing::TempDir();
  // Per-process names: ctest runs tests of this binary in parallel processes.
  const std::string tag = std::to_string(::getpid());
  const std::string out = dir + "/vatp_cli_out_" + tag + ".txt", err = dir + "/vatp_cli_err_" + tag + ".txt";
  const std::string cmd = std::string(VATP_BINARY_DIR) + "/vatp " + args + " >" + out + " 2>" + err;
  const int st = std::system(cmd.c_str());
  Ran r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = read_all(out);
  r.err = read_all(err);
  return r;
}

bool binary_present() { return std::filesystem::exists(std::string(VATP_BINARY_DIR) + "/vatp"); }

#define REQUIRE_BINARY() \
  if (!binary_present()) \
  GTEST_SKIP() << "vatp binary not built at " VATP_BINARY_DIR "/vatp (build target vatp)"

struct BadFlagCase {
  const char* args;
  const char* message_part;
};

class RunBadFlags : public ::testing::TestWithParam<BadFlagCase> {};

TEST_P(RunBadFlags, ExitOneWithMessage) {
  REQUIRE_BINARY();
  const Ran r = run_vatp(GetParam().args);
  EXPECT_EQ(r.exit_code, 1) << GetParam().args << "\nstderr: " << r.err;
  EXPECT_NE(r.err.find(GetParam().message_part), std::string::npos) << "stderr: " << r.err;
  EXPECT_TRUE(r.out.empty()) << "stdout: " << r.out;
}

// The model path need not exist for flag errors: flags are checked before loading.
INSTANTIATE_TEST_SUITE_P(
    Cli, RunBadFlags,
    ::testing::Values(BadFlagCase{"run -m /nonexistent.gguf -p hi -n -1", "-n"},
                      BadFlagCase{"run -m /nonexistent.gguf -p hi -c 0", "-c"},
                      BadFlagCase{"run -m /nonexistent.gguf -p hi -c -5", "-c"},
                      BadFlagCase{"run -m /nonexistent.gguf -p hi -t 0", "-t"},
                      BadFlagCase{"run -m /nonexistent.gguf -p hi --temp -1", "temperature"},
                      BadFlagCase{"run -m /nonexistent.gguf -p hi --top-p 0", "top-p"},
                      BadFlagCase{"run -m /nonexistent.gguf -p hi --top-p 1.5", "top-p"},
                      BadFlagCase{"run -m /nonexistent.gguf -p hi -f /tmp/x.txt", "either -p or -f"},
                      BadFlagCase{"run -m /nonexistent.gguf", "prompt"},
                      BadFlagCase{"run -m /nonexistent.gguf -f /nonexistent/prompt.txt", "prompt.txt"},
                      BadFlagCase{"run -m /nonexistent.gguf -p hi", "nonexistent.gguf"},
                      BadFlagCase{"ppl -m /nonexistent.gguf -f /tmp/x.txt -c 0", "-c"},
                      BadFlagCase{"ppl -m /nonexistent.gguf -f /tmp/x.txt --chunks 0", "--chunks"},
                      BadFlagCase{"ppl -m /nonexistent.gguf -f /nonexistent/text.txt", "text.txt"},
                      BadFlagCase{"ppl -m /nonexistent.gguf -f /tmp/x.txt -t 0", "-t"},
                      BadFlagCase{"run -m /nonexistent.gguf -p hi --isa avx9000", "--isa"},
                      BadFlagCase{"bench -m /nonexistent.gguf --isa neon", "--isa"}),
    // Stable names (the default would print the struct's bytes, pointers included).
    [](const ::testing::TestParamInfo<BadFlagCase>& info) { return "case" + std::to_string(info.index); });

TEST(Cli, RunGreedyJsonMatchesStdout) {
  REQUIRE_BINARY();
  const std::string model = test_model_path();
  if (model.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL)";
  const std::string json = ::testing::TempDir() + "/vatp_run.json";
  const Ran r =
      run_vatp("run -m " + model + " -p 'The capital of France is' -n 8 --temp 0 -t 2 --json " + json);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("decode"), std::string::npos) << "stats line on stderr: " << r.err;
  const auto j = nlohmann::json::parse(read_all(json));
  ASSERT_TRUE(j.contains("prompt_ids"));
  ASSERT_TRUE(j.contains("generated_ids"));
  EXPECT_FALSE(j["prompt_ids"].empty());
  EXPECT_LE(j["generated_ids"].size(), 8u);
  EXPECT_GE(j["generated_ids"].size(), 1u);
  // stdout carries exactly the generated text.
  EXPECT_EQ(r.out, j["text"].get<std::string>());
  EXPECT_GT(j["stats"]["decode_tok_per_s"].get<double>(), 0.0);
  // Greedy is deterministic: a second run gives the same ids.
  const Ran again =
      run_vatp("run -m " + model + " -p 'The capital of France is' -n 8 --temp 0 -t 1 --json " + json);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(read_all(json))["generated_ids"], j["generated_ids"]);
}

TEST(Cli, RunNoStatsAndLongPromptError) {
  REQUIRE_BINARY();
  const std::string model = test_model_path();
  if (model.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL)";
  const Ran quiet = run_vatp("run -m " + model + " -p hello -n 2 --temp 0 -t 2 --no-stats");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("tok/s"), std::string::npos) << quiet.err;
  const Ran big =
      run_vatp("run -m " + model + " -p 'one two three four five six seven eight' -c 4 -n 2 -t 2");
  EXPECT_EQ(big.exit_code, 1);
  EXPECT_NE(big.err.find("context"), std::string::npos) << big.err;
}

TEST(Cli, ChatWithUnknownTemplateNameFails) {
  REQUIRE_BINARY();
  const std::string model = test_model_path();
  if (model.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL)";
  const Ran r = run_vatp("run -m " + model + " -p hi --chat --chat-template no-such-template -n 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no-such-template"), std::string::npos) << r.err;
}

// --isa scalar runs the reference kernels: the same greedy text as the SIMD default on
// this short prompt is not guaranteed in general (float order), but the run must work
// and report the table it used.
TEST(Cli, RunWithScalarKernels) {
  REQUIRE_BINARY();
  const std::string model = test_model_path();
  if (model.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL)";
  const Ran r =
      run_vatp("run -m " + model + " -p 'The capital of France is' -n 3 --temp 0 -t 2 --isa scalar");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
}

// --dump-tensors writes every named step of every layer for each forward call, the
// rows of the batch's last token; the logits row is the one the sampler saw.
TEST(Cli, RunDumpTensors) {
  REQUIRE_BINARY();
  const std::string model = test_model_path();
  if (model.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL)";
  const std::string dump = ::testing::TempDir() + "/vatp_tensors_" + std::to_string(::getpid()) + ".bin";
  const std::string json = ::testing::TempDir() + "/vatp_tensors_" + std::to_string(::getpid()) + ".json";
  const Ran r =
      run_vatp("run -m " + model + " -p 'The capital of France is' -n 2 --temp 0 -t 2 --no-stats --json " +
               json + " --dump-tensors " + dump);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string bytes = read_all(dump);
  std::map<uint32_t, std::map<std::string, std::vector<float>>> calls;
  size_t off = 0;
  while (off + 8 <= bytes.size()) {
    uint32_t call, len;
    std::memcpy(&call, bytes.data() + off, 4);
    std::memcpy(&len, bytes.data() + off + 4, 4);
    off += 8;
    ASSERT_LE(off + len + 8, bytes.size());
    const std::string name = bytes.substr(off, len);
    off += len;
    uint64_t n;
    std::memcpy(&n, bytes.data() + off, 8);
    off += 8;
    ASSERT_LE(off + 4 * n, bytes.size());
    std::vector<float> v(n);
    std::memcpy(v.data(), bytes.data() + off, 4 * n);
    off += 4 * n;
    calls[call][name] = std::move(v);
  }
  EXPECT_EQ(off, bytes.size());
  ASSERT_EQ(calls.size(), 2u) << "prefill + one decode step";
  for (const auto& [call, t] : calls) {
    EXPECT_EQ(t.size(), 3u + 30u * 13u) << "call " << call;  // inp_embd, result_norm/output, 13 per layer
    EXPECT_EQ(t.at("Qcur-29").size(), 576u);
    EXPECT_EQ(t.at("Kcur-29").size(), 192u);
    EXPECT_EQ(t.at("ffn_swiglu-0").size(), 1536u);
    ASSERT_EQ(t.at("result_output").size(), 49152u);
  }
  // Greedy: the first generated token is the argmax of the prefill's logits row.
  const auto& logits = calls.begin()->second.at("result_output");
  const auto first = nlohmann::json::parse(read_all(json))["generated_ids"][0].get<int>();
  EXPECT_EQ(std::max_element(logits.begin(), logits.end()) - logits.begin(), first);
  // A dump that cannot be written is an error, not a silently short file.
  const Ran full = run_vatp("run -m " + model + " -p hi -n 2 --no-stats --dump-tensors /dev/full");
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_NE(full.err.find("/dev/full"), std::string::npos) << full.err;
  const Ran bad =
      run_vatp("run -m " + model + " -p hi -n 2 --no-stats --dump-tensors /nonexistent/dir/t.bin");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(
                "--dump-tensors /nonexistent/dir/t.bin: folder /nonexistent/dir: No such file or directory"),
            std::string::npos)
      << bad.err;
}

TEST(Cli, PplPrintsRunningAndFinalAndWritesJson) {
  REQUIRE_BINARY();
  const std::string model = test_model_path();
  if (model.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL)";
  const std::string text_path = ::testing::TempDir() + "/vatp_ppl_text.txt";
  {
    std::ofstream t(text_path);
    for (int i = 0; i < 8; ++i) {
      t << "The quick brown fox jumps over the lazy dog. Paris is the capital of France, and Berlin is the "
           "capital of Germany. Water boils at one hundred degrees Celsius at sea level.\n";
    }
  }
  const std::string json = ::testing::TempDir() + "/vatp_ppl.json";
  const Ran r =
      run_vatp("ppl -m " + model + " -f " + text_path + " -c 64 --chunks 2 -b 32 -t 2 --json " + json);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[1]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[2]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Final estimate: PPL = "), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(read_all(json));
  EXPECT_EQ(j["n_ctx"].get<int>(), 64);
  EXPECT_EQ(j["n_chunks"].get<int>(), 2);
  EXPECT_EQ(j["n_scored"].get<int>(), 2 * 31);
  EXPECT_EQ(j["top1"].size(), 62u);
  EXPECT_EQ(j["targets"].size(), 62u);
  const double ppl = j["ppl"].get<double>();
  EXPECT_TRUE(std::isfinite(ppl));
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 100.0);
  EXPECT_NEAR(std::log(ppl), j["nll_mean"].get<double>(), 1e-9);

  // Too short for 2 * n_ctx tokens: a clear error.
  const Ran short_run = run_vatp("ppl -m " + model + " -f " + text_path + " -c 4096 -t 2");
  EXPECT_EQ(short_run.exit_code, 1);
  EXPECT_NE(short_run.err.find("2*n_ctx"), std::string::npos) << short_run.err;
}

}  // namespace
}  // namespace vatp::runtime
