// Fidelity and streaming perplexity on SmolLM2: the full policy and a budget that never
// evicts agree exactly with the reference; evicting policies measurably do not.
#include "eval/fidelity.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/model_path.h"
#include "kernels/kernel_table.h"

namespace vatp::eval {
namespace {

struct Loaded {
  std::unique_ptr<kernels::KernelTable> kt;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::unique_ptr<ThreadPool> pool;
};

Loaded* load() {
  static Loaded* l = [] {
    auto* x = new Loaded;
    const std::string path = testing_util::default_model_path();
    if (!std::filesystem::exists(path)) return x;
    x->kt = std::make_unique<kernels::KernelTable>(kernels::make_kernel_table(kernels::detect_isa()));
    auto m = model::Model::load(path, *x->kt);
    if (!m.is_ok()) return x;
    x->model = std::move(*m);
    auto t = tokenizer::Tokenizer::from_gguf(x->model->gguf());
    if (!t.is_ok()) return x;
    x->tok = std::make_unique<tokenizer::Tokenizer>(std::move(*t));
    x->pool = std::make_unique<ThreadPool>(2);
    return x;
  }();
  return l;
}

std::vector<int32_t> text_ids(const tokenizer::Tokenizer& tok) {
  std::string s;
  for (int i = 0; i < 40; ++i) {
    s += "Line " + std::to_string(i) + " of the ledger lists " + std::to_string(i * 17 % 23) + " crates of " +
         (i % 2 ? "apples" : "pears") + " shipped to the north. ";
  }
  return tok.encode(s, true, false);
}

TEST(Fidelity, FullIsExactAndEvictionIsNot) {
  Loaded* l = load();
  if (!l->tok) GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL or run scripts/fetch-model.sh)";
  const auto ids = text_ids(*l->tok);
  FidelityOptions o;
  o.context = 96;
  o.tokens = 16;
  o.segments = 2;
  o.policies = {"full", "streaming", "h2o"};
  o.budgets = {"0.25"};
  o.overrides.sinks = "4";
  o.out_dir = (std::filesystem::temp_directory_path() / "vatp_fid_test").string();
  o.resume = false;
  o.progress = false;
  auto cells = run_fidelity({*l->model, *l->tok, *l->pool}, ids, o);
  ASSERT_TRUE(cells.is_ok()) << cells.status().to_string();
  ASSERT_EQ(cells->size(), 3u);
  const FidelityCell& full = (*cells)[0];
  EXPECT_EQ(full.positions, 32);
  EXPECT_EQ(full.kl_mean, 0.0);
  EXPECT_EQ(full.top1, 100.0);
  EXPECT_DOUBLE_EQ(full.ppl, full.ppl_full);
  EXPECT_GT(full.ppl, 1.0);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_GT((*cells)[i].kl_mean, 1e-4) << (*cells)[i].policy;
    EXPECT_NEAR((*cells)[i].ppl_full, full.ppl, 1e-9 * full.ppl);
    EXPECT_LT((*cells)[i].kv_fraction, 0.3);
  }
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(o.out_dir) / "fidelity.md"));
  // Resuming redoes nothing and gives the same cells.
  o.resume = true;
  auto again = run_fidelity({*l->model, *l->tok, *l->pool}, ids, o);
  ASSERT_TRUE(again.is_ok());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*again)[i].kl_mean, (*cells)[i].kl_mean);
  std::filesystem::remove_all(o.out_dir);
}

TEST(Fidelity, StreamingWithRoomForEverythingIsExact) {
  Loaded* l = load();
  if (!l->tok) GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL or run scripts/fetch-model.sh)";
  const auto ids = text_ids(*l->tok);
  FidelityOptions o;
  o.streaming = true;
  o.context = 1;
  o.tokens = 40;
  o.policies = {"streaming", "h2o"};
  o.budgets = {"41", "16"};
  o.overrides.sinks = "4";
  o.out_dir = (std::filesystem::temp_directory_path() / "vatp_pplstream_test").string();
  o.resume = false;
  o.progress = false;
  auto cells = run_fidelity({*l->model, *l->tok, *l->pool}, ids, o);
  ASSERT_TRUE(cells.is_ok()) << cells.status().to_string();
  ASSERT_EQ(cells->size(), 4u);
  EXPECT_EQ((*cells)[0].kl_mean, 0.0);   // streaming@41 never evicts: at most 40 tokens
  EXPECT_GT((*cells)[1].kl_mean, 1e-4);  // streaming@16 does
  EXPECT_EQ((*cells)[2].kl_mean, 0.0);
  EXPECT_GT((*cells)[3].kl_mean, 1e-4);
  std::filesystem::remove_all(o.out_dir);
}

TEST(Fidelity, BadSettingsAreErrors) {
  Loaded* l = load();
  if (!l->tok) GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL or run scripts/fetch-model.sh)";
  const auto ids = text_ids(*l->tok);
  FidelityOptions o;
  o.out_dir = (std::filesystem::temp_directory_path() / "vatp_fid_bad").string();
  o.progress = false;
  o.context = 100000;
  auto r = run_fidelity({*l->model, *l->tok, *l->pool}, ids, o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("the text has"), std::string::npos);
  o.context = 32;
  o.tokens = 8;
  o.policies = {"h2o"};
  o.budgets = {"0"};
  r = run_fidelity({*l->model, *l->tok, *l->pool}, ids, o);
  ASSERT_FALSE(r.is_ok());
  std::filesystem::remove_all(o.out_dir);
}

}  // namespace
}  // namespace vatp::eval
