// Issue 11 regression tests at the CLI level, one group per class: writes that fail
// (class 3), flags that would take unbounded memory or time (class 4), and the smaller
// CLI cases of class 5 (FIFO model, bad -f, signals, parse errors, unknown commands,
// seeds). They run the built binary on a tiny synthetic model and check exit codes and
// exact messages, so each fails when its check is removed.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Ran {
  int exit_code = -1;
  std::string err;
};

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

const std::string kVatp = std::string(VATP_BINARY_DIR) + "/vatp";
std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/vatp_hard_" + std::to_string(::getpid()) + "_" + name;
}

// Runs a /bin/sh command line in which V is the binary; stderr is captured.
Ran sh(const std::string& line) {
  const std::string err = tmp("stderr.txt");
  const std::string cmd = "V=" + kVatp + "; { " + line + "; } 2>" + err;
  const int st = std::system(("/bin/sh -c '" + cmd + "'").c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, read_all(err)};
}

class Hardening : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string vocab = std::string(VATP_SHARED_DIR) + "/fixtures/tokenizer/ggml-vocab-llama-spm.gguf";
    if (!fs::exists(kVatp) || !fs::exists(vocab)) return;
    model_ = new std::string(tmp("tiny.gguf"));
    sh("$V synth --shape tiny --type Q4_0 --vocab-from " + vocab + " -o " + *model_ + " >/dev/null");
  }
  static void TearDownTestSuite() {
    if (model_) fs::remove(*model_);
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override {
    if (!model_ || !fs::exists(*model_)) GTEST_SKIP() << "needs the vatp binary and ../shared vocab fixtures";
  }
  static std::string m() { return " -m " + *model_; }
  static std::string* model_;
};
std::string* Hardening::model_ = nullptr;

// Class 3: writes that fail silently.
TEST_F(Hardening, WritesFailLoudly) {
  Ran r = sh("$V run" + m() + " -p hi -n 2 --json /nonexistent/x.json");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("vatp run: error: not found: --json /nonexistent/x.json: folder /nonexistent: No such "
                       "file or directory"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("prompt "), std::string::npos) << "checked only after generating: " << r.err;
  r = sh("$V run" + m() + " -p hi -n 2 --json \"\"");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--json needs a file name, got an empty string"), std::string::npos) << r.err;
  r = sh("$V info" + m() + " --json >/dev/full");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("vatp info: error: writing stdout: No space left on device"), std::string::npos)
      << r.err;
  r = sh("$V tokenize" + m() + " -p hello >&-");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("vatp tokenize: error: writing stdout: Bad file descriptor"), std::string::npos)
      << r.err;
  r = sh("$V run" + m() + " -p hi -n 2 --json /dev/full");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("writing /dev/full: No space left on device"), std::string::npos) << r.err;
}

TEST_F(Hardening, FailedSynthLeavesNoFile) {
  const std::string dir = tmp("synth_dir");
  fs::create_directories(dir);
  const std::string vocab = std::string(VATP_SHARED_DIR) + "/fixtures/tokenizer/ggml-vocab-llama-spm.gguf";
  // A 64-block file size limit makes the write fail (EFBIG) part-way.
  const Ran r = sh("trap \"\" XFSZ; ulimit -f 64; $V synth --shape tiny --type F32 --vocab-from " + vocab +
                   " -o " + dir + "/out.gguf");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(dir)) << "a failed synth left a file in " << dir;
  fs::remove_all(dir);
}

// Class 4: flags that would take unbounded memory, threads or reading time.
TEST_F(Hardening, RunawayFlagsAreRefused) {
  Ran r = sh("$V run" + m() + " -p hi -c 100000 --max-memory 100M");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("warning: -c 100000 exceeds the model's training context"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("this run needs 174.1 MiB (KV cache 108.3 MiB"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("but --max-memory is 100.0 MiB"), std::string::npos) << r.err;
  r = sh("$V run" + m() + " -p hi --repeat-penalty 1.1 --repeat-last-n 2147483647");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--repeat-last-n 2147483647 exceeds the context (2048 tokens)"), std::string::npos)
      << r.err;
  r = sh("$V run" + m() + " -p hi -t 100000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("-t 100000 is more than 4 x the"), std::string::npos) << r.err;
  r = sh("timeout 20 $V run" + m() + " -f /dev/zero");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("-f /dev/zero is not a regular file"), std::string::npos) << r.err;
  r = sh("$V eval longbench" + m() + " --data x.jsonl --max-length 0 -o " + tmp("lb"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--max-length must be >= 1 token, got 0"), std::string::npos) << r.err;
  r = sh("$V run" + m() + " -p hi -n 2");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("MiB used of"), std::string::npos) << "stats line shows allocated and used: " << r.err;
}

// Class 5 (CLI parts).
TEST_F(Hardening, BadInputsAndCommandLines) {
  const std::string fifo = tmp("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Ran r = sh("timeout 20 $V info -m " + fifo);
  EXPECT_EQ(r.exit_code, 1) << "124 means it hung in open()";
  EXPECT_NE(r.err.find("'" + fifo + "' is not a regular file"), std::string::npos) << r.err;
  fs::remove(fifo);
  r = sh("$V run" + m() + " -f /tmp");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("-f /tmp is a directory"), std::string::npos) << r.err;
  const std::string empty = tmp("empty.txt");
  std::ofstream(empty).close();
  r = sh("$V run" + m() + " -f " + empty);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("-f " + empty + " is empty"), std::string::npos) << r.err;
  fs::remove(empty);
  r = sh("$V run --no-such-flag");
  EXPECT_EQ(r.exit_code, 1) << "CLI11 parse errors exit 1: " << r.err;
  EXPECT_EQ(sh("$V --help >/dev/null").exit_code, 0);
  r = sh("$V frobnicate");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("vatp: unknown command 'frobnicate' (commands: run, ppl, info"), std::string::npos)
      << r.err;
  for (const char* seed : {"-1", "18446744073709551616"}) {
    r = sh("$V run" + m() + " -p hi --seed " + std::string(seed));
    EXPECT_EQ(r.exit_code, 1) << seed;
    EXPECT_NE(r.err.find("a seed is an integer in 0..18446744073709551615, got '" + std::string(seed) + "'"),
              std::string::npos)
        << r.err;
  }
}

TEST_F(Hardening, SigintWritesStatsAndJson) {
  const std::string json = tmp("sig.json"), out = tmp("sig.out");
  // A continuous policy with rerotation generates without end until the signal.
  const Ran r = sh(
      "$V run" + m() +
      " -p hi -n 1000000 --kv-policy streaming --kv-budget 64 --kv-schedule continuous --kv-rerotate "
      "--json " +
      json + " >" + out + " & p=$!; while [ ! -s " + out + " ]; do sleep 0.1; done; kill -INT $p; wait $p");
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_NE(r.err.find("prompt 2 tok"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stopped by signal 2"), std::string::npos) << r.err;
  const nlohmann::json j = nlohmann::json::parse(read_all(json));
  EXPECT_EQ(j["stats"]["signal"], 2);
  EXPECT_GT(j["stats"]["n_generated"].get<int>(), 0);
  fs::remove(json);
  fs::remove(out);
}

}  // namespace
