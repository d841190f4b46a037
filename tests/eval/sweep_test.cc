// The generation sweep on SmolLM2: a run forked from the shared prefill decodes exactly
// as a separate run under the same policy; runs.jsonl resumes; bad records are errors.
#include "eval/sweep.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/model_path.h"
#include "common/smol_fixture.h"
#include "eval/prompt.h"
#include "kernels/kernel_table.h"
#include "policy/flags.h"
#include "runtime/session.h"

namespace vatp::eval {
namespace {

class SweepSmol : public testing_util::SmolModelTest {
 protected:
  static std::string text() {
    std::string s = "Notes from the archive. ";
    for (int i = 0; i < 30; ++i) {
      s += "Entry " + std::to_string(i) + ": the keeper of shelf " + std::to_string(i * 7 % 13) +
           " recorded " + std::to_string(i * 31 % 97) + " boxes of letters. ";
    }
    return s + "The secret code is 4721. Question: what is the secret code? Answer:";
  }
};

TEST_F(SweepSmol, ForkedRunEqualsSeparateRunSlow) {
  const std::vector<int32_t> prompt = tok_->encode(text(), true, false);
  ASSERT_GT(prompt.size(), 300u);
  runtime::SessionOptions so;
  so.n_ctx = static_cast<int>(prompt.size()) + 16;
  so.sampling.temp = 0.0f;
  auto source = runtime::Session::create(*model_, *tok_, *pool_, so);
  auto worker = runtime::Session::create(*model_, *tok_, *pool_, so);
  ASSERT_TRUE(source.is_ok() && worker.is_ok());
  // One shared prefill gathering every statistic the policies below need.
  model::AttentionStatsRequest req;
  req.accumulate = true;
  req.last = true;
  req.window_start =
      static_cast<int32_t>(prompt.size()) - 400 > 0 ? static_cast<int32_t>(prompt.size()) - 400 : 0;
  ASSERT_TRUE((*source)->prefill_shared(prompt, req).is_ok());
  for (const char* name : {"full", "streaming", "h2o", "vatp", "scissorhands", "tova", "knorm"}) {
    SCOPED_TRACE(name);
    policy::PolicyFlags f;
    f.policy = name;
    if (std::string(name) != "full") f.budget = "0.5";
    if (std::string(name) == "vatp") f.sinks = "4";
    auto cfg = policy::config_from_flags(f);
    ASSERT_TRUE(cfg.is_ok()) << cfg.status().to_string();
    ASSERT_TRUE((*worker)->fork_policy(**source, *cfg).is_ok());
    std::vector<float> forked_logits((*worker)->last_logits(),
                                     (*worker)->last_logits() + (*worker)->n_vocab());
    const int64_t forked_evicted = (*worker)->stats().tokens_evicted;
    auto forked = (*worker)->continue_generation(prompt, 8, nullptr);
    ASSERT_TRUE(forked.is_ok()) << forked.status().to_string();

    runtime::SessionOptions o2 = so;
    o2.kv_policy = *cfg;
    auto alone = runtime::Session::create(*model_, *tok_, *pool_, o2);
    ASSERT_TRUE(alone.is_ok());
    ASSERT_TRUE((*alone)->begin_policy(static_cast<int64_t>(prompt.size())).is_ok());
    ASSERT_TRUE((*alone)->prefill(prompt).is_ok());
    for (int v = 0; v < (*alone)->n_vocab(); ++v)
      ASSERT_EQ(forked_logits[v], (*alone)->last_logits()[v]) << v;
    EXPECT_EQ((*alone)->stats().tokens_evicted, forked_evicted);
    auto sep = (*alone)->continue_generation(prompt, 8, nullptr);
    ASSERT_TRUE(sep.is_ok());
    EXPECT_EQ(*forked, *sep);
    for (int v = 0; v < (*alone)->n_vocab(); ++v)
      ASSERT_EQ((*worker)->last_logits()[v], (*alone)->last_logits()[v]) << v;
  }
}

TEST_F(SweepSmol, SweepWritesResumesAndRejectsBadRecordsSlow) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "vatp_sweep_test";
  std::filesystem::remove_all(dir);
  std::vector<Sample> samples(2);
  for (int i = 0; i < 2; ++i) {
    samples[i].task = "code";
    samples[i].id = std::to_string(i);
    samples[i].prompt = text();
    samples[i].chat = false;
    samples[i].max_new_tokens = 4;
    samples[i].answers = {"4721"};
  }
  samples[1].prompt += " ";
  ScoreFn score = [](const Sample& s, std::string_view pred) {
    return pred.find(s.answers[0]) != std::string_view::npos ? 1.0 : 0.0;
  };
  SweepOptions o;
  o.policies = {"full", "h2o", "snapkv"};
  o.budgets = {"0.5", "64"};
  o.out_dir = dir.string();
  o.progress = false;
  o.command_line = "test";
  ModelRef m{*model_, *tok_, *pool_};
  auto s1 = run_generation_sweep(m, samples, score, o);
  ASSERT_TRUE(s1.is_ok()) << s1.status().to_string();
  EXPECT_EQ(s1->runs_done, 2 * 5);
  EXPECT_EQ(s1->cells.size(), 5u);
  for (const char* f : {"runs.jsonl", "summary.json", "summary.csv", "summary.md"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / f)) << f;
  }
  auto s2 = run_generation_sweep(m, samples, score, o);
  ASSERT_TRUE(s2.is_ok()) << s2.status().to_string();
  EXPECT_EQ(s2->runs_done, 0);
  EXPECT_EQ(s2->runs_skipped, 10);
  for (size_t i = 0; i < s1->cells.size(); ++i) EXPECT_EQ(s1->cells[i].score, s2->cells[i].score);

  // A partial last line (interrupted write) is dropped and that run redone.
  {
    std::ofstream out(dir / "runs.jsonl", std::ios::app);
    out << "{\"task\": \"code\", \"id\"";
  }
  auto s3 = run_generation_sweep(m, samples, score, o);
  ASSERT_TRUE(s3.is_ok()) << s3.status().to_string();
  EXPECT_EQ(s3->runs_done, 0);
  // A malformed complete line is an error naming the file and line.
  {
    std::ofstream out(dir / "runs.jsonl", std::ios::app);
    out << "not json\n";
  }
  auto s4 = run_generation_sweep(m, samples, score, o);
  ASSERT_FALSE(s4.is_ok());
  EXPECT_NE(s4.status().message().find("runs.jsonl:11"), std::string::npos) << s4.status().to_string();
  std::filesystem::remove_all(dir);
}

// --parallel: the same runs on the batched engine (forks of the shared prefill submitted
// prefilled, chunked runs prefilled by the engine) give the same records as one at a
// time on a Session — predictions, token counts, KV fractions, scores — whatever order
// they finish in; min_new_tokens and stop-at-newline included.
TEST_F(SweepSmol, ParallelSweepEqualsSerialSweepSlow) {
  std::vector<Sample> samples(3);
  for (int i = 0; i < 3; ++i) {
    samples[i].task = "code";
    samples[i].id = std::to_string(i);
    samples[i].prompt = text().substr(text().size() / 2) + std::string(static_cast<size_t>(i), ' ');
    samples[i].chat = false;
    samples[i].max_new_tokens = 6;
    samples[i].answers = {"4721"};
  }
  samples[1].stop_at_newline = true;
  samples[2].min_new_tokens = 3;
  ScoreFn score = [](const Sample& s, std::string_view pred) {
    return pred.find(s.answers[0]) != std::string_view::npos ? 1.0 : 0.0;
  };
  ModelRef m{*model_, *tok_, *pool_};
  auto records = [&](int parallel, bool chunked) {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("vatp_sweep_par_" + std::to_string(parallel) + (chunked ? "c" : ""));
    std::filesystem::remove_all(dir);
    SweepOptions o;
    o.policies = {"full", "snapkv", "vatp"};
    o.budgets = {"0.5", "48"};
    if (chunked) {
      o.overrides.schedule = "chunked";
      o.overrides.chunk = "64";
    }
    o.out_dir = dir.string();
    o.progress = false;
    o.command_line = "test";
    o.parallel = parallel;
    auto s = run_generation_sweep(m, samples, score, o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    std::map<std::string, nlohmann::json> out;
    std::ifstream in(dir / "runs.jsonl");
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line);
      const std::string k = j["id"].get<std::string>() + "/" + j["policy"].get<std::string>() + "@" +
                            j["budget"].get<std::string>();
      j.erase("seconds");
      out[k] = std::move(j);
    }
    std::filesystem::remove_all(dir);
    return out;
  };
  for (bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked (prefilled by the engine)" : "forks of the shared prefill");
    const auto serial = records(1, chunked), parallel = records(4, chunked);
    EXPECT_EQ(serial.size(), 3u * 5u);
    ASSERT_EQ(serial.size(), parallel.size());
    for (const auto& [k, v] : serial) {
      ASSERT_TRUE(parallel.count(k)) << k;
      EXPECT_EQ(parallel.at(k), v) << k;
    }
  }
}

TEST(SharedPrefix, CutsBeforeEveryWindowAtABatchMultiple) {
  PrefillGroup acc{{.accumulate = true}, {0}}, win{{.window_start = 1000}, {1}},
      win2{{.window_start = 700}, {2}};
  EXPECT_FALSE(shared_prefix({acc}, 1200, 256).has_value());  // one group: nothing to share
  auto p = shared_prefix({acc, win, win2}, 1200, 256);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->split, 512);  // the last multiple of 256 before the earliest window (700)
  EXPECT_TRUE(p->req.accumulate);
  EXPECT_EQ(p->req.window_start, INT32_MAX);
  EXPECT_FALSE(p->req.last);
  EXPECT_EQ(shared_prefix({acc, win}, 1200, 256)->split, 768);
  EXPECT_FALSE(shared_prefix({acc, {{.window_start = 200}, {1}}}, 1200, 256).has_value());  // < one batch
  PrefillGroup per_head{{.accumulate = true, .reduce = model::GroupReduce::PerHead}, {3}};
  EXPECT_FALSE(shared_prefix({per_head, win}, 1200, 256).has_value());  // two statistics layouts
  PrefillGroup mean_acc{{.accumulate = true, .reduce = model::GroupReduce::Mean}, {5}};
  EXPECT_FALSE(shared_prefix({acc, mean_acc}, 1200, 256).has_value());  // two accumulations
  PrefillGroup mean_win{{.window_start = 1000, .reduce = model::GroupReduce::Mean}, {6}};
  EXPECT_EQ(shared_prefix({acc, mean_win}, 1200, 256)->req.reduce, model::GroupReduce::Sum);
  EXPECT_EQ(shared_prefix({acc, {{}, {4}}}, 1200, 256)->split, 1024);  // no window: up to the last token
}

// Groups of a sample share the prefix before their windows (shared_prefix); each run
// still gives exactly what a separate Session run of its policy gives.
TEST_F(SweepSmol, GroupsSharingAPrefixEqualSeparateRunsSlow) {
  Sample sample;
  sample.task = "code";
  sample.id = "0";
  sample.prompt = text() + " " + text() + " " + text();
  sample.chat = false;
  sample.max_new_tokens = 6;
  sample.answers = {"4721"};
  const std::vector<int32_t> prompt = tok_->encode(sample.prompt, true, false);
  ASSERT_GT(prompt.size(), 1000u);
  SweepOptions o;
  o.policies = {"h2o", "snapkv", "scissorhands", "tova"};
  o.budgets = {"0.25"};
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "vatp_sweep_prefix";
  std::filesystem::remove_all(dir);
  o.out_dir = dir.string();
  o.progress = false;
  o.command_line = "test";
  auto runs = expand_runs(o.policies, o.budgets, o.overrides);
  ASSERT_TRUE(runs.is_ok());
  std::vector<size_t> all(runs->size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  auto plan = plan_prefills(*runs, all, static_cast<int64_t>(prompt.size()), 4096);
  ASSERT_TRUE(plan.is_ok());
  ASSERT_GE(plan->groups.size(), 2u);
  ASSERT_TRUE(shared_prefix(plan->groups, static_cast<int64_t>(prompt.size()), 256).has_value());
  ScoreFn score = [](const Sample&, std::string_view) { return 0.0; };
  ModelRef m{*model_, *tok_, *pool_};
  auto s = run_generation_sweep(m, std::span<const Sample>(&sample, 1), score, o);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  std::map<std::string, nlohmann::json> got;
  std::ifstream in(dir / "runs.jsonl");
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    got[j["policy"].get<std::string>()] = j;
  }
  std::filesystem::remove_all(dir);
  for (const RunSpec& r : *runs) {
    SCOPED_TRACE(r.policy);
    runtime::SessionOptions so;
    so.n_ctx = static_cast<int>(prompt.size()) + sample.max_new_tokens + 1;
    so.sampling.temp = 0.0f;
    so.sampling.repeat_penalty = 1.0f;
    so.kv_policy = r.cfg;
    auto alone = runtime::Session::create(*model_, *tok_, *pool_, so);
    ASSERT_TRUE(alone.is_ok());
    ASSERT_TRUE((*alone)->begin_policy(static_cast<int64_t>(prompt.size())).is_ok());
    ASSERT_TRUE((*alone)->prefill(prompt).is_ok());
    const auto& st = (*alone)->stats();
    const double kv_fraction = static_cast<double>(st.kv_bytes_used) / static_cast<double>(st.kv_bytes_full);
    std::string pred;
    auto ids =
        (*alone)->continue_generation(prompt, sample.max_new_tokens, [&](int32_t, std::string_view piece) {
          pred.append(piece);
          return true;
        });
    ASSERT_TRUE(ids.is_ok());
    ASSERT_TRUE(got.count(r.policy));
    EXPECT_EQ(got[r.policy]["pred"], pred);
    EXPECT_EQ(got[r.policy]["n_generated"], static_cast<int64_t>(ids->size()));
    EXPECT_EQ(got[r.policy]["kv_fraction"].get<double>(), kv_fraction);
  }
}

TEST_F(SweepSmol, TruncateMiddleKeepsHeadAndTail) {
  std::string t;
  for (int i = 0; i < 200; ++i) t += "word" + std::to_string(i) + " ";
  auto same = truncate_middle(*tok_, t, 100000);
  ASSERT_TRUE(same.is_ok());
  EXPECT_EQ(*same, t);
  auto cut = truncate_middle(*tok_, t, 64);
  ASSERT_TRUE(cut.is_ok());
  EXPECT_EQ(cut->rfind("word0 ", 0), 0u) << *cut;
  EXPECT_NE(cut->find("word199 "), std::string::npos);
  EXPECT_EQ(cut->find("word100 "), std::string::npos);
  EXPECT_LE(tok_->encode(*cut, true, false).size(), 66u);
}

TEST_F(SweepSmol, BadSettingsAreErrors) {
  std::vector<Sample> samples(1);
  samples[0].task = "t";
  samples[0].id = "0";
  samples[0].prompt = "Hello";
  samples[0].chat = false;
  ScoreFn score = [](const Sample&, std::string_view) { return 0.0; };
  ModelRef m{*model_, *tok_, *pool_};
  auto expect_error = [&](SweepOptions o, const std::string& needle) {
    auto r = run_generation_sweep(m, samples, score, o);
    ASSERT_FALSE(r.is_ok()) << needle;
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().to_string();
  };
  SweepOptions o;
  o.progress = false;
  expect_error(o, "output directory");
  o.out_dir = (std::filesystem::temp_directory_path() / "vatp_sweep_bad").string();
  o.policies = {"h2o", "nosuch"};
  expect_error(o, "nosuch");
  o.policies = {"h2o", "h2o"};
  expect_error(o, "twice");
  o.policies = {"h2o"};
  o.budgets = {"0"};
  expect_error(o, "budget");
  o.budgets = {"0.5"};
  o.n_ctx = 4;
  samples[0].prompt = "Hello, this prompt is longer than four tokens for sure.";
  expect_error(o, "context");
  std::filesystem::remove_all(o.out_dir);
}

}  // namespace
}  // namespace vatp::eval
