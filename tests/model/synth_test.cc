#include "model/synth.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "common/model_path.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace vatp::model {
namespace {

std::string model_path() { return testing_util::default_model_path(); }

TEST(Synth, EveryWeightTypeAndBothArchitecturesLoadAndRun) {
  if (!std::filesystem::exists(model_path())) GTEST_SKIP() << "model (the tokenizer source) not found";
  auto vocab = gguf::GgufFile::open(model_path());
  ASSERT_TRUE(vocab.is_ok());
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  ThreadPool pool(2);
  const std::string out = std::string(VATP_BINARY_DIR) + "/synth_test.gguf";
  for (const char* arch : {"llama", "qwen2"}) {
    for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K,
                    DType::Q6_K, DType::F16, DType::BF16, DType::F32}) {
      SynthSpec s;
      ASSERT_TRUE(apply_shape("tiny", &s).is_ok());
      s.arch = arch;
      s.type = t;
      s.layers = 1;
      ASSERT_TRUE(synth_write(s, *vocab, out).is_ok()) << arch << " " << dtype_name(t);
      auto m = Model::load(out, kt);
      ASSERT_TRUE(m.is_ok()) << m.status().to_string();
      const ModelConfig& c = (*m)->config();
      EXPECT_EQ(c.arch_name, arch);
      EXPECT_EQ(c.n_vocab, 49152);
      EXPECT_EQ((*m)->weights().layers[0].wq.type, t);
      EXPECT_EQ((*m)->weights().layers[0].bq != nullptr, std::string(arch) == "qwen2");
      auto cache = (*m)->make_cache(8, kvcache::KvType::F16);
      ForwardScratch sc;
      sc.reserve(c, 2, pool.size(), 8);
      const int32_t toks[2] = {19556, 905}, pos[2] = {0, 1};
      std::vector<float> logits(static_cast<size_t>(c.n_vocab));
      ASSERT_TRUE((*m)->forward(toks, pos, 2, *cache, logits.data(), 1, sc, pool).is_ok());
      float amax = 0;
      for (float x : logits) {
        ASSERT_TRUE(std::isfinite(x));
        amax = std::max(amax, std::fabs(x));
      }
      EXPECT_GT(amax, 0.1f) << "degenerate logits for " << dtype_name(t);
    }
  }
  std::filesystem::remove(out);
}

TEST(Synth, BadShapesAreRejected) {
  SynthSpec s;
  EXPECT_FALSE(apply_shape("gpt-5", &s).is_ok());
  s.heads = 3, s.kv_heads = 2;
  EXPECT_FALSE(validate(s).is_ok());
  s = SynthSpec{};
  s.type = DType::Q4_K;
  s.dim = 128, s.heads = 4, s.kv_heads = 2;  // 128-wide rows do not fit 256-element K-quant blocks
  EXPECT_FALSE(validate(s).is_ok());
  s = SynthSpec{};
  s.arch = "gpt2";
  EXPECT_FALSE(validate(s).is_ok());
}

}  // namespace
}  // namespace vatp::model
