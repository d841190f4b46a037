// The forward pass against a naive double-precision reference on tiny random models
// (llama: NORMAL rope; qwen2: NEOX rope + Q/K/V biases; both with GQA), batched vs
// one-token-at-a-time, and eviction exactness: physically evicting slots gives the
// logits of the full cache with those slots masked out of the softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "model/model.h"
#include "model/tiny_model.h"

namespace vatp::model {
namespace {

using testing::TinyModelBuilder;
using testing::TinySpec;

struct Loaded {
  std::unique_ptr<std::vector<uint8_t>> bytes;  // the parsed file points into these
  std::unique_ptr<Model> model;
};

Loaded load(TinyModelBuilder& b, const kernels::KernelTable& kt) {
  Loaded l;
  l.bytes = std::make_unique<std::vector<uint8_t>>(b.writer().to_bytes());
  auto f = gguf::GgufFile::parse(*l.bytes);
  EXPECT_TRUE(f.is_ok()) << f.status().to_string();
  auto m = Model::from_gguf(std::move(*f), kt);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  if (m.is_ok()) l.model = std::move(*m);
  return l;
}

std::vector<int32_t> random_tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return t;
}

// Runs `tokens` (positions 0..n-1) in chunks of `chunk`, returning every row's logits.
std::vector<float> run(const Model& m, const std::vector<int32_t>& tokens, int chunk, kvcache::KvCache& cache,
                       ThreadPool& pool) {
  const ModelConfig& c = m.config();
  const int n = static_cast<int>(tokens.size());
  ForwardScratch s;
  s.reserve(c, chunk, pool.size(), cache.capacity());
  std::vector<float> logits(static_cast<size_t>(n) * c.n_vocab);
  std::vector<int32_t> pos(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) pos[static_cast<size_t>(i)] = i;
  for (int i = 0; i < n; i += chunk) {
    const int len = std::min(chunk, n - i);
    const Status st = m.forward(&tokens[static_cast<size_t>(i)], &pos[static_cast<size_t>(i)], len, cache,
                                &logits[static_cast<size_t>(i) * c.n_vocab], len, s, pool);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
  }
  return logits;
}

double max_diff(const std::vector<float>& a, const std::vector<std::vector<double>>& ref, int vocab) {
  double d = 0;
  for (size_t t = 0; t < ref.size(); ++t) {
    for (int j = 0; j < vocab; ++j)
      d = std::max(d, std::fabs(a[t * vocab + j] - ref[t][static_cast<size_t>(j)]));
  }
  return d;
}

struct Variant {
  const char* name;
  TinySpec spec;
  kernels::Isa isa;
};

class ForwardVsReference : public ::testing::TestWithParam<Variant> {};

// With F32 weights and an f32 cache the engine differs from the double reference only
// by float rounding: logits agree to 2e-5 × max(1, max |logit|) (measured ≤ 2e-6 ×).
// An f16 cache rounds K, V and q·k's q to fp16 (as llama.cpp does): 5e-3 × (measured
// ≤ 1.5e-3 ×).
TEST_P(ForwardVsReference, AllRowsMatchTheDoubleReference) {
  const Variant& v = GetParam();
  const kernels::KernelTable kt = kernels::make_kernel_table(v.isa);
  TinyModelBuilder b(v.spec);
  b.build();
  Loaded l = load(b, kt);
  ASSERT_TRUE(l.model);
  ThreadPool pool(2);
  const std::vector<int32_t> toks = random_tokens(13, v.spec.vocab, 3);
  const auto ref = testing::reference_forward(v.spec, b.weights(), toks);
  double amax = 0;
  for (const auto& r : ref) {
    for (double x : r) amax = std::max(amax, std::fabs(x));
  }
  EXPECT_GT(amax, 0.5) << "degenerate random model";
  for (kvcache::KvType type : {kvcache::KvType::F32, kvcache::KvType::F16}) {
    auto cache = l.model->make_cache(16, type);
    ASSERT_TRUE(cache.is_ok());
    const std::vector<float> got = run(*l.model, toks, 13, *cache, pool);
    const double tol = type == kvcache::KvType::F32 ? 2e-5 : 5e-3;
    const double d = max_diff(got, ref, v.spec.vocab);
    EXPECT_LT(d, tol * std::max(1.0, amax)) << v.name << " cache " << kvcache::kv_type_name(type);
    std::printf("%s %s: max |logit| %.3f, max diff %.3g\n", v.name, kvcache::kv_type_name(type), amax, d);
  }
}

TinySpec spec(const char* arch, bool tied = false, bool rope_freqs = false, int heads = 4, int kv_heads = 2) {
  TinySpec s;
  s.arch = arch;
  s.tied = tied;
  s.rope_freqs = rope_freqs;
  s.heads = heads;
  s.kv_heads = kv_heads;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Tiny, ForwardVsReference,
    ::testing::Values(Variant{"llama_gqa", spec("llama"), kernels::detect_isa()},
                      Variant{"qwen2_gqa", spec("qwen2"), kernels::detect_isa()},
                      Variant{"llama_scalar", spec("llama"), kernels::Isa::Scalar},
                      Variant{"qwen2_scalar_group3", spec("qwen2", false, false, 6, 2), kernels::Isa::Scalar},
                      Variant{"llama_tied_ropefreqs_mha", spec("llama", true, true, 4, 4),
                              kernels::detect_isa()}),
    [](const ::testing::TestParamInfo<Variant>& i) { return std::string(i.param.name); });

// Prefill in one batch, in uneven chunks, and one token at a time: same logits.
TEST(Forward, BatchedChunkedAndSequentialAgree) {
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  ThreadPool pool(2);
  for (const char* arch : {"llama", "qwen2"}) {
    TinyModelBuilder b(spec(arch));
    b.build();
    Loaded l = load(b, kt);
    ASSERT_TRUE(l.model);
    const std::vector<int32_t> toks = random_tokens(20, 64, 11);
    const int vocab = l.model->config().n_vocab;
    auto c1 = l.model->make_cache(20, kvcache::KvType::F16);
    auto c2 = l.model->make_cache(20, kvcache::KvType::F16);
    auto c3 = l.model->make_cache(20, kvcache::KvType::F16);
    const std::vector<float> batched = run(*l.model, toks, 20, *c1, pool);
    const std::vector<float> chunked = run(*l.model, toks, 7, *c2, pool);
    const std::vector<float> single = run(*l.model, toks, 1, *c3, pool);
    float d_chunk = 0, d_single = 0;
    for (size_t i = 0; i < batched.size(); ++i) {
      d_chunk = std::max(d_chunk, std::fabs(batched[i] - chunked[i]));
      d_single = std::max(d_single, std::fabs(batched[i] - single[i]));
    }
    EXPECT_LT(d_chunk, 1e-5f) << arch;
    EXPECT_LT(d_single, 1e-5f) << arch;
    // The last row is what generation uses: also check it alone.
    for (int j = 0; j < vocab; ++j) {
      ASSERT_NEAR(batched[19 * static_cast<size_t>(vocab) + j], single[19 * static_cast<size_t>(vocab) + j],
                  1e-5f);
    }
  }
}

// Only the requested last rows go through the output head.
TEST(Forward, LogitRowsSelectTheLastRows) {
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  ThreadPool pool(2);
  TinyModelBuilder b(spec("llama"));
  b.build();
  Loaded l = load(b, kt);
  ASSERT_TRUE(l.model);
  const ModelConfig& c = l.model->config();
  const std::vector<int32_t> toks = random_tokens(6, 64, 5);
  const int32_t pos[6] = {0, 1, 2, 3, 4, 5};
  auto ca = l.model->make_cache(8, kvcache::KvType::F32);
  auto cb = l.model->make_cache(8, kvcache::KvType::F32);
  ForwardScratch s;
  s.reserve(c, 6, pool.size(), 8);
  std::vector<float> all(6 * static_cast<size_t>(c.n_vocab)),
      last2(2 * static_cast<size_t>(c.n_vocab), -1.0f);
  ASSERT_TRUE(l.model->forward(toks.data(), pos, 6, *ca, all.data(), 6, s, pool).is_ok());
  ASSERT_TRUE(l.model->forward(toks.data(), pos, 6, *cb, last2.data(), 2, s, pool).is_ok());
  for (int j = 0; j < 2 * c.n_vocab; ++j)
    EXPECT_EQ(last2[static_cast<size_t>(j)], all[4 * static_cast<size_t>(c.n_vocab) + j]);
  auto cc = l.model->make_cache(8, kvcache::KvType::F32);
  EXPECT_TRUE(l.model->forward(toks.data(), pos, 6, *cc, nullptr, 0, s, pool).is_ok());
  EXPECT_EQ(cc->length(1, 1), 6);
}

TEST(Forward, BadCallsAreErrors) {
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  ThreadPool pool(1);
  TinyModelBuilder b(spec("llama"));
  b.build();
  Loaded l = load(b, kt);
  ASSERT_TRUE(l.model);
  const ModelConfig& c = l.model->config();
  ForwardScratch s;
  s.reserve(c, 4, pool.size(), 4);
  auto cache = l.model->make_cache(4, kvcache::KvType::F16);
  std::vector<float> logits(static_cast<size_t>(c.n_vocab) * 8);
  const int32_t toks[8] = {1, 2, 3, 4, 5, 6, 7, 8}, pos[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  const int32_t bad[1] = {64};
  Status st = l.model->forward(bad, pos, 1, *cache, logits.data(), 1, s, pool);
  EXPECT_NE(st.to_string().find("outside the vocabulary"), std::string::npos) << st.to_string();
  st = l.model->forward(toks, pos, 5, *cache, logits.data(), 1, s, pool);  // scratch holds 4
  EXPECT_FALSE(st.is_ok());
  ASSERT_TRUE(l.model->forward(toks, pos, 3, *cache, logits.data(), 1, s, pool).is_ok());
  st = l.model->forward(toks + 3, pos + 3, 2, *cache, logits.data(), 1, s, pool);  // 1 free slot
  EXPECT_NE(st.to_string().find("room for 1"), std::string::npos) << st.to_string();
  EXPECT_EQ(cache->length(0, 0), 3) << "a rejected call must not append";
}

// The project's key invariant: evicting slots (apply(plan)) gives the logits of the
// full cache with those slots masked out of the softmax — checked against the engine's
// own masked cache and against the double reference with the same mask. f32 cache,
// 1e-4. Different heads and layers evict different positions.
TEST(Forward, EvictionEqualsMaskedFullCache) {
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  ThreadPool pool(2);
  for (const char* arch : {"llama", "qwen2"}) {
    TinyModelBuilder b(spec(arch, false, false, 6, 2));
    b.build();
    Loaded l = load(b, kt);
    ASSERT_TRUE(l.model);
    const ModelConfig& c = l.model->config();
    const int n_prompt = 16, n_gen = 4;
    const std::vector<int32_t> toks = random_tokens(n_prompt + n_gen, c.n_vocab, 21);
    std::vector<int32_t> pos(toks.size());
    for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);

    // evicted[layer][head] = positions removed after the prompt.
    std::mt19937 rng(99);
    std::vector<std::vector<std::vector<int32_t>>> evicted(static_cast<size_t>(c.n_layers));
    kvcache::EvictionPlan plan;
    for (int ly = 0; ly < c.n_layers; ++ly) {
      evicted[static_cast<size_t>(ly)].resize(static_cast<size_t>(c.n_kv_heads));
      for (int h = 0; h < c.n_kv_heads; ++h) {
        kvcache::HeadKeep hk{ly, h, {}};
        for (int32_t p = 0; p < n_prompt; ++p) {
          if (p != 0 && rng() % 3 == 0) {
            evicted[static_cast<size_t>(ly)][static_cast<size_t>(h)].push_back(p);
          } else {
            hk.keep.push_back(p);
          }
        }
        plan.heads.push_back(hk);
      }
    }

    ForwardScratch s;
    s.reserve(c, n_prompt, pool.size(), n_prompt + n_gen);
    std::vector<float> scratch_logits(static_cast<size_t>(c.n_vocab));
    auto evict = l.model->make_cache(n_prompt + n_gen, kvcache::KvType::F32);
    auto masked = l.model->make_cache(n_prompt + n_gen, kvcache::KvType::F32);
    ASSERT_TRUE(l.model->forward(toks.data(), pos.data(), n_prompt, *evict, scratch_logits.data(), 1, s, pool)
                    .is_ok());
    ASSERT_TRUE(
        l.model->forward(toks.data(), pos.data(), n_prompt, *masked, scratch_logits.data(), 1, s, pool)
            .is_ok());
    ASSERT_TRUE(evict->apply(plan).is_ok());
    for (int ly = 0; ly < c.n_layers; ++ly) {
      for (int h = 0; h < c.n_kv_heads; ++h) {
        for (int32_t p : evicted[static_cast<size_t>(ly)][static_cast<size_t>(h)]) masked->mask(ly, h, p);
      }
    }
    EXPECT_LT(evict->length(0, 0), n_prompt);

    const testing::MaskFn mask_fn = [&](int ly, int h, int32_t qpos, int32_t kpos) {
      if (qpos < n_prompt) return false;  // prompt rows ran before the eviction
      const auto& e = evicted[static_cast<size_t>(ly)][static_cast<size_t>(h)];
      return std::find(e.begin(), e.end(), kpos) != e.end();
    };
    const auto ref = testing::reference_forward(b.spec(), b.weights(), toks, mask_fn);
    std::vector<float> le(static_cast<size_t>(c.n_vocab)), lm(static_cast<size_t>(c.n_vocab));
    for (int i = n_prompt; i < n_prompt + n_gen; ++i) {
      ASSERT_TRUE(l.model
                      ->forward(&toks[static_cast<size_t>(i)], &pos[static_cast<size_t>(i)], 1, *evict,
                                le.data(), 1, s, pool)
                      .is_ok());
      ASSERT_TRUE(l.model
                      ->forward(&toks[static_cast<size_t>(i)], &pos[static_cast<size_t>(i)], 1, *masked,
                                lm.data(), 1, s, pool)
                      .is_ok());
      double d_mask = 0, d_ref = 0, d_full = 0;
      const auto full = testing::reference_forward(b.spec(), b.weights(),
                                                   std::vector<int32_t>(toks.begin(), toks.begin() + i + 1));
      for (int j = 0; j < c.n_vocab; ++j) {
        d_mask = std::max(
            d_mask, static_cast<double>(std::fabs(le[static_cast<size_t>(j)] - lm[static_cast<size_t>(j)])));
        d_ref = std::max(d_ref, std::fabs(le[static_cast<size_t>(j)] -
                                          ref[static_cast<size_t>(i)][static_cast<size_t>(j)]));
        d_full = std::max(d_full, std::fabs(le[static_cast<size_t>(j)] -
                                            full[static_cast<size_t>(i)][static_cast<size_t>(j)]));
      }
      EXPECT_LE(d_mask, 1e-4) << arch << " step " << i;
      EXPECT_LE(d_ref, 1e-4) << arch << " step " << i;
      EXPECT_GT(d_full, 1e-2) << arch << " step " << i << ": eviction should change the logits";
    }
  }
}

}  // namespace
}  // namespace vatp::model
