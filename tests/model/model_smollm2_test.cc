#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/model_path.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "model/model.h"

namespace vatp::model {
namespace {

std::string model_path() { return testing_util::default_model_path(); }

// Token ids by their vocabulary text (GPT-2 byte-level: 'Ġ' = leading space), so this
// test needs no tokenizer.
std::vector<int32_t> ids_of(const gguf::GgufFile& f, const std::vector<std::string>& pieces) {
  auto toks = f.find("tokenizer.ggml.tokens")->as_string_array();
  std::vector<int32_t> ids;
  for (const std::string& p : pieces) {
    auto it = std::find(toks->begin(), toks->end(), p);
    EXPECT_NE(it, toks->end()) << p;
    ids.push_back(static_cast<int32_t>(it - toks->begin()));
  }
  return ids;
}

class SmolLM2 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(model_path())) GTEST_SKIP() << "model not found at " << model_path();
    kt_ = kernels::make_kernel_table(kernels::detect_isa());
    auto m = Model::load(model_path(), kt_);
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    model_ = std::move(*m);
  }
  kernels::KernelTable kt_;
  std::unique_ptr<Model> model_;
};

TEST_F(SmolLM2, ConfigMatchesTheFile) {
  const ModelConfig& c = model_->config();
  EXPECT_EQ(c.n_layers, 30);
  EXPECT_EQ(c.dim, 576);
  EXPECT_EQ(c.n_heads, 9);
  EXPECT_EQ(c.n_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.ff, 1536);
  EXPECT_EQ(c.n_vocab, 49152);
  EXPECT_TRUE(model_->weights().tied_output);
}

TEST_F(SmolLM2, CapitalOfFranceIsParisAndBatchedEqualsSequential) {
  const std::vector<int32_t> prompt = ids_of(model_->gguf(), {"The",
                                                              "\xC4\xA0"
                                                              "capital",
                                                              "\xC4\xA0"
                                                              "of",
                                                              "\xC4\xA0"
                                                              "France",
                                                              "\xC4\xA0"
                                                              "is"});
  const int32_t paris = ids_of(model_->gguf(), {"\xC4\xA0"
                                                "Paris"})[0];
  const ModelConfig& c = model_->config();
  ThreadPool pool(2);
  ForwardScratch s;
  s.reserve(c, 8, pool.size(), 64);
  std::vector<int32_t> pos(prompt.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);

  // Batched prefill, logits of every row.
  auto cache = model_->make_cache(64, kvcache::KvType::F16);
  ASSERT_TRUE(cache.is_ok());
  std::vector<float> all(prompt.size() * c.n_vocab);
  ASSERT_TRUE(model_
                  ->forward(prompt.data(), pos.data(), static_cast<int64_t>(prompt.size()), *cache,
                            all.data(), static_cast<int64_t>(prompt.size()), s, pool)
                  .is_ok());
  const float* last = &all[(prompt.size() - 1) * c.n_vocab];
  for (int i = 0; i < c.n_vocab; ++i) ASSERT_TRUE(std::isfinite(last[i]));
  const int32_t top = static_cast<int32_t>(std::max_element(last, last + c.n_vocab) - last);
  EXPECT_EQ(top, paris);

  // One token at a time gives the same logits (different activation batching only).
  auto cache2 = model_->make_cache(64, kvcache::KvType::F16);
  std::vector<float> one(c.n_vocab);
  for (size_t i = 0; i < prompt.size(); ++i) {
    ASSERT_TRUE(model_->forward(&prompt[i], &pos[i], 1, *cache2, one.data(), 1, s, pool).is_ok());
    const float* ref = &all[i * c.n_vocab];
    float maxdiff = 0;
    for (int j = 0; j < c.n_vocab; ++j) maxdiff = std::max(maxdiff, std::fabs(one[j] - ref[j]));
    EXPECT_LT(maxdiff, 1e-3f) << "position " << i;
  }
}

}  // namespace
}  // namespace vatp::model
