// `synth_write` weights dequantized back: every weight type gives the intended spread
// (std = 2/sqrt(dim) for attn_q, 1/sqrt(dim) for ffn_up), zero mean, and norms near 1.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/quant.h"
#include "model/synth.h"

namespace vatp::model {
namespace {

struct Stats {
  double mean, std;
};

Stats dequant_stats(const gguf::TensorInfo& t) {
  const int64_t cols = t.ne[0], rows = t.n_elements() / t.ne[0];
  const size_t rb = row_bytes(t.type, cols);
  std::vector<float> row(static_cast<size_t>(cols));  // [cols]
  double s = 0, s2 = 0;
  for (int64_t r = 0; r < rows; ++r) {
    kernels::dequant_row_ref(t.type, t.data + rb * static_cast<size_t>(r), row.data(), cols);
    for (float x : row) s += x, s2 += static_cast<double>(x) * x;
  }
  const double n = static_cast<double>(t.n_elements());
  return {s / n, std::sqrt(s2 / n - (s / n) * (s / n))};
}

TEST(SynthWeights, DequantizedWeightsHaveTheIntendedSpreadForEveryType) {
  const std::string vocab_path =
      std::string(VATP_SHARED_DIR) + "/fixtures/tokenizer/ggml-vocab-llama-spm.gguf";
  if (!std::filesystem::exists(vocab_path)) GTEST_SKIP() << vocab_path << " not found (needs ../shared)";
  Result<gguf::GgufFile> vocab = gguf::GgufFile::open(vocab_path);
  ASSERT_TRUE(vocab.is_ok());
  const std::string out = std::string(VATP_BINARY_DIR) + "/synth_weights_test.gguf";
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K, DType::F16, DType::BF16, DType::F32}) {
    SynthSpec s;
    ASSERT_TRUE(apply_shape("tiny", &s).is_ok());
    s.layers = 1;
    s.type = t;
    ASSERT_TRUE(synth_write(s, *vocab, out).is_ok()) << dtype_name(t);
    Result<gguf::GgufFile> f = gguf::GgufFile::open(out);
    ASSERT_TRUE(f.is_ok()) << f.status().to_string();
    const gguf::TensorInfo* q = f->find_tensor("blk.0.attn_q.weight");
    const gguf::TensorInfo* up = f->find_tensor("blk.0.ffn_up.weight");
    const gguf::TensorInfo* norm = f->find_tensor("blk.0.attn_norm.weight");
    ASSERT_TRUE(q && up && norm);
    ASSERT_EQ(q->type, t);
    const Stats sq = dequant_stats(*q), su = dequant_stats(*up), sn = dequant_stats(*norm);
    // Quantization noise of 4-bit types adds a few percent to the spread.
    EXPECT_NEAR(sq.std, 2.0 / 16.0, 0.125 * 0.08) << dtype_name(t);
    EXPECT_NEAR(su.std, 1.0 / 16.0, 0.0625 * 0.08) << dtype_name(t);
    EXPECT_NEAR(sq.mean, 0.0, 0.01) << dtype_name(t);
    EXPECT_NEAR(sn.mean, 1.0, 0.02) << dtype_name(t);
    EXPECT_NEAR(sn.std, 0.1, 0.02) << dtype_name(t);
  }
  std::filesystem::remove(out);
}

TEST(SynthWeights, TiedEmbeddingsHaveTheOutputSpread) {
  const std::string vocab_path =
      std::string(VATP_SHARED_DIR) + "/fixtures/tokenizer/ggml-vocab-llama-spm.gguf";
  if (!std::filesystem::exists(vocab_path)) GTEST_SKIP() << vocab_path << " not found (needs ../shared)";
  Result<gguf::GgufFile> vocab = gguf::GgufFile::open(vocab_path);
  ASSERT_TRUE(vocab.is_ok());
  const std::string out = std::string(VATP_BINARY_DIR) + "/synth_weights_tied.gguf";
  for (bool tied : {false, true}) {
    SynthSpec s;
    ASSERT_TRUE(apply_shape("tiny", &s).is_ok());
    s.layers = 1, s.type = DType::Q8_0, s.tied = tied;
    ASSERT_TRUE(synth_write(s, *vocab, out).is_ok());
    Result<gguf::GgufFile> f = gguf::GgufFile::open(out);
    ASSERT_TRUE(f.is_ok());
    EXPECT_EQ(f->find_tensor("output.weight") == nullptr, tied);
    // Logits = W_out . (unit-rms hidden): std 4/sqrt(dim) per weight gives logit std ~4.
    const double want = tied ? 4.0 / 16.0 : 1.0;
    EXPECT_NEAR(dequant_stats(*f->find_tensor("token_embd.weight")).std, want, want * 0.03) << tied;
    if (!tied) {
      EXPECT_NEAR(dequant_stats(*f->find_tensor("output.weight")).std, 0.25, 0.25 * 0.03);
    }
  }
  std::filesystem::remove(out);
}

}  // namespace
}  // namespace vatp::model
