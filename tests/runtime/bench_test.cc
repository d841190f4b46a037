// vatp bench: statistics, flag parsing and errors, the bandwidth test, and a tiny run
// on the real model.
#include "runtime/bench.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "model/model.h"
#include "policy/flags.h"
#include "runtime/bandwidth.h"
#include "runtime_test_util.h"
#include "tokenizer/tokenizer.h"

namespace vatp::runtime {
namespace {

TEST(BenchStats, MeanAndSampleSd) {
  const std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  const MeanSd r = mean_sd(v);
  EXPECT_DOUBLE_EQ(r.mean, 5.0);
  EXPECT_NEAR(r.sd, std::sqrt(32.0 / 7.0), 1e-12);  // n - 1 in the denominator
  const std::vector<double> one = {3.5};
  EXPECT_DOUBLE_EQ(mean_sd(one).mean, 3.5);
  EXPECT_DOUBLE_EQ(mean_sd(one).sd, 0.0);
  EXPECT_DOUBLE_EQ(mean_sd(std::vector<double>{}).mean, 0.0);
}

TEST(BenchFlags, ParseDepths) {
  auto ok = parse_depths("0,2048,8192");
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, (std::vector<int>{0, 2048, 8192}));
  EXPECT_EQ(*parse_depths("7"), std::vector<int>{7});
  for (const char* bad : {"", "1,,2", "-1", "a", "1,", "2x", ",3"}) {
    auto r = parse_depths(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_NE(r.status().to_string().find("--depth"), std::string::npos) << r.status().to_string();
  }
}

TEST(BenchFlags, ValidateNamesTheFlag) {
  auto msg = [](BenchOptions o) { return validate(o).to_string(); };
  BenchOptions o;
  EXPECT_TRUE(validate(o).is_ok());
  o.reps = 0;
  EXPECT_NE(msg(o).find("-r"), std::string::npos);
  o = {};
  o.n_prompt = -1;
  EXPECT_NE(msg(o).find("-p"), std::string::npos);
  o = {};
  o.n_gen = -3;
  EXPECT_NE(msg(o).find("-n"), std::string::npos);
  o = {};
  o.n_prompt = 0;
  o.n_gen = 0;
  EXPECT_FALSE(validate(o).is_ok());
  o = {};
  o.n_batch = 0;
  EXPECT_NE(msg(o).find("-b"), std::string::npos);
}

TEST(Bandwidth, MeasuresSomething) {
  ThreadPool pool(2);
  BandwidthOptions bo;
  bo.bytes = size_t{16} << 20;
  bo.reps = 2;
  auto r = measure_read_bandwidth(pool, bo);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_GT(r->gb_per_s, 0.1);
  EXPECT_LT(r->gb_per_s, 1e4);
  EXPECT_EQ(r->threads, 2);
  EXPECT_LE(r->bytes, bo.bytes);
  bo.reps = 0;
  EXPECT_FALSE(measure_read_bandwidth(pool, bo).is_ok());
}

TEST(BenchRun, TinyRunOnTheRealModelSlow) {
  const std::string path = test_model_path();
  if (path.empty()) GTEST_SKIP() << "model file absent (~/.cache/vatp/SmolLM2-135M-Instruct.Q4_1.gguf)";
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  auto model = model::Model::load(path, kt);
  ASSERT_TRUE(model.is_ok());
  auto tok = tokenizer::Tokenizer::from_gguf((*model)->gguf());
  ASSERT_TRUE(tok.is_ok());
  // Decode reads every weight once (the tied embedding doubles as the output head).
  const double wb = decode_weight_bytes(**model);
  EXPECT_NEAR(wb, static_cast<double>((*model)->weight_bytes()), 0.01 * wb);

  BenchOptions o;
  o.n_prompt = 8;
  o.n_gen = 4;
  o.depths = {0, 100};
  o.reps = 2;
  o.n_batch = 16;
  policy::PolicyFlags pf;
  pf.policy = "vatp";
  pf.budget = "0.5";
  auto cfg = policy::config_from_flags(pf);
  ASSERT_TRUE(cfg.is_ok());
  o.kv_policy = *cfg;
  ThreadPool pool(2);
  std::vector<std::string> seen;
  auto res = run_bench(**model, *tok, pool, o, [&](const std::string& s) { seen.push_back(s); });
  ASSERT_TRUE(res.is_ok()) << res.status().to_string();
  ASSERT_EQ(res->size(), 4u);
  EXPECT_EQ(seen, (std::vector<std::string>{"pp8", "tg4", "pp8 @ d100", "tg4 @ d100"}));
  for (const BenchResult& r : *res) {
    ASSERT_EQ(r.tok_per_s.size(), 2u);
    EXPECT_GT(r.ts.mean, 0.0);
    if (r.n_gen > 0) {
      EXPECT_GT(r.bytes_per_token, wb);  // plus the K/V read
      EXPECT_GT(r.gbs.mean, 0.0);
    }
  }
  // A single decode step with no prompt (the smallest context) also runs.
  BenchOptions one;
  one.n_prompt = 0;
  one.n_gen = 1;
  one.reps = 1;
  auto r1 = run_bench(**model, *tok, pool, one, nullptr);
  ASSERT_TRUE(r1.is_ok()) << r1.status().to_string();
  ASSERT_EQ(r1->size(), 1u);
  EXPECT_EQ((*r1)[0].test, "tg1");
  const BenchResult& deep = (*res)[3];
  EXPECT_TRUE(deep.policy);
  EXPECT_FALSE((*res)[1].policy);
  // Half of the 100-token prefill is kept; the 4 decoded tokens may add to it.
  const double per_tok =
      static_cast<double>((*model)->make_cache(1, kvcache::KvType::F16)->kv_bytes_per_token());
  EXPECT_LT(static_cast<double>(deep.kv_bytes_used), 80.0 * per_tok);
}

struct Ran {
  int exit_code = -1;
  std::string err;
};

Ran run_vatp(const std::string& args) {
  const std::string err = ::testing::TempDir() + "/vatp_bench_err_" + std::to_string(::getpid()) + ".txt";
  const std::string cmd = std::string(VATP_BINARY_DIR) + "/vatp bench " + args + " >/dev/null 2>" + err;
  const int st = std::system(cmd.c_str());
  Ran r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream f(err);
  r.err.assign(std::istreambuf_iterator<char>(f), {});
  return r;
}

TEST(BenchCli, FlagErrors) {
  struct Case {
    const char* args;
    const char* want;
  };
  for (const Case& c :
       {Case{"-p 4", "-m"}, Case{"-m x.gguf -r 0", "-r"}, Case{"-m x.gguf --depth 1,,2", "--depth"},
        Case{"-m x.gguf -t 0", "-t"}, Case{"-m /nonexistent.gguf", "not found"},
        Case{"-m x.gguf --kv-policy nosuch", "nosuch"}}) {
    const Ran r = run_vatp(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << c.args << " → " << r.err;
  }
}

}  // namespace
}  // namespace vatp::runtime
