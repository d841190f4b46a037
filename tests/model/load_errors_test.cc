// Bad model files (built with GgufWriter) give clear errors that name the culprit.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "model/model.h"
#include "model/tiny_model.h"

namespace vatp::model {
namespace {

using testing::TinyModelBuilder;
using testing::TinySpec;

// Builds a tiny model, lets `edit` damage it (before or after the random weights), and
// returns the load error ("" when it loads).
std::string load_error(const TinySpec& spec, const std::function<void(TinyModelBuilder&)>& before,
                       const std::function<void(TinyModelBuilder&)>& after = nullptr) {
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  TinyModelBuilder b(spec);
  if (before) before(b);
  b.build();
  if (after) after(b);
  const std::vector<uint8_t> bytes = b.writer().to_bytes();
  auto f = gguf::GgufFile::parse(bytes);
  if (!f.is_ok()) return "parse: " + f.status().to_string();
  auto m = Model::from_gguf(std::move(*f), kt);
  return m.is_ok() ? "" : m.status().to_string();
}

void expect_error(const std::string& err, const std::vector<std::string>& parts) {
  EXPECT_FALSE(err.empty()) << "expected an error";
  for (const std::string& p : parts)
    EXPECT_NE(err.find(p), std::string::npos) << "'" << p << "' not in: " << err;
}

TEST(LoadErrors, GoodTinyModelsLoad) {
  EXPECT_EQ(load_error(TinySpec{}, nullptr), "");
  TinySpec q;
  q.arch = "qwen2";
  EXPECT_EQ(load_error(q, nullptr), "");
}

TEST(LoadErrors, UnsupportedArchitecture) {
  TinySpec s;
  s.arch = "gpt2";
  expect_error(load_error(s, nullptr), {"unsupported architecture 'gpt2'", "llama, qwen2"});
}

TEST(LoadErrors, MissingTensor) {
  expect_error(load_error(TinySpec{}, [](TinyModelBuilder& b) { b.skip("blk.1.ffn_up.weight"); }),
               {"blk.1.ffn_up.weight", "missing"});
  TinySpec q;
  q.arch = "qwen2";
  expect_error(load_error(q, [](TinyModelBuilder& b) { b.skip("blk.0.attn_k.bias"); }),
               {"blk.0.attn_k.bias"});
  expect_error(load_error(TinySpec{}, [](TinyModelBuilder& b) { b.skip("output_norm.weight"); }),
               {"output_norm.weight"});
}

TEST(LoadErrors, WrongShape) {
  // attn_k of a 4-head model (32 rows) instead of 2 KV heads (16 rows).
  const std::string err = load_error(
      TinySpec{}, [](TinyModelBuilder& b) { b.skip("blk.0.attn_k.weight"); },
      [](TinyModelBuilder& b) {
        ASSERT_TRUE(
            b.writer()
                .add_tensor("blk.0.attn_k.weight", DType::F32, {32, 32}, std::vector<uint8_t>(32 * 32 * 4))
                .is_ok());
      });
  expect_error(err, {"blk.0.attn_k.weight", "{32, 32}", "expected {32, 16}"});
}

TEST(LoadErrors, UnsupportedTensorType) {
  const std::string err = load_error(
      TinySpec{}, [](TinyModelBuilder& b) { b.skip("blk.1.attn_v.weight"); },
      [](TinyModelBuilder& b) {
        ASSERT_TRUE(
            b.writer()
                .add_tensor("blk.1.attn_v.weight", DType::I32, {32, 16}, std::vector<uint8_t>(32 * 16 * 4))
                .is_ok());
      });
  expect_error(err, {"blk.1.attn_v.weight", "I32"});
  // Norms must be F32.
  const std::string err2 = load_error(
      TinySpec{}, [](TinyModelBuilder& b) { b.skip("blk.0.ffn_norm.weight"); },
      [](TinyModelBuilder& b) {
        ASSERT_TRUE(b.writer()
                        .add_tensor("blk.0.ffn_norm.weight", DType::F16, {32}, std::vector<uint8_t>(64))
                        .is_ok());
      });
  expect_error(err2, {"blk.0.ffn_norm.weight", "F16", "F32"});
}

TEST(LoadErrors, BadMetadataNamesTheKey) {
  // Missing required key.
  expect_error(load_error(TinySpec{}, [](TinyModelBuilder& b) { b.skip("llama.embedding_length"); }),
               {"llama.embedding_length", "missing"});
  // Optional keys fall back (head_count_kv = head_count: a 4-head file with 4 KV heads
  // then has a wrong attn_k shape, which is reported).
  expect_error(load_error(TinySpec{}, [](TinyModelBuilder& b) { b.skip("llama.attention.head_count_kv"); }),
               {"blk.0.attn_k.weight", "expected {32, 32}"});
  // Heads not a multiple of KV heads.
  TinySpec s;
  s.heads = 4;
  s.kv_heads = 3;
  expect_error(load_error(s, nullptr), {"head_count", "head_count_kv"});
  // Non-uniform per-layer arrays.
  expect_error(load_error(TinySpec{}, nullptr,
                          [](TinyModelBuilder& b) {
                            b.writer().set_u32_array("llama.feed_forward_length", {48, 64});
                          }),
               {"llama.feed_forward_length", "per layer"});
  // Uniform per-layer arrays are accepted.
  EXPECT_EQ(load_error(TinySpec{}, nullptr,
                       [](TinyModelBuilder& b) {
                         b.writer().set_u32_array("llama.attention.head_count_kv", {2, 2});
                       }),
            "");
  // llama requires n_rot == head_dim.
  expect_error(load_error(TinySpec{}, nullptr,
                          [](TinyModelBuilder& b) { b.writer().set_u32("llama.rope.dimension_count", 4); }),
               {"rope.dimension_count"});
  // Unsupported rope scaling.
  expect_error(
      load_error(TinySpec{}, nullptr,
                 [](TinyModelBuilder& b) { b.writer().set_string("llama.rope.scaling.type", "longrope"); }),
      {"longrope", "rope.scaling.type"});
  // Wrong key type.
  expect_error(
      load_error(TinySpec{}, nullptr,
                 [](TinyModelBuilder& b) { b.writer().set_string("llama.embedding_length", "thirty-two"); }),
      {"llama.embedding_length"});
}

// Issue 11, class 6: metadata that disagrees with the weights is an error, not a silent
// one-layer model; non-finite rope settings are refused like 0 or NaN.
TEST(LoadErrors, TensorsBeyondBlockCountAreUnused) {
  expect_error(load_error(TinySpec{}, nullptr,
                          [](TinyModelBuilder& b) { b.writer().set_u32("llama.block_count", 1); }),
               {"tensor(s) not used by a 1-layer llama model", "blk.1.attn_norm.weight"});
}

TEST(LoadErrors, NonFiniteRopeBase) {
  for (float v :
       {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(), 0.0f, -1.0f}) {
    expect_error(load_error(TinySpec{}, nullptr,
                            [v](TinyModelBuilder& b) { b.writer().set_f32("llama.rope.freq_base", v); }),
                 {"rope.freq_base"});
  }
}

}  // namespace
}  // namespace vatp::model
