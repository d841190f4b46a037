// Repacked Q4_0 weights (LoadOptions::repack) end to end on a synth llama model: the
// logits stay within float-summation tolerance of the file-layout path, batched and
// one-token-at-a-time prefill still agree. (Tail rows past the last 16-row group are
// covered by tests/kernels/packed_test.cc.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "common/model_path.h"
#include "core/thread_pool.h"
#include "kernels/packed.h"
#include "model/model.h"
#include "model/synth.h"

namespace vatp::model {
namespace {

std::vector<float> run(const Model& m, const std::vector<int32_t>& toks, int chunk, ThreadPool& pool) {
  const ModelConfig& c = m.config();
  const int n = static_cast<int>(toks.size());
  auto cache = m.make_cache(n, kvcache::KvType::F16);
  EXPECT_TRUE(cache.is_ok());
  ForwardScratch s;
  s.reserve(c, chunk, pool.size(), n);
  std::vector<float> logits(static_cast<size_t>(n) * c.n_vocab);
  std::vector<int32_t> pos(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) pos[static_cast<size_t>(i)] = i;
  for (int i = 0; i < n; i += chunk) {
    const int len = std::min(chunk, n - i);
    const Status st = m.forward(&toks[static_cast<size_t>(i)], &pos[static_cast<size_t>(i)], len, *cache,
                                &logits[static_cast<size_t>(i) * c.n_vocab], len, s, pool);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
  }
  return logits;
}

TEST(Repack, Q4_0ModelMatchesTheFileLayout) {
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  if (kt.at(DType::Q4_0).packed_tile == nullptr) GTEST_SKIP() << "no packed Q4_0 tile on this machine";
  const std::string vocab_path = testing_util::default_model_path();
  if (!std::filesystem::exists(vocab_path)) GTEST_SKIP() << "model (the tokenizer source) not found";
  auto vocab = gguf::GgufFile::open(vocab_path);
  ASSERT_TRUE(vocab.is_ok());
  SynthSpec s;
  ASSERT_TRUE(apply_shape("tiny", &s).is_ok());
  s.type = DType::Q4_0;
  s.layers = 2;
  const std::string out = std::string(VATP_BINARY_DIR) + "/repack_test.gguf";
  ASSERT_TRUE(synth_write(s, *vocab, out).is_ok());
  ThreadPool pool(2);
  auto packed = Model::load(out, kt, {.repack = true, .pool = &pool});
  auto plain = Model::load(out, kt, {.repack = false});
  ASSERT_TRUE(packed.is_ok() && plain.is_ok());
  EXPECT_GT((*packed)->packed_bytes(), 0u);
  EXPECT_EQ((*plain)->packed_bytes(), 0u);
  EXPECT_NE((*packed)->weights().layers[0].wq.packed, nullptr);
  EXPECT_NE((*packed)->weights().output.packed, nullptr);

  const std::vector<int32_t> toks = {1, 19556, 905, 314, 4413, 28, 253, 1345, 7, 88, 2041, 16};
  const std::vector<float> a = run(**packed, toks, 12, pool);
  const std::vector<float> b = run(**plain, toks, 12, pool);
  const std::vector<float> one = run(**packed, toks, 1, pool);
  float amax = 0, d_layout = 0, d_single = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    amax = std::max(amax, std::fabs(b[i]));
    d_layout = std::max(d_layout, std::fabs(a[i] - b[i]));
    d_single = std::max(d_single, std::fabs(a[i] - one[i]));
  }
  EXPECT_GT(amax, 0.1f);
  // The noise floor: the scalar reference kernels against the SIMD ones, both on the
  // file layout. Another float summation order in a matmul moves a Q8_0 activation
  // across a rounding boundary now and then, and a random model amplifies that (≈ 0.13
  // on logits of ≈ 19 here); the packed layout must stay within twice that floor.
  const kernels::KernelTable kts = kernels::make_kernel_table(kernels::Isa::Scalar);
  auto scalar = Model::load(out, kts, {.repack = false});
  ASSERT_TRUE(scalar.is_ok());
  const std::vector<float> r = run(**scalar, toks, 12, pool);
  float floor = 0;
  for (size_t i = 0; i < a.size(); ++i) floor = std::max(floor, std::fabs(r[i] - b[i]));
  EXPECT_LE(d_layout, std::max(2 * floor, 1e-3f * amax)) << "max |logit| " << amax << ", floor " << floor;
  EXPECT_LT(d_single, 1e-5f * std::max(1.0f, amax));
  std::filesystem::remove(out);
}

}  // namespace
}  // namespace vatp::model
