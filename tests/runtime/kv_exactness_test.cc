// Eviction is exact: physically removing slots (KvEvictor + KvCache::apply) gives the
// same logits as keeping the full cache and masking those slots out of the softmax —
// the semantics of the official masking code — for every policy and schedule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>

#include "common/model_path.h"
#include "gguf/gguf.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "policy/flags.h"
#include "runtime/kv_evictor.h"

namespace vatp::runtime {
namespace {

std::string model_path() { return testing_util::default_model_path(); }

// A random-weight llama with GQA (4 query heads, 2 KV heads), F32 weights.
std::vector<uint8_t> tiny_gqa_model(uint64_t seed) {
  const int L = 2, dim = 64, heads = 4, kv = 2, hd = 16, ff = 96, vocab = 97;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", L);
  w.set_u32("llama.context_length", 512);
  w.set_u32("llama.embedding_length", dim);
  w.set_u32("llama.feed_forward_length", ff);
  w.set_u32("llama.attention.head_count", heads);
  w.set_u32("llama.attention.head_count_kv", kv);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_u32("llama.vocab_size", vocab);
  auto mat = [&](const std::string& name, int cols, int rows, float scale) {
    std::vector<float> v(static_cast<size_t>(cols) * rows);
    for (float& x : v) x = nd(rng) * scale;
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    EXPECT_TRUE(w.add_tensor(name, DType::F32, {cols, rows}, std::move(b)).is_ok());
  };
  auto ones = [&](const std::string& name, int n) {
    std::vector<float> v(static_cast<size_t>(n), 1.0f);
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    EXPECT_TRUE(w.add_tensor(name, DType::F32, {n}, std::move(b)).is_ok());
  };
  mat("token_embd.weight", dim, vocab, 1.0f);
  ones("output_norm.weight", dim);
  for (int l = 0; l < L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    ones(p + "attn_norm.weight", dim);
    ones(p + "ffn_norm.weight", dim);
    mat(p + "attn_q.weight", dim, heads * hd, 1.0f);
    mat(p + "attn_k.weight", dim, kv * hd, 1.0f);
    mat(p + "attn_v.weight", dim, kv * hd, 1.0f);
    mat(p + "attn_output.weight", heads * hd, dim, 0.3f);
    mat(p + "ffn_gate.weight", dim, ff, 0.5f);
    mat(p + "ffn_up.weight", dim, ff, 0.5f);
    mat(p + "ffn_down.weight", ff, dim, 0.3f);
  }
  return w.to_bytes();
}

// Masks in `full` every slot whose position the evicting cache no longer holds.
void sync_mask(const kvcache::KvCache& evicting, kvcache::KvCache& full) {
  const auto& c = full.config();
  for (int l = 0; l < c.n_layers; ++l) {
    for (int h = 0; h < c.n_kv_heads; ++h) {
      std::set<int32_t> live(evicting.pos(l, h), evicting.pos(l, h) + evicting.length(l, h));
      for (int s = 0; s < full.length(l, h); ++s) {
        const int32_t p = full.pos(l, h)[s];
        if (p != kvcache::KvCache::kMaskedPos && !live.count(p)) full.mask(l, h, s);
      }
    }
  }
}

struct Driver {
  const model::Model& model;
  ThreadPool& pool;
  // Runs prompt + n_decode greedy steps both ways; returns the max |logit diff| over
  // every row compared, and how many slots were evicted.
  std::pair<float, int64_t> run(const policy::PolicyConfig& cfg, const std::vector<int32_t>& prompt,
                                int n_decode) {
    const int64_t n = static_cast<int64_t>(prompt.size());
    const int ctx = static_cast<int>(n + n_decode + 4);
    auto ev = KvEvictor::create(cfg, n, ctx);
    EXPECT_TRUE(ev.is_ok()) << ev.status().to_string();
    if (!ev.is_ok()) return {INFINITY, 0};
    auto a = model.make_cache(static_cast<int>(std::min<int64_t>(ev->capacity(), ctx)), kvcache::KvType::F32,
                              ev->per_query_head());
    auto b = model.make_cache(ctx, kvcache::KvType::F32);
    const int nv = model.config().n_vocab;
    model::ForwardScratch sa, sb;
    sa.reserve(model.config(), static_cast<int>(n), pool.size(), ctx);
    sb.reserve(model.config(), static_cast<int>(n), pool.size(), ctx);
    std::vector<float> la(static_cast<size_t>(n) * nv), lb(la.size());
    std::vector<int32_t> pos(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    float maxdiff = 0;
    int64_t evicted = 0;
    auto compare = [&](int64_t rows) {
      for (size_t i = 0; i < static_cast<size_t>(rows) * nv; ++i)
        maxdiff = std::max(maxdiff, std::fabs(la[i] - lb[i]));
    };
    auto evict = [&](policy::Phase ph) {
      auto r = ev->maybe_evict(ph, *a);
      EXPECT_TRUE(r.is_ok()) << r.status().to_string();
      evicted += r.is_ok() ? *r : 0;
      sync_mask(*a, *b);
    };
    const int64_t chunk = ev->prefill_chunk();
    int64_t last_m = 0;
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
      const int64_t m = std::min(chunk, n - c0);
      last_m = m;
      EXPECT_TRUE(model
                      .forward(&prompt[static_cast<size_t>(c0)], &pos[static_cast<size_t>(c0)], m, *a,
                               la.data(), m, sa, pool, ev->request(false))
                      .is_ok());
      EXPECT_TRUE(model
                      .forward(&prompt[static_cast<size_t>(c0)], &pos[static_cast<size_t>(c0)], m, *b,
                               lb.data(), m, sb, pool, nullptr)
                      .is_ok());
      compare(m);
      if (c0 + m < n) evict(policy::Phase::kPrefillChunk);
    }
    ev->end_prefill(*a);
    evict(policy::Phase::kPrefillEnd);
    const auto last_row = la.begin() + (last_m - 1) * nv;
    int32_t tok = static_cast<int32_t>(std::max_element(last_row, last_row + nv) - last_row);
    for (int step = 0; step < n_decode; ++step) {
      const int32_t p = static_cast<int32_t>(n + step);
      EXPECT_TRUE(model.forward(&tok, &p, 1, *a, la.data(), 1, sa, pool, ev->request(true)).is_ok());
      EXPECT_TRUE(model.forward(&tok, &p, 1, *b, lb.data(), 1, sb, pool, nullptr).is_ok());
      compare(1);
      evict(policy::Phase::kDecodeStep);
      tok = static_cast<int32_t>(std::max_element(la.begin(), la.begin() + nv) - la.begin());
    }
    return {maxdiff, evicted};
  }
};

void check_all_policies(const model::Model& m, const std::vector<int32_t>& prompt, int n_decode, int chunk) {
  ThreadPool pool(2);
  Driver d{m, pool};
  int checked = 0;
  for (const char* name : {"streaming", "h2o", "vatp", "scissorhands", "vatp-scissorhands", "tova", "snapkv",
                           "knorm", "random"}) {
    for (const char* sched : {"oneshot", "continuous", "chunked"}) {
      policy::PolicyFlags f;
      f.policy = name;
      f.budget = "0.4";
      f.schedule = sched;
      if (std::string(sched) == "chunked") f.chunk = std::to_string(chunk);
      const std::string nm = name;
      if (nm.rfind("vatp", 0) == 0) f.sinks = "4";  // the prompt is short; 20 sinks would be half of it
      if (nm == "snapkv") f.recent = "4";
      if (std::string(name).find("scissorhands") != std::string::npos || std::string(name) == "snapkv")
        f.window = "8";
      auto cfg = policy::config_from_flags(f);
      ASSERT_TRUE(cfg.is_ok()) << name << "/" << sched << ": " << cfg.status().to_string();
      const auto [diff, evicted] = d.run(*cfg, prompt, n_decode);
      EXPECT_LE(diff, 1e-4f) << name << "/" << sched;
      EXPECT_GT(evicted, 0) << name << "/" << sched << " evicted nothing";
      ++checked;
    }
  }
  // GQA reduction after accumulation (--kv-group max): per-query-head statistics rows.
  for (const char* name : {"h2o", "tova", "snapkv"}) {
    policy::PolicyFlags f;
    f.policy = name;
    f.budget = "0.4";
    f.group = "max";
    if (std::string(name) == "snapkv") f.recent = "4", f.window = "8";
    auto cfg = policy::config_from_flags(f);
    ASSERT_TRUE(cfg.is_ok()) << name << ": " << cfg.status().to_string();
    const auto [diff, evicted] = d.run(*cfg, prompt, n_decode);
    EXPECT_LE(diff, 1e-4f) << name << " group max";
    EXPECT_GT(evicted, 0) << name << " group max evicted nothing";
    ++checked;
  }
  EXPECT_EQ(checked, 30);
}

TEST(KvExactness, RandomGqaModelAllPoliciesAndSchedules) {
  const std::vector<uint8_t> bytes = tiny_gqa_model(7);
  auto f = gguf::GgufFile::parse(bytes);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  auto m = model::Model::from_gguf(std::move(*f), kt);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  std::vector<int32_t> prompt;
  for (int i = 0; i < 48; ++i) prompt.push_back((i * 37 + 11) % 97);
  check_all_policies(**m, prompt, 10, 16);
}

TEST(KvExactness, SmolLM2AllPoliciesAndSchedulesSlow) {
  if (!std::filesystem::exists(model_path())) GTEST_SKIP() << "model not found at " << model_path();
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  auto m = model::Model::load(model_path(), kt);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  std::vector<int32_t> prompt;
  for (int i = 0; i < 40; ++i) prompt.push_back(1000 + (i * 7919) % 20000);
  check_all_policies(**m, prompt, 6, 16);
}

}  // namespace
}  // namespace vatp::runtime
